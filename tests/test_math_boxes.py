"""Pattern 1: several boxed answers — a final-answer block is taken as a whole, junk boxes after it skipped."""

import pytest

from tests.math_table import cases, check

TABLE = [
    ("roots boxed separately", "2, 3", r"So $x = \boxed{2}$ or $x = \boxed{3}$.", "pass", "pass"),
    ("roots boxed separately, reversed", "2, 3", r"Thus x=\boxed{3} and x=\boxed{2}", "pass", "pass"),
    ("one root of two", "2, 3", r"We get $x = \boxed{3}$.", "wrong_answer", "fail"),
    ("final answer block", "-1, 4", "**Final Answer**\n\n$\\boxed{-1}$\n$\\boxed{4}$", "pass", "fail"),
    ("pm against both roots", r"1 \pm \sqrt{2}", r"$x = \boxed{1+\sqrt{2}}$ or $x = \boxed{1-\sqrt{2}}$", "pass", "pass"),
    ("both roots against pm", r"1+\sqrt{2}, 1-\sqrt{2}", r"\boxed{1 \pm \sqrt{2}}", "pass", "pass"),
    ("empty box after the answer", "5", r"The answer is \boxed{5}. Hmm, wait: \boxed{}", "pass", "fail"),
    ("junk box after the answer", "5", r"The answer is \boxed{5}. Let me check again \boxed{?}", "pass", "fail"),
    ("text box after the answer", "5", r"\boxed{5} \boxed{\text{ }}", "pass", "fail"),
    ("same answer boxed twice", "12", r"So it is \boxed{12}. Final answer: \boxed{12}", "pass", "pass"),
    ("intermediate box, then prose, then answer", "6", r"First \boxed{4} is the width. The area is then \boxed{6}.", "pass", "pass"),
    ("changed mind later", "6", r"\boxed{5}. Wait, that is wrong; recomputing gives \boxed{6}", "pass", "fail"),
    ("changed mind to a wrong answer", "5", r"\boxed{5}. Wait, that is wrong; recomputing gives \boxed{6}", "wrong_answer", "fail"),
]  # fmt: skip


@pytest.mark.parametrize(("gold", "response", "ours", "theirs"), cases(TABLE))
def test_several_boxes(gold, response, ours, theirs):
    check(gold, response, ours, theirs)
