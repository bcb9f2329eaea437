"""`datafactory filter --verifier math` vs a serial loop of math_verify.parse/verify on the same rows.

Rows: R1-style traces for MATH-500 and GSM8K golds from ../shared/data (synthetic arithmetic when that folder
is absent), n samples per prompt, about half of them right. Prints rows/s of both and the ratio (goal >= 1.8 on
2 cores). The filter time is the whole command (reading, workers, selection, writing), start-up included.

    .venv/bin/python benchmarks/filter_math.py [--samples 6] [--workers 2]
"""

from __future__ import annotations

import argparse
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

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def problems() -> list[tuple[str, str, str]]:
    """(prompt_id, gold as stored, a right answer)."""
    out = []
    if (SHARED / "math500_test.jsonl").is_file():
        from datafactory.trace import last_boxed

        for line in (SHARED / "math500_test.jsonl").read_text().splitlines():
            record = json.loads(line)
            out.append((record["unique_id"], record["answer"], last_boxed(record["solution"]) or record["answer"]))
        for index, line in enumerate((SHARED / "gsm8k_test.jsonl").read_text().splitlines()):
            record = json.loads(line)
            out.append((f"gsm8k-{index}", record["answer"], record["answer"].rsplit("####", 1)[1].strip()))
    else:
        rng = random.Random(0)
        for index in range(1500):
            a, b = rng.randint(1, 999), rng.randint(1, 999)
            out.append((f"arith-{index}", str(a * b), f"{a} \\times {b}" if index % 3 == 0 else str(a * b)))
    return out


def build_rows(samples: int) -> list[dict]:
    rng = random.Random(0)
    items = problems()
    rows = []
    for prompt_id, gold, right in items:
        for index in range(samples):
            answer = right if rng.random() < 0.5 else rng.choice(items)[2]
            completion = (
                "<think>\nLet me work through the problem step by step, checking each part.\n</think>\n\n"
                f"Putting it together, the answer is $\\boxed{{{answer}}}$."
            )
            rows.append({"prompt_id": prompt_id, "sample_index": index, "completion": completion,
                         "finish_reason": "stop", "completion_tokens": 40, "answer": gold})  # fmt: skip
    return rows


def serial_baseline(rows: list[dict]) -> float:
    from math_verify import parse, verify

    start = time.perf_counter()
    for row in rows:
        gold = row["answer"].rsplit("####", 1)[-1].strip()
        verify(parse(f"${gold}$"), parse(row["completion"]))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=6, help="samples per prompt")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rows = build_rows(args.samples)
    work = Path(tempfile.mkdtemp(prefix="df-filter-bench-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # inputs can be gigabytes
    (work / "samples").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), work / "samples" / "part-00000.parquet")

    baseline = serial_baseline(rows)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "datafactory", "filter", str(work / "samples"), "-o", str(work / "out"),
         "--verifier", "math", "--workers", str(args.workers), "--rules", "default"],
        check=True, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ours = time.perf_counter() - start
    manifest = json.loads((work / "out" / ".datafactory/manifest.json").read_text())
    print(f"rows: {len(rows)} ({'shared data' if SHARED.is_dir() else 'synthetic'}), workers {args.workers}")
    print(f"serial math_verify.parse/verify: {len(rows) / baseline:,.0f} rows/s ({baseline:.1f} s)")
    print(f"datafactory filter --verifier math: {len(rows) / ours:,.0f} rows/s ({ours:.1f} s, whole command)")
    print(f"ratio: {baseline / ours:.2f}  (goal >= 1.8)")
    print(f"verdicts: {manifest['counts']['verdicts']}")


if __name__ == "__main__":
    main()
