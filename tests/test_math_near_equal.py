"""Pattern 3: near-equal false positives — equal to many digits is not equal; mixed numbers; sequences."""

import pytest

from tests.math_table import cases, check

TABLE = [
    ("factorials two apart", r"\frac{1}{2004!}", r"\boxed{\frac{1}{2006!}}", "wrong_answer", "pass"),
    ("factorial equal", r"\frac{1}{2004!}", r"\boxed{\frac{1}{2004!}}", "pass", "pass"),
    ("tiny against a sixth", r"\frac{2^{2005}+1}{3\cdot 2^{2006}}", r"\boxed{\frac{1}{3\cdot 2^{2006}}}", "wrong_answer", "pass"),
    ("huge powers equal", r"\frac{2^{2005}+1}{3\cdot 2^{2006}}", r"\boxed{\frac{1}{6}+\frac{1}{3\cdot 2^{2006}}}", "pass", "pass"),
    ("both tiny", r"10^{-20}", r"\boxed{10^{-21}}", "wrong_answer", "pass"),
    ("both huge", r"10^{20}+1", r"\boxed{10^{20}}", "wrong_answer", "fail"),
    ("sign of a small term", r"1-\frac{1}{e}", r"\boxed{1+\frac{1}{e}}", "wrong_answer", "fail"),
    ("tiny irrational difference", r"\pi", r"\boxed{\pi + 10^{-30}}", "wrong_answer", "pass"),
    ("same irrational, other form", r"2\sqrt{2}", r"\boxed{\sqrt{8}}", "pass", "pass"),
    ("mixed number", r"2\frac{2}{3}", r"\boxed{\frac{8}{3}}", "pass", "pass"),
    ("mixed number is not a product", r"2\frac{2}{3}", r"\boxed{\frac{4}{3}}", "wrong_answer", "fail"),
    ("mixed number is not its whole part", r"2\frac{2}{3}", r"\boxed{2}", "wrong_answer", "fail"),
    ("mixed number as the answer", r"\frac{8}{3}", r"\boxed{2\frac{2}{3}}", "pass", "pass"),
    ("sequences differ", r"1,2,\ldots,n", r"\boxed{1,3,5,\ldots,2n-1}", "wrong_answer", "fail"),
    ("sequences equal", r"1,2,\ldots,n", r"\boxed{1, 2, \dots, n}", "pass", "fail"),
    ("sequence order matters", r"1,2,\ldots,n", r"\boxed{n,\ldots,2,1}", "wrong_answer", "pass"),
    ("zero against tiny", "0", r"\boxed{10^{-40}}", "wrong_answer", "fail"),
]  # fmt: skip


@pytest.mark.parametrize(("gold", "response", "ours", "theirs"), cases(TABLE))
def test_near_equal(gold, response, ours, theirs):
    check(gold, response, ours, theirs)
