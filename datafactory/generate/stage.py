"""The generate stage: prompts in, sampled completions out, as resumable sample shards.

Why two passes over the input: the first validates every row (so bad input writes nothing) and fixes the
pass-through schema; the second streams prompts through the engine (`generate/sample_loop.py`): `-n` samples each, or with
`--target K` until K samples pass the filter's checks. A prompt's samples always land in the same shard, so after
a crash the finished prompts are exactly those found in complete shards. Its options: generate/config.py.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from datafactory.engine_logs import engine_output, say
from datafactory.engines.base import Engine, engine_class
from datafactory.errors import DataFactoryError, UsageError
from datafactory.generate.config import LOCAL_ENGINES, GenerateConfig
from datafactory.generate.forecast import Forecast, Forecasted, slice_size
from datafactory.generate.sample_loop import (
    LoopTally,
    PromptDraws,
    SampleLoop,
    default_window,
    elapsed_rate,
    sample_seed,
)
from datafactory.interrupts import check as check_stop
from datafactory.interrupts import stop_requested
from datafactory.io.outdir import OutputDir
from datafactory.io.readers import expand_inputs, iter_chunks
from datafactory.io.schema import PassthroughTypes, samples_schema
from datafactory.io.writer import ShardWriter
from datafactory.progress import StageProgress
from datafactory.prompts import Prompt, PromptBuilder
from datafactory.rules.inflight import InflightChecks
from datafactory.stages import Executor, Plan, Result
from datafactory.verifiers.base import verifier_class


@dataclass
class PromptScan:
    prompts: int
    rows: int
    duplicates: int
    passthrough: PassthroughTypes


def _builder(config: GenerateConfig) -> PromptBuilder:
    return PromptBuilder(config.prompt_field, config.id_field, config.system)


def iter_prompts(files: list[Path], config: GenerateConfig, builder: PromptBuilder) -> Iterator[Prompt]:
    """Unique prompts in input order, up to --limit."""
    produced = 0
    for chunk in iter_chunks(files):
        for row in chunk.rows:
            prompt = builder.build(row, chunk.path)
            if prompt is None:
                continue
            yield prompt
            produced += 1
            if config.limit is not None and produced >= config.limit:
                return


def scan_prompts(files: list[Path], config: GenerateConfig) -> PromptScan:
    """Validate every row that will be used and infer the pass-through column types."""
    builder = _builder(config)
    passthrough = PassthroughTypes()
    prompts = rows = 0
    pending: list[dict] = []
    for prompt in iter_prompts(files, config, builder):
        prompts += 1
        pending.append(prompt.row)
        if len(pending) >= 1000:
            passthrough.observe(pending, skip=builder.consumed_fields(pending[0]))
            pending = []
    if pending:
        passthrough.observe(pending, skip=builder.consumed_fields(pending[0]))
    rows = prompts + builder.duplicates
    return PromptScan(prompts, rows, builder.duplicates, passthrough)


def finished_prompts(outdir: OutputDir, n: int, adaptive: bool) -> set[str]:
    """prompt_ids whose samples are all in complete shards: n of them, or with a target samples 0..m-1, m <= n."""
    counts, _, _ = shard_counts(outdir)
    partial = [pid for pid, count in counts.items() if (count > n if adaptive else count != n)]
    if partial:
        expected = f"at most {n}" if adaptive else str(n)
        raise DataFactoryError(
            f"{outdir.path}: prompt {partial[0]!r} has {counts[partial[0]]} samples, expected {expected}"
        )
    return set(counts)


def shard_counts(outdir: OutputDir) -> tuple[Counter, int, Counter]:
    """Samples per prompt, completion tokens, and samples stopped in flight per reason, over every complete shard
    (one read of three small columns)."""
    counts: Counter = Counter()
    aborted: Counter = Counter()
    tokens = 0
    for shard in outdir.shards():
        names = pq.read_schema(shard).names  # shards of an older version have no abort_reason: resumable all the same
        table = pq.read_table(
            shard, columns=[c for c in ("prompt_id", "completion_tokens", "abort_reason") if c in names]
        )
        counts.update(table.column("prompt_id").to_pylist())
        tokens += sum(t or 0 for t in table.column("completion_tokens").to_pylist())
        if "abort_reason" in names:
            aborted.update(r for r in table.column("abort_reason").to_pylist() if r)
    return counts, tokens, aborted


def _next_shard_index(outdir: OutputDir) -> int:
    shards = outdir.shards()
    return int(shards[-1].stem.split("-")[1]) + 1 if shards else 0


def sample_row(prompt: Prompt, index: int, completion, engine, sampling_json: dict, extra: dict) -> dict:
    seed = sample_seed(sampling_json["seed"], prompt.prompt_id, index)
    return {
        "prompt_id": prompt.prompt_id,
        "sample_index": index,
        "messages": prompt.messages,
        "completion": completion.text,
        "finish_reason": completion.finish_reason,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "abort_reason": completion.aborted,
        "aborted_at_tokens": completion.completion_tokens if completion.aborted else None,
        "model": engine.model_name,
        "engine": engine.name,
        "sampling": json.dumps({**sampling_json, "request_seed": seed}, sort_keys=True),
        **extra,
    }


def _sampling_json(config: GenerateConfig) -> dict:
    """What each row records of how it was drawn; `target` only for adaptive runs (filter reads it)."""
    recorded = config.sampling().to_dict()
    if config.target is not None:
        recorded["target"] = config.target
    return recorded


def _sample_all(
    config, files, scan, done: set[str], todo: int, engine: Engine, outdir: OutputDir, executor: Executor
) -> LoopTally:
    """Stream the prompts not yet done through the engine; a prompt's rows are written when it is decided."""
    sampling = config.sampling()
    recorded = _sampling_json(config)
    writer = ShardWriter(outdir.path, samples_schema(scan.passthrough), config.shard_rows, _next_shard_index(outdir))
    pending = (p for p in iter_prompts(files, config, _builder(config)) if p.prompt_id not in done)
    forecast = Forecast(todo, config.price_per_million)
    if config.forecast:
        pending = itertools.islice(pending, slice_size(todo))
    built: dict[str, dict[int, dict]] = {}  # rows of the prompts still drawing, made once per sample

    def row_of(draws: PromptDraws, index: int) -> dict:
        rows = built.setdefault(draws.prompt.prompt_id, {})
        if index not in rows:
            extra = scan.passthrough.values(draws.prompt.row)
            rows[index] = sample_row(draws.prompt, index, draws.completions[index], engine, recorded, extra)
        return rows[index]

    def write(draws: PromptDraws, kept: int) -> None:
        writer.add_group([row_of(draws, index) for index in range(kept)])
        built.pop(draws.prompt.prompt_id, None)
        forecast.add(sum(c.completion_tokens for c in draws.completions.values()))

    task_of = pool = settle_of = None
    if config.target is not None:
        from datafactory.checks.evaluate import task_of_row

        fields = verifier_class(config.worker_verifier).row_fields
        pool = executor.verifier_pool(config.spec(), config.workers, config.timeout)  # the frame's: local or Ray

        def task_of(draws: PromptDraws, index: int) -> dict:
            return task_of_row(row_of(draws, index), config.gold_field, fields)

        settle_of = _voting(config)

    spec = config.spec()
    engine.watch = InflightChecks.for_rules(spec.rules, spec.rule_config) if config.stop_doomed else None
    started = time.monotonic()
    with contextlib.ExitStack() as unwatch, StageProgress("generate", todo, unit="prompts") as progress:
        unwatch.callback(setattr, engine, "watch", None)  # a shared engine serves the next source unwatched

        def prompt_done(tally: LoopTally) -> None:
            extra = {"samples": str(tally.samples_written), "tok_s": elapsed_rate(tally.tokens, started)}
            if (estimate := forecast.estimate()) is not None:
                extra["forecast"] = f"{estimate['completion_tokens']:,} tok"
            if config.target is not None:
                extra["reached"] = str(tally.prompts_reaching_target)
            progress.advance(1, **extra)

        window = default_window(engine, config.n, config.chunk_prompts, config.shard_rows, config.target is not None)
        if pool is not None:
            with pool:
                loop = SampleLoop(engine, sampling, window, config.target, write, pool, task_of, prompt_done, settle_of,
                                  budget=_budget_left(config, outdir))  # fmt: skip
                tally = loop.run(pending)
        else:
            budget = _budget_left(config, outdir)
            tally = SampleLoop(engine, sampling, window, None, write, on_prompt=prompt_done, budget=budget).run(pending)
    writer.close()
    tally.forecast = forecast
    if config.forecast:
        raise Forecasted(f"{forecast.line()}; the same command without --forecast goes on from these prompts")
    return tally


def _budget_left(config: GenerateConfig, outdir: OutputDir) -> int | None:
    """What `--budget-tokens` leaves for this invocation: a resumed run has spent what its shards hold."""
    if config.budget_tokens is None:
        return None
    return max(0, config.budget_tokens - shard_counts(outdir)[1])


def _voting(config: GenerateConfig):
    """With `--gold majority`, prompts without a gold are sampled until their samples agree (checks/gold_votes.py)."""
    if config.gold != "majority":
        return None
    from datafactory.checks.gold_votes import MathEquality, PrefixVote
    from datafactory.verifiers.math import normalise_gold

    vote = PrefixVote(config.gold_options, MathEquality(config.options_for("math")).same, config.target, config.n)
    return lambda prompt: vote if normalise_gold(prompt.row.get(config.gold_field)) is None else None


def start_engine(config: GenerateConfig, executor: Executor, log: Path | None = None) -> Engine:
    """The configured engine, or `--replicas` of it on Ray (`--executor ray`), saying what it starts and when it
    is ready (its own output goes to `log` when given)."""
    where = f" (its output: {log})" if log else ""
    say(f"starting {config.engine} for {config.model}{where} ...")
    started = time.monotonic()
    checkers = config.workers if config.target is not None else 0
    engine = executor.inference_engine(config.engine, config.engine_settings(), config.seed, config.replicas, checkers)
    if stop_requested():  # a signal during start-up that the engine's own code swallowed
        engine.close()
        check_stop()
    say(f"{config.engine} ready on {engine.describe()} in {time.monotonic() - started:.0f} s")
    return engine


@contextmanager
def shared_engine(configs: list[GenerateConfig], out: Path, verbose: bool, executor: Executor) -> Iterator[dict]:
    """One engine for every source of a recipe that still samples (they share the model); its own output goes
    to OUT/.datafactory/engine.log for a local engine."""
    first = configs[0]
    with engine_output(out if first.engine in LOCAL_ENGINES else None, verbose) as log:
        engine = start_engine(first, executor, log)
        try:
            yield {"engine": engine}
        finally:
            engine.close()


def summary(counts: dict, folder) -> str:
    return f"{counts['prompts']} prompts -> {counts['rows_out']} samples"


@dataclass
class GeneratePlan(Plan):
    scan: PromptScan  # every prompt row, validated, and the pass-through columns' types


def check_generate(config: GenerateConfig) -> GeneratePlan:
    """Everything that can fail before an engine starts: inputs, every row, the engine and model names."""
    files = expand_inputs(config.inputs)
    engine_class(config.engine).check_options(config.engine_settings().extra)  # unknown engine or option: now
    scan = scan_prompts(files, config)
    if config.target is not None and verifier_class(config.worker_verifier).needs_gold and config.gold != "majority":
        columns = {f.name for f in scan.passthrough.fields()}
        if config.gold_field not in columns:
            raise UsageError(
                f"--gold-field {config.gold_field}: no such column in the prompts ({', '.join(sorted(columns)) or 'none'})"
                f"; --verifier {config.worker_verifier} needs the gold answer to check samples"
            )
    return GeneratePlan(files, scan)


def sample(
    config: GenerateConfig, plan: GeneratePlan, outdir: OutputDir, executor: Executor, engine: Engine | None = None
) -> Result:
    """The stage's work: sample the prompts not yet done. A started `engine` may be passed in (and is then left
    open); otherwise one is started once the folder is ready, and only if a prompt still needs samples."""
    files, scan = plan.inputs, plan.scan
    done = set() if config.overwrite else finished_prompts(outdir, config.n, config.target is not None)
    todo = scan.prompts - len(done)
    tally = LoopTally()
    owned = engine is None and todo > 0
    noisy = owned and config.engine in LOCAL_ENGINES  # a server's client prints nothing of its own
    with engine_output(config.out if noisy else None, config.verbose) as log:
        if owned:
            engine = start_engine(config, executor, log)
        if todo > 0:
            try:
                tally = _sample_all(config, files, scan, done, todo, engine, outdir, executor)
            finally:
                if owned:
                    engine.close()
    per_prompt, total_tokens, aborted = shard_counts(outdir)  # over every shard: a resumed run counts earlier ones
    counts = {
        "rows_in": scan.rows,
        "prompts": scan.prompts,
        "duplicate_prompts_skipped": scan.duplicates,
        "prompts_already_done": len(done),
        "samples_written_now": tally.samples_written,
        "completion_tokens_now": tally.tokens,
        "rows_out": sum(per_prompt.values()),
        "completion_tokens": total_tokens,
        "samples_per_prompt": {str(k): v for k, v in sorted(Counter(per_prompt.values()).items())},
        "sample_budget": scan.prompts * config.n,
        "stopped_in_flight": dict(aborted.most_common()),
    }
    if config.budget_tokens is not None:  # how the budget went
        counts["budget"] = {
            "tokens": config.budget_tokens,
            "spent": total_tokens,
            "prompts_cut_short": tally.prompts_cut_short,
            "prompts_not_started": scan.prompts - len(per_prompt),
        }
    if tally.forecast is not None and tally.forecast.at_slice is not None:  # the estimate early on, and the outcome
        counts["forecast"] = {**tally.forecast.at_slice, "actual_completion_tokens": tally.tokens}
    if config.target is not None:
        counts["adaptive_now"] = {
            "target": config.target,
            "prompts_reaching_target": tally.prompts_reaching_target,
            "passing_samples": tally.passes,
            "samples_discarded": tally.samples_discarded,
            "tokens_discarded": tally.tokens_discarded,
            "tokens_per_passing_sample": round(tally.tokens / tally.passes, 1) if tally.passes else None,
            "tokens_by_verdict": dict(tally.tokens_by_verdict.most_common()),
        }
        if config.gold == "majority":  # of them, prompts reaching the target are those whose vote was decided
            counts["adaptive_now"]["prompts_voted"] = tally.prompts_voted
    return Result(counts, {"passthrough": scan.passthrough.to_json()})
