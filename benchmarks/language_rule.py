"""The language_mixed rule: accuracy on the labelled set, and what `--rules r1` costs on long reasoning traces.

Part 1: precision and recall of `language_mixed` on tests/language_set.py (English and Chinese, math and code
reasoning, clean traces full of Greek symbols, accented names, quoted foreign words, units and identifiers; mixed
traces with one sentence or clause in another language, same script or not). Goal: both >= 0.95.
Part 2: 1,000 traces of ~30 KB (realistic English reasoning with Greek symbols, a boxed answer, one in ten with a
Spanish sentence), `datafactory filter --verifier none` with `--rules r1` against `--rules none`, whole commands
timed. Goal: r1 <= 2.5x none.

    .venv/bin/python benchmarks/language_rule.py [--traces 1000] [--kb 30]
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from datafactory.rules.language import is_mixed  # noqa: E402
from tests.language_set import EN_MATH, EN_TRICKY, INTO_ENGLISH, build  # noqa: E402


def accuracy() -> None:
    rows = build()
    verdicts = [(is_mixed(r["reasoning"], r["language"]), r["label"]) for r in rows]
    true_positive = sum(found and label for found, label in verdicts)
    precision = true_positive / max(1, sum(found for found, _ in verdicts))
    recall = true_positive / max(1, sum(label for _, label in verdicts))
    print(f"labelled set: {len(rows)} traces ({sum(r['label'] for r in rows)} mixed), en and zh, math and code")
    print(f"language_mixed precision {precision:.3f}, recall {recall:.3f}  (goal >= 0.95 both)")


def long_traces(count: int, kilobytes: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    spanish = INTO_ENGLISH["Spanish"]
    rows = []
    for index in range(count):
        sentences, size = [], 0
        while size < kilobytes * 1000:
            sentence = rng.choice(EN_TRICKY) if rng.random() < 0.05 else rng.choice(EN_MATH)
            sentences.append(sentence)
            size += len(sentence) + 1
            if rng.random() < 0.08:
                sentences.append("\n")
        if index % 10 == 0:
            sentences.insert(rng.randrange(len(sentences)), rng.choice(spanish))
        reasoning = " ".join(sentences)
        rows.append({
            "prompt_id": f"p{index}", "sample_index": 0, "finish_reason": "stop", "completion_tokens": size // 4,
            "completion": f"<think>\n{reasoning}\n</think>\n\nThe answer is $\\boxed{{42}}$.",
        })  # fmt: skip
    return rows


def timed(samples: Path, out: Path, rules: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "datafactory", "filter", str(samples), "-o", str(out), "--verifier", "none",
         "--rules", rules, "--overwrite"],
        check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=int, default=1000)
    parser.add_argument("--kb", type=int, default=30)
    args = parser.parse_args()
    accuracy()
    work = Path(tempfile.mkdtemp(prefix="df-language-bench-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    (work / "samples").mkdir()
    rows = long_traces(args.traces, args.kb)
    pq.write_table(pa.Table.from_pylist(rows), work / "samples" / "part-00000.parquet")
    none = min(timed(work / "samples", work / "none", "none") for _ in range(2))
    r1 = min(timed(work / "samples", work / "r1", "r1") for _ in range(2))
    print(f"{len(rows):,} traces of ~{args.kb} KB: filter --rules none {none:.1f} s, --rules r1 {r1:.1f} s")
    print(f"ratio r1 / none: {r1 / none:.2f}  (goal <= 2.5)")


if __name__ == "__main__":
    main()
