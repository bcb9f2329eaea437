"""Sandboxed code verification vs an unprotected runner, on HumanEval's canonical solutions.

Both run the same 164 programs (prompt + canonical solution + tests + check) one after another, in three
interleaved rounds (the best round of each counts): the sandbox through the code verifier (bubblewrap, dropped
uid, limits, the test harness and its pass token), the baseline as a plain
`subprocess.run([python, file], timeout=…)` with no isolation. Prints samples/s of both, the ratio (goal >= 0.5)
and the sandbox start-up cost (an empty program, median of 20 runs).

    .venv/bin/python benchmarks/code_sandbox.py
"""

from __future__ import annotations

import atexit
import gzip
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from datafactory.verifiers.code import CodeVerifier, humaneval_program
from datafactory.verifiers.sandbox import SANDBOX_PYTHON, Limits, run_python

ROUNDS = 3
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "HumanEval.jsonl.gz"


def main() -> None:
    if not SHARED.is_file():
        raise SystemExit(f"needs {SHARED}")
    tasks = [json.loads(line) for line in gzip.decompress(SHARED.read_bytes()).splitlines()]
    verifier = CodeVerifier({"test_timeout": 10})

    folder = Path(tempfile.mkdtemp(prefix="df-plain-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    sandboxed = plain = float("inf")
    for _ in range(ROUNDS):  # interleaved rounds, best of each: this machine's timings wander by 20%
        start = time.perf_counter()
        responses = [f"```python\n{t['prompt'] + t['canonical_solution']}\n```" for t in tasks]
        passed = sum(verifier.verify(response, None, t).ok for response, t in zip(responses, tasks, strict=True))
        sandboxed = min(sandboxed, time.perf_counter() - start)

        start = time.perf_counter()
        plain_ok = 0
        for index, task in enumerate(tasks):
            path = folder / f"p{index}.py"
            path.write_text(humaneval_program(task["prompt"] + task["canonical_solution"], task))
            plain_ok += subprocess.run([SANDBOX_PYTHON, str(path)], capture_output=True, timeout=10).returncode == 0
        plain = min(plain, time.perf_counter() - start)

    startup = []
    for _ in range(20):
        started = time.perf_counter()
        run_python("pass", "", Limits())
        startup.append(time.perf_counter() - started)
    bare = []
    empty = folder / "empty.py"
    empty.write_text("pass\n")
    for _ in range(20):
        started = time.perf_counter()
        subprocess.run([SANDBOX_PYTHON, str(empty)], capture_output=True)
        bare.append(time.perf_counter() - started)

    print(f"HumanEval canonical solutions: sandbox {passed}/164 pass, plain {plain_ok}/164 pass")
    print(f"sandboxed verifier: {len(tasks) / sandboxed:,.1f} samples/s ({sandboxed:.1f} s)")
    print(f"plain subprocess.run: {len(tasks) / plain:,.1f} samples/s ({plain:.1f} s)")
    print(f"ratio: {plain / sandboxed:.2f}  (goal >= 0.5)")
    print(
        f"start-up of an empty program: sandbox {statistics.median(startup) * 1000:.0f} ms, plain {statistics.median(bare) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
