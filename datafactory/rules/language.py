"""Language mixing (R1's language-consistency filter): find the sentences and clauses of a reasoning trace that
are written in another language than the target.

What counts as mixing is a sentence or clause in another language, not a foreign symbol: Greek letters used as
math (Δx, θ, π), Latin variable names, units and code identifiers inside Chinese reasoning, a quoted foreign word
the problem is about, formulas and code are all masked or ignored first. Then:
- another script (Chinese in English, Russian in Chinese, kana in Chinese): a clause of it, i.e. a run of
  CJK_CLAUSE_CHARS Chinese/Japanese/Korean characters or two words of an alphabetic script;
- the same script (Spanish or French inside English): sentences are screened cheaply for the marks of another
  language (two of its function words, or two accented words) and only those are sent to py3langid, restricted to
  common languages; a confident other guess flags the sentence;
- Latin-script text inside a non-Latin target (English inside Chinese): a run of LATIN_CLAUSE_WORDS words with
  at least two function words is a clause; identifiers and units have none.
Why screen before language ID: on 30 KB traces, identifying every sentence cost 18 s per 1,000 traces; almost
every sentence of a clean trace is rejected by one set intersection. A trace that is plain ASCII with fewer than
two foreign function words in all is clean without looking at its sentences.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import lru_cache

SCRIPT_OF_LANGUAGE = {
    "zh": "HAN", "ja": "JA", "ko": "HANGUL", "ru": "CYRILLIC", "uk": "CYRILLIC", "bg": "CYRILLIC",
    "ar": "ARABIC", "fa": "ARABIC", "he": "HEBREW", "el": "GREEK", "hi": "DEVANAGARI", "th": "THAI",
}  # fmt: skip
SCRIPT_RANGES = {
    "HAN": "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff",
    "KANA": "\u3040-\u30ff\u31f0-\u31ff",
    "HANGUL": "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f",
    "CYRILLIC": "\u0400-\u04ff",
    "GREEK": "\u0370-\u03ff\u1f00-\u1fff",
    "ARABIC": "\u0600-\u06ff\u0750-\u077f",
    "HEBREW": "\u0590-\u05ff",
    "DEVANAGARI": "\u0900-\u097f",
    "THAI": "\u0e00-\u0e7f",
}
IDEOGRAPHIC = {"HAN", "KANA", "HANGUL", "THAI"}  # counted by characters, not words
CJK_CLAUSE_CHARS = 4
KANA_CLAUSE_CHARS = 3
LATIN_CLAUSE_WORDS = 4
GREEK_SYMBOL_LETTERS = 2  # θ, Δ, αβ: math symbols, not words
LANGID_LANGUAGES = ["en", "es", "fr", "de", "it", "pt", "nl", "ca", "ro", "pl", "sv", "da", "no", "fi", "cs", "tr",
                    "id", "vi", "zh", "ja", "ko", "ru", "uk", "ar", "he", "el", "hi", "th"]  # fmt: skip
MIN_CONFIDENCE = 0.9
# Function words that English never uses (so two of them in a sentence are a mark of another language), per
# language; code keywords (if, or, and, not, for, in, is, return) are left out on purpose.
FUNCTION_WORDS = {
    "en": "the of to that it we this be are by on then let me us our now need was were but which what how there "
    "they should would could because first next so with from has have will can is whether about into again "
    "just its their these those very also make sure i you my am been does did think wait hmm okay actually maybe",
    "es": "el la los las del que es un se lo al su por para una pero como más está están entonces porque también "
    "muy sobre este esta ahora luego cuando donde hay ser sus nos vamos tenemos debemos",
    "fr": "le la les des ce il est une dans pour avec nous vous cette sont mais donc aussi alors ils elles qui "
    "sur leur ensuite puis cela être avons faut comme très",
    "de": "der das und ist nicht ein eine mit auf für dem sich auch wir dann oder wenn wird sind zu noch nach "
    "bei aus jetzt müssen können diese dieser",
    "it": "della che sono anche perché quindi questo questa nella degli delle allora dobbiamo abbiamo essere",
    "pt": "não uma com então também são pelo pela está estamos temos vamos isso agora",
    "nl": "het een niet zijn wordt omdat dus ook maar naar deze moeten",
}
_WORDS_OF = {language: frozenset(words.split()) for language, words in FUNCTION_WORDS.items()}
LATEX = re.compile(
    r"\$\$.*?\$\$|\$[^$\n]*\$|\\\(.*?\\\)|\\\[.*?\\\]|\\begin\{(\w+\*?)\}.*?\\end\{\1\}|\\[a-zA-Z]+", re.DOTALL
)
CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.DOTALL)
QUOTED = re.compile(  # a quoted term of up to four words, in any quotes: the problem is about that word
    r"[\"“”„«»「『‘’']\s*[^\s\"“”„«»「」『』‘’']+(?:\s+[^\s\"“”„«»「」『』‘’']+){0,3}\s*[\"“”„«»」』‘’']"
)
URL = re.compile(r"https?://\S+")
BOUNDARY = re.compile(r"[.!?。！？;；\n]+")
LATIN_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿĀ-ſ']+")
ACCENTED = re.compile(r"[À-ÖØ-öø-ÿĀ-ſ]")
ASCII_WORD = re.compile(r"[a-z]+")
GREEK_ONLY = re.compile(f"[{SCRIPT_RANGES['GREEK']}]+")
LATIN_RUN = re.compile(r"[A-Za-zÀ-ÿ'][A-Za-zÀ-ÿ' ,]*[A-Za-zÀ-ÿ']")


def _mask(text: str) -> str:
    """Formulas, code, URLs and short quoted terms blanked out, offsets kept."""
    for pattern in (CODE, LATEX, URL, QUOTED):
        text = pattern.sub(lambda match: " " * len(match.group()), text)
    return text


def _target_scripts(language: str) -> set[str]:
    script = SCRIPT_OF_LANGUAGE.get(language, "LATIN")
    return {"HAN", "KANA"} if script == "JA" else {script}


@lru_cache(maxsize=64)
def _foreign_runs(language: str) -> re.Pattern:
    """Runs of letters of every script that is not the target's (words of one script joined by spaces)."""
    targets = _target_scripts(language)
    ranges = "".join(r for script, r in SCRIPT_RANGES.items() if script not in targets)
    return re.compile(rf"[{ranges}]+(?:[ \u3000·・]+[{ranges}]+)*")


@lru_cache(maxsize=64)
def _foreign_function_words(language: str) -> frozenset[str]:
    own = _WORDS_OF.get(language, frozenset())
    english = _WORDS_OF["en"]
    others = frozenset().union(*(words for lang, words in _WORDS_OF.items() if lang not in (language, "en")))
    if language == "en":
        return others - english
    return (others | english) - own


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(LANGID_LANGUAGES)
    return identifier


@lru_cache(maxsize=1)
def _script_patterns() -> dict[str, re.Pattern]:
    return {script: re.compile(f"[{ranges}]") for script, ranges in SCRIPT_RANGES.items()}


def _script_clause(runs: list[str]) -> bool:
    """Whether a sentence's runs of foreign-script letters amount to language rather than symbols or a term:
    CJK_CLAUSE_CHARS characters of one ideographic script (KANA_CLAUSE_CHARS of kana, which Japanese mixes with
    Han), or two words of an alphabetic one (Greek words of more than GREEK_SYMBOL_LETTERS letters)."""
    letters: dict[str, int] = {}
    words: dict[str, int] = {}
    for run in runs:
        for script, pattern in _script_patterns().items():
            count = len(pattern.findall(run))
            if not count:
                continue
            if script in IDEOGRAPHIC:
                letters[script] = letters.get(script, 0) + count
            else:
                pieces = [w for w in run.split() if pattern.match(w)]
                if script == "GREEK":
                    pieces = [w for w in pieces if len(w) > GREEK_SYMBOL_LETTERS]
                words[script] = words.get(script, 0) + len(pieces)
    kana = letters.pop("KANA", 0)
    return (
        kana >= KANA_CLAUSE_CHARS
        or any(n >= CJK_CLAUSE_CHARS for n in letters.values())
        or any(n >= 2 for n in words.values())
    )


@lru_cache(maxsize=4096)
def _marks(words: frozenset[str]) -> re.Pattern:
    """The given function words, as whole words in any case."""
    return re.compile(r"(?<![\w'])(?:" + "|".join(map(re.escape, sorted(words))) + r")(?![\w'])", re.IGNORECASE)


def _same_script_sentence(sentence: str, language: str) -> bool:
    """A sentence of the target's script in another language (Spanish in English), by language ID."""
    if len(LATIN_WORD.findall(sentence)) < LATIN_CLAUSE_WORDS:
        return False
    guess, confidence = _identifier().classify(sentence)
    return guess != language and confidence >= MIN_CONFIDENCE


def _latin_clause(run: str, language: str) -> bool:
    """Latin-script words in a non-Latin target that read as language: enough words, two function words."""
    words = [w.lower() for w in LATIN_WORD.findall(run)]
    return len(words) >= LATIN_CLAUSE_WORDS and len(_foreign_function_words(language).intersection(words)) >= 2


class _Sentences:
    """Sentence bounds of a text, found by position: stages look only at sentences where something was seen."""

    def __init__(self, text: str):
        self.text, self.ends = text, None

    def around(self, position: int) -> tuple[int, int]:
        if self.ends is None:
            self.ends = [m.end() for m in BOUNDARY.finditer(self.text)]
            self.length = len(self.text)
        index = bisect_right(self.ends, position)
        start = self.ends[index - 1] if index else 0
        end = self.ends[index] if index < len(self.ends) else self.length
        return start, end


def foreign_spans(text: str, language: str = "en") -> list[tuple[int, int]]:
    """(start, end) of every sentence or clause of `text` written in another language than `language`."""
    masked = _mask(text)
    latin_target = _target_scripts(language) == {"LATIN"}
    ascii_only = masked.isascii()
    marks = _foreign_function_words(language).intersection(ASCII_WORD.findall(masked.lower())) if latin_target else ()
    if latin_target and ascii_only and not marks:
        return []  # the fast path: plain ASCII with no function word of another language anywhere
    sentences = _Sentences(masked)
    found: set[tuple[int, int]] = set()
    if not ascii_only:
        runs: dict[tuple[int, int], list[str]] = {}
        for run in _foreign_runs(language).finditer(masked):
            piece = run.group()
            if len(piece) <= GREEK_SYMBOL_LETTERS and GREEK_ONLY.fullmatch(piece):
                continue  # θ, Δ, αβ: a symbol
            runs.setdefault(sentences.around(run.start()), []).append(piece)
        found.update(bounds for bounds, pieces in runs.items() if _script_clause(pieces))
    if latin_target:
        suspects = {sentences.around(m.start()) for m in _marks(frozenset(marks)).finditer(masked)} if marks else set()
        if not ascii_only and ACCENTED.search(masked):
            suspects |= {sentences.around(m.start()) for m in ACCENTED.finditer(masked)}
        found.update(b for b in suspects - found if _same_script_sentence(masked[b[0] : b[1]], language))
    else:
        found.update(m.span() for m in LATIN_RUN.finditer(masked) if _latin_clause(m.group(), language))
    return sorted(found)


def is_mixed(text: str, language: str = "en") -> bool:
    return bool(foreign_spans(text, language))
