"""Pattern 4: policies, each with its default and its switch (`--math-option NAME=VALUE`); pattern 5: what
cannot be settled from the answer alone is `undecided`, for a judge."""

import pytest

from datafactory.errors import UsageError
from datafactory.verifiers.math import MathVerifier
from tests.math_table import cases, check

DEFAULTS = [
    ("percent: number form", r"10\%", r"\boxed{10}", "pass", "pass"),
    ("percent: with sign", r"10\%", r"\boxed{10\%}", "pass", "pass"),
    ("percent: fraction form rejected", r"10\%", r"\boxed{0.1}", "wrong_answer", "pass"),
    ("approximate decimal rejected", r"\frac{1}{12}", r"\boxed{0.0833333}", "wrong_answer", "pass"),
    ("exact decimal accepted", r"\frac{1}{8}", r"\boxed{0.125}", "pass", "pass"),
    ("approximate pi rejected", r"\pi", r"\boxed{3.14159}", "wrong_answer", "fail"),
    ("bare list unordered", "2, 3", r"\boxed{3, 2}", "pass", "pass"),
    ("tuple ordered", "(1, 2)", r"\boxed{(2, 1)}", "wrong_answer", "fail"),
    ("units ignored", "5", r"\boxed{5\text{ cm}}", "pass", "pass"),
    ("interval against inequality", r"[1,2]", r"\boxed{1 \le x \le 2}", "pass", "fail"),
    ("inequality against interval", r"1 \le x \le 2", r"\boxed{[1,2]}", "pass", "pass"),
    ("membership against inequality", r"x \in [1,2]", r"\boxed{1 \le x \le 2}", "pass", "fail"),
    ("open and closed ends differ", r"[1,2]", r"\boxed{1 < x \le 2}", "wrong_answer", "fail"),
    ("text answers", r"\text{Monday}", r"\boxed{\text{monday}}", "pass", "pass"),
    ("text answers differ", r"\text{Monday}", r"\boxed{\text{Tuesday}}", "wrong_answer", "fail"),
    ("a sentence against a number: undecided", "4", r"\boxed{the number of ways equals the number of edges}", "undecided", "fail"),
    ("unparseable gold: undecided", r"\begin{tikzpicture}", r"\boxed{3}", "undecided", "fail"),
]  # fmt: skip

SWITCHED = [
    ({"percent": "fraction"}, r"10\%", r"\boxed{0.1}", "pass"),
    ({"percent": "fraction"}, r"10\%", r"\boxed{10}", "wrong_answer"),
    ({"percent": "either"}, r"10\%", r"\boxed{0.1}", "pass"),
    ({"approx_rel_tol": "1e-5"}, r"\frac{1}{12}", r"\boxed{0.0833333}", "pass"),
    ({"approx_rel_tol": "1e-5"}, r"\frac{1}{12}", r"\boxed{0.083}", "wrong_answer"),
    ({"approx_rel_tol": "1e-5"}, r"\pi", r"\boxed{3.1415926}", "pass"),
    ({"lists": "ordered"}, "2, 3", r"\boxed{3, 2}", "wrong_answer"),
    ({"lists": "ordered"}, "2, 3", r"\boxed{2, 3}", "pass"),
    ({"units": "strict"}, "12", r"\boxed{12 apples}", "undecided"),
    ({"intervals": "strict"}, r"[1,2]", r"\boxed{1 \le x \le 2}", "wrong_answer"),
]


@pytest.mark.parametrize(("gold", "response", "ours", "theirs"), cases(DEFAULTS))
def test_default_policies(gold, response, ours, theirs):
    check(gold, response, ours, theirs)


@pytest.mark.parametrize(("options", "gold", "response", "ours"), SWITCHED, ids=lambda v: str(v)[:40])
def test_switched_policies(options, gold, response, ours):
    verdict = MathVerifier(options).verify(response, gold, {})
    assert (verdict.reason or "pass") == ours, verdict


def test_unknown_policy_values_name_the_allowed_ones():
    with pytest.raises(UsageError, match="percent=ratio: choose one of number, fraction, either"):
        MathVerifier({"percent": "ratio"})
    with pytest.raises(UsageError, match="unknown; choose from"):
        MathVerifier({"order": "x"})
