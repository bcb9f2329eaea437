"""`datafactory filter` throughput with the local executor and on Ray with 1 and 2 workers, same input.

Rows: R1-style math traces whose answers need sympy (fractions, some wrong), 4 samples per prompt. Each run is
the whole command (Ray start-up included), so the table also shows what Ray's start costs on one machine; the
speed-up of 2 Ray workers over 1 is the scaling figure (goal >= 1.8 on 2 cores).

    .venv/bin/python benchmarks/scaling.py [--prompts 8000]
"""

from __future__ import annotations

import argparse
import atexit
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def make_samples(folder: Path, prompts: int) -> int:
    rng = random.Random(0)
    rows = []
    for p in range(prompts):
        a, b, c = rng.randint(2, 90), rng.randint(2, 90), rng.randint(2, 9)
        gold = f"\\frac{{{a}}}{{{b}}} + \\sqrt{{{c}}}"
        for s in range(4):
            answer = f"\\frac{{{2 * a}}}{{{2 * b}}} + \\sqrt{{{c}}}" if s % 2 == 0 else f"\\frac{{{a + s}}}{{{b}}}"
            rows.append({
                "prompt_id": f"p{p}", "sample_index": s, "messages": [{"role": "user", "content": f"{a}/{b}+sqrt{c}?"}],
                "completion": f"<think>\nReduce the fraction, keep the root.\n</think>\n\nSo $\\boxed{{{answer}}}$.",
                "finish_reason": "stop", "completion_tokens": 40, "answer": gold,
            })  # fmt: skip
    folder.mkdir(parents=True)
    for shard, start in enumerate(range(0, len(rows), 4000)):
        pq.write_table(pa.Table.from_pylist(rows[start : start + 4000]), folder / f"part-{shard:05d}.parquet")
    return len(rows)


def timed(samples: Path, out: Path, *args: str) -> float:
    start = time.perf_counter()
    command = [sys.executable, "-m", "datafactory", "filter", str(samples), "-o", str(out), *args]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=8000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="df-scaling-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # inputs can be gigabytes
    rows = make_samples(work / "samples", args.prompts)
    runs = {
        "local, 2 workers": ["--workers", "2"],
        "ray, 1 worker": ["--executor", "ray", "--workers", "1"],
        "ray, 2 workers": ["--executor", "ray", "--workers", "2"],
    }
    seconds = {name: timed(work / "samples", work / f"out-{i}", *flags) for i, (name, flags) in enumerate(runs.items())}
    print(f"rows: {rows:,}")
    for name, took in seconds.items():
        print(f"{name}: {rows / took:,.0f} rows/s ({took:.1f} s, whole command)")
    speedup = seconds["ray, 1 worker"] / seconds["ray, 2 workers"]
    print(f"speed-up, ray 2 workers over 1: {speedup:.2f}  (goal >= 1.8)")


if __name__ == "__main__":
    main()
