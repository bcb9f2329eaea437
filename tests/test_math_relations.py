"""An equation is not an answer; unusual digits are digits; deep nesting is refused before any parser sees it."""

import pytest

from datafactory.verifiers.math import MathVerifier


@pytest.fixture(scope="module")
def verifier():
    return MathVerifier()


NOT_ANSWERS = [  # against gold 5: relations between different values, chains not all equal, arrows, empty sides
    r"\boxed{6 = 5}",
    r"\boxed{2+2=5}",
    r"\boxed{100 = 5}",
    r"\boxed{x = 6 = 5}",
    r"\boxed{6 \Rightarrow 5}",
    r"\boxed{6 \to 5}",
    r"\boxed{6} \boxed{=5}",
    r"\boxed{5 = 6}",
    r"\boxed{x = 5 = 6}",
    r"\boxed{\frac{12}{2} = 5}",
    r"\boxed{6 \implies 5}",
    r"\boxed{6 \Longrightarrow 5}",
    r"\boxed{6 \rightarrow 5}",
    r"\boxed{6 \mapsto 5}",
    r"\boxed{6 \iff 5}",
    r"\boxed{6 → 5}",
    r"\boxed{6 ⇒ 5}",
    r"\boxed{6 -> 5}",
    r"\boxed{6 := 5}",
    r"\boxed{6 \equiv 5}",
    r"\boxed{6 == 5}",
    r"\boxed{=5}",
    r"\boxed{5=}",
    r"\boxed{\pi = 5}",
    r"The answer is $6 = 5$.",
    r"The final answer is 4 = 5",
    r"\boxed{6 = 5 = 5}",
]


@pytest.mark.parametrize("response", NOT_ANSWERS)
def test_a_relation_between_different_values_is_not_an_answer(verifier, response):
    result = verifier.verify(response, "5", {})
    assert not result.ok and result.reason == "wrong_answer", result


ANSWERS = [  # against gold 5
    r"\boxed{x = 5}",
    r"\boxed{f(x)=5}",
    r"\boxed{a_1 = 5}",
    r"\boxed{y' = 5}",
    r"\boxed{\theta = 5}",
    r"\boxed{x = 5 = 5}",
    r"\boxed{\frac{10}{2} = 5}",
    r"\boxed{x = 2 + 3}",
    r"\boxed{5}",
    r"\boxed{𝟓}",  # U+1D7D3 MATHEMATICAL BOLD DIGIT FIVE
    r"\boxed{𝟱}",  # U+1D7F1 sans-serif bold
    r"\boxed{５}",  # full-width
    r"The answer is $x = 5$.",
]


@pytest.mark.parametrize("response", ANSWERS)
def test_a_name_equal_to_a_value_is_that_value(verifier, response):
    result = verifier.verify(response, "5", {})
    assert result.ok, result


@pytest.mark.parametrize(
    ("gold", "response"),
    [
        ("y = 2x + 1", r"\boxed{y = 2x + 1}"),  # an equation is the answer itself
        ("x^2 + y^2 = 25", r"\boxed{x^2 + y^2 = 25}"),
        ("x = 11", r"\boxed{11}"),  # the gold states 11 as the answer does
        ("11", r"\boxed{x = 11}"),
        ("2, 3", r"\boxed{x = 2, 3}"),
        (r"\frac{1}{2}", r"\boxed{x = \frac{1}{2}}"),
    ],
)
def test_equations_and_named_golds_still_compare(verifier, gold, response):
    result = verifier.verify(response, gold, {})
    assert result.ok, result


def test_a_relation_cannot_vote_for_a_gold(verifier):
    assert verifier.verify(r"\boxed{6 = 5}", None, {}).extracted is None
    assert verifier.verify(r"\boxed{x = 5}", None, {}).extracted == "5"


@pytest.mark.parametrize("depth", [11, 16, 20, 25, 29])
@pytest.mark.parametrize("shape", ["\\frac{%s}{2}", "\\frac{1}{1+%s}", "\\sqrt{2+%s}", "(1+%s)^2"])
def test_deep_nesting_is_refused_by_its_structure_not_by_the_clock(verifier, depth, shape):
    """Nested 16 deep, `\\frac{…}{2}` took 4 s of sympy; `\\frac{1}{1+…}` 11 deep 2 s, 16 deep 68 s."""
    text = "1"
    for _ in range(depth):
        text = shape.replace("%s", text)
    result = verifier.verify(f"\\boxed{{{text}}}", "5", {})
    assert result.reason == "undecided" and "nested" in result.detail, result
