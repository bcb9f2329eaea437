"""Language consistency (R1's language reward): the share of the reasoning's words in the target language.

Why by Unicode script first: language-ID libraries miss a Chinese sentence inside English text, but counting
words by script catches it (DESIGN.md). Same-script switches (English → French) are caught per sentence by
py3langid, only on sentences with enough words to be judged. LaTeX and one-letter tokens are ignored, so
formulas count for no language.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

SCRIPT_OF_LANGUAGE = {
    "zh": "HAN", "ja": "JA", "ko": "HANGUL", "ru": "CYRILLIC", "uk": "CYRILLIC", "bg": "CYRILLIC",
    "ar": "ARABIC", "fa": "ARABIC", "he": "HEBREW", "el": "GREEK", "hi": "DEVANAGARI", "th": "THAI",
}  # fmt: skip
LATEX = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]|\\[a-zA-Z]+", re.DOTALL)
TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)
SENTENCE = re.compile(r"(?<=[.!?。！？\n])\s*")
IDEOGRAPHIC = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "THAI")
MIN_WORDS_FOR_LANGID = 6


@lru_cache(maxsize=4096)
def script_of(char: str) -> str:
    name = unicodedata.name(char, "")
    if name.startswith("CJK"):
        return "HAN"
    for script in (
        "LATIN",
        "CYRILLIC",
        "ARABIC",
        "HEBREW",
        "GREEK",
        "DEVANAGARI",
        "THAI",
        "HANGUL",
        "HIRAGANA",
        "KATAKANA",
    ):
        if name.startswith(script):
            return script
    return "OTHER"


def _words(text: str) -> list[tuple[str, str]]:
    """(script, word) pairs; ideographic scripts count one word per character."""
    out = []
    for token in TOKEN.findall(text):
        script = script_of(token[0])
        if token[0] >= "\u0e00" and unicodedata.name(token[0], "").startswith(IDEOGRAPHIC):
            out.extend((script_of(c), c) for c in token)
        elif len(token) > 1:
            out.append((script, token))
    return out


def _target_script(language: str) -> set[str]:
    script = SCRIPT_OF_LANGUAGE.get(language, "LATIN")
    return {"HAN", "HIRAGANA", "KATAKANA"} if script == "JA" else {script}


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def target_language_share(text: str, language: str = "en", min_confidence: float = 0.9) -> float | None:
    """Share (0–1) of words in `language`; None when the text has no words to judge."""
    text = LATEX.sub(" ", text)
    scripts = _target_script(language)
    target = foreign = 0
    for sentence in SENTENCE.split(text):
        words = _words(sentence)
        in_script = [w for s, w in words if s in scripts]
        foreign += len(words) - len(in_script)
        if len(in_script) >= MIN_WORDS_FOR_LANGID and scripts <= {"LATIN", "CYRILLIC", "ARABIC"}:
            guess, confidence = _identifier().classify(" ".join(in_script))
            if guess != language and confidence >= min_confidence:
                foreign += len(in_script)
                continue
        target += len(in_script)
    total = target + foreign
    return None if total == 0 else target / total
