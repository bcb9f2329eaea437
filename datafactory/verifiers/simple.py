"""Verifiers that need no mathematics: multiple choice, exact (normalised) match, and none (rules only)."""

from __future__ import annotations

import re
import unicodedata

from datafactory.trace import last_boxed
from datafactory.verifiers.base import Verdict, Verifier, failed, passed

LETTERS = "ABCDEFGHIJ"
CHOICE_PATTERNS = [
    r"\\boxed\{\s*(?:\\text\{)?\(?([A-J])\)?\}?\s*\}",
    r"(?:final\s+)?answer\s*(?:is|:)?\s*(?:option\s*)?[\(\[]?\*{0,2}([A-J])\b",
    r"(?:option|choice)\s*\(?([A-J])\)?\s+is\s+(?:the\s+)?correct",
    r"\*\*\(?([A-J])\)?[\.\):]?\*\*",
    r"^\s*\(?([A-J])\)?[\.\)]?\s*$",
]


def extract_choice(response: str) -> str | None:
    """The chosen letter, from the usual phrasings; the last match of the first pattern that matches."""
    for pattern in CHOICE_PATTERNS:
        matches = re.findall(pattern, response, flags=re.IGNORECASE | re.MULTILINE)
        if matches:
            return matches[-1].upper()
    return None


def normalise_choice(gold) -> str | None:
    text = str(gold).strip().strip("()[]. ").upper()
    if len(text) == 1 and text in LETTERS:
        return text
    if text.isdigit() and 0 <= int(text) < len(LETTERS):  # 0-based index golds (MMLU-style)
        return LETTERS[int(text)]
    return None


class ChoiceVerifier(Verifier):
    name = "choice"

    def verify(self, response: str, gold, row: dict) -> Verdict:
        expected = normalise_choice(gold)
        if expected is None:
            return failed("no_gold", detail=f"gold {gold!r} is not a letter A-J")
        chosen = extract_choice(response)
        if chosen is None:
            return failed("no_answer", detail="no choice letter found (\\boxed{B}, 'the answer is (B)', 'Answer: B')")
        return passed(chosen) if chosen == expected else failed("wrong_answer", chosen, f"{chosen} vs gold {expected}")


def normalise_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    text = re.sub(r"\\text\{([^}]*)\}", r"\1", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text.strip(" .;:!\"'`$")


class ExactVerifier(Verifier):
    """Normalised string match (NFKC, case, whitespace, surrounding punctuation) of the boxed answer, or of the
    whole response when there is no box."""

    name = "exact"

    def verify(self, response: str, gold, row: dict) -> Verdict:
        answer = last_boxed(response)
        answer = response if answer is None else answer
        if not answer.strip():
            return failed("no_answer", detail="the response is empty")
        golds = gold if isinstance(gold, list) else [gold]
        expected = {normalise_text(g) for g in golds if g is not None}
        if not expected:
            return failed("no_gold", detail="the row's gold (--gold-field) is empty")
        got = normalise_text(answer)
        return (
            passed(got)
            if got in expected
            else failed("wrong_answer", got, f"{got!r} vs gold {sorted(expected)!r}"[:300])
        )


class NoVerifier(Verifier):
    """Rules only, for data without a gold answer."""

    name = "none"
    needs_gold = False

    def verify(self, response: str, gold, row: dict) -> Verdict:
        return passed(None)
