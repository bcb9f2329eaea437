"""Near-dedupe speed and recall: `datafactory dedupe` vs datasketch MinHash + MinHashLSH, and peak memory.

Part 1: the same N documents (default 100,000 random-word texts of 100-200 words, 5% of them planted near-copies
of an earlier one with one word changed, so their shingle Jaccard is above 0.9), the same threshold and num_perm. datafactory is timed as the whole CLI command (reading
and writing included); datasketch as an in-memory loop doing the same greedy work (query, confirm by estimated
Jaccard, insert). Prints docs/s of both, the ratio, and the recall of both on the planted pairs.
Part 1b: short texts, as math problems are: 40-80-word texts with 5% one-word edits (Jaccard of 3-word shingles
0.85-0.97). Prints recall on the edits, how many distinct texts were removed (goal: none) and the speed ratio.
Part 2: peak RSS of `datafactory dedupe` on M short documents (default 1,000,000).

    .venv/bin/python benchmarks/dedupe.py [--docs 100000] [--rss-docs 1000000] [--threshold 0.8] [--num-perm 128]
"""

from __future__ import annotations

import argparse
import atexit
import json
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


def corpus(docs: int, seed: int = 0, words: tuple[int, int] = (30, 60)) -> tuple[list[str], dict[int, int]]:
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(50_000)]
    texts, planted = [], {}
    for index in range(docs):
        if index > 10 and rng.random() < 0.05:
            source = rng.randrange(index)
            tokens = texts[source].split()
            tokens[rng.randrange(len(tokens))] = rng.choice(vocabulary)
            planted[index] = source
            texts.append(" ".join(tokens))
        else:
            texts.append(" ".join(rng.choices(vocabulary, k=rng.randint(*words))))
    return texts, planted


def run_datafactory(
    texts: list[str], work: Path, threshold: float, num_perm: int, shingle: int = 3
) -> tuple[float, set[int], int]:
    pq.write_table(
        pa.table({"prompt_id": [str(i) for i in range(len(texts))], "problem": texts}), work / "docs.parquet"
    )
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "datafactory", "dedupe", str(work / "docs.parquet"), "-o", str(work / "out"), "--no-exact",
         "--threshold", str(threshold), "--num-perm", str(num_perm), "--overwrite", "--shard-rows", "100000",
         "--shingle", str(shingle)],
        check=True, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    removed = set()
    for shard in sorted((work / "out" / ".removed").glob("part-*.parquet")):
        removed.update(int(x) for x in pq.read_table(shard, columns=["prompt_id"]).column("prompt_id").to_pylist())
    return elapsed, removed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def run_datasketch(texts: list[str], threshold: float, num_perm: int, shingle: int = 3) -> tuple[float, set[int]]:
    from datasketch import MinHash, MinHashLSH

    from datafactory.dedupe.minhash import shingles
    from datafactory.dedupe.text import words

    start = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    kept: dict[int, MinHash] = {}
    removed = set()
    for index, text in enumerate(texts):
        minhash = MinHash(num_perm=num_perm)
        minhash.update_batch([s.encode() for s in shingles(words(text), shingle)])
        if any(kept[key].jaccard(minhash) >= threshold for key in lsh.query(minhash)):
            removed.add(index)
            continue
        kept[index] = minhash
        lsh.insert(index, minhash)
    return time.perf_counter() - start, removed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--rss-docs", type=int, default=1_000_000)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--num-perm", type=int, default=128)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="df-dedupe-bench-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # inputs can be gigabytes

    texts, planted = corpus(args.docs, words=(100, 200))  # one changed word keeps Jaccard of 5-shingles >= 0.9
    ours, our_removed, _ = run_datafactory(texts, work, args.threshold, args.num_perm)
    theirs, their_removed = run_datasketch(texts, args.threshold, args.num_perm)
    recall = lambda removed: len(set(planted) & removed) / len(planted)  # noqa: E731
    print(
        f"docs: {len(texts):,}, planted near-copies: {len(planted):,}, threshold {args.threshold}, num_perm {args.num_perm}"
    )
    print(
        f"datafactory dedupe (whole command): {len(texts) / ours:,.0f} docs/s, recall {recall(our_removed):.3f}, removed {len(our_removed):,}"
    )
    print(
        f"datasketch MinHash+MinHashLSH loop: {len(texts) / theirs:,.0f} docs/s, recall {recall(their_removed):.3f}, removed {len(their_removed):,}"
    )
    print(f"speed ratio: {theirs / ours:.1f}x  (goal >= 5x at recall >= 0.95)")

    short, short_planted = corpus(args.docs, seed=2, words=(40, 80))
    (work / "short").mkdir()
    ours, our_removed, _ = run_datafactory(short, work / "short", args.threshold, args.num_perm)
    theirs, their_removed = run_datasketch(short, args.threshold, args.num_perm)
    short_recall = lambda removed: len(set(short_planted) & removed) / len(short_planted)  # noqa: E731
    print(f"short texts (40-80 words, one-word edits): {len(short):,} docs, {len(short_planted):,} edits")
    print(
        f"datafactory dedupe: {len(short) / ours:,.0f} docs/s, recall {short_recall(our_removed):.3f}, "
        f"distinct texts removed {len(our_removed - set(short_planted))}  (goal: recall >= 0.98, none removed)"
    )
    print(
        f"datasketch loop: {len(short) / theirs:,.0f} docs/s, recall {short_recall(their_removed):.3f}, "
        f"distinct texts removed {len(their_removed - set(short_planted))}"
    )
    print(f"short-text speed ratio: {theirs / ours:.1f}x  (goal >= 5x)")

    if args.rss_docs:
        short, _ = corpus(args.rss_docs, seed=1, words=(8, 20))
        rss_work = work / "rss"
        rss_work.mkdir()
        elapsed, _, peak_kb = run_datafactory(short, rss_work, args.threshold, args.num_perm)
        manifest = json.loads((rss_work / "out" / ".datafactory/manifest.json").read_text())
        print(f"peak RSS of datafactory dedupe on {len(short):,} short docs: {peak_kb / 1024:,.0f} MiB "
              f"({elapsed:.0f} s, {manifest['counts']['rows_kept']:,} kept)  (goal < 2 GB)")  # fmt: skip


if __name__ == "__main__":
    main()
