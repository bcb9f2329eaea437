"""In-flight checks (`generate --stop-doomed`, the default) against none (`--no-stop-doomed`): the same prompts,
seeds and checks, end to end, compared sample by sample.

Sample i of a prompt has the same seed in both runs, so it is the same sample up to where the checks stop it.
Both runs go through the same `filter` (every sample kept or rejected with its reasons). Prints, per setting:
samples, the share that ran to the length limit without the checks, completion tokens, kept traces, completion
tokens per kept trace and its ratio (with ÷ without), the samples stopped in flight, and of those the samples
the filter would have kept without the checks (goal 0; an exact count, not an estimate); and for each run the
cost forecast made after 5% of the prompts against the tokens spent (goal within ±15%).

Settings: `demo` is the demo recipe's arithmetic source (toy prompts, n 4, temperature 0.8, 192 tokens, math,
r1); `long` is out-of-distribution prompts (MATH-500 and HumanEval from ../shared/data) at temperature 0 with a
2,048-token budget (the toy reasoner's whole context), the setting in which the toy reasoner loops most (see benchmarks/README.md for how often).

    .venv/bin/python benchmarks/inflight.py                  # both settings
    .venv/bin/python benchmarks/inflight.py --setting long --prompts 100
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

DATAFACTORY = [sys.executable, "-m", "datafactory"]
SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def _toy_prompts(folder: Path, count: int) -> Path:
    subprocess.run([*DATAFACTORY, "toy", "prompts", "-o", str(folder), "--reasoning", str(count), "--general", "1"],
                   check=True, capture_output=True)  # fmt: skip
    return folder / "reasoning.jsonl"


def _long_prompts(folder: Path, count: int) -> Path:
    """MATH-500 problems and HumanEval prompts, half each, as plain prompts with MATH-500's gold answers."""
    math = [json.loads(line) for line in (SHARED / "math500_test.jsonl").open()][: count - count // 2]
    with gzip.open(SHARED / "HumanEval.jsonl.gz", "rt") as lines:
        code = [json.loads(line) for line in lines][: count // 2]
    rows = [{"id": f"math-{i}", "problem": r["problem"], "answer": r["answer"]} for i, r in enumerate(math)]
    rows += [{"id": r["task_id"], "problem": r["prompt"], "answer": ""} for r in code]
    path = folder / "long.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


SETTINGS = {
    "demo": {
        "prompts": _toy_prompts,
        "count": 500,
        "generate": ["-n", "4", "--temperature", "0.8", "--top-p", "1.0", "--max-tokens", "192"],
        "checks": ["--verifier", "math", "--gold-field", "answer", "--rules", "r1"],
    },
    "long": {
        "prompts": _long_prompts,
        "count": 200,
        "generate": ["-n", "1", "--temperature", "0", "--max-tokens", "2048"],
        "checks": ["--verifier", "none", "--rules", "r1"],
    },
}


def _rows(folder: Path) -> dict:
    """{(prompt_id, sample_index): row} over a stage folder's shards and its set-aside rows."""
    files = [*folder.glob("part-*.parquet"), *folder.glob(".rejected/part-*.parquet")]
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    return {(r["prompt_id"], r["sample_index"]): r for r in rows}


def _run(prompts: Path, work: Path, name: str, setting: dict, stop: bool) -> dict:
    samples, kept = work / f"{name}-samples", work / f"{name}-kept"
    flag = "--stop-doomed" if stop else "--no-stop-doomed"
    generate = [*DATAFACTORY, "generate", str(prompts), "-o", str(samples), "-m", "toy", "--dtype", "float32"]
    subprocess.run([*generate, *setting["generate"], *setting["checks"], flag], check=True, capture_output=True)
    subprocess.run([*DATAFACTORY, "filter", str(samples), "-o", str(kept), *setting["checks"]],
                   check=True, capture_output=True)  # fmt: skip
    forecast = json.loads((samples / ".datafactory/manifest.json").read_text())["counts"].get("forecast")
    if forecast:
        error = forecast["completion_tokens"] / forecast["actual_completion_tokens"] - 1
        print(f"  {name}: forecast after {forecast['after_prompts']} prompts {forecast['completion_tokens']:,} "
              f"({forecast['low']:,}–{forecast['high']:,}) vs {forecast['actual_completion_tokens']:,} spent: "
              f"{error:+.1%} (goal within ±15%)")  # fmt: skip
    return _rows(kept)


def compare(name: str, count: int) -> None:
    setting = SETTINGS[name]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prompts = setting["prompts"](work, count or setting["count"])
        without = _run(prompts, work, "without", setting, stop=False)
        with_ = _run(prompts, work, "with", setting, stop=True)
    assert without.keys() == with_.keys(), "the runs drew different samples"
    stopped = [key for key, row in with_.items() if row.get("abort_reason")]
    wrongly = [key for key in stopped if without[key]["verdict"] == "pass"]
    other_reason = [key for key in stopped if with_[key]["abort_reason"] not in without[key]["reasons"]]
    tokens = {label: sum(r["completion_tokens"] for r in rows.values()) for label, rows in (("without", without),
              ("with", with_))}  # fmt: skip
    kept = {label: sum(r["verdict"] == "pass" for r in rows.values()) for label, rows in (("without", without),
            ("with", with_))}  # fmt: skip
    at_limit = sum(r["finish_reason"] == "length" for r in without.values())
    per_kept = {label: tokens[label] / kept[label] if kept[label] else float("nan") for label in tokens}
    print(f"setting {name}: {len(without):,} samples, {at_limit / len(without):.1%} ran to the length limit without")
    for label in ("without", "with"):
        print(f"  {label:8} completion tokens {tokens[label]:>9,}  kept {kept[label]:>6,}  "
              f"tokens per kept trace {per_kept[label]:8.1f}")  # fmt: skip
    saved = tokens["without"] - tokens["with"]
    print(f"  stopped in flight: {len(stopped):,} samples, {saved:,} tokens not generated "
          f"({saved / tokens['without']:.1%})")  # fmt: skip
    print(f"  tokens per kept trace, with ÷ without: {per_kept['with'] / per_kept['without']:.3f} (goal <= 0.7)")
    print(f"  stopped samples the filter would have kept: {len(wrongly)} (goal 0); "
          f"stopped for a reason the full sample did not fail: {len(other_reason)}")  # fmt: skip
    assert kept["with"] == kept["without"], "in-flight checks changed which samples are kept"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", choices=[*SETTINGS, "both"], default="both")
    parser.add_argument("--prompts", type=int, default=0, help="prompts per setting (default: the setting's)")
    args = parser.parse_args()
    for name in SETTINGS if args.setting == "both" else [args.setting]:
        compare(name, args.prompts)


if __name__ == "__main__":
    main()
