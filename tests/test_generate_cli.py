"""`datafactory generate` through the real entry point: bad input and bad usage, before any engine starts."""

import pytest

from datafactory.cli import app
from tests.conftest import run_cli, write_jsonl

BAD_FILES = {
    "invalid_json.jsonl": (b'{"problem": "ok"}\n{"problem": \n', "row 2"),
    "empty.jsonl": (b"", "file has no rows"),
    "missing_field.jsonl": (b'{"problem": "ok"}\n{"text": "x"}\n', "row 2"),
    "empty_prompt.jsonl": (b'{"problem": "ok"}\n{"problem": "   "}\n', "row 2, field 'problem': empty prompt"),
    "non_utf8.jsonl": (b'{"problem": "ok"}\n{"problem": "caf\xe9"}\n', "row 2: not valid UTF-8"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, tiny_model, name):
    content, expected = BAD_FILES[name]
    (tmp_path / name).write_bytes(content)
    out = tmp_path / "out"
    result = run_cli("generate", tmp_path / name, "-o", out, "-m", tiny_model, "--engine", "transformers")
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and name in errors[0] and expected in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["-m", "MODEL", "--engine", "nope"], "--engine 'nope': choose one of vllm, openai, transformers"),
        (["-m", "./no/such/model"], "no such directory"),
        (["-m", "x", "--engine", "openai", "--base-url", "http://127.0.0.1:9/v1"], "does not answer"),
        (["-m", "x", "--engine", "openai"], "needs --base-url"),
        (["-m", "MODEL", "-n", "0"], "-n must be at least 1"),
        (["-m", "MODEL", "--top-p", "1.5"], "--top-p"),
    ],
)
def test_bad_usage_is_exit_2_and_writes_nothing(tmp_path, tiny_model, extra, expected):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"problem": "What is 2 + 2?"}])
    out = tmp_path / "out"
    args = [str(tiny_model) if a == "MODEL" else a for a in extra]
    result = run_cli("generate", prompts, "-o", out, *args)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert not out.exists()


def test_missing_api_key_variable_is_exit_2(tmp_path):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"problem": "hi"}])
    result = run_cli(
        "generate", prompts, "-o", tmp_path / "o", "-m", "x", "--engine", "openai",
        "--base-url", "http://127.0.0.1:9/v1", "--api-key-env", "DATAFACTORY_TEST_UNSET_KEY",
    )  # fmt: skip
    assert result.returncode == 2 and "DATAFACTORY_TEST_UNSET_KEY" in result.stderr


def _command_names():
    from datafactory.cli import _register

    _register()
    return [c.name or c.callback.__name__ for c in app.registered_commands]


@pytest.mark.parametrize("command", _command_names())
def test_every_command_has_help_with_examples(command):
    result = run_cli(command, "--help", env={"COLUMNS": "120"})
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout and "Examples" in result.stdout


def test_top_level_help_lists_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in _command_names():
        assert command in result.stdout


def test_the_rules_in_flight_checks_use_are_checked_before_the_engine_starts(tmp_path):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "1+1?"}])
    for flags, expected in [
        (["--rules", "r1,nosuch"], "unknown rule 'nosuch'"),
        (["--rule-option", "no_such_option=3"], "no_such_option"),
    ]:
        result = run_cli("generate", prompts, "-o", tmp_path / "out", "-m", "toy", *flags)
        assert result.returncode == 2 and expected in result.stderr and "starting" not in result.stderr, result.stderr
        assert not (tmp_path / "out").exists()
    unchecked = run_cli("generate", prompts, "-o", tmp_path / "out", "-m", "toy", "--rules", "nosuch",
                        "--no-stop-doomed", "--engine", "openai", "--base-url", "http://127.0.0.1:9/v1")  # fmt: skip
    assert "nosuch" not in unchecked.stderr  # without in-flight checks generate does not use --rules
