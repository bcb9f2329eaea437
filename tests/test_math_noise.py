"""Pattern 2: format noise in real outputs — shorthand LaTeX, unicode math, prose in the box, wrappers,
leading zeros, thousands separators, chat-template box tokens, answers stated without a box."""

import pytest

from tests.math_table import cases, check

TABLE = [
    ("shorthand frac", r"\frac{2}{\pi}", r"\boxed{\frac2\pi}", "pass", "fail"),
    ("shorthand dfrac", r"\frac{1}{2}", r"\boxed{\dfrac12}", "pass", "pass"),
    ("shorthand sqrt", r"\sqrt{3}x", r"\boxed{\sqrt3x}", "pass", "pass"),
    ("unicode minus", "-3", r"\boxed{−3}", "pass", "pass"),
    ("unicode root", r"2\sqrt{2}", r"\boxed{2√2}", "pass", "fail"),
    ("unicode root of a group", r"\sqrt{x+1}", r"\boxed{√(x+1)}", "pass", "fail"),
    ("unicode times", "6", r"\boxed{2×3}", "pass", "pass"),
    ("unicode pi", r"2\pi", r"\boxed{2π}", "pass", "pass"),
    ("unicode square", "x^2", r"\boxed{x²}", "pass", "fail"),
    ("unicode wrong square", "x^3", r"\boxed{x²}", "wrong_answer", "fail"),
    ("prose in text in the box", r"\frac{54\sqrt{6}}{25}", r"\boxed{\text{The area of triangle ABC is } \frac{54\sqrt6}{25}}", "pass", "fail"),
    ("prose in the box", r"\frac{54\sqrt{6}}{25}", r"\boxed{The area of triangle ABC is \frac{54\sqrt6}{25}}", "pass", "fail"),
    ("prose in the box, wrong value", r"\frac{54\sqrt{6}}{25}", r"\boxed{The area of triangle ABC is \frac{54\sqrt5}{25}}", "wrong_answer", "fail"),
    ("text wrapper", "B", r"\boxed{\text{(B)}}", "pass", "pass"),
    ("mathrm wrapper", r"\mathrm{B}", r"\boxed{B}", "pass", "pass"),
    ("leading zeros", r"9\sqrt{15}", r"\boxed{00009\sqrt{15}}", "pass", "pass"),
    ("leading zeros, plain", "25", r"\boxed{025}", "pass", "pass"),
    ("thousands separators", "1000000", r"\boxed{1,000,000}", "pass", "pass"),
    ("thousands with braces", "10000", r"\boxed{10{,}000}", "pass", "pass"),
    ("chat template box tokens", "7", "<|begin_of_box|>7<|end_of_box|>", "pass", "fail"),
    ("chat template box tokens, wrong", "8", "<|begin_of_box|>7<|end_of_box|>", "wrong_answer", "fail"),
    ("no box, unicode", r"3+2\sqrt{2}", "So the answer is 3 + 2√2", "pass", "fail"),
    ("no box, final answer colon", "42", "Final answer: 42", "pass", "pass"),
    ("number with a unit word", "12", r"\boxed{12 apples}", "pass", "pass"),
    ("dollar delimiters inside", "5", r"\boxed{$5$}", "pass", "pass"),
]  # fmt: skip


@pytest.mark.parametrize(("gold", "response", "ours", "theirs"), cases(TABLE))
def test_format_noise(gold, response, ours, theirs):
    check(gold, response, ours, theirs)
