"""Equality of two parsed math answers, stricter than math-verify's, and the written-down policies.

Why: math-verify compares numbers after rounding, so `1/2004!` equals `1/2006!`, `10^{-20}` equals `10^{-21}`
and `0.0833333` equals `1/12`. A wrong trace kept is worse for SFT than a right one rejected, so where
math-verify says "equal" this module checks again: rationals exactly, other constants to 45 significant digits
relative to their magnitude (two tiny numbers are not equal because both are tiny), decimals against exact
values only within `approx_rel_tol`. Policies a project may want differently are options (`--math-option`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from datafactory.errors import UsageError

EXACT_REL_TOL = 1e-45  # for closed forms evaluated to 60 digits: equal ones agree to ~58 digits


@dataclass(frozen=True)
class MathPolicy:
    """How doubtful answers are judged; defaults prefer rejecting a doubtful trace over keeping a wrong one."""

    percent: str = "number"  # gold 10%: number → 10 or 10% pass, 0.1 fails; fraction → 0.1 or 10%; either → all
    approx_rel_tol: float = 0.0  # a decimal answer against an exact value: 0 → must be exactly equal
    lists: str = "unordered"  # bare comma lists (roots): unordered, or ordered; (tuples) are always ordered
    units: str = "ignore"  # ignore → "12 apples" ≡ 12; strict → words after a number make it a text answer
    intervals: str = "equivalent"  # equivalent → [1,2] ≡ 1 ≤ x ≤ 2 both ways; strict → as math-verify decides
    extract: str = "strict"  # strict → no box and no answer phrase is no_answer (R1's format rule); lenient → the
    # response's last LaTeX or plain expression, as math-verify takes it

    CHOICES = {
        "percent": ("number", "fraction", "either"),
        "lists": ("unordered", "ordered"),
        "units": ("ignore", "strict"),
        "intervals": ("equivalent", "strict"),
        "extract": ("strict", "lenient"),
    }

    def validate(self) -> None:
        if not 0 <= self.approx_rel_tol < 1:
            raise UsageError("--math-option approx_rel_tol must be in [0, 1)")


def percent_equal(gold: Fraction, answer: Fraction, gold_percent: bool, answer_percent: bool, policy: str) -> bool:
    """Plain numbers around a % sign: `gold_percent` means the gold was written `g%`."""
    if gold_percent == answer_percent:
        return gold == answer
    if gold_percent:
        readings = {"number": [gold], "fraction": [gold / 100], "either": [gold, gold / 100]}[policy]
        return answer in readings
    readings = {"number": [answer], "fraction": [answer / 100], "either": [answer, answer / 100]}[policy]
    return gold in readings


def strict_equal(gold, answer, policy: MathPolicy) -> bool | None:
    """Our own verdict on two sympy values math-verify parsed; None where we have no sharper opinion."""
    import sympy

    if policy.intervals == "equivalent":
        gold_set, answer_set = _as_set(gold), _as_set(answer)
        if gold_set is not None and answer_set is not None and (_is_relation(gold) or _is_relation(answer)):
            return bool(gold_set == answer_set)
    if isinstance(gold, sympy.FiniteSet) and isinstance(answer, sympy.FiniteSet):
        return _match_all(list(gold.args), list(answer.args), policy)
    if isinstance(gold, sympy.Tuple | tuple) and isinstance(answer, sympy.Tuple | tuple):
        if len(gold) != len(answer):
            return False
        verdicts = [strict_equal(g, a, policy) for g, a in zip(gold, answer, strict=True)]
        return False if False in verdicts else None
    if isinstance(gold, sympy.Expr) and isinstance(answer, sympy.Expr):
        return expr_equal(gold, answer, policy.approx_rel_tol)
    return None


def _match_all(gold: list, answer: list, policy: MathPolicy) -> bool | None:
    if len(gold) != len(answer):
        return False
    left = list(answer)
    for item in gold:
        match = next((a for a in left if strict_equal(item, a, policy) is not False), None)
        if match is None:
            return False
        left.remove(match)
    return None


def expr_equal(gold, answer, approx_rel_tol: float = 0.0) -> bool | None:
    """Numbers: integers and rationals exactly, at any size (None when one is too big to evaluate: 10^{10^{10}},
    99999!); decimals only within `approx_rel_tol` of an exact value; other constants evaluated with enough
    digits for their magnitude, equal within EXACT_REL_TOL of the smaller of 1 and their size (so 10^{50}+√2 is
    not 10^{50}+√3). Expressions with variables: None (math-verify's symbolic check stands)."""
    import sympy

    if gold == answer:
        return True
    if gold.free_symbols or answer.free_symbols:
        return None
    if too_big(gold) or too_big(answer):
        return None
    had_float = bool(gold.atoms(sympy.Float) or answer.atoms(sympy.Float))
    gold, answer = _rationalise(gold), _rationalise(answer)
    if not had_float:  # math-verify may leave 10^{50}+1 unevaluated: evaluate it exactly
        gold, answer = gold.doit(), answer.doit()
    if gold.is_Rational and answer.is_Rational:
        return gold == answer or (had_float and _close(gold, answer, approx_rel_tol))
    try:
        magnitude = max(abs(sympy.N(gold, 15)), abs(sympy.N(answer, 15)))
        if not magnitude.is_finite:
            return None
        if magnitude == 0:
            return True
        digits = 60 + max(0, int(sympy.log(magnitude, 10).evalf(5)))
        difference = abs(sympy.N(gold - answer, digits))
    except (TypeError, ValueError, ArithmeticError):
        return None
    if had_float:  # decimals were taken as the exact fractions they were written as: equal means equal
        return bool(difference / magnitude <= max(approx_rel_tol, EXACT_REL_TOL))
    return bool(difference <= min(magnitude, 1) * EXACT_REL_TOL)


MAX_BITS = 200_000  # ~60,000 digits: an integer this size is evaluated in milliseconds
MAX_FACTORIAL = 5_000


def too_big(value) -> bool:
    """Whether evaluating `value` exactly could take seconds or gigabytes: a power of integers past MAX_BITS (towers
    included), a factorial of more than MAX_FACTORIAL."""
    import sympy

    for power in value.atoms(sympy.Pow):
        base, exponent = power.base, power.exp
        if not (base.is_number and exponent.is_number):
            continue
        if (exponent is not value and too_big(exponent)) or (base is not value and too_big(base)):
            return True
        try:
            size, times = abs(base.evalf(15)), abs(exponent.evalf(15))
            if size.is_finite and size > 1 and float(times) * float(sympy.log(size, 2).evalf(10)) > MAX_BITS:
                return True
        except (TypeError, ValueError, OverflowError):
            return True
    for node in value.atoms(sympy.factorial):
        argument = node.args[0]
        if argument.is_number and (not argument.is_finite or abs(argument) > MAX_FACTORIAL):
            return True
    return False


def _rationalise(value):
    """Decimals as the exact fractions they were written as (0.0833333 → 833333/10000000)."""
    import sympy

    floats = value.atoms(sympy.Float)
    return value.xreplace({f: sympy.Rational(str(f)) for f in floats}) if floats else value


def _close(gold, answer, tolerance: float) -> bool:
    scale = max(abs(gold), abs(answer))
    return bool(tolerance) and (scale == 0 or abs(gold - answer) / scale <= tolerance)


def _is_relation(value) -> bool:
    import sympy

    return isinstance(value, sympy.core.relational.Relational | sympy.And | sympy.Or)


def _as_set(value):
    """An interval, a union, or a one-variable inequality (or `x \\in S`) as a sympy set; None otherwise."""
    import sympy

    if isinstance(value, sympy.Interval | sympy.Union):
        return value
    if isinstance(value, sympy.Eq) and isinstance(value.rhs, sympy.Set):
        return value.rhs
    applied = value.atoms(sympy.core.function.AppliedUndef)
    if len(applied) == 1:  # 0 < f(x) < 1: f(x) is the one variable
        value = value.xreplace({applied.pop(): sympy.Dummy("v")})
    if _is_relation(value) and len(value.free_symbols) == 1 and not isinstance(value, sympy.Eq):
        try:
            return value.as_set()
        except (NotImplementedError, TypeError, ValueError):
            return None
    return None
