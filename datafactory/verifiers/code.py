"""Code answers: run the response's program against the row's tests, in the sandbox.

Test formats, detected from the row's columns unless `test_format` is set:
- humaneval: the program is `prompt` + completion (when that does not compile and the program defines the entry
  point itself: the prompt's imports + program); the tests are `test`, then `check(entry_point)`, with the prompt
  as their helper code;
- mbpp: the program alone; the tests are each assert of `test_list`, with `test_imports` as their helper code,
  reporting the first failing assert's index;
For both, the tests run apart from the program, in an interpreter of their own (the split harness, harness/).
- stdio: `tests` (or `input_output`) as [{"input": …, "output": …}] (APPS/Codeforces/LiveCodeBench style; a JSON
  string or {"inputs": [...], "outputs": [...]} also work); the program runs once per case and its output is
  compared line by line and token by token, trailing whitespace and trailing blank lines ignored (`same_output`).
The program is the last fenced code block of the response; without one, the whole response when it has a line
starting with `def `, `class `, `import ` or `from `; otherwise `no_code`.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import textwrap
import warnings
from dataclasses import dataclass

from datafactory.errors import UsageError
from datafactory.options import option
from datafactory.verifiers import cgroup, harness
from datafactory.verifiers.base import Verdict, Verifier, failed, passed
from datafactory.verifiers.sandbox import Limits, check_sandbox, run_python

FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)
CODE_LINE = re.compile(r"^(def |class |import |from \S+ import )", re.MULTILINE)
FORMATS = ("auto", "humaneval", "mbpp", "stdio")
MAX_TEST_TIMEOUT = 3600.0
FLOAT_TOLERANCE = 1e-6  # relative or absolute, for an expected decimal number only
DECIMAL = re.compile(r"[+-]?((\d+\.\d*|\.\d+)([eE][+-]?\d+)?|\d+[eE][+-]?\d+)")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class CodeOptions:
    """The code verifier's options: `--test-format`, `--test-timeout`, `--memory-mb`, `--unsafe-no-sandbox`."""

    test_format: str = option(
        "auto",
        help="How the tests are given: auto (from the row's columns: test + entry_point, test_list, tests), "
        "humaneval, mbpp or stdio.",
        panel="Code verifier",
        choices=FORMATS,
    )
    test_timeout: float = option(10.0, help="Wall-clock seconds per program run.", panel="Code verifier")
    memory_mb: int = option(1024, help="Address-space limit per program, in MB.", panel="Code verifier")
    unsafe_no_sandbox: bool = option(
        False, help="Run programs without bubblewrap (limits only).", panel="Code verifier"
    )

    def validate(self) -> None:
        if not 0 < self.test_timeout <= MAX_TEST_TIMEOUT:  # the typed parser already refused nan and inf
            raise UsageError(f"--test-timeout must be above 0 and at most {MAX_TEST_TIMEOUT:g} seconds")
        machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20
        if not 1 <= self.memory_mb <= machine:
            raise UsageError(f"--memory-mb must be at least 1 and at most this machine's memory ({machine:,} MB)")


DEFAULTS = CodeOptions()  # the flags' defaults


def extract_code(response: str) -> str | None:
    blocks = FENCE.findall(response)
    if blocks:
        return blocks[-1][1]
    return response if CODE_LINE.search(response) else None


def detect_format(row: dict, wanted: str) -> str | None:
    if wanted != "auto":
        return wanted
    if row.get("test_list"):
        return "mbpp"
    if row.get("test") and row.get("entry_point"):
        return "humaneval"
    if row.get("tests") or row.get("input_output"):
        return "stdio"
    return None


def stdio_cases(row: dict) -> list[tuple[str, str]]:
    cases = row.get("tests") or row.get("input_output")
    if isinstance(cases, str):
        cases = json.loads(cases)
    if isinstance(cases, dict):
        cases = [
            {"input": i, "output": o} for i, o in zip(cases.get("inputs", []), cases.get("outputs", []), strict=False)
        ]
    return [(str(c.get("input", "")), str(c.get("output", ""))) for c in cases]


def _same_token(got: str, expected: str) -> bool:
    """Equal text, or, where the expected token is a decimal number (a decimal point: `2.50`, `-1.5e-07`), a
    plain number (digits, one point, an exponent; no `_`, no `inf`) within FLOAT_TOLERANCE of it. Integers and
    words compare exactly: `1000000001` is not `1000000000`, nor `1_000` or `1.0e+03` `1000`."""
    if got == expected:
        return True
    if not (DECIMAL.fullmatch(expected) and PLAIN_NUMBER.fullmatch(got)):
        return False
    return math.isclose(float(got), float(expected), rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)


def same_output(got: str, expected: str) -> bool:
    """Line by line and token by token, trailing whitespace and trailing blank lines ignored; a decimal number
    expected is matched within the float tolerance (`_same_token`), everything else exactly."""
    lines = [line.rstrip() for line in got.rstrip().splitlines()]
    wanted = [line.rstrip() for line in expected.rstrip().splitlines()]
    if len(lines) != len(wanted):
        return False
    for line, want in zip(lines, wanted, strict=True):
        if line != want:
            tokens, expected_tokens = line.split(), want.split()
            if len(tokens) != len(expected_tokens) or not all(map(_same_token, tokens, expected_tokens)):
                return False
    return True


def mbpp_job(code: str, row: dict) -> harness.Job:
    imports = "\n".join(row.get("test_imports") or [])
    return harness.Job("mbpp", code, imports, tuple(row.get("test_list") or []))


def humaneval_job(code: str, row: dict) -> harness.Job:
    """The program is `prompt` + completion (the function body, as the human-eval harness expects; indented by us
    when it came unindented), or the program alone when it defines the entry point itself (when prompt + program
    does not compile: the prompt's import lines + program). The prompt is the tests' helper code (helpers such as
    `poly` that the tests call) where it compiles, its import lines where not."""
    prompt = row.get("prompt") or ""
    imports = "\n".join(line for line in prompt.splitlines() if line.startswith(("import ", "from ")))
    setup = f"{prompt}\n{code}"
    if f"def {row['entry_point']}(" in code and not _compiles(setup):
        setup = f"{imports}\n{code}"
    elif not _compiles(setup) and _compiles(indented := f"{prompt}\n{textwrap.indent(code, '    ')}"):
        setup = indented
    helper = prompt if _compiles(prompt) else imports
    return harness.Job("humaneval", setup, helper, (row["test"],), row["entry_point"])


def humaneval_program(code: str, row: dict) -> str:
    """The plain program an unprotected runner would execute (benchmarks compare the harness against it)."""
    job = humaneval_job(code, row)
    return f"{job.program}\n\n{job.tests[0]}\n\ncheck({job.entry_point})\n"


def _compiles(program: str) -> bool:
    try:
        _compile(program)
        return True
    except (SyntaxError, ValueError):
        return False


def _compile(program: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the program's own invalid escapes are not our business
        compile(program, "main.py", "exec")


def _excerpt(text: str, limit: int = 300) -> str:
    return text.strip()[-limit:]


class CodeVerifier(Verifier):
    name = "code"
    Options = CodeOptions
    options_flag = "code verifier option"
    needs_gold = False
    row_fields = ("prompt", "test", "entry_point", "test_list", "test_imports", "tests", "input_output")

    def __init__(self, options: dict | None = None):
        super().__init__(options)
        settings = self.parse_options(self.options)
        self.format, self.unsafe = settings.test_format, settings.unsafe_no_sandbox
        self.limits = Limits(wall_seconds=settings.test_timeout, memory_mb=settings.memory_mb)

    def verify(self, response: str, gold, row: dict) -> Verdict:
        kind = detect_format(row, self.format)
        code = extract_code(response)
        if code is None and kind == "humaneval" and _compiles(humaneval_job(response, row).program):
            code = response  # the human-eval format: the completion continues the prompt (the function body)
        if code is None or not code.strip():
            return failed("no_code", detail="no fenced code block, and no line starting with def, class or import")
        if kind is None:
            return failed("no_gold", detail="no tests in the row (test/entry_point, test_list, or tests)")
        if kind == "stdio":
            return self._stdio(code, row)
        job = mbpp_job(code, row) if kind == "mbpp" else humaneval_job(code, row)
        try:
            _compile(job.program)
        except (SyntaxError, ValueError) as err:
            return failed("syntax_error", code, detail=f"{type(err).__name__}: {err}"[:300])
        try:
            for source in (job.helper, *job.tests):
                _compile(source)
        except (SyntaxError, ValueError) as err:
            return failed("no_gold", code, detail=f"the row's tests do not compile: {type(err).__name__}: {err}"[:300])
        outcome = harness.run(job, self.limits, self.unsafe)
        return passed(code) if outcome.passed else failed(outcome.status, code, detail=outcome.detail)

    def _stdio(self, code: str, row: dict) -> Verdict:
        try:
            _compile(code)
        except (SyntaxError, ValueError) as err:
            return failed("syntax_error", code, detail=f"{type(err).__name__}: {err}"[:300])
        try:
            cases = stdio_cases(row)
        except (ValueError, TypeError, AttributeError) as err:
            return failed("no_gold", code, detail=f"unreadable tests: {err}")
        if not cases:
            return failed("no_gold", code, detail="empty test list")
        for index, (given, expected) in enumerate(cases):
            result = run_python(code, given, self.limits, self.unsafe)
            if result.status != "ok":
                return failed(result.status, code, detail=f"test {index}: {_excerpt(result.stderr)}")
            if not same_output(result.stdout, expected):
                return failed(
                    "tests_failed",
                    code,
                    detail=f"test {index}: expected {expected[:100]!r}, got {result.stdout[:100]!r}",
                )
        return passed(code)


def prepare(options: dict) -> None:
    """Checks to run once before a filter with the code verifier starts."""
    check_sandbox(CodeVerifier.parse_options(options).unsafe_no_sandbox)
    if not cgroup.available():
        print(
            "warning: no writable cgroup here: --memory-mb and the process cap hold per process, not for a "
            "program's processes together (run as root on a host or container with cgroups to bound the total)",
            file=sys.stderr,
        )
