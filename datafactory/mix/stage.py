"""The mix stage: reasoning and general sources at an exact ratio, shuffled with a seed, as SFT shards.

Two passes with bounded memory: (1) every source row is converted to an SFT row and validated (column-wise
with Arrow where the shape allows, see arrow_rows.py) into the spool (spool.py: memory up to --memory, then
`OUT/.work/spill.arrow`); bad rows fail the run, or go to bad_rows.jsonl with --on-bad-row skip, before anything
is sampled, so counts stay exact; (2) row indices are drawn per source, every drawn row gets a random output
position, and the rows are gathered from the spool window by window in output order and written as shards.
Same inputs and seed: byte-identical shards, whatever --memory is.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from datafactory.errors import BadInput, OptionError, UsageError, about
from datafactory.io.outdir import OutputDir, input_digest
from datafactory.io.readers import is_stage_shard, read_batches, read_chunks
from datafactory.io.writer import atomic_write_bytes
from datafactory.mix.arrow_rows import COLUMNS, convert
from datafactory.mix.card import write_card, write_llamafactory_info
from datafactory.mix.plan import Source, distinct_names, parse_ratio, parse_size, parse_source, plan_counts
from datafactory.mix.rows import SFT_SCHEMA, SHAREGPT_SCHEMA, sft_row
from datafactory.mix.shards import PlannedShardWriter, shard_bounds, window_rows
from datafactory.mix.spool import Spool, default_budget
from datafactory.options import option
from datafactory.progress import StageProgress
from datafactory.stages import Executor, Plan, ReadsStages, Result

BATCH_BYTES = 64 << 20  # input rows converted at a time, at most about this much
THREADS = max(1, os.cpu_count() or 1)  # conversions in flight: one per core


@dataclass
class MixConfig(ReadsStages):
    out: str = option(
        help="Output folder or URL, a dataset repository: data/ shards, README.md card, dataset_info.json.",
        panel="Output",
        flags=("-o", "--out"),
    )
    reasoning: list[str] = option(
        factory=list,
        help="Reasoning source: PATH[:WEIGHT][@NAME] (repeatable).",
        panel="Input",
        metavar="PATH[:W][@NAME]",
    )
    general: list[str] = option(
        factory=list,
        help="General source: PATH[:WEIGHT][@NAME] (repeatable).",
        panel="Input",
        metavar="PATH[:W][@NAME]",
    )
    ratio: str = option("3:1", help="REASONING:GENERAL rows, e.g. 3:1.", panel="Mix")
    total: int | None = option(
        None, help="Rows in all (default: the most the sources allow at the ratio).", panel="Mix"
    )
    seed: int = option(0, help="Seed of the sampling and the shuffle.", panel="Mix")
    shard_rows: int | None = option(None, help="Rows per shard (default 10,000).", panel="Output")
    shard_bytes: str | None = option(None, help="Largest shard size instead, e.g. 256MB.", panel="Output")
    replacement: bool = option(False, help="Upsample a category that has too few rows.", panel="Mix")
    format: str = option(
        "messages",
        help="messages (role/content) or sharegpt (conversations with from/value).",
        panel="Output",
        choices=("messages", "sharegpt"),
    )
    on_bad_row: str = option(
        "error",
        help="error (exit 2) or skip (quarantine to OUT/bad_rows.jsonl).",
        panel="Input",
        choices=("error", "skip"),
    )
    name: str = option("datafactory_sft", help="Dataset name in the card and dataset_info.json.", panel="Output")
    memory: str | None = option(
        None,
        help="Converted rows kept in RAM, e.g. 8GB; the rest spill to OUT/.work (default: 1/4 of RAM).",
        panel="Scale",
        output=False,
    )

    def validate(self) -> None:
        self.check_stage_options()
        with about("shard_bytes"):
            shard_bytes = parse_size(self.shard_bytes, "--shard-bytes") if self.shard_bytes is not None else None
        if shard_bytes is not None and shard_bytes <= 0:
            raise OptionError(
                "shard_bytes", f"--shard-bytes {self.shard_bytes!r}: a shard needs a size above 0, e.g. 256MB"
            )
        if self.shard_rows is not None and self.shard_bytes is not None:
            raise OptionError("shard_rows", "give --shard-rows or --shard-bytes, not both")
        if self.shard_rows is not None and self.shard_rows < 1:
            raise OptionError("shard_rows", "--shard-rows must be at least 1")
        if self.total is not None and self.total < 1:
            raise OptionError("total", "--total must be at least 1")
        if not self.reasoning and not self.general:
            raise OptionError("reasoning", "give at least one --reasoning or --general source")
        with about("ratio"):
            parse_ratio(self.ratio)
        if self.memory is not None:
            with about("memory"):
                parse_size(self.memory, "--memory")


def _row_path(records: list[dict], source: Source, path: Path, sharegpt: bool, bad_rows: list[str]) -> list[tuple]:
    """(index, SFT row) of the records that convert; a bad one raises, or is quarantined with --on-bad-row skip."""
    converted = []
    for index, record in enumerate(records):
        try:
            converted.append((index, sft_row(record, source.category, source.name, path, record["__row__"], sharegpt)))
        except BadInput as err:
            if source.on_bad_row != "skip":
                raise
            kept = {k: v for k, v in record.items() if k != "__row__"}
            bad_rows.append(json.dumps({"error": str(err), "row": kept}, ensure_ascii=False, default=str))
    return converted


def convert_file(path: Path, source: Source, sharegpt: bool, bad_rows: list[str], executor) -> Iterator[pa.Table]:
    """The SFT rows of one input file, batch by batch: column-wise where the shape allows (on `executor`), row by
    row otherwise."""
    schema = SHAREGPT_SCHEMA if sharegpt else SFT_SCHEMA
    batches = read_batches(path, chunk_rows=20_000, columns=list(COLUMNS), max_bytes=BATCH_BYTES)
    if batches is None:  # JSONL
        for chunk in read_chunks(path, chunk_rows=5000):
            rows = [row for _, row in _row_path(chunk.rows, source, path, sharegpt, bad_rows)]
            yield pa.Table.from_pylist(rows, schema=schema)
        return
    first = 1
    for table, result in _converted(batches, source, sharegpt, executor):
        fast, usable = result if result is not None else (None, np.zeros(table.num_rows, dtype=bool))
        if usable.all():
            yield fast
        else:
            slow_index = np.flatnonzero(~usable)
            records = table.take(pa.array(slow_index)).to_pylist()
            for index, record in zip(slow_index, records, strict=True):
                record["__row__"] = first + int(index)
            done = _row_path(records, source, path, sharegpt, bad_rows)
            slow = pa.Table.from_pylist([row for _, row in done], schema=schema)
            order = np.concatenate([np.flatnonzero(usable), slow_index[[i for i, _ in done]].astype(np.int64)])
            parts = [fast.filter(pa.array(usable)), slow] if fast is not None else [slow]
            yield pa.concat_tables(parts).take(pa.array(np.argsort(order, kind="stable")))
        first += table.num_rows
    if first == 1 and not is_stage_shard(path):
        raise BadInput("file has no rows", path)


def _converted(batches, source: Source, sharegpt: bool, executor):
    """(batch, column-wise conversion) in input order, converted on a thread per core (Arrow kernels release the
    GIL) or as Ray tasks (`--executor ray`); one batch per worker in flight, and one being read."""
    pending: deque = deque()
    for batch in (piece for whole in batches for piece in _slices(whole, BATCH_BYTES)):
        table = pa.Table.from_batches([batch])
        pending.append((table, executor.submit(convert, table, source.category, source.name, sharegpt)))
        if len(pending) > THREADS:
            table, future = pending.popleft()
            yield table, future.result()
    while pending:
        table, future = pending.popleft()
        yield table, future.result()


def _slices(batch: pa.RecordBatch, limit: int) -> Iterator[pa.RecordBatch]:
    """The batch in slices of about `limit` bytes (no copy): a batch of long traces would otherwise build string
    columns past Arrow's 2 GB per array while converting, and hold that much memory per thread."""
    if batch.nbytes <= limit:
        yield batch
        return
    step = max(1, batch.num_rows * limit // batch.nbytes)
    for start in range(0, batch.num_rows, step):
        yield batch.slice(start, step)


def spool_source(source: Source, spool: Spool, sharegpt: bool, bad_rows: list[str], executor) -> int:
    """Convert and validate every row of a source into the spool; return the number of good rows."""
    good = 0
    spool.new_source()
    for path in source.files:
        for table in convert_file(path, source, sharegpt, bad_rows, executor):
            if table.num_rows:
                spool.add(table)
                good += table.num_rows
    return good


def draw(source: Source, rng: np.random.Generator, replacement: bool) -> np.ndarray:
    """Indices of the rows taken from a source: whole copies when upsampling, the rest without replacement."""
    if source.quota <= source.rows:
        return np.sort(rng.choice(source.rows, source.quota, replace=False)).astype(np.int64)
    if not replacement:
        raise UsageError(f"source {source.name}: has {source.rows} rows, needs {source.quota}; pass --replacement")
    copies, rest = divmod(source.quota, source.rows)
    parts = [np.arange(source.rows)] * copies + [rng.choice(source.rows, rest, replace=False)]
    return np.sort(np.concatenate(parts)).astype(np.int64)


def recipe_sources(upstream: list[tuple[dict, Path]]) -> dict:
    """A recipe's sources as mix options: each source's folder, weight and name under its category."""
    specs: dict[str, list[str]] = {"reasoning": [], "general": []}
    for source, folder in upstream:
        weight = f":{source['weight']}" if source.get("weight") else ""
        specs[source["category"]].append(f"{folder}{weight}@{source['name']}")
    return specs


def summary(counts: dict, folder) -> str:
    return f"{counts['rows_out']} rows in {folder}"


@dataclass
class MixPlan(Plan):
    sources: list[Source]  # each with its files, weight and name


def check_mix(config: MixConfig) -> MixPlan:
    sources = [parse_source(s, "reasoning", config.allow_unfinished) for s in config.reasoning] + [
        parse_source(s, "general", config.allow_unfinished) for s in config.general
    ]
    distinct_names(sources)
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise UsageError(f"two sources share a name ({', '.join(names)}); rename a folder or use PATH:WEIGHT@NAME")
    return MixPlan([p for s in sources for p in s.files], sources)


def mix_sources(config: MixConfig, plan: MixPlan, outdir: OutputDir, executor: Executor) -> Result:
    """The stage's work. Bad input or too few rows fail it; the frame then removes what it wrote."""
    sources, inputs = plan.sources, plan.inputs
    sharegpt = config.format == "sharegpt"
    work = outdir.path / ".work"
    work.mkdir()
    # locally, one pool for every file: its threads (and their allocator heaps) are reused, not started per file
    tasks = executor.tasks(lambda: ThreadPoolExecutor(THREADS, thread_name_prefix="mix-convert"))
    schema = SHAREGPT_SCHEMA if sharegpt else SFT_SCHEMA
    budget = parse_size(config.memory, "--memory") if config.memory else default_budget()
    spool = Spool(work / "spill.arrow", schema, budget)
    with ThreadPoolExecutor(1, thread_name_prefix="mix-hash-inputs") as hasher:
        input_digests = hasher.submit(lambda: {path: input_digest(path) for path in inputs})
        try:
            counts, digests = _spool_and_write(config, outdir, sources, spool, sharegpt, tasks)
        finally:
            spool.close()
            tasks.shutdown()
        digests |= input_digests.result()
    shutil.rmtree(work)
    write_card(outdir.path, config, counts, sharegpt)
    write_llamafactory_info(outdir.path, config.name, sharegpt)
    return Result(counts, digests=digests)


def _spool_and_write(
    config: MixConfig, outdir: OutputDir, sources: list[Source], spool: Spool, sharegpt: bool, executor
) -> tuple[dict, dict[Path, str]]:
    """Convert every source into the spool, draw the rows, and write them as shuffled shards; return the counts
    and the shards' sha256."""
    reasoning_share, general_share = parse_ratio(config.ratio)
    max_bytes = parse_size(config.shard_bytes) if config.shard_bytes else None
    bad_rows: list[str] = []
    with StageProgress("mix: convert", len(sources), unit="sources") as progress:
        for source in sources:
            source.on_bad_row = config.on_bad_row
            source.rows = spool_source(source, spool, sharegpt, bad_rows, executor)
            progress.advance(1)
    if bad_rows:
        atomic_write_bytes(outdir.path / "bad_rows.jsonl", "".join(line + "\n" for line in bad_rows).encode())
    category_counts = plan_counts(sources, reasoning_share, general_share, config.total, config.replacement)

    rng = np.random.default_rng(config.seed)
    picks = [draw(s, rng, config.replacement) for s in sources]
    total = sum(len(p) for p in picks)
    positions = rng.permutation(total)
    spool.seal()
    batch_at, row_at = np.empty(total, np.int64), np.empty(total, np.int64)
    offset = 0
    for index, indices in enumerate(picks):
        mine = positions[offset : offset + len(indices)]
        batch_at[mine], row_at[mine] = spool.locate(index, indices)
        offset += len(indices)

    rows_per_shard = config.shard_rows or (None if max_bytes else 10_000)
    sizes = spool.row_sizes(batch_at, row_at) if max_bytes else None
    bounds = shard_bounds(total, rows_per_shard, max_bytes, sizes)
    fetch = lambda a, b: spool.gather(batch_at[a:b], row_at[a:b])  # noqa: E731
    writer = PlannedShardWriter(outdir.data_path, spool.schema, bounds, fetch, window_rows(spool.average_row_bytes()))
    with StageProgress("mix: write", total, unit="rows") as progress:
        writer.write(progress.advance)
    per_source = {
        s.name: {"category": s.category, "available": s.rows, "taken": s.quota, "weight": s.weight} for s in sources
    }
    counts = {
        "rows_out": total,
        "per_category": category_counts,
        "per_source": per_source,
        "bad_rows_skipped": len(bad_rows),
    }
    return counts, writer.digests
