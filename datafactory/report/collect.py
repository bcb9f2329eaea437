"""Gather what a report shows from stage output folders: manifests, funnels, lengths, pass rates, sample rows.

Why sampled: a 1M-row run must give a report of a few MB. Counts come from the manifests (exact, free); length
and pass-rate distributions read only integer columns; the sample browser holds at most `per_group` rows per
reason, drawn with seeded random priorities while the shards stream by, and reads the text of only those rows.
"""

from __future__ import annotations

import heapq
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from datafactory.errors import BadInput, UsageError
from datafactory.io.outdir import MANIFEST
from datafactory.io.remote import fetch_input, is_url, shown
from datafactory.report.highlight import highlight
from datafactory.stages import ORDER, PASS_RATES, STAGES, StageOutput

TEXT_LIMIT = 3000


@dataclass
class StageView:
    path: Path
    stage: str
    label: str
    manifest: dict
    funnel: list[tuple[str, int]] = field(default_factory=list)
    lengths: dict[str, list[int]] = field(default_factory=dict)  # group → completion_tokens
    pass_rates: list[float] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    per_source: dict[str, dict] = field(default_factory=dict)
    accounting: dict[str, dict] = field(default_factory=dict)  # title -> {label: value}, from stats.breakdown
    suspect_golds: list[dict] = field(default_factory=list)  # from stats.suspect_golds
    samples: dict[str, list[dict]] = field(default_factory=dict)  # group → browser rows
    group_counts: dict[str, int] = field(default_factory=dict)


def find_stage_folders(paths: list[str]) -> list[Path]:
    """Stage folders (with `.datafactory/manifest.json`) named, or found up to three levels below a named run folder."""
    found: list[Path] = []
    for text in paths:
        path = fetch_input(text, hidden=True) if is_url(text) else Path(text)  # a store's folder: its mirror
        if not path.exists():
            raise UsageError(f"{path}: no such file or directory")
        if (path / MANIFEST).is_file():
            found.append(path)
            continue
        below = sorted(p.parent.parent for depth in ("*", "*/*", "*/*/*") for p in path.glob(f"{depth}/{MANIFEST}"))
        if not below:
            raise UsageError(f"{shown(path)}: no stage output here (no .datafactory/manifest.json in it or below it)")
        found.extend(below)
    return list(dict.fromkeys(found))


def collect(paths: list[str], per_group: int = 40, seed: int = 0) -> list[StageView]:
    views = []
    for folder in find_stage_folders(paths):
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (ValueError, OSError) as err:
            raise BadInput(f"not a readable manifest ({err})", folder / MANIFEST) from None
        if not isinstance(manifest, dict):
            raise BadInput("not a manifest (expected a JSON object)", folder / MANIFEST)
        stage = manifest.get("stage", "unknown")
        views.append(_view(folder, stage, manifest, per_group, seed))
    views.sort(key=lambda v: (ORDER.index(v.stage) if v.stage in ORDER else 9, str(v.path)))
    return views


def _label(folder: Path) -> str:
    parts = shown(folder).rstrip("/").split("/")  # a mirrored folder by its URL's last two parts
    return "/".join(part for part in parts[-2:] if part)


def _view(folder: Path, stage: str, manifest: dict, per_group: int, seed: int) -> StageView:
    from datafactory.stats import breakdown, suspect_golds

    view = StageView(folder, stage, _label(folder), manifest)
    view.accounting = breakdown(manifest)
    counts = manifest.get("counts", {})
    if stage == "generate":
        view.funnel = [("prompts", counts.get("prompts", 0)), ("samples", counts.get("rows_out", 0))]
    elif stage == "filter":
        view.funnel = [("rows in", counts.get("rows_in", 0))]
        view.funnel += [(r, -n) for r, n in counts.get("verdicts", {}).items() if r != "pass"]
        view.funnel.append(("kept", counts.get("rows_kept", 0)))
        view.reasons = dict(counts.get("reasons", {}))
        rates = folder / PASS_RATES
        if rates.is_file():
            view.pass_rates = pq.read_table(rates, columns=["pass_rate"]).column("pass_rate").to_pylist()
            view.suspect_golds = _with_problems(suspect_golds(rates), StageOutput(folder, manifest, STAGES["filter"]))
    elif stage == "dedupe":
        view.funnel = [("rows in", counts.get("rows_in", 0))]
        view.funnel += [(r, -n) for r, n in counts.get("removed", {}).items() if n]
        view.funnel.append(("kept", counts.get("rows_kept", 0)))
    elif stage == "mix":
        categories = counts.get("per_category", {})
        view.funnel = [(f"{name} (of {c.get('available', 0):,})", c.get("taken", 0)) for name, c in categories.items()]
        view.funnel.append(("rows", counts.get("rows_out", 0)))
        view.per_source = dict(counts.get("per_source", {}))
    output = StageOutput(folder, manifest, STAGES.get(stage))
    shards = [(output.kind.rows if output.kind else "rows", s) for s in output.shards()]
    shards += [(output.kind.set_aside, s) for s in output.set_aside_shards()]
    _scan(view, shards, per_group, seed)
    if stage == "dedupe":
        _show_duplicated(view, output)
    return view


def _rows_by_id(shards: list[Path], wanted: set[str]) -> dict[str, dict]:
    """{prompt_id or prompt_id#sample_index: row} for the wanted ids, reading only the shards' id columns first."""
    found: dict[str, dict] = {}
    for shard in shards:
        names = pq.read_schema(shard).names
        if "prompt_id" not in names:
            continue
        ids = pq.read_table(shard, columns=[c for c in ("prompt_id", "sample_index") if c in names]).to_pydict()
        indexes = ids.get("sample_index") or [None] * len(ids["prompt_id"])
        rows = []
        for row, (prompt_id, index) in enumerate(zip(ids["prompt_id"], indexes, strict=True)):
            keys = {str(prompt_id), f"{prompt_id}#{index}"} & (wanted - set(found))
            if keys:
                rows.append((row, keys))
        if rows:
            records = pq.read_table(shard).take([row for row, _ in rows]).to_pylist()
            for (_, keys), record in zip(rows, records, strict=True):
                found.update(dict.fromkeys(keys, record))
        if wanted <= set(found):
            break
    return found


def _with_problems(suspects: list[dict], output: StageOutput) -> list[dict]:
    """The suspect golds with their problem text, so a reviewer needs no second window to judge them."""
    found = _rows_by_id(output.shards() + output.set_aside_shards(), {str(r["prompt_id"]) for r in suspects})
    return [{**row, "problem": _clip(_prompt_text(found.get(str(row["prompt_id"]), {})))} for row in suspects]


def _show_duplicated(view: StageView, output: StageOutput) -> None:
    """Each sampled duplicate shows the text of the row it duplicates (the kept first occurrence)."""
    rows = [row for group, rows in view.samples.items() if group.endswith("duplicate") for row in rows]
    found = _rows_by_id(output.shards(), {row["match"] for row in rows if row.get("match")})
    on = (view.manifest.get("arguments") or {}).get("on", "prompt")
    for row in rows:
        record = found.get(row.get("match"))
        if record is not None:
            text = _prompt_text(record) if on == "prompt" else record.get("completion") or record.get("response")
            row["duplicate_of"] = highlight(_clip(text), [])


def _scan(view: StageView, shards: list[tuple[str, Path]], per_group: int, seed: int) -> None:
    """One read of the small columns per shard: completion_tokens for the length charts (kept vs rejected, per
    category for a mix), and the group column for a seeded sample of up to `per_group` rows per group, whose
    text alone is read afterwards."""
    declared = STAGES.get(view.stage)
    column = declared.group_by if declared else None
    rng = random.Random(seed)
    heaps: dict[str, list] = {}
    for shard_index, (kind, shard) in enumerate(shards):
        try:
            pq.read_metadata(shard)
        except (OSError, ValueError) as err:
            raise BadInput(f"not a readable Parquet file ({str(err).strip()[:200]})", shard) from None
        names = pq.read_schema(shard).names
        wanted = [c for c in dict.fromkeys(("completion_tokens", column, "category")) if c in names]
        table = pq.read_table(shard, columns=wanted).to_pydict() if wanted else {}
        count = pq.ParquetFile(shard).metadata.num_rows
        tokens = table.get("completion_tokens") or [None] * count
        groups = table.get(column) or [None] * count
        categories = table.get("category") if view.stage == "mix" else None
        for row in range(count):
            if tokens[row] is not None:
                length_group = (categories[row] or "unknown") if categories else kind
                view.lengths.setdefault(length_group, []).append(tokens[row])
            group = groups[row] or (declared.rows if declared and declared.set_aside else "rows")
            if view.stage == "filter" and group == "pass":
                group = "kept"
            view.group_counts[group] = view.group_counts.get(group, 0) + 1
            item = (rng.random(), shard_index, row)
            heap = heaps.setdefault(group, [])
            if len(heap) < per_group:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
    picks_by_shard: dict[int, list[tuple[str, int]]] = {}
    for group, heap in heaps.items():
        for _, shard_index, row in heap:
            picks_by_shard.setdefault(shard_index, []).append((group, row))
    for shard_index, picks in sorted(picks_by_shard.items()):
        rows = pq.read_table(shards[shard_index][1]).take([row for _, row in picks]).to_pylist()
        for (group, _), record in zip(picks, rows, strict=True):
            view.samples.setdefault(group, []).append(browser_row(record, view.manifest))
    for group in view.samples:
        view.samples[group].sort(key=lambda r: (str(r["prompt_id"]), r["sample_index"] or 0))


BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _clip(text) -> str:
    """The text as shown: clipped, and with bidirectional controls made visible ([U+202E]) so that a right-to-left
    override cannot reorder what a reviewer reads."""
    text = "" if text is None else BIDI_CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", str(text))
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + f"… [{len(text) - TEXT_LIMIT:,} more characters]"


def _prompt_text(record: dict) -> str:
    messages = record.get("messages") or record.get("conversations") or []
    parts = []
    for message in messages:
        if isinstance(message, dict):
            role = message.get("role") or message.get("from")
            content = message.get("content") if "content" in message else message.get("value")
            if role in ("assistant", "gpt") and record.get("category"):
                continue  # mix rows: the answer is shown as the response
            parts.append(f"[{role}] {content}")
    return "\n\n".join(parts) or str(record.get("prompt") or record.get("problem") or "")


def browser_row(record: dict, manifest: dict) -> dict:
    """One row as the sample browser shows it: escaped HTML, with what tripped a rule highlighted."""
    arguments = manifest.get("arguments") or {}
    gold_field, language = arguments.get("gold_field", "answer"), arguments.get("language") or "en"
    reasons = list(record.get("reasons") or [])
    if record.get("dedupe_reason"):
        reasons.append(record["dedupe_reason"])
    checked = record.get("verdict") is not None or bool(record.get("dedupe_reason"))
    status = "passed every check" if checked else "no verdict: not checked at this stage"
    if not checked and isinstance(record.get("verifier"), str) and record.get("category"):
        checked, status = True, f"kept by the filter (verifier {record['verifier']})"  # a mix row
    reasoning, response = record.get("reasoning"), record.get("response")
    if reasoning is None and response is None:
        messages = record.get("messages") or []
        last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
        response = last.get("content") if last.get("role") == "assistant" else record.get("completion")
    return {
        "prompt_id": record.get("prompt_id"),
        "sample_index": record.get("sample_index"),
        "prompt": highlight(_clip(_prompt_text(record)), []),
        "reasoning": highlight(_clip(reasoning), reasons, language),
        "response": highlight(_clip(response), reasons, language),
        "extracted": _clip(record.get("extracted_answer")) if record.get("extracted_answer") is not None else None,
        "gold": _clip(record.get(gold_field)) if record.get(gold_field) is not None else None,
        "reasons": reasons,
        "detail": _clip(record.get("verifier_detail") or record.get("dedupe_match") or ""),
        "judge": record.get("judge_verdict"),
        "tokens": record.get("completion_tokens"),
        "checked": checked,
        "status": status,
        "match": record.get("dedupe_match")
        if record.get("dedupe_reason") in ("exact_duplicate", "near_duplicate")
        else None,
    }
