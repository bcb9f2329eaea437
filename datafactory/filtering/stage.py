"""The filter stage: evaluate every sample, pick the best k per prompt, write kept rows, .rejected/ and .pass_rates/.

The options are `filtering/config.py` (FilterConfig). Why three steps: (1) rows stream through the worker pool and land, evaluated, in `OUT/.work/` — one file per input
file, so a stopped run resumes at the first unfinished input; (2) selection reads only a few columns of those
files; (3) the files are split into `OUT/part-*` (selected passes) and `OUT/.rejected/part-*` (everything else,
with its reasons). Memory stays bounded by the per-row summaries, never the text.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter, deque
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datafactory.checks.evaluate import EvalSpec, Evaluation, task_of_row
from datafactory.checks.pool import WorkerPool
from datafactory.filtering.config import FilterConfig
from datafactory.filtering.diagnosis import notes
from datafactory.filtering.gold_audit import GoldResults, audit_golds
from datafactory.filtering.inputs import InputShape, plan_input
from datafactory.filtering.select import PromptOutcome, RowSummary, select
from datafactory.io.outdir import OutputDir
from datafactory.io.readers import count_rows, read_chunks
from datafactory.io.schema import stored_row_schema, unified_schema
from datafactory.io.writer import ShardWriter, atomic_write_bytes
from datafactory.progress import StageProgress
from datafactory.shapes import THINK, THOUGHT
from datafactory.stages import PASS_RATES, Executor, Plan, Result
from datafactory.verifiers.base import verifier_class

EVAL_FIELDS = Evaluation.columns()
WORK_FIELDS = Evaluation.work_columns()
FINAL_FIELDS = [
    pa.field("pass_rate", pa.float64()),
    pa.field("selected", pa.bool_()),
    pa.field(
        "gold_source", pa.string()
    ),  # the gold the row was checked against: given | majority (checks/gold_votes.py)
]
OWN_COLUMNS = {f.name for f in EVAL_FIELDS + WORK_FIELDS + FINAL_FIELDS}
BATCH_ROWS = 64


def input_shape(path: Path, schema: pa.Schema, config: FilterConfig) -> InputShape:
    gold = config.gold_field if config.needs_gold() else None
    return plan_input(
        path, schema, config.completion_field, config.prompt_field, config.id_field, gold,
        own=frozenset(OWN_COLUMNS), to_think=config.to_think_tags, reasoning_field=config.reasoning_field,
    )  # fmt: skip


def _batches(path: Path, shape: InputShape, gold_field: str, pending: deque, extra: tuple[str, ...] = ()):
    """Tasks in batches of consecutive rows of one prompt (a worker parses their gold once), at most BATCH_ROWS.
    The rows themselves wait in `pending`, in order, until their results come back."""
    for chunk in read_chunks(path, chunk_rows=2000):
        batch: list[dict] = []
        for record in chunk.rows:
            for row in shape.apply(record, path, record["__row__"]):
                if batch and (len(batch) >= BATCH_ROWS or batch[-1]["prompt_id"] != row.get("prompt_id")):
                    yield batch
                    batch = []
                batch.append(task_of_row(row, gold_field, extra))
                pending.append(row)
        if batch:
            yield batch


def _storable(row: dict, text_columns: list[str]) -> dict:
    """Values of a JSONL column whose types differ between rows (27.0 here, "27" there) are stored as text."""
    for column in text_columns:
        value = row.get(column)
        if value is not None and not isinstance(value, str):
            row[column] = json.dumps(value, ensure_ascii=False, default=str)
    return row


def evaluate_file(
    index: int,
    path: Path,
    schema: pa.Schema,
    shape: InputShape,
    work: Path,
    pool: WorkerPool,
    config: FilterConfig,
    progress,
) -> Path:
    """Evaluate one input file into `work/eval-NNNNN.parquet` (atomically); skip it if already there.

    One continuous stream through the pool keeps every worker busy while the parent reads and writes."""
    target = work / f"eval-{index:05d}.parquet"
    if target.exists():
        progress.advance(pq.ParquetFile(target).metadata.num_rows)
        return target
    out_schema = pa.schema(list(schema) + EVAL_FIELDS + WORK_FIELDS)
    tmp = work / f".eval-{index:05d}.parquet.tmp-{os.getpid()}"
    pending: deque[dict] = deque()
    done: list[dict] = []
    text_columns = [f.name for f in schema if pa.types.is_string(f.type)]
    with pq.ParquetWriter(tmp, out_schema, compression="zstd") as writer:
        extra = verifier_class(config.worker_verifier).row_fields
        batches = _batches(path, shape, shape.renamed.get(config.gold_field, config.gold_field), pending, extra)
        for results in pool.map(batches, progress.advance):
            done.extend({**_storable(pending.popleft(), text_columns), **result} for result in results)
            if len(done) >= 2000:
                writer.write_table(pa.Table.from_pylist(done, schema=out_schema))
                done = []
        if done:
            writer.write_table(pa.Table.from_pylist(done, schema=out_schema))
    os.replace(tmp, target)
    return target


def summarise(files: list[Path]) -> tuple[dict[str, list[RowSummary]], dict[str, int]]:
    """Per prompt, a few numbers per row; and the target of prompts sampled adaptively (from `sampling`)."""
    by_prompt: dict[str, list[RowSummary]] = {}
    targets: dict[str, int] = {}
    for file_index, path in enumerate(files):
        names = set(pq.read_schema(path).names)
        columns = ["prompt_id", "verdict", "_verifier_ok", "_completion_hash"]
        columns += [c for c in ("sample_index", "completion_tokens", "sampling") if c in names]
        table = pq.read_table(path, columns=columns).to_pydict()
        count = len(table["prompt_id"])
        samples = table.get("sample_index") or list(range(count))
        lengths = table.get("completion_tokens") or [0] * count
        for prompt_id, target in _targets(table.get("sampling"), table["prompt_id"]):
            targets[prompt_id] = target
        for row in range(count):
            summary = RowSummary(
                (file_index, row), samples[row] if samples[row] is not None else row, table["verdict"][row] == "pass",
                bool(table["_verifier_ok"][row]), lengths[row] or 0, table["_completion_hash"][row],
            )  # fmt: skip
            by_prompt.setdefault(table["prompt_id"][row], []).append(summary)
    return by_prompt, targets


def _targets(sampling: list | None, prompt_ids: list[str]):
    """(prompt_id, target) for rows whose `sampling` JSON records a target (adaptive generate)."""
    if not sampling:
        return
    parsed: dict[str, int | None] = {}
    for text, prompt_id in zip(sampling, prompt_ids, strict=True):
        if text not in parsed:
            try:
                value = json.loads(text).get("target") if isinstance(text, str) else None
            except (ValueError, AttributeError):
                value = None
            parsed[text] = value if isinstance(value, int) and value >= 1 else None
        if parsed[text] is not None:
            yield prompt_id, parsed[text]


def _final_columns(
    table: pa.Table, file_index: int, outcomes: dict[str, PromptOutcome], golds: GoldResults
) -> pa.Table:
    prompt_ids = table.column("prompt_id").to_pylist()
    verdicts = table.column("verdict").to_pylist()
    reasons = table.column("reasons").to_pylist()
    details = table.column("verifier_detail").to_pylist()
    rates, selected, sources = [], [], []
    for row, prompt_id in enumerate(prompt_ids):
        outcome = outcomes[prompt_id]
        chosen = (file_index, row) in outcome.selected
        rates.append(outcome.pass_rate)
        selected.append(chosen)
        gold = golds.audits.get(prompt_id)
        sources.append(gold.source if gold else None)
        if (file_index, row) in golds.regraded:
            reasons[row] = golds.regraded[(file_index, row)]
            verdicts[row] = reasons[row][0] if reasons[row] else "pass"
            details[row] = golds.detail(prompt_id)
        if verdicts[row] == "pass" and not chosen:
            verdicts[row] = "not_selected" if outcome.in_range else "pass_rate_out_of_range"
            reasons[row] = [verdicts[row]]
    table = table.set_column(table.schema.get_field_index("verdict"), "verdict", pa.array(verdicts, pa.string()))
    table = table.set_column(
        table.schema.get_field_index("reasons"), "reasons", pa.array(reasons, pa.list_(pa.string()))
    )
    table = table.set_column(
        table.schema.get_field_index("verifier_detail"), "verifier_detail", pa.array(details, pa.string())
    )
    table = table.append_column(FINAL_FIELDS[0], pa.array(rates, pa.float64()))
    table = table.append_column(FINAL_FIELDS[1], pa.array(selected, pa.bool_()))
    table = table.append_column(FINAL_FIELDS[2], pa.array(sources, pa.string()))
    return table.drop_columns([f.name for f in WORK_FIELDS])


def summary(counts: dict, folder) -> str:
    """The funnel, what rejected the rest, the suspect golds to review if the gold audit found any, and why the
    run kept nothing or one reason rejected nearly everything (diagnosis.py)."""
    top = ", ".join(f"{k} {v}" for k, v in counts["verdicts"].items() if k != "pass")
    line = f"{counts['rows_in']} rows -> {counts['rows_kept']} kept, {counts['rows_rejected']} rejected"
    line += f" ({top})" if top else ""
    if suspects := (counts.get("gold") or {}).get("suspect_gold", 0):
        line += f"; {suspects} suspect golds to review: datafactory stats {folder}"
    return "; ".join([f"{line} in {folder}", *counts.get("notes", [])])


@dataclass
class FilterPlan(Plan):
    spec: EvalSpec  # the checks the workers run
    schemas: list[pa.Schema]  # each input's columns, with those its shape adds
    shapes: list[InputShape]
    unified: pa.Schema


def check_filter(config: FilterConfig) -> FilterPlan:
    """The inputs, their shapes and schemas: a file the filter cannot read fails before OUT is touched."""
    spec = config.spec()
    files = config.input_files()
    stored = [stored_row_schema(path) for path in files]
    shapes = [input_shape(path, schema, config) for path, schema in zip(files, stored, strict=True)]
    schemas = [shape.rows_schema(s) for s, shape in zip(stored, shapes, strict=True)]
    return FilterPlan(files, spec, schemas, shapes, unified_schema(schemas, files))


def filter_rows(
    config: FilterConfig, plan: FilterPlan, outdir: OutputDir, executor: Executor, judge_engine=None
) -> Result:
    """The stage's work; a started engine for the judge may be passed in (left open)."""
    files, spec, schemas, shapes, unified = plan.inputs, plan.spec, plan.schemas, plan.shapes, plan.unified
    gold_columns = {shape.renamed.get(config.gold_field, config.gold_field) for shape in shapes}
    if len(gold_columns) == 1:  # a gold named like a column the filter writes is read where it was carried
        config = replace(config, gold_field=gold_columns.pop())
    final_schema = pa.schema(list(unified) + EVAL_FIELDS + FINAL_FIELDS)
    work = outdir.path / ".work"
    work.mkdir(exist_ok=True)
    total = sum(count_rows(p) for p in files)
    judge = _judge_pass(config, config.gold_field in unified.names, judge_engine)
    # open until the gold audit, whose votes it tallies too
    with executor.verifier_pool(spec, config.workers, config.timeout) as pool:
        with StageProgress("filter", total, unit="rows") as progress:
            evaluated = [
                evaluate_file(i, p, s, shape, work, pool, config, progress)
                for i, (p, s, shape) in enumerate(zip(files, schemas, shapes, strict=True))
            ]
        try:  # one judge (one engine start) for the undecided rows and the suspect golds
            for path in evaluated if judge else []:
                judge.judge_file(path)
            by_prompt, targets = summarise(evaluated)
            golds = audit_golds(config, evaluated, by_prompt, pool, judge)
        finally:
            if judge:
                judge.close()
    judge_requests = judge.requests_sent if judge else 0
    outcomes = {
        pid: select(
            rows,
            pid,
            config.keep,
            config.select,
            config.seed,
            config.min_pass_rate,
            config.max_pass_rate,
            targets.get(pid),
        )  # fmt: skip
        for pid, rows in by_prompt.items()
    }
    for stale in outdir.shards() + outdir.shards(".rejected"):
        stale.unlink()
    kept = ShardWriter(outdir.path, final_schema, config.shard_rows)
    rejected = ShardWriter(outdir.path / ".rejected", final_schema, config.shard_rows)
    verdicts: Counter = Counter()
    reasons: Counter = Counter()
    tokens: Counter = Counter()  # completion tokens per final verdict: where the generation budget went
    without_think = 0
    for file_index, path in enumerate(evaluated):
        table = _final_columns(pq.read_table(path), file_index, outcomes, golds)
        verdicts.update(table.column("verdict").to_pylist())
        if "completion_tokens" in table.column_names:
            for verdict, count in zip(verdicts_of(table), table.column("completion_tokens").to_pylist(), strict=True):
                tokens[verdict] += count or 0
        reasons.update(r for row in table.column("reasons").to_pylist() for r in row)
        without_think = without_think + _without_think_block(table)
        mask = table.column("selected")
        kept.add_table(table.filter(mask))
        rejected.add_table(table.filter(pc.invert(mask)))
    kept.close(at_least_one=True)
    rejected.close()
    _write_pass_rates(outdir.path / PASS_RATES, outcomes, golds)
    if config.rl_prompts:
        _write_rl_prompts(Path(config.rl_prompts), evaluated, outcomes, config.gold_field, golds)
    shutil.rmtree(work)
    counts = {
        "rows_in": sum(len(rows) for rows in by_prompt.values()),
        "rows_kept": kept.rows_written,
        "rows_rejected": rejected.rows_written,
        "prompts": len(outcomes),
        "prompts_with_a_pass": sum(o.n_pass > 0 for o in outcomes.values()),
        "prompts_in_pass_rate_range": sum(o.in_range for o in outcomes.values()),
        "prompts_sampled_adaptively": len(targets),
        "verdicts": dict(verdicts.most_common()),
        "reasons": dict(reasons.most_common()),
        # from the rows, not this invocation's pool: a resumed run counts the rows evaluated before it too
        "verifier_timeouts": reasons.get("verifier_timeout", 0),
        "worker_crashes": reasons.get("verifier_error", 0),
        "judge_requests": judge_requests,
        "completion_tokens_by_verdict": dict(tokens.most_common()),
        "rows_without_think_block": without_think,
    }
    counts["notes"] = notes(counts, [n for n in unified.names if n not in OWN_COLUMNS])
    if golds.counts is not None:
        counts["gold"] = golds.counts
    return Result(counts, {"rules": spec.rules, "rule_config": asdict(spec.rule_config)})


def _without_think_block(table: pa.Table) -> int:
    """Rows whose completion closes no think block (`</think>`, `<|end_of_thought|>`)."""
    completion = table.column("completion")
    closed = pc.or_(pc.match_substring(completion, THINK[1]), pc.match_substring(completion, THOUGHT[1]))
    return table.num_rows - pc.sum(pc.fill_null(closed, False)).as_py() if table.num_rows else 0


def verdicts_of(table: pa.Table) -> list[str]:
    """Kept rows count as `kept`; every other row under its final verdict."""
    verdicts = table.column("verdict").to_pylist()
    selected = table.column("selected").to_pylist()
    return ["kept" if chosen else verdict for verdict, chosen in zip(verdicts, selected, strict=True)]


def _judge_pass(config: FilterConfig, has_gold: bool, engine):
    """The judge (`--verifier …,judge`), or None; its engine starts on the first reply not in the cache."""
    if not config.judged:
        return None
    from datafactory.judge.stage import JudgePass, resolve_template

    return JudgePass(config, resolve_template(config, has_gold), engine)


def _write_pass_rates(path: Path, outcomes: dict[str, PromptOutcome], golds: GoldResults) -> None:
    """Per prompt: drawn (n), verifier passes, samples passing every check, the target it was sampled to (null:
    fixed), the pass-rate estimate with its 95% interval (checks/pass_rates.py), and what the samples say of its gold
    (gold_audit.py)."""
    values = list(outcomes.values())
    estimates = [o.estimate for o in values]
    table = pa.table(
        {
            "prompt_id": pa.array(list(outcomes), pa.string()),
            "n": pa.array([o.n for o in values], pa.int32()),
            "n_pass": pa.array([o.n_pass for o in values], pa.int32()),
            "pass_rate": pa.array([o.pass_rate for o in values], pa.float64()),
            "passed_all_checks": pa.array([o.passed for o in values], pa.int32()),
            "target": pa.array([o.target for o in values], pa.int32()),
            "pass_rate_estimate": pa.array([e.estimate for e in estimates], pa.float64()),
            "pass_rate_low": pa.array([e.low for e in estimates], pa.float64()),
            "pass_rate_high": pa.array([e.high for e in estimates], pa.float64()),
            **golds.columns(list(outcomes)),
        }
    )
    from datafactory.io.writer import write_table_atomic

    write_table_atomic(table, path)


def _write_rl_prompts(
    path: Path, evaluated: list[Path], outcomes: dict[str, PromptOutcome], gold_field: str, golds: GoldResults
) -> None:
    """Prompts with both passing and failing samples (0 < p < 1 for certain: worth RL, as in DAPO's dynamic
    sampling), one JSON line each, with the pass-rate estimate; a voted gold is written as the gold, and
    `gold_source` says so."""
    lines, seen = [], set()
    for file in evaluated:
        names = pq.read_schema(file).names
        columns = [c for c in ("prompt_id", "messages", gold_field) if c in names]
        for row in pq.read_table(file, columns=columns).to_pylist():
            outcome = outcomes[row["prompt_id"]]
            if row["prompt_id"] not in seen and outcome.mixed:
                seen.add(row["prompt_id"])
                row["pass_rate"] = outcome.rate_for_range
                gold = golds.audits.get(row["prompt_id"])
                if gold is not None:
                    row["gold_source"] = gold.source
                    if gold.voted:
                        row["given_gold"], row[gold_field] = row.get(gold_field), gold.tally.top
                lines.append(json.dumps(row, ensure_ascii=False, default=str))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, "".join(line + "\n" for line in lines).encode())
