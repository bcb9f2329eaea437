"""The mix stage: reasoning and general sources at an exact ratio, shuffled with a seed, as SFT shards.

Three passes with bounded memory: (1) every source row is converted to an SFT row and validated into
`OUT/_work/source-N.parquet` (bad rows fail the run, or go to bad_rows.jsonl with --on-bad-row skip, before
anything is sampled, so counts stay exact); (2) row indices are drawn per source and every drawn row gets a
random output position, and rows are routed, with Arrow `take`, into position buckets; (3) each bucket is
sorted by position and written as shards. Same inputs and seed: byte-identical shards.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datafactory.errors import BadInput, UsageError
from datafactory.io.outdir import OutputDir
from datafactory.io.readers import read_chunks
from datafactory.io.writer import atomic_write_bytes
from datafactory.mix.card import write_card, write_llamafactory_info
from datafactory.mix.plan import Source, parse_ratio, parse_size, parse_source, plan_counts
from datafactory.mix.rows import SFT_SCHEMA, SHAREGPT_SCHEMA, sft_row
from datafactory.mix.shards import SizedShardWriter
from datafactory.progress import StageProgress

BUCKET_ROWS = 50_000


@dataclass
class MixConfig:
    reasoning: list[str]
    general: list[str]
    out: str
    ratio: str = "3:1"
    total: int | None = None
    seed: int = 0
    shard_rows: int | None = None
    shard_bytes: str | None = None
    replacement: bool = False
    format: str = "messages"
    on_bad_row: str = "error"
    name: str = "datafactory_sft"
    overwrite: bool = False

    def validate(self) -> None:
        if self.format not in ("messages", "sharegpt"):
            raise UsageError("--format must be messages or sharegpt")
        if self.on_bad_row not in ("error", "skip"):
            raise UsageError("--on-bad-row must be error or skip")
        if self.shard_rows is not None and self.shard_bytes is not None:
            raise UsageError("give --shard-rows or --shard-bytes, not both")
        if self.shard_rows is not None and self.shard_rows < 1:
            raise UsageError("--shard-rows must be at least 1")
        if self.total is not None and self.total < 1:
            raise UsageError("--total must be at least 1")
        if not self.reasoning and not self.general:
            raise UsageError("give at least one --reasoning or --general source")
        parse_ratio(self.ratio)
        if self.shard_bytes is not None:
            parse_size(self.shard_bytes)


def spool_source(source: Source, target: Path, sharegpt: bool, bad_rows: list[str]) -> int:
    """Convert and validate every row of a source into `target`; return the number of good rows."""
    schema = SHAREGPT_SCHEMA if sharegpt else SFT_SCHEMA
    good = 0
    with pq.ParquetWriter(target, schema, compression="zstd") as writer:
        for path in source.files:
            for chunk in read_chunks(path, chunk_rows=5000):
                rows = []
                for row in chunk.rows:
                    try:
                        rows.append(sft_row(row, source.category, source.name, path, row["__row__"], sharegpt))
                    except BadInput as err:
                        if source.on_bad_row != "skip":
                            raise
                        record = {k: v for k, v in row.items() if k != "__row__"}
                        bad_rows.append(json.dumps({"error": str(err), "row": record}, ensure_ascii=False, default=str))
                if rows:
                    writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                    good += len(rows)
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


def route(spool: Path, indices: np.ndarray, positions: np.ndarray, writers: list) -> None:
    """Send the drawn rows of one source (sorted `indices`, their output `positions`) to their buckets, reading
    the source batch by batch."""
    start = cursor = 0
    for batch in pq.ParquetFile(spool).iter_batches(batch_size=20_000):
        end = start + batch.num_rows
        stop = int(np.searchsorted(indices, end, side="left"))
        if stop > cursor:
            table = pa.Table.from_batches([batch]).take(pa.array(indices[cursor:stop] - start))
            mine = positions[cursor:stop]
            table = table.append_column("_position", pa.array(mine, pa.int64()))
            bucket_of = pa.array(mine // BUCKET_ROWS)
            for bucket in np.unique(mine // BUCKET_ROWS):
                writers[int(bucket)].write_table(table.filter(pc.equal(bucket_of, int(bucket))))
        cursor, start = stop, end


def run_mix(config: MixConfig) -> dict:
    config.validate()
    sources = [parse_source(s, "reasoning") for s in config.reasoning] + [
        parse_source(s, "general") for s in config.general
    ]
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise UsageError(f"two sources share a name ({', '.join(names)}); rename a folder or use PATH:WEIGHT@NAME")
    inputs = [p for s in sources for p in s.files]
    outdir = OutputDir(config.out, "mix")
    arguments = asdict(config)
    outdir.check(arguments, config.overwrite, inputs, resume_keys=[])
    created = not outdir.path.exists()
    outdir.prepare(arguments, restart=True)  # a stopped mix starts over; it is fast and deterministic
    work = outdir.path / "_work"
    work.mkdir()
    try:
        return _mix(config, outdir, sources, work, arguments, inputs)
    except Exception:
        shutil.rmtree(work, ignore_errors=True)
        if created:  # bad input or not enough rows: leave nothing behind
            shutil.rmtree(outdir.path, ignore_errors=True)
        raise


def _mix(
    config: MixConfig, outdir: OutputDir, sources: list[Source], work: Path, arguments: dict, inputs: list[Path]
) -> dict:
    reasoning_share, general_share = parse_ratio(config.ratio)
    max_bytes = parse_size(config.shard_bytes) if config.shard_bytes else None
    sharegpt = config.format == "sharegpt"
    bad_rows: list[str] = []
    with StageProgress("mix: convert", len(sources), unit="sources") as progress:
        for index, source in enumerate(sources):
            source.on_bad_row = config.on_bad_row
            source.rows = spool_source(source, work / f"source-{index:03d}.parquet", sharegpt, bad_rows)
            progress.advance(1)
    if bad_rows:
        atomic_write_bytes(outdir.path / "bad_rows.jsonl", "".join(line + "\n" for line in bad_rows).encode())
    category_counts = plan_counts(sources, reasoning_share, general_share, config.total, config.replacement)

    rng = np.random.default_rng(config.seed)
    picks = [draw(s, rng, config.replacement) for s in sources]
    total = sum(len(p) for p in picks)
    positions = rng.permutation(total)
    buckets = max(1, math.ceil(total / BUCKET_ROWS))
    schema = SHAREGPT_SCHEMA if sharegpt else SFT_SCHEMA
    position_schema = schema.append(pa.field("_position", pa.int64()))
    writers = [
        pq.ParquetWriter(work / f"bucket-{b:05d}.parquet", position_schema, compression="zstd") for b in range(buckets)
    ]
    offset = 0
    for index, indices in enumerate(picks):
        route(work / f"source-{index:03d}.parquet", indices, positions[offset : offset + len(indices)], writers)
        offset += len(indices)
    for writer in writers:
        writer.close()

    shard_writer = SizedShardWriter(
        outdir.path, schema, rows=config.shard_rows or (None if max_bytes else 10_000), max_bytes=max_bytes
    )
    with StageProgress("mix: write", total, unit="rows") as progress:
        for bucket in range(buckets):
            table = pq.read_table(work / f"bucket-{bucket:05d}.parquet")
            table = table.take(pc.sort_indices(table, [("_position", "ascending")])).drop_columns(["_position"])
            shard_writer.add(table)
            progress.advance(table.num_rows)
    shard_writer.close()
    shutil.rmtree(work)

    per_source = {
        s.name: {"category": s.category, "available": s.rows, "taken": s.quota, "weight": s.weight} for s in sources
    }
    counts = {
        "rows_out": total,
        "per_category": category_counts,
        "per_source": per_source,
        "bad_rows_skipped": len(bad_rows),
    }
    write_card(outdir.path, config, counts, sharegpt)
    write_llamafactory_info(outdir.path, config.name, [p.name for p in outdir.shards()], sharegpt)
    return outdir.finish(arguments, inputs, counts)
