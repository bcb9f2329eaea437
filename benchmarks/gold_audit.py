"""Gold audit on the toy reasoner's arithmetic prompts, whose golds are known exactly.

1. `generate -n 8` once (fixed sampling does not read the gold, so the same samples serve every audit below).
2. Suspect golds: 5% of the golds are corrupted (±1, +7, +100 or 9g+3, one kind each, as issue 28 tried), the
   samples are filtered with `--verifier math`, and `suspect_gold` is scored against the corrupted set:
   precision and recall (goal >= 0.9 both).
3. Voted golds: every gold hidden, `filter --gold majority`; accuracy of the majority labels on prompts with a
   consensus (goal >= 0.98) and the share of prompts with one.
4. The same vote while sampling: `generate --target 1 --gold majority` on the prompts without golds (a prompt stops
   once 3 samples agree), then the same filter: labels, accuracy and completion tokens against step 1.
All are the real CLI in subprocesses on vLLM (CPU here).

Why a second line of figures: a vote can only be as right as the model's most common answer. A second, independent
draw (another seed) measures each prompt's pass rate against the true gold; the figures are printed for every
prompt and again for the prompts this model answers right at least half the time (where voting's premise holds),
with the share of prompts whose most common answer is wrong.

    .venv/bin/python benchmarks/gold_audit.py                  # 1,000 prompts, n 8
    .venv/bin/python benchmarks/gold_audit.py --prompts 300    # quicker
"""

from __future__ import annotations

import argparse
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

DATAFACTORY = [sys.executable, "-m", "datafactory"]
SAMPLING = ["-m", "toy", "--max-tokens", "192", "--temperature", "0.8", "--top-p", "1.0", "--dtype", "float32"]
FILTER = ["--verifier", "math", "--gold-field", "answer", "--rules", "none"]


def run(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(DATAFACTORY + args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - started


def with_golds(samples: Path, out: Path, golds: dict[str, str | None]) -> None:
    """A copy of the sample shards with the `answer` column replaced (None: no gold)."""
    out.mkdir(parents=True)
    for shard in sorted(samples.glob("part-*.parquet")):
        table = pq.read_table(shard)
        values = [golds[pid] for pid in table.column("prompt_id").to_pylist()]
        index = table.schema.get_field_index("answer")
        table = table.set_column(index, pa.field("answer", pa.string()), pa.array(values, pa.string()))
        pq.write_table(table, out / shard.name)


def pass_rates(folder: Path) -> list[dict]:
    return pq.read_table(folder / ".pass_rates/pass_rates.parquet").to_pylist()


def corrupt(gold: str, rng: random.Random) -> str:
    """The kinds of wrong gold scraped sets carry: off by one (either way), a slip (+7), a magnitude (+100), and a
    formula applied wrongly (9g + 3). Off by one is the hard kind: a sample's own slip can match it."""
    value = int(gold)
    return str(rng.choice([value + 1, value - 1, value + 7, value + 100, 9 * value + 3]))


def same_number(answer: str | None, gold: str) -> bool:
    try:
        return answer is not None and float(answer) == float(gold)
    except ValueError:
        return False


def majority(rows: list[dict], truth: dict[str, str], among: set[str]) -> str:
    """Prompts with a consensus and the accuracy of their labels, among `among`."""
    rows = [r for r in rows if r["prompt_id"] in among]
    voted = [r for r in rows if r["gold_source"] == "majority"]
    right = sum(same_number(r["majority_answer"], truth[r["prompt_id"]]) for r in voted)
    return (
        f"{len(voted)} of {len(rows)} with a consensus ({len(voted) / max(1, len(rows)):.3f}), "
        f"accuracy {right / max(1, len(voted)):.4f}"
    )


def sweep(audit: list[dict], voted: list[dict], truth: dict[str, str], corrupted: set[str], among: set[str]) -> None:
    """Other shares, recomputed from the recorded votes (the top answer, its votes, the answered samples): flags as
    a filter run with that --gold-flag-share would give them, labels as with that --gold-min-share."""
    print(f"  {'share':>6}{'flag precision':>16}{'flag recall':>13}{'label accuracy':>16}{'with consensus':>16}")
    for share in (0.6, 0.75, 0.9, 1.0):

        def agreed(row: dict, share=share) -> bool:
            return row["majority_votes"] >= 3 and row["majority_votes"] >= share * row["answered"] - 1e-9

        flagged = {
            r["prompt_id"]
            for r in audit
            if r["prompt_id"] in among
            and r["n_pass"] == 0
            and agreed(r)
            and not same_number(r["majority_answer"], r["gold"])
        }
        hits, wrong = len(flagged & corrupted), corrupted & among
        labelled = [r for r in voted if r["prompt_id"] in among and agreed(r)]
        right = sum(same_number(r["majority_answer"], truth[r["prompt_id"]]) for r in labelled)
        print(
            f"  {share:>6.2f}{hits / max(1, len(flagged)):>16.3f}{hits / max(1, len(wrong)):>13.3f}"
            f"{right / max(1, len(labelled)):>16.4f}{len(labelled) / max(1, len(among)):>16.3f}"
        )


def missed(audit: list[dict], flagged: set[str], corrupted: set[str]) -> str:
    """Why corrupted golds went unflagged: a sample agreed with the wrong gold, or the samples did not agree."""
    rows = {r["prompt_id"]: r for r in audit}
    misses = [rows[p] for p in corrupted - flagged]
    agreed = sum(r["n_pass"] > 0 for r in misses)
    return f"{len(misses)} missed: {agreed} had a sample equal to the wrong gold, {len(misses) - agreed} no consensus"


def flags(flagged: set[str], corrupted: set[str], among: set[str]) -> str:
    flagged, corrupted = flagged & among, corrupted & among
    hits = len(flagged & corrupted)
    precision = hits / len(flagged) if flagged else 0.0
    recall = hits / len(corrupted) if corrupted else 0.0
    return f"{len(corrupted)} corrupted, {len(flagged)} flagged: precision {precision:.3f}, recall {recall:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--corrupt", type=float, default=0.05)
    args = parser.parse_args()

    from datafactory.toy.data import write_demo_prompts

    work = Path(tempfile.mkdtemp(prefix="df-gold-"))
    try:
        write_demo_prompts(work / "prompts", args.prompts, 0, 0)
        prompts = work / "prompts" / "reasoning.jsonl"
        rows = [json.loads(line) for line in prompts.read_text().splitlines()]
        truth = {r["id"]: r["answer"] for r in rows}
        run(["generate", str(prompts), "-o", str(work / "samples"), "-n", str(args.n), *SAMPLING])
        fixed_tokens = json.loads((work / "samples" / ".datafactory/manifest.json").read_text())["counts"][
            "completion_tokens"
        ]
        run(["generate", str(prompts), "-o", str(work / "other"), "-n", str(args.n), *SAMPLING, "--seed", "1"])
        run(["filter", str(work / "other"), "-o", str(work / "other-kept"), *FILTER])
        competent = {r["prompt_id"] for r in pass_rates(work / "other-kept") if r["pass_rate"] >= 0.5}
        hidden = ["--gold-field", "no_such_column", "--gold", "majority"]  # every prompt tallied
        run(["filter", str(work / "other"), "-o", str(work / "other-voted"), *FILTER, *hidden])
        modes = pass_rates(work / "other-voted")
        mode_wrong = sum(not same_number(r["majority_answer"], truth[r["prompt_id"]]) for r in modes)

        rng = random.Random(0)
        corrupted = set(rng.sample(sorted(truth), round(args.corrupt * len(truth))))
        golds = {pid: corrupt(g, rng) if pid in corrupted else g for pid, g in truth.items()}
        with_golds(work / "samples", work / "corrupt", golds)
        run(["filter", str(work / "corrupt"), "-o", str(work / "audit"), *FILTER])
        audit = pass_rates(work / "audit")
        flagged = {r["prompt_id"] for r in audit if r["gold_status"] == "suspect_gold"}

        with_golds(work / "samples", work / "hidden", dict.fromkeys(truth))
        run(["filter", str(work / "hidden"), "-o", str(work / "voted"), *FILTER, "--gold", "majority"])
        voted = pass_rates(work / "voted")

        unlabelled = work / "unlabelled.jsonl"
        unlabelled.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "answer"}) + "\n" for r in rows))
        adaptive = ["--target", "1", *FILTER, "--gold", "majority"]
        run(["generate", str(unlabelled), "-o", str(work / "vote-samples"), "-n", str(args.n), *SAMPLING, *adaptive])
        run(["filter", str(work / "vote-samples"), "-o", str(work / "vote-kept"), *FILTER, "--gold", "majority"])
        counts = json.loads((work / "vote-samples" / ".datafactory/manifest.json").read_text())["counts"]
        sampled_vote = pass_rates(work / "vote-kept")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    everyone = set(truth)
    print(f"{args.prompts} toy arithmetic prompts, {args.n} samples each (vLLM, toy reasoner, temperature 0.8)")
    print(
        f"the model's most common answer (another draw) is wrong on {mode_wrong} prompts ({mode_wrong / len(truth):.3f}); "
        f"{len(competent)} prompts ({len(competent) / len(truth):.3f}) it answers right at least half the time"
    )
    print("suspect golds at --gold-flag-share 0.6 (goal: precision and recall >= 0.9)")
    print(f"  all prompts:        {flags(flagged, corrupted, everyone)}")
    print(f"  pass rate >= 0.5:   {flags(flagged, corrupted, competent)}")
    print(f"  all prompts:        {missed(audit, flagged, corrupted)}")
    print("majority labels at --gold-min-share 0.75, every gold hidden (goal: accuracy >= 0.98)")
    print(f"  all prompts:        {majority(voted, truth, everyone)}")
    print(f"  pass rate >= 0.5:   {majority(voted, truth, competent)}")
    for name, among in (("all prompts", everyone), ("pass rate >= 0.5", competent)):
        print(f"other shares (flags: --gold-flag-share, labels: --gold-min-share), {name}:")
        sweep(audit, voted, truth, corrupted, among)
    tokens = counts["completion_tokens"]
    print(
        f"voting while sampling (--target 1 --gold majority): {counts['rows_out']:,} samples, {tokens:,} tokens "
        f"({tokens / fixed_tokens:.3f}x the fixed -n {args.n})"
    )
    print(f"  all prompts:        {majority(sampled_vote, truth, everyone)}")
    print(f"  pass rate >= 0.5:   {majority(sampled_vote, truth, competent)}")


if __name__ == "__main__":
    main()
