"""`datafactory mix` vs writing the same final table with plain `pyarrow.parquet.write_table`.

Input: R reasoning rows shaped like filter output (prompt messages, reasoning, response) and G general rows in
`messages` form (default 375,000 + 125,000 = 500,000 rows, ratio 3:1), of varied pseudo-word text. datafactory is timed as the whole command
(convert, validate, sample, shuffle, shard, card); the baseline writes the resulting table once, zstd, with
no conversion. Prints rows/s of both and the ratio (goal >= 0.8), and the CPU time mix used: system time is
mostly first touches of memory, which on some virtual machines cost more than the work itself.

    .venv/bin/python benchmarks/mix.py [--reasoning 375000] [--general 125000]
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def text_pool(seed: int = 0, sentences: int = 50_000) -> list[str]:
    """Varied sentences of pseudo-words, so the text compresses like real traces rather than like one phrase
    repeated (which zstd would make unrealistically cheap to write)."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ter", "an", "su", "rex", "po", "di", "ne", "qua", "vi", "ol", "th", "es", "ur"]
    words = ["".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(8000)]
    return [" ".join(rng.choices(words, k=rng.randint(6, 20))).capitalize() + "." for _ in range(sentences)]


def make_inputs(work: Path, reasoning: int, general: int) -> None:
    """Filter-output-shaped reasoning shards (about 1.5 KB of reasoning per row) and `messages` general shards."""
    pool = text_pool()
    rng = random.Random(1)

    def paragraph(count: int) -> str:
        return " ".join(rng.choices(pool, k=count))

    (work / "math").mkdir()
    (work / "chat").mkdir()
    step = 50_000
    for shard, start in enumerate(range(0, reasoning, step)):
        ids = range(start, min(reasoning, start + step))
        pq.write_table(pa.table({
            "prompt_id": [f"p{i}" for i in ids],
            "messages": [[{"role": "user", "content": f"{paragraph(3)} What is {i} times {i % 97}?"}] for i in ids],
            "reasoning": [paragraph(16) for _ in ids],
            "response": [f"{paragraph(2)} The answer is \\boxed{{{i * (i % 97)}}}." for i in ids],
            "completion_tokens": [200 + i % 300 for i in ids],
        }), work / "math" / f"part-{shard:05d}.parquet", compression="zstd")  # fmt: skip
    for shard, start in enumerate(range(0, general, step)):
        ids = range(start, min(general, start + step))
        pq.write_table(pa.table({
            "messages": [[{"role": "user", "content": paragraph(2)},
                          {"role": "assistant", "content": paragraph(6)}] for _ in ids],
        }), work / "chat" / f"part-{shard:05d}.parquet", compression="zstd")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reasoning", type=int, default=375_000)
    parser.add_argument("--general", type=int, default=125_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="df-mix-bench-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # inputs can be gigabytes
    make_inputs(work, args.reasoning, args.general)
    total = args.reasoning + args.general

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "datafactory", "mix", "--reasoning", str(work / "math"), "--general", str(work / "chat"),
         "--ratio", f"{args.reasoning}:{args.general}", "--total", str(total), "-o", str(work / "sft"), "--shard-rows", "100000"],
        check=True, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ours = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = after.ru_utime - children.ru_utime, after.ru_stime - children.ru_stime

    table = pa.concat_tables(pq.read_table(p) for p in sorted((work / "sft" / "data").glob("part-*.parquet")))
    start = time.perf_counter()
    pq.write_table(table, work / "baseline.parquet", compression="zstd")
    baseline = time.perf_counter() - start
    print(f"rows: {total:,} ({args.reasoning:,} reasoning + {args.general:,} general)")
    print(f"datafactory mix (whole command): {total / ours:,.0f} rows/s ({ours:.1f} s; CPU {user:.1f} s user +"
          f" {system:.1f} s system on {os.cpu_count()} cores)")  # fmt: skip
    print(f"pyarrow.parquet.write_table of the final table: {total / baseline:,.0f} rows/s ({baseline:.1f} s)")
    print(f"ratio: {baseline / ours:.2f}  (goal >= 0.8)")


if __name__ == "__main__":
    main()
