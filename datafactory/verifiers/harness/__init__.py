"""The code verifier's split harness: a program and its tests in two sandboxes that share nothing but a pipe.

Why split: tests that run in the program's interpreter can be bent by it (names it redefines, classes it patches,
values whose operators lie, the test files it reads). program_side.py runs the program and answers calls;
tests_side.py runs the task's tests in an interpreter that never executed a line of the program, with the task's
own helper code, and reaches the program only through calls whose arguments and results cross as plain data
(wire.py). Each side is a standard-library script copied into its own sandbox (sandbox.run_linked): the program's
sandbox holds no test and no token. This module builds the two runs and reads how they ended.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from datafactory.verifiers.harness.tests_side import ENDED, FAILED_MARKER, PASS_MARKER
from datafactory.verifiers.sandbox import Box, Limits, RunResult, run_linked

HERE = Path(__file__).parent
EXITED_EARLY = "the program ended its process before its tests finished"


@dataclass(frozen=True)
class Job:
    kind: str  # humaneval: `check(entry_point)` after the tests; mbpp: each test an assert
    program: str  # what the program's sandbox runs
    helper: str  # the task's own code the tests may use (the prompt's, the tests' imports); never the program's
    tests: tuple[str, ...]
    entry_point: str = ""


@dataclass(frozen=True)
class Outcome:
    passed: bool
    status: str  # when not passed: a reason code (tests_failed, runtime_error, timeout, tests_not_run, ...)
    detail: str = ""


@cache
def _source(name: str) -> str:
    return (HERE / name).read_text()


def run(job: Job, limits: Limits, unsafe: bool) -> Outcome:
    """Run the job's tests against its program; a pass needs this run's fresh token back from the tests' side."""
    token = secrets.token_hex(16)
    wire = {"wire.py": _source("wire.py")}
    program = Box(_source("program_side.py"), {**wire, "program.py": job.program}, site=False)
    request = {"token": token, "kind": job.kind, "helper": job.helper, "tests": list(job.tests)}
    # the tests' side runs the task's own code, never the program's: per-process limits bound it (no cgroup)
    job_text = json.dumps({**request, "entry_point": job.entry_point})
    tests = Box(_source("tests_side.py"), wire, job_text, site=False, grouped=False)
    ran, checked = run_linked(program, tests, limits, unsafe)
    if checked.status == "ok" and checked.stdout.rstrip().endswith(f"{PASS_MARKER} {token}"):
        return Outcome(True, "pass")
    return _failure(ran, checked)


def _failure(program: RunResult, tests: RunResult) -> Outcome:
    for side in (program, tests):
        if side.status in ("timeout", "memory_limit", "output_limit"):
            return Outcome(False, side.status, _excerpt(side.stderr) or side.status)
    marker = re.search(rf"{FAILED_MARKER} (\w+) (\w+)\n(.*)", tests.stderr, re.DOTALL)
    if marker is None:
        return Outcome(False, "runtime_error", _excerpt(tests.stderr) or f"exit status {tests.returncode}")
    index, kind, message = marker.groups()
    where = f"test {index}: " if index.isdigit() else ""
    if kind == ENDED:
        said = _excerpt(program.stderr)
        if program.status == "ok":
            return Outcome(False, "tests_not_run", f"{where}{EXITED_EARLY} (status 0)" + (f": {said}" if said else ""))
        return Outcome(False, "runtime_error", f"{where}{said or message.strip()} (exit status {program.returncode})")
    detail = where + (_excerpt(message) or kind)
    if kind == "AssertionError":
        return Outcome(False, "tests_failed", detail)
    if kind == "MemoryError":
        return Outcome(False, "memory_limit", detail)
    return Outcome(False, "runtime_error", detail)


def _excerpt(text: str, limit: int = 300) -> str:
    return text.strip()[-limit:]
