"""Code answers: run the response's program against the row's tests, in the sandbox.

Test formats, detected from the row's columns unless `test_format` is set:
- humaneval: `prompt` + program + `test` + `check(entry_point)` (when that does not compile and the program
  defines the entry point itself: the prompt's imports + program + tests);
- mbpp: `test_imports` + program + each assert of `test_list`, reporting the first failing assert's index;
- stdio: `tests` (or `input_output`) as [{"input": …, "output": …}] (APPS/Codeforces/LiveCodeBench style; a JSON
  string or {"inputs": [...], "outputs": [...]} also work); the program runs once per case and its output is
  compared line by line, trailing whitespace and trailing blank lines ignored, numbers equal within 1e-6
  (relative or absolute).
The program is the last fenced code block of the response; without one, the whole response when it has a line
starting with `def `, `class `, `import ` or `from `; otherwise `no_code`.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import textwrap
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from datafactory.errors import UsageError
from datafactory.sandbox import Limits, check_sandbox, run_python
from datafactory.verifiers.base import Verdict, Verifier, failed, passed
from datafactory.verifiers.harness import FAILED_MARKER, PASS_MARKER, TAMPERED_MARKER
from datafactory.verifiers.plain_tests import imported_modules, rewrite

FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)
CODE_LINE = re.compile(r"^(def |class |import |from \S+ import )", re.MULTILINE)
HARNESS = Path(__file__).with_name("harness.py")
FORMATS = ("auto", "humaneval", "mbpp", "stdio")
FLOAT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class CodeOptions:
    """The code verifier's options: `--test-format`, `--test-timeout`, `--memory-mb`, `--unsafe-no-sandbox`."""

    test_format: str = "auto"  # auto: from the row's columns (test + entry_point, test_list, tests)
    test_timeout: float = 10.0  # wall-clock seconds per program run
    memory_mb: int = 1024  # address-space limit per program
    unsafe_no_sandbox: bool = False  # limits only, no bubblewrap

    CHOICES = {"test_format": FORMATS}

    def validate(self) -> None:
        if self.test_timeout <= 0:
            raise UsageError("--test-timeout must be positive")
        if self.memory_mb < 1:
            raise UsageError("--memory-mb must be at least 1")


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


def _same_token(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return math.isclose(x, y, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)


def same_output(got: str, expected: str) -> bool:
    """Line by line, trailing whitespace and trailing blank lines ignored, numbers within the float tolerance."""
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


def mbpp_job(code: str, row: dict) -> dict:
    return {
        "kind": "mbpp",
        "setup": code,
        "imports": "\n".join(row.get("test_imports") or []),
        "tests": list(row.get("test_list") or []),
    }


def job_files(job: dict) -> dict[str, str]:
    """The files the harness reads (harness.py `_job`); tests rewritten to compare plain values only.
    Raises SyntaxError/ValueError when the program or a test does not compile."""
    _compile(job["setup"])
    files = {"setup.py": job["setup"]}
    if job["kind"] == "humaneval":
        files["tests.py"] = rewrite(job["test"])
    else:
        files["imports.py"] = job["imports"]
        files.update({f"test_{index}.py": rewrite(test) for index, test in enumerate(job["tests"])})
    modules = sorted(set().union(*map(imported_modules, files.values())))  # the tests', and the program's
    files["kind.txt"] = f"{job['kind']}\n{job.get('entry_point', '')}\n{' '.join(modules)}"
    return files


def humaneval_job(code: str, row: dict) -> dict:
    """`prompt` + program, then the tests' `check(entry_point)`. The program may continue the prompt (the function
    body, as the human-eval harness expects; indented by us when it came unindented) or define the entry point
    itself (when prompt + program does not compile: the prompt's import lines + program)."""
    prompt = row.get("prompt") or ""
    setup = f"{prompt}\n{code}"
    if f"def {row['entry_point']}(" in code and not _compiles(setup):
        imports = "\n".join(line for line in prompt.splitlines() if line.startswith(("import ", "from ")))
        setup = f"{imports}\n{code}"
    elif not _compiles(setup) and _compiles(indented := f"{prompt}\n{textwrap.indent(code, '    ')}"):
        setup = indented
    return {"kind": "humaneval", "setup": setup, "test": row["test"], "entry_point": row["entry_point"]}


def humaneval_program(code: str, row: dict) -> str:
    """The plain program an unprotected runner would execute (benchmarks compare the harness against it)."""
    job = humaneval_job(code, row)
    return f"{job['setup']}\n\n{job['test']}\n\ncheck({job['entry_point']})\n"


@lru_cache(maxsize=1)
def harness_source() -> str:
    return HARNESS.read_text()


def run_tests(files: dict[str, str], limits: Limits, unsafe: bool):
    """Run a job's files under the harness. A pass needs this run's fresh token back on stdout: a program that
    ends the process early, with any status, cannot produce it."""
    token = secrets.token_hex(16)
    result = run_python(harness_source(), "", limits, unsafe, files=files, secret=token, site=False)
    proven = result.stdout.rstrip().endswith(f"{PASS_MARKER} {token}")
    return result, proven


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
        if code is None and kind == "humaneval" and _compiles(humaneval_job(response, row)["setup"]):
            code = response  # the human-eval format: the completion continues the prompt (the function body)
        if code is None or not code.strip():
            return failed("no_code", detail="no fenced code block, and no line starting with def, class or import")
        if kind is None:
            return failed("no_gold", detail="no tests in the row (test/entry_point, test_list, or tests)")
        if kind == "stdio":
            return self._stdio(code, row)
        job = mbpp_job(code, row) if kind == "mbpp" else humaneval_job(code, row)
        try:
            files = job_files(job)
        except (SyntaxError, ValueError) as err:
            return failed("syntax_error", code, detail=f"{type(err).__name__}: {err}"[:300])
        result, proven = run_tests(files, self.limits, self.unsafe)
        if result.status == "ok" and proven:
            return passed(code)
        if result.status == "ok":
            return failed("tests_not_run", code, detail="the program ended the process before its tests finished")
        if TAMPERED_MARKER in result.stderr:
            return failed("tampered", code, detail=_excerpt(result.stderr.split(TAMPERED_MARKER)[-1]))
        marker = re.search(rf"{FAILED_MARKER} (\w+) (\w+)", result.stderr)
        index = f"test {marker.group(1)}: " if marker and marker.group(1).isdigit() else ""
        detail = index + (_excerpt(result.stderr) or f"exit status {result.returncode}")
        if result.status == "runtime_error" and marker is not None and marker.group(2) == "AssertionError":
            return failed("tests_failed", code, detail=detail)
        return failed(result.status, code, detail=detail)

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
