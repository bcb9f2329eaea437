"""Summaries of a stage's output folder: row counts, finish reasons, length percentiles, the funnel.

Why: a person tuning a run wants the numbers at a glance without loading the data into a notebook. Reads the
shards one at a time, keeping only counters and one integer per row for percentiles.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from datafactory.errors import UsageError
from datafactory.io.outdir import MANIFEST
from datafactory.io.readers import expand_inputs
from datafactory.percentiles import percentiles
from datafactory.reasons import SELECTION_REASONS
from datafactory.stages import PASS_RATES, STAGES

PASS_RATE_BUCKETS = ("0", "(0, 0.25]", "(0.25, 0.5]", "(0.5, 0.75]", "(0.75, 1)", "1")


def pass_rate_bucket(rate: float) -> str:
    if rate <= 0:
        return "0"
    if rate >= 1:
        return "1"
    return PASS_RATE_BUCKETS[1 + min(3, int((rate - 1e-12) // 0.25))]


@dataclass
class Stats:
    path: str
    rows: int = 0
    prompts: int = 0
    finish_reasons: Counter = field(default_factory=Counter)
    verdicts: Counter = field(default_factory=Counter)
    length_percentiles: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    funnel: list = field(default_factory=list)  # (step, rows) from rows in, through each reason, to kept
    pass_rate_histogram: dict = field(default_factory=dict)
    rejected_length_percentiles: dict = field(default_factory=dict)
    judge: dict = field(default_factory=dict)
    suspect_golds: list = field(default_factory=list)  # prompts whose gold the samples contradict, to review
    breakdown: dict = field(default_factory=dict)  # title -> {label: rows}: what dedupe removed, what mix took


def compute_stats(path: str) -> Stats:
    files = [f for f in expand_inputs([path], allow_empty=True) if f.suffix == ".parquet"]
    if not files and not (Path(path) / MANIFEST).is_file():
        raise UsageError(f"{path}: no Parquet shards to summarise")
    stats = Stats(path)
    prompt_ids: set[str] = set()
    lengths: list[int] = []
    for shard in files:
        names = set(pq.read_schema(shard).names)
        wanted = [c for c in ("prompt_id", "finish_reason", "completion_tokens", "verdict") if c in names]
        table = pq.read_table(shard, columns=wanted)
        stats.rows += table.num_rows
        if "prompt_id" in names:
            prompt_ids.update(table.column("prompt_id").to_pylist())
        if "finish_reason" in names:
            stats.finish_reasons.update(table.column("finish_reason").to_pylist())
        if "verdict" in names:
            stats.verdicts.update(table.column("verdict").to_pylist())
        if "completion_tokens" in names:
            lengths.extend(v for v in table.column("completion_tokens").to_pylist() if v is not None)
    stats.prompts = len(prompt_ids)
    stats.length_percentiles = percentiles(lengths)
    manifest = Path(path) / MANIFEST
    if manifest.is_file():
        stats.manifest = json.loads(manifest.read_text())
    if stats.manifest.get("stage") == "filter":
        _add_filter_view(stats, Path(path))
    stats.breakdown = breakdown(stats.manifest)
    return stats


def breakdown(manifest: dict) -> dict:
    """The stage's own accounting from its manifest: generate's samples per prompt, where the tokens went, the
    samples stopped in flight, the cost forecast against what happened and the budget,
    filter's tokens per verdict, dedupe's removals (in all and per input), mix's rows per category and per
    source (taken of available)."""
    counts = manifest.get("counts", {})
    if manifest.get("stage") == "generate" and counts.get("samples_per_prompt"):
        tables = {"samples per prompt (prompts)": dict(counts["samples_per_prompt"])}
        spent = {
            "samples drawn": counts.get("rows_out", 0),
            "sample budget (prompts x n)": counts.get("sample_budget", 0),
        }
        spent["completion tokens"] = counts.get("completion_tokens", 0)
        adaptive = counts.get("adaptive_now") or {}
        shown = ("prompts_reaching_target", "prompts_voted", "passing_samples", "tokens_per_passing_sample")
        for key in (*shown, "samples_discarded"):
            if key in adaptive:
                spent[key.replace("_", " ")] = adaptive[key]
        tables["generation"] = spent
        if adaptive.get("tokens_by_verdict"):
            tables["completion tokens per verdict (this run)"] = dict(adaptive["tokens_by_verdict"])
        if counts.get("stopped_in_flight"):
            tables["samples stopped in flight (the rule they had failed for good)"] = dict(counts["stopped_in_flight"])
        if forecast := counts.get("forecast"):
            spent, said = forecast["actual_completion_tokens"], forecast["completion_tokens"]
            tables["cost forecast against what happened (completion tokens)"] = {
                f"forecast after {forecast['after_prompts']} prompts": f"{said:,} ({forecast['low']:,}–{forecast['high']:,})",
                "spent": f"{spent:,}",
                "error": f"{said / spent - 1:+.1%}" if spent else "",
            }
        if budget := counts.get("budget"):
            tables["budget (completion tokens)"] = {key.replace("_", " "): value for key, value in budget.items()}
        return tables
    if manifest.get("stage") == "filter":
        tables = {}
        if counts.get("completion_tokens_by_verdict"):
            title = "completion tokens per verdict (where the generation budget went)"
            tables[title] = counts["completion_tokens_by_verdict"]
        if gold := counts.get("gold"):
            golds = {status.replace("_", " "): n for status, n in gold.get("prompts", {}).items()}
            golds["checked against the majority answer"] = gold.get("checked_against_majority", 0)
            judged = gold.get("suspects_judged") or {}
            golds.update({f"suspects judged: {k.replace('_', ' ')}": v for k, v in judged.items()})
            tables[f"gold answers (prompts; --gold {gold.get('mode')}, --gold-policy {gold.get('policy')})"] = golds
        return tables
    if manifest.get("stage") == "dedupe":
        removed = {"rows in": counts.get("rows_in", 0), **counts.get("removed", {}), "kept": counts.get("rows_kept", 0)}
        per_input = {
            name: f"{c.get('kept', 0):,} of {c.get('rows_in', 0):,} kept"
            for name, c in counts.get("per_input", {}).items()
        }
        return {"dedupe": removed, "per input": per_input}
    if manifest.get("stage") == "mix":
        categories = {name: c.get("taken", 0) for name, c in counts.get("per_category", {}).items()}
        sources = {
            f"{name} ({c.get('category')})": f"{c.get('taken', 0):,} of {c.get('available', 0):,}"
            for name, c in counts.get("per_source", {}).items()
        }
        return {"per category": categories, "per source (taken of available)": sources}
    return {}


def _add_filter_view(stats: Stats, path: Path) -> None:
    counts = stats.manifest.get("counts", {})
    stats.funnel = [("rows in", counts.get("rows_in", 0))]
    stats.funnel += [(reason, -rows) for reason, rows in counts.get("verdicts", {}).items() if reason != "pass"]
    stats.funnel.append(("kept", counts.get("rows_kept", 0)))
    rejected = path / STAGES["filter"].set_aside
    if rejected.is_dir() and list(rejected.glob("part-*.parquet")):
        stats.rejected_length_percentiles = compute_stats(str(rejected)).length_percentiles
    stats.judge = judge_stats([path, rejected])
    rates_file = path / PASS_RATES
    if rates_file.is_file():
        rates = pq.read_table(rates_file, columns=["pass_rate"]).column("pass_rate").to_pylist()
        histogram = dict.fromkeys(PASS_RATE_BUCKETS, 0)
        for rate in rates:
            histogram[pass_rate_bucket(rate)] += 1
        stats.pass_rate_histogram = histogram
        stats.suspect_golds = suspect_golds(rates_file)


SUSPECT_COLUMNS = [
    "prompt_id",
    "gold",
    "majority_answer",
    "majority_votes",
    "answered",
    "gold_source",
    "gold_confidence",
]


def suspect_golds(rates_file: Path, limit: int = 50) -> list[dict]:
    """The prompts flagged `suspect_gold`, the likeliest wrong golds first (by `gold_confidence`; outputs written
    before it by the majority's share)."""
    names = pq.read_schema(rates_file).names
    if "gold_status" not in names:
        return []
    columns = [c for c in SUSPECT_COLUMNS if c in names]
    table = pq.read_table(rates_file, columns=[*columns, "gold_status"]).to_pylist()
    flagged = [{k: row.get(k) for k in SUSPECT_COLUMNS} for row in table if row["gold_status"] == "suspect_gold"]
    flagged.sort(
        key=lambda r: (-(r["gold_confidence"] or 0), -r["majority_votes"] / max(1, r["answered"]), r["prompt_id"])
    )
    return flagged[:limit]


def judge_stats(folders: list[Path]) -> dict:
    """Judge verdicts of a filter output (kept and rejected), and how often the judge agreed with the rule-based
    verifier on the rows both decided (`--verifier math,judge --judge-scope all`)."""
    from datafactory.rules.checks import RULES

    counts: Counter = Counter()
    compared = agreed = 0
    for folder in folders:
        for shard in sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []:
            if "judge_verdict" not in pq.read_schema(shard).names:
                continue
            table = pq.read_table(shard, columns=["judge_verdict", "verifier", "reasons"]).to_pylist()
            for row in table:
                verdict = row["judge_verdict"]
                if verdict is None:
                    continue
                counts[verdict] += 1
                if verdict != "error" and row["verifier"] != "judge":
                    rule_ok = not any(r not in RULES and r not in SELECTION_REASONS for r in row["reasons"] or [])
                    compared += 1
                    agreed += rule_ok == (verdict == "pass")
    judged = sum(counts.values())
    if not judged:
        return {}
    return {
        "judged": judged,
        "pass": counts["pass"],
        "fail": counts["fail"],
        "error": counts["error"],
        "pass_rate": counts["pass"] / judged,
        "compared_with_rule_verifier": compared,
        "agreement": agreed / compared if compared else None,
    }
