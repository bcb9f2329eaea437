"""NAME=VALUE options are read by their declared types, and a bad value is a one-line error naming the option."""

import pytest

from datafactory.errors import UsageError
from datafactory.rules import RuleConfig
from datafactory.verifiers.math import MathVerifier
from datafactory.verifiers.math_compare import MathPolicy
from tests.conftest import run_cli, write_jsonl


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["require_boxed=false"], {"require_boxed": False}),
        (["require_boxed=ON"], {"require_boxed": True}),
        (["max_tokens=512", "min_tokens=none"], {"max_tokens": 512, "min_tokens": None}),
        (["repetition-max-share=0.5"], {"repetition_max_share": 0.5}),
        (["long_paragraph_chars= 4000 "], {"long_paragraph_chars": 4000}),
    ],
)
def test_rule_options_take_their_declared_types(items, expected):
    config = RuleConfig().override(items)
    assert {name: getattr(config, name) for name in expected} == expected


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["require_boxed=ture"], "--rule-option require_boxed=ture: not a valid value; expected true or false"),
        (["max_tokens=lots"], "--rule-option max_tokens=lots: not a valid value; expected a whole number (or none)"),
        (["long_paragraph_chars=3.5"], "expected a whole number"),
        (["repetition_max_share=high"], "expected a finite number"),
        (["require_boxed"], "--rule-option 'require_boxed': expected NAME=VALUE"),
        (["boxed=true"], "--rule-option boxed: unknown; choose from language,"),
    ],
)
def test_a_bad_rule_option_names_the_option_and_what_is_allowed(items, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RuleConfig().override(items)


def test_math_options_take_declared_types_and_choices_from_flags_and_recipes_alike():
    assert MathVerifier.parse_options(["percent=either", "approx_rel_tol=1e-6"]) == MathPolicy("either", 1e-6)
    assert MathVerifier.parse_options({"approx_rel_tol": 0.001, "lists": "ordered"}).lists == "ordered"
    with pytest.raises(UsageError, match="--math-option percent=maybe: choose one of number, fraction, either"):
        MathVerifier.parse_options({"percent": "maybe"})
    with pytest.raises(
        UsageError, match="--math-option approx_rel_tol=tiny: not a valid value; expected a finite number"
    ):
        MathVerifier.parse_options(["approx_rel_tol=tiny"])
    with pytest.raises(UsageError, match=r"approx_rel_tol must be in \[0, 1\)"):
        MathVerifier.parse_options(["approx_rel_tol=2"])


def test_the_cli_says_a_bad_option_value_in_one_line(tmp_path):
    samples = write_jsonl(tmp_path / "s.jsonl", [{"prompt_id": "a", "completion": "<think>x</think>\\boxed{1}"}])
    result = run_cli("filter", samples, "-o", tmp_path / "out", "--rule-option", "require_boxed=ture")
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0, result.stderr
    assert "require_boxed=ture: not a valid value; expected true or false" in result.stderr
    assert not (tmp_path / "out").exists()


def test_every_verifier_declares_its_options_and_their_defaults_are_valid():
    """A verifier's options are a declared dataclass (or none), as llm's models declare Options."""
    from dataclasses import fields, is_dataclass

    from datafactory.verifiers.base import VERIFIERS, verifier_class

    declared = {name: verifier_class(name).Options for name in VERIFIERS}
    assert {name for name, options in declared.items() if options} == {"math", "code"}
    for name, options in declared.items():
        if options is not None:
            assert is_dataclass(options) and fields(options)
            assert verifier_class(name).parse_options({}) == options()


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("{code: {test_format: pytest}}", "code verifier option test_format=pytest: choose one of auto, humaneval"),
        ("{code: {test_timeout: 0}}", "--test-timeout must be above 0"),
        ("{code: {memory_mb: lots}}", "code verifier option memory_mb=lots: not a valid value; expected a whole"),
        ("{math: {lists: sorted}}", "--math-option lists=sorted: choose one of unordered, ordered"),
        ("{exact: {case: insensitive}}", "--verifier exact takes no options (got case)"),
    ],
)
def test_verifier_options_in_a_recipe_are_typed_and_name_the_key(tmp_path, assignment, message):
    from datafactory.recipes import load_recipe

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"out: {tmp_path / 'run'}\nmodel: toy\nsources:\n  - name: a\n    category: reasoning\n    inputs: [a.jsonl]\n"
    )
    with pytest.raises(UsageError) as caught:
        load_recipe(recipe, [f"filter.verifier_options={assignment}"])
    assert f"filter.verifier_options: {message}" in str(caught.value), caught.value


def test_code_flags_are_checked_by_their_declared_types_before_any_row_is_read(tmp_path):
    for flags, message in ((["--test-format", "nope"], "test_format=nope"), (["--memory-mb", "0"], "--memory-mb")):
        result = run_cli("filter", tmp_path / "none.jsonl", "-o", tmp_path / "o", "--verifier", "code", *flags)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
