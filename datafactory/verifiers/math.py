"""Math answers: the response's final answer against the gold, equal as mathematics, via math-verify/sympy.

Why the layers around math-verify: real golds come as GSM8K solutions ending in `#### 72`, JSON floats
(AMC: 27.0), strings with leading zeros (AIME: 025), thousands separators (10{,}000) and LaTeX with units; real
responses box several roots, write unicode math or prose in the box (math_answer.py); and math-verify's rounding
calls near-equal numbers equal (math_compare.py). Answers that cannot be settled without the problem are
`undecided`, for a judge to settle (`--verifier math,judge`). The policy is in docs/verifiers.md.
"""

from __future__ import annotations

import re
import threading
from fractions import Fraction

from datafactory.trace import last_boxed
from datafactory.verifiers.base import Verdict, Verifier, failed, passed
from datafactory.verifiers.math_answer import (
    UNIT_TAIL,
    clean,
    final_answer,
    has_ellipsis,
    is_ellipsis,
    top_level_items,
)
from datafactory.verifiers.math_compare import MathPolicy, percent_equal, strict_equal, too_big
from datafactory.verifiers.math_relations import stated_answer
from datafactory.verifiers.simple import normalise_text

PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
PERCENT = re.compile(r"\s*\\?%\s*$")
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
    return clean(text) or None


class TooBig(Exception):
    """A parsed answer or gold whose exact value would take seconds or gigabytes to compute."""


MAX_ANSWER_CHARS = 2_000
MAX_NESTING = 10  # math-verify's sympy work grows exponentially with nesting: 16 fractions deep took 4 s


def pathological(answer: str) -> str | None:
    """Why an answer is not worth a parser's time (what models under sampling do write: 100,000-character boxes,
    fractions nested hundreds deep), or None. Towers and huge factorials are caught after parsing (too_big)."""
    if len(answer) > MAX_ANSWER_CHARS:
        return f"{len(answer):,} characters long (limit {MAX_ANSWER_CHARS:,})"
    depth = deepest = 0
    for char in answer:
        if char in "{(":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "})":
            depth -= 1
    if deepest > MAX_NESTING:
        return f"nested {deepest} deep (limit {MAX_NESTING})"
    return None


def plain_number(text: str) -> Fraction | None:
    """The exact value of a plain decimal ("025", "-3.50", "10000"); None for anything else (and for absurdly
    long digit strings, which Python refuses to convert and sympy judges within the time limit)."""
    return Fraction(text) if len(text) <= 200 and PLAIN_NUMBER.match(text) else None


def _canonical_decimal(text: str) -> str:
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("+-").partition(".")
    whole, fraction = whole.lstrip("0") or "0", fraction.rstrip("0")
    value = f"{whole}.{fraction}" if fraction else whole
    return "0" if value == "0" else sign + value


def _prose(text: str) -> bool:
    """Three or more words outside LaTeX commands: a sentence, not a formula."""
    return len(re.findall(r"[A-Za-z]{2,}", re.sub(r"\\[A-Za-z]+", " ", text))) >= 3


class MathVerifier(Verifier):
    name = "math"
    Options = MathPolicy
    options_flag = "--math-option"

    def __init__(self, options: dict | None = None):
        super().__init__(options)
        from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

        self._parse, self._verify = parse, verify
        self.configs = [LatexExtractionConfig(), ExprExtractionConfig()]
        self.on_main_thread = threading.current_thread() is threading.main_thread()
        self._gold_cache: dict[str, list] = {}
        self._stated_golds: dict[str, str] = {}
        self._verdicts: dict[tuple[str, str], bool | None] = {}
        self.policy = self.parse_options(self.options)

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
        answer = final_answer(response, units=self.policy.units == "ignore")
        if (answer is None or not answer.strip()) and self.policy.extract == "lenient":
            answer = self.lenient_answer(response)
        if expected is None:  # the answer is still recorded: samples vote on it (checks/gold_votes.py), if it is math
            stated, problem = self.statement(answer) if self.votable(answer) else (answer, None)
            return failed("no_gold", None if problem else self.votable(stated), detail="the row's gold is empty")
        if answer is None or not answer.strip():
            return failed(
                "no_answer", detail="no \\boxed{} and no 'the answer is' (--math-option extract=lenient reads more)"
            )
        if unreasonable := pathological(answer):  # decided in microseconds, before any parser sees it
            return failed("undecided", answer[:200], detail=f"the answer is {unreasonable}: not compared")
        answer, problem = self.statement(answer)
        if problem:
            return failed("wrong_answer", answer[:200], detail=problem)
        expected = self.stated_gold(expected)
        key = (expected, answer)
        if key not in self._verdicts:  # a prompt's samples often repeat an answer: decide it once
            if len(self._verdicts) > CACHE_SIZE:
                self._verdicts.clear()
            try:
                self._verdicts[key] = self.equal(expected, answer)
            except TooBig:
                self._verdicts[key] = TooBig
        if self._verdicts[key] is TooBig:
            return failed("undecided", answer[:200], detail="too large to evaluate exactly (a power or factorial "
                          "beyond ~60,000 digits): not compared")  # fmt: skip
        equal = self._verdicts[key]
        if equal is None and self.policy.extract == "lenient":
            equal = self._parsed_equal(expected, self._parsed(response))  # as math-verify reads the response
        if equal is None:
            return failed("undecided", answer, detail="the answer or the gold cannot be compared as math")
        return passed(answer) if equal else failed("wrong_answer", answer, f"{answer} vs gold {expected}"[:300])

    def statement(self, answer: str) -> tuple[str, str | None]:
        """What the answer states, where it holds `=` or an arrow (math_relations.py), and why it states none."""
        try:
            return stated_answer(answer, self.equal)
        except TooBig:
            return answer, None

    def stated_gold(self, gold: str) -> str:
        """The gold as the answer is read (`x = 11` states 11), so that both sides compare alike; a gold that states
        no answer is left as written."""
        if gold not in self._stated_golds:
            if len(self._stated_golds) > CACHE_SIZE:
                self._stated_golds.clear()
            stated, problem = self.statement(gold)
            self._stated_golds[gold] = gold if problem else stated
        return self._stated_golds[gold]

    @staticmethod
    def votable(answer: str | None) -> str | None:
        """The answer, if it may vote for a gold: not empty, not pathological, not a sentence. What math could not
        compare with a gold must not become one because many samples wrote the same junk."""
        if not answer or not answer.strip() or pathological(answer) or _prose(answer):
            return None
        return answer

    def lenient_answer(self, response: str) -> str | None:
        """What math-verify takes from a response with no box and no answer phrase: its last LaTeX expression,
        else its last plain expression (`--math-option extract=lenient`)."""
        parsed = self._parsed(response)
        return clean(parsed[1]) if len(parsed) >= 2 and isinstance(parsed[1], str) else None

    def equal(self, expected: str, answer: str) -> bool | None:
        """True/False, or None when only the problem statement could settle it."""
        if normalise_text(answer) == normalise_text(expected):
            return True
        gold_percent, answer_percent = bool(PERCENT.search(expected)), bool(PERCENT.search(answer))
        if gold_percent or answer_percent:
            expected, answer = PERCENT.sub("", expected), PERCENT.sub("", answer)
        if PLAIN_NUMBER.match(expected) and PLAIN_NUMBER.match(answer) and max(len(expected), len(answer)) > 200:
            return _canonical_decimal(expected) == _canonical_decimal(answer)  # too long for Fraction, exact anyway
        gold_number, answer_number = plain_number(expected), plain_number(answer)
        if gold_number is not None and answer_number is not None:  # exact, no sympy needed
            policy = self.policy.percent
            return percent_equal(gold_number, answer_number, gold_percent, answer_percent, policy)
        if has_ellipsis(expected) or has_ellipsis(answer) or self.policy.lists == "ordered":
            gold_items, answer_items = top_level_items(expected), top_level_items(answer)
            if len(gold_items) > 1 or len(answer_items) > 1:
                return self._sequence_equal(gold_items, answer_items)
        if self.policy.units == "strict" and UNIT_TAIL.match(answer) and not UNIT_TAIL.match(expected):
            return None  # "12 apples" against 12: whether the unit matters is the problem's business
        if _prose(answer) and not _prose(expected):
            return None  # a sentence against a formula: needs the problem to decide
        return self._sympy_equal(expected, answer)

    def _sequence_equal(self, gold: list[str], answer: list[str]) -> bool | None:
        """Ordered lists and sequences with an ellipsis: item by item, the ellipsis in the same places."""
        if len(gold) != len(answer):
            return False
        verdicts = []
        for expected, given in zip(gold, answer, strict=True):
            if is_ellipsis(expected) or is_ellipsis(given):
                verdicts.append(is_ellipsis(expected) and is_ellipsis(given))
            else:
                verdicts.append(self.equal(expected, given))
        return False if False in verdicts else (None if None in verdicts else True)

    def _sympy_equal(self, expected: str, answer: str) -> bool | None:
        return self._parsed_equal(expected, self._parsed(f"\\boxed{{{answer}}}"))

    def _parsed_equal(self, expected: str, answer_parsed: list) -> bool | None:
        """math-verify's verdict on parsed answers, overruled where its rounding is too kind (math_compare.py)."""
        gold_parsed = self.parsed_gold(expected)
        if len(gold_parsed) < 2 or len(answer_parsed) < 2:  # [] or [text]: math-verify found no math
            return None
        if any(too_big(value) for value in (gold_parsed[0], answer_parsed[0]) if hasattr(value, "atoms")):
            raise TooBig  # sympy would compute digits for minutes; math-verify's timeout runs on one thread only
        timeout = PARSE_TIMEOUT if self.on_main_thread else None
        verdict = bool(self._verify(gold_parsed, answer_parsed, timeout_seconds=timeout))
        strict = strict_equal(gold_parsed[0], answer_parsed[0], self.policy)
        if strict is False or (strict is True and self.policy.intervals == "equivalent"):
            return strict
        return verdict
