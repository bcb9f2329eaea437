"""Adaptive rejection sampling vs fixed -n: the same prompts, budget, checks and filter, end to end.

Fixed: `generate -n 8`, then `filter --keep 1`. Adaptive: `generate -n 8 --target 1` (stop a prompt at its first
sample passing the checks), then the same filter. Both are the real CLI in subprocesses, on the bundled toy
reasoner (vLLM), so each generate wall time includes its engine start. Prints, for each: prompts that end with a
kept trace, completion tokens generated (adaptive: including samples drawn past the first pass and discarded),
generate wall time; then the ratios against the goals (kept within 1%, tokens <= 0.35x, wall time <= 0.55x).

    .venv/bin/python benchmarks/adaptive.py                      # 1,000 toy arithmetic prompts, n 8, target 1
    .venv/bin/python benchmarks/adaptive.py --prompts 200 --n 4  # quicker
    .venv/bin/python benchmarks/adaptive.py --prompts 4000       # where a run's end matters less
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATAFACTORY = [sys.executable, "-m", "datafactory"]
SAMPLING = ["-m", "toy", "--max-tokens", "192", "--temperature", "0.8", "--top-p", "1.0", "--dtype", "float32"]
CHECKS = ["--verifier", "math", "--gold-field", "answer", "--rules", "r1"]


def run(args: list[str]) -> tuple[float, float]:
    """Wall seconds of the command, and of its engine start (from its "ready on … in N s" line)."""
    started = time.perf_counter()
    done = subprocess.run(DATAFACTORY + args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ready = re.search(r"ready on .* in (\d+) s", done.stderr)
    return time.perf_counter() - started, float(ready.group(1)) if ready else 0.0


def counts(folder: Path) -> dict:
    return json.loads((folder / ".datafactory/manifest.json").read_text())["counts"]


def one(mode: str, prompts: Path, work: Path, n: int) -> dict:
    samples, kept = work / f"{mode}-samples", work / f"{mode}-kept"
    adaptive = ["--target", "1", *CHECKS] if mode == "adaptive" else []
    wall, start = run(["generate", str(prompts), "-o", str(samples), "-n", str(n), *SAMPLING, *adaptive])
    run(["filter", str(samples), "-o", str(kept), *CHECKS, "--keep", "1"])
    generated, filtered = counts(samples), counts(kept)
    return {
        "samples": generated["rows_out"],
        "tokens": generated["completion_tokens_now"],
        "wall": wall,
        "start": start,
        "kept_prompts": filtered["rows_kept"],
        "histogram": generated.get("samples_per_prompt", {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--n", type=int, default=8)
    args = parser.parse_args()

    from datafactory.toy.data import write_demo_prompts

    work = Path(tempfile.mkdtemp(prefix="df-adaptive-"))
    try:
        write_demo_prompts(work / "prompts", args.prompts, 0, 0)
        prompts = work / "prompts" / "reasoning.jsonl"
        results = {mode: one(mode, prompts, work, args.n) for mode in ("fixed", "adaptive")}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"{args.prompts} toy arithmetic prompts, at most {args.n} samples each, one kept trace per prompt")
    print(f"{'':10}{'kept prompts':>14}{'samples':>10}{'tokens':>12}{'generate s':>12}{'engine start s':>16}")
    for mode, r in results.items():
        print(
            f"{mode:10}{r['kept_prompts']:>14,}{r['samples']:>10,}{r['tokens']:>12,}{r['wall']:>12.1f}{r['start']:>16.0f}"
        )
    fixed, adaptive = results["fixed"], results["adaptive"]
    print("adaptive samples per prompt:", ", ".join(f"{k}: {v}" for k, v in adaptive["histogram"].items()))
    kept = adaptive["kept_prompts"] / max(1, fixed["kept_prompts"])
    print(f"kept prompts, adaptive / fixed: {kept:.3f}  (goal: within 1%)")
    print(f"completion tokens, adaptive / fixed: {adaptive['tokens'] / fixed['tokens']:.3f}  (goal <= 0.35)")
    print(f"generate wall time, adaptive / fixed: {adaptive['wall'] / fixed['wall']:.3f}  (goal <= 0.55)")
    after = (adaptive["wall"] - adaptive["start"]) / max(1e-9, fixed["wall"] - fixed["start"])
    print(f"generate wall time after the engine is up, adaptive / fixed: {after:.3f}")


if __name__ == "__main__":
    main()
