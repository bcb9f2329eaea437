"""Pathological answers cost milliseconds: `datafactory filter --verifier math` on 1,200 normal rows mixed with
1,000 answers models under sampling do write (exponent towers, 100,000-character boxes, fractions nested hundreds
deep, factorials of huge numbers, long products), 2 workers, `--timeout 5`. Prints the wall time (goal: under
2 minutes; it took 24 minutes before the guards, with 411 timeouts), the verdicts, and that every row got one.

    .venv/bin/python benchmarks/pathological_math.py
"""

from __future__ import annotations

import atexit
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def pathological(rng: random.Random, index: int) -> str:
    kind = index % 8
    if kind == 0:
        depth = rng.randint(3, 7)
        return "9^{" * depth + "9" + "}" * depth
    if kind == 1:
        return "1" * 100_000
    if kind == 2:
        depth = rng.randint(40, 300)
        return "\\frac{1}{" * depth + "2" + "}" * depth
    if kind == 3:
        return f"{rng.randint(10_000, 999_999)}!"
    if kind == 4:
        return " \\cdot ".join(f"{rng.randint(10**8, 10**9)}^{{{rng.randint(10**4, 10**6)}}}" for _ in range(5))
    if kind == 5:
        return "(" * 500 + "1" + ")" * 500
    if kind == 6:
        return "10^{10^{" + str(rng.randint(10, 99)) + "}}"
    return "x" * 5000 + "+1"


def main() -> None:
    rng = random.Random(0)
    rows = []
    for i in range(1200):
        a, b = rng.randint(1, 999), rng.randint(1, 999)
        answer = a + b if rng.random() < 0.6 else a + b + 1
        rows.append({"prompt_id": f"n{i}", "sample_index": 0, "answer": str(a + b), "finish_reason": "stop",
                     "completion": f"<think>\nAdd {a} and {b}.\n</think>\n\nThe answer is $\\boxed{{{answer}}}$."})  # fmt: skip
    for i in range(1000):
        box = pathological(rng, i)
        rows.append({"prompt_id": f"p{i}", "sample_index": 0, "answer": "42", "finish_reason": "stop",
                     "completion": f"<think>\nCompute.\n</think>\n\nThe answer is $\\boxed{{{box}}}$."})  # fmt: skip
    rng.shuffle(rows)
    work = Path(tempfile.mkdtemp(prefix="df-pathological-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    (work / "samples").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), work / "samples" / "part-00000.parquet")
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "datafactory", "filter", str(work / "samples"), "-o", str(work / "out"),
         "--verifier", "math", "--workers", "2", "--timeout", "5", "--rules", "none"],
        check=True, capture_output=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    counts = json.loads((work / "out" / ".datafactory/manifest.json").read_text())["counts"]
    judged = sum(counts["verdicts"].values())
    print(f"{len(rows):,} rows (1,000 pathological): filter --verifier math, 2 workers, --timeout 5: {elapsed:.1f} s")
    print(f"verdicts: {counts['verdicts']}")
    print(f"every row got a verdict: {judged == len(rows)}; verifier timeouts: {counts['verifier_timeouts']}")
    print("goal: under 120 s")


if __name__ == "__main__":
    main()
