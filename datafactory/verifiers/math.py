"""Math answers: the response's final answer against the gold, equal as mathematics, via math-verify/sympy.

Why the normalising around math-verify: real golds come as GSM8K solutions ending in `#### 72`, JSON floats
(AMC: 27.0), strings with leading zeros (AIME: 025), thousands separators (10{,}000) and LaTeX with units; and
real responses box their answer, or only say "the answer is …". The equivalence policy is in docs/verifiers.md.
"""

from __future__ import annotations

import re
import threading
from fractions import Fraction

from datafactory.filtering.trace import last_boxed
from datafactory.verifiers.base import Verdict, Verifier, failed, passed
from datafactory.verifiers.simple import normalise_text

ANSWER_PHRASE = re.compile(r"(?:final answer|the answer)\s*(?:is|:|=)\s*:?\s*(.+)", re.IGNORECASE)
THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
CACHE_SIZE = 4096
PARSE_TIMEOUT = 5


def normalise_gold(gold) -> str | None:
    """Gold as a LaTeX string: numbers without float noise, the part after GSM8K's ####, or a solution's box."""
    if gold is None:
        return None
    if isinstance(gold, bool):
        return str(gold)
    if isinstance(gold, float):
        return str(int(gold)) if gold.is_integer() else repr(gold)
    if isinstance(gold, int):
        return str(gold)
    if isinstance(gold, list | tuple):
        parts = [normalise_gold(g) for g in gold]
        return ", ".join(p for p in parts if p) or None
    text = str(gold).strip()
    if "####" in text:
        text = text.rsplit("####", 1)[1].strip()
    elif "\\boxed" in text:
        text = last_boxed(text) or text
    return _clean(text) or None


def _clean(text: str) -> str:
    text = text.strip().strip("$").strip()
    text = text.replace("{,}", "").replace("\\!", "")
    if THOUSANDS.match(text):
        text = text.replace(",", "")
    return text.rstrip(".").strip()


def plain_number(text: str) -> Fraction | None:
    """The exact value of a plain decimal ("025", "-3.50", "10000"); None for anything else (and for absurdly
    long digit strings, which Python refuses to convert and sympy judges within the time limit)."""
    return Fraction(text) if len(text) <= 200 and PLAIN_NUMBER.match(text) else None


def extract_answer(response: str) -> str | None:
    """The last \\boxed{} of the response; else the text after the last "final answer is"/"the answer is"."""
    boxed = last_boxed(response)
    if boxed is not None:
        return _clean(boxed)
    matches = ANSWER_PHRASE.findall(response)
    if matches:
        return _clean(matches[-1].splitlines()[0]) or None
    return None


class MathVerifier(Verifier):
    name = "math"

    def __init__(self, options: dict | None = None):
        super().__init__(options)
        from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

        self._parse, self._verify = parse, verify
        self.configs = [LatexExtractionConfig(), ExprExtractionConfig()]
        self.on_main_thread = threading.current_thread() is threading.main_thread()
        self._gold_cache: dict[str, list] = {}
        self._verdicts: dict[tuple[str, str], bool] = {}

    def _parsed(self, latex: str) -> list:
        timeout = PARSE_TIMEOUT if self.on_main_thread else None
        return self._parse(latex, extraction_config=self.configs, parsing_timeout=timeout)

    def parsed_gold(self, gold: str) -> list:
        """Parsed once per distinct gold: a prompt's n samples share it."""
        if gold not in self._gold_cache:
            if len(self._gold_cache) > CACHE_SIZE:
                self._gold_cache.clear()
            self._gold_cache[gold] = self._parsed(f"${gold}$")
        return self._gold_cache[gold]

    def verify(self, response: str, gold, row: dict) -> Verdict:
        expected = normalise_gold(gold)
        if expected is None:
            return failed("no_gold")
        answer = extract_answer(response)
        if answer is None or not answer.strip():
            return failed("no_answer")
        if normalise_text(answer) == normalise_text(expected):
            return passed(answer)
        gold_number, answer_number = plain_number(expected), plain_number(answer)
        if gold_number is not None and answer_number is not None:  # exact, no sympy needed
            return passed(answer) if gold_number == answer_number else failed("wrong_answer", answer)
        key = (expected, answer)
        if key not in self._verdicts:  # a prompt's samples often repeat an answer: decide it once
            if len(self._verdicts) > CACHE_SIZE:
                self._verdicts.clear()
            self._verdicts[key] = self._equal(expected, answer)
        equal = self._verdicts[key]
        if equal is None:
            return failed("wrong_answer", answer, detail="unparseable answer or gold")
        return passed(answer) if equal else failed("wrong_answer", answer)

    def _equal(self, expected: str, answer: str) -> bool | None:
        gold_parsed = self.parsed_gold(expected)
        answer_parsed = self._parsed(f"\\boxed{{{answer}}}")
        if not gold_parsed or not answer_parsed:
            return None
        timeout = PARSE_TIMEOUT if self.on_main_thread else None
        return bool(self._verify(gold_parsed, answer_parsed, timeout_seconds=timeout))
