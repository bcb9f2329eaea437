"""Trace parsing and each readability rule on hand-made traces."""

import pytest

from datafactory.errors import UsageError
from datafactory.rules import RuleConfig, resolve_rules
from datafactory.rules.checks import RULES, loops_at_end
from datafactory.rules.language import foreign_spans
from datafactory.trace import boxed_contents, parse_trace

ENGLISH = (
    "First I add the two numbers to get seven. Then I multiply the result by two, which gives fourteen. "
    "Let me check this again carefully: seven times two is fourteen, so the total is right."
)


def check(rule, completion, config=None, verifier="math", **row):
    trace = parse_trace(completion)
    return RULES[rule](trace, {"completion": completion, **row}, config or RuleConfig(), {"verifier": verifier})


def test_parse_trace_with_and_without_the_opening_tag():
    full = parse_trace("<think>\nsteps\n</think>\n\nThe answer is \\boxed{3}.")
    assert (full.reasoning, full.response, full.well_formed) == ("steps", "The answer is \\boxed{3}.", True)
    opened_by_template = parse_trace("steps here\n</think>\nanswer")
    assert opened_by_template.well_formed and opened_by_template.reasoning == "steps here"
    for broken, problem in [
        ("<think>never closed", "no </think>"),
        ("plain answer", "no think block"),
        ("<think>a</think><think>b</think>c", "several think blocks"),
        ("<think> </think> answer", "empty reasoning"),
        ("<think>steps</think>   ", "no response after </think>"),
        ("preamble <think>steps</think> answer", "text before <think>"),
    ]:
        trace = parse_trace(broken)
        assert not trace.well_formed and trace.problem == problem, broken


def test_boxed_contents_balances_braces():
    assert boxed_contents("\\boxed{\\frac{1}{2}} and \\fbox{3} and \\boxed {x^{2}}") == ["\\frac{1}{2}", "3", "x^{2}"]
    assert boxed_contents("\\boxed{unclosed") == []


def test_bad_format_and_truncated():
    good = f"<think>{ENGLISH}</think>\nSo \\boxed{{14}}."
    assert check("bad_format", good) is None
    assert check("bad_format", f"<think>{ENGLISH}</think>\nSo 14.") == "bad_format"  # math wants a box
    assert check("bad_format", f"<think>{ENGLISH}</think>\nSo 14.", verifier="none") is None
    assert check("bad_format", "<think>no end") == "bad_format"
    assert check("truncated", good, finish_reason="length") == "truncated"
    assert check("truncated", good, finish_reason="stop") is None


def test_repetition_catches_loops_repeated_lines_and_ngrams():
    assert check("repetition", f"<think>{ENGLISH}</think> \\boxed{{14}}") is None
    looping = "<think>" + ENGLISH + " So we get 14, so we get 14," * 8
    assert loops_at_end(looping) and check("repetition", looping) == "repetition"
    lines = "<think>\n" + "\n".join(["Wait, let me recompute the sum of these numbers."] * 7) + "\n</think> 3"
    assert check("repetition", lines) == "repetition"
    words = " ".join(f"step {i} we add the numbers together and then we carry one" for i in range(3)) * 5
    assert check("repetition", words) == "repetition"


def test_language_mixed_catches_chinese_and_french_inside_english():
    assert check("language_mixed", f"<think>{ENGLISH}</think> \\boxed{{14}}") is None
    chinese = f"<think>{ENGLISH} 然后我们把结果乘以二得到十四。 {ENGLISH}</think> \\boxed{{14}}"
    assert check("language_mixed", chinese) == "language_mixed"
    french = (
        f"<think>{ENGLISH} Ensuite nous multiplions le résultat par deux pour obtenir quatorze. {ENGLISH}</think> x"
    )
    assert check("language_mixed", french) == "language_mixed"
    latex = f"<think>{ENGLISH} We have $\\frac{{a}}{{b}} = \\sin x$ and \\(y\\).</think> x"
    assert check("language_mixed", latex) is None
    assert foreign_spans("我们先把三和四相加得到七。然后乘以二。", "zh") == []
    assert foreign_spans("1 + 2 = 3") == []


def test_long_paragraph_code_block_and_lengths():
    config = RuleConfig(long_paragraph_chars=100, max_tokens=50, min_tokens=5)
    long = "<think>" + "word " * 40 + "</think> x"
    assert check("long_paragraph", long, config) == "long_paragraph"
    assert check("long_paragraph", "<think>" + "word " * 10 + "\n\n" + "word " * 10 + "</think> x", config) is None
    assert (
        check("code_block_in_reasoning", "<think>try:\n```python\nprint(1)\n```\n</think> x")
        == "code_block_in_reasoning"
    )
    assert check("code_block_in_reasoning", "<think>plain</think> ```python\nprint(1)\n```") is None
    assert check("too_long", "x", config, completion_tokens=51) == "too_long"
    assert check("too_short", "x", config, completion_tokens=4) == "too_short"
    assert check("too_long", "x", RuleConfig(), completion_tokens=10**6) is None


def test_rule_sets_and_options():
    assert resolve_rules("r1")[:2] == ["truncated", "bad_format"] and "language_mixed" in resolve_rules("r1")
    assert resolve_rules("none") == []
    assert resolve_rules("default,language_mixed")[-3:] == ["language_mixed", "too_long", "too_short"]
    with pytest.raises(UsageError, match="unknown rule 'nope'"):
        resolve_rules("default,nope")
    config = RuleConfig().override(["language_min_share=0.9", "max-tokens=100", "require_boxed=false"])
    assert (config.language_min_share, config.max_tokens, config.require_boxed) == (0.9, 100, False)
    with pytest.raises(UsageError, match="--rule-option bogus: unknown; choose from language"):
        RuleConfig().override(["bogus=1"])
    with pytest.raises(UsageError, match="not a valid value"):
        RuleConfig().override(["max_tokens=lots"])
