"""Every usage error, through the real entry point: one line naming the problem (with click's suggestion where it
has one), exit 2, no traceback."""

import pytest

from tests.conftest import run_cli


@pytest.mark.parametrize(
    "args,expected",
    [
        (["fliter"], "No such command 'fliter'. Did you mean 'filter'?"),
        (["stats", "x", "--jsn"], "No such option: --jsn (Possible options: --json)"),
        (["filter", "x"], "Missing option '-o' / '--out'"),
        (["filter", "x", "-o", "y", "--keep", "two"], "Invalid value for '--keep'"),
        (["dedupe"], "Missing argument 'INPUT'"),
        (["mix", "--reasoning"], "Option '--reasoning' requires an argument"),
        (["generate", "p.jsonl", "-o", "o", "-m", "toy", "--temperature", "hot"], "Invalid value for '--temperature'"),
    ],
    ids=[
        "unknown-command",
        "unknown-option",
        "missing-option",
        "bad-value",
        "missing-argument",
        "no-value",
        "bad-float",
    ],  # fmt: skip
)
def test_usage_errors_are_one_line_and_exit_2(args, expected):
    result = run_cli(*args, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("error: ") and expected in line, line
    assert "--help" in line


def test_help_shows_no_type_after_plain_flags():
    result = run_cli("dedupe", "--help", timeout=60)
    assert result.returncode == 0
    flag_lines = [line for line in result.stdout.splitlines() if "--no-exact" in line or "--overwrite" in line]
    assert flag_lines and not any("<bool>" in line for line in flag_lines)
