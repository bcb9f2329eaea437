"""The dedupe stage: each row is kept, or removed with its reason and what it matched; the first occurrence wins.

Two passes in input order. The first decides: contaminated (benchmark n-gram), else exact_duplicate, else the row
joins the near-duplicate finder, whose clusters are resolved at the end of the pass. The second writes survivors
and removed rows. The indexes hold hashes and signatures only, so memory grows with rows, not with text. A
stopped run starts over (`restarts` in stages.py); the shards of a finished run are byte-identical for the same
input.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from datafactory.dedupe.decontam import BenchmarkIndex
from datafactory.dedupe.minhash import ExactIndex, NearDuplicateFinder, candidate_bands
from datafactory.dedupe.text import ON_CHOICES, normalise, row_id, text_of, words
from datafactory.errors import OptionError
from datafactory.io.outdir import OutputDir
from datafactory.io.readers import read_batches, read_chunks
from datafactory.io.schema import stored_row_schema, unified_schema
from datafactory.io.writer import ShardWriter, conform
from datafactory.options import cpu_count, option
from datafactory.progress import StageProgress
from datafactory.stages import Executor, Plan, ReadsStages, Result

TEXT_COLUMNS = [
    "prompt_id",
    "sample_index",
    "messages",
    "conversations",
    "completion",
    "response",
    "prompt",
    "problem",
    "question",
    "instruction",
    "input",  # Alpaca: part of the prompt (shapes.prompt_text)
]
REMOVED_FIELDS = [
    pa.field("dedupe_reason", pa.string()),
    pa.field("dedupe_match", pa.string()),
    pa.field("dedupe_similarity", pa.float64()),
    pa.field("dedupe_ngram", pa.string()),
]


@dataclass
class DedupeConfig(ReadsStages):
    inputs: list[str] = option(
        help="Rows to deduplicate (folders, files, globs or URLs), in priority order.", panel="Input", argument=True
    )
    out: str = option(
        help="Output folder or s3:// URL: survivors, and .removed/.", panel="Output", flags=("-o", "--out")
    )
    on: str = option(
        "prompt",
        help="Compare the prompt, the completion or the whole messages.",
        panel="Duplicates",
        choices=ON_CHOICES,
    )
    exact: bool = option(True, help="Remove exact duplicates (NFKC, case, whitespace).", panel="Duplicates")
    near: bool = option(True, help="Remove near-duplicates (MinHash LSH).", panel="Duplicates")
    threshold: float = option(
        0.8,
        help="Jaccard similarity of word-shingle sets at or above which rows are near-duplicates.",
        panel="Duplicates",
    )
    num_perm: int = option(128, help="MinHash permutations.", panel="Duplicates")
    shingle: int = option(
        3,
        help="Words per shingle (3 catches a one-word edit in a 40-word text at 0.8; 5 does not).",
        panel="Duplicates",
    )
    decontaminate: list[str] = option(
        factory=list,
        help="Benchmark file or folder; rows sharing a word n-gram with it are removed (repeatable).",
        panel="Decontamination",
    )
    decontaminate_field: str | None = option(
        None, help="Benchmark text field (default: first of problem, question, prompt).", panel="Decontamination"
    )
    ngram: int = option(8, help="Words per n-gram for decontamination.", panel="Decontamination")
    workers: int = option(
        factory=cpu_count,
        help="Processes computing MinHash signatures.",
        panel="Scale",
        shown_default="the CPU count",
        output=False,
    )
    shard_rows: int = option(10_000, help="Rows per output shard.", panel="Output")

    def check_resources(self) -> None:
        if self.decontaminate:
            from datafactory.errors import about
            from datafactory.io.readers import expand_inputs

            with about("decontaminate"):
                expand_inputs(self.decontaminate)

    def validate(self) -> None:
        self.check_stage_options()
        if not 0 < self.threshold <= 1:
            raise OptionError("threshold", "--threshold must be in (0, 1]")
        if self.num_perm < 16:
            raise OptionError("num_perm", "--num-perm must be at least 16")
        for name in ("shingle", "ngram", "shard_rows", "workers"):
            if getattr(self, name) < 1:
                raise OptionError(name, f"--{name.replace('_', '-')} must be at least 1")


OWN_COLUMNS = {f.name for f in REMOVED_FIELDS}


def _carried(name: str) -> str:
    """An input column named like one dedupe writes is carried as `input_<name>` (a .removed/ folder read back)."""
    return f"input_{name}" if name in OWN_COLUMNS else name


def _schema(path) -> pa.Schema:
    return pa.schema([f.with_name(_carried(f.name)) for f in stored_row_schema(path)])


@dataclass
class DedupePlan(Plan):
    schema: pa.Schema  # the inputs' columns, merged
    benchmark: BenchmarkIndex | None  # the n-grams of --decontaminate, read before OUT is touched

    def recorded_inputs(self) -> list[Path]:
        return self.inputs + (self.benchmark.sources if self.benchmark else [])


def check_dedupe(config: DedupeConfig) -> DedupePlan:
    files = config.input_files()
    schema = unified_schema([_schema(p) for p in files], files)
    benchmark = (
        BenchmarkIndex(config.decontaminate, config.ngram, config.decontaminate_field) if config.decontaminate else None
    )
    return DedupePlan(files, schema, benchmark)


def remove_duplicates(config: DedupeConfig, plan: DedupePlan, outdir: OutputDir, executor: Executor) -> Result:
    """The stage's work: decide every row (first pass), then write the kept and the removed (second)."""
    files, schema, benchmark = plan.inputs, plan.schema, plan.benchmark
    removals, rows_in = find_removals(files, config, benchmark, executor.tasks())
    kept = ShardWriter(outdir.path, schema, config.shard_rows)
    removed = ShardWriter(outdir.path / ".removed", pa.schema(list(schema) + REMOVED_FIELDS), config.shard_rows)
    per_input: dict[str, Counter] = {}
    row = 0
    with StageProgress("dedupe: write", rows_in, unit="rows") as progress:
        for path in files:
            counts = per_input.setdefault(str(path), Counter())
            for table in _tables(path, schema):
                flags = [removals.get(row + offset) for offset in range(table.num_rows)]
                row += table.num_rows
                gone = [offset for offset, removal in enumerate(flags) if removal is not None]
                kept.add_table(table.filter(pa.array([f is None for f in flags])))
                if gone:
                    taken = table.take(pa.array(gone, pa.int64()))
                    for spec in REMOVED_FIELDS:
                        taken = taken.append_column(spec, pa.array([flags[i][spec.name] for i in gone], spec.type))
                    removed.add_table(taken)
                for offset in gone:
                    counts[flags[offset]["dedupe_reason"]] += 1
                counts["rows_in"] += table.num_rows
                counts["kept"] += table.num_rows - len(gone)
                progress.advance(table.num_rows)
    kept.close(at_least_one=True)
    removed.close()
    totals = sum(per_input.values(), Counter())
    counts = {
        "rows_in": totals["rows_in"],
        "rows_kept": totals["kept"],
        "removed": {r: totals[r] for r in ("contaminated", "exact_duplicate", "near_duplicate")},
        "per_input": {name: dict(c) for name, c in per_input.items()},
        "benchmark_items": benchmark.items if benchmark else 0,
    }
    return Result(counts, {"lsh_bands": candidate_bands(config.threshold, config.num_perm) if config.near else None})


def find_removals(
    files: list, config: DedupeConfig, benchmark: BenchmarkIndex | None, executor=None
) -> tuple[dict[int, dict], int]:
    """First pass: {row number across all inputs: removal columns}. Contamination and exact duplicates are decided
    row by row; rows that survive both are collected for near-duplicate resolution at the end. With
    `--executor ray`, signatures, contamination checks and per-band LSH grouping run as Ray tasks (the benchmark
    n-grams are put in the object store once and shared by every task); exact hashes and clusters stay on the
    driver (`executor`: Ray tasks, or None to run here)."""
    exact = ExactIndex() if config.exact else None
    near = None
    if config.near:
        near = NearDuplicateFinder(config.threshold, config.num_perm, config.shingle, config.workers, executor)
    removals: dict[int, dict] = {}
    row = 0
    with StageProgress("dedupe: index", None, unit="rows") as progress:
        for path, chunk, texts, hits in _chunks_with_hits(files, config, benchmark, executor):
            for record, text, hit in zip(chunk.rows, texts, hits, strict=True):
                rid = row_id(record, path, record["__row__"])
                removal = _contamination_or_copy(text, hit, rid, exact)
                if removal is not None:
                    removals[row] = removal
                elif near is not None:
                    near.add(row, text, rid)
                row += 1
            progress.advance(len(chunk.rows))
    if near is not None:
        for duplicate, (match, similarity) in near.resolve(lambda rows: texts_of_rows(files, config, rows)).items():
            removals[duplicate] = {
                "dedupe_reason": "near_duplicate",
                "dedupe_match": match,
                "dedupe_similarity": similarity,
                "dedupe_ngram": None,
            }
    return removals, row


def texts_of_rows(files: list, config: DedupeConfig, wanted: set[int]) -> dict[int, str]:
    """{row number: compared text} for the wanted rows, read again in the first pass's order (Parquet and HF
    inputs decode only those rows into Python)."""
    found: dict[int, str] = {}
    row = 0
    for path in files:
        batches = read_batches(path, chunk_rows=5000, columns=TEXT_COLUMNS)
        if batches is None:
            for chunk in read_chunks(path, chunk_rows=5000, columns=TEXT_COLUMNS):
                for offset, record in enumerate(chunk.rows):
                    if row + offset in wanted:
                        found[row + offset] = text_of(record, config.on, path, record["__row__"])
                row += len(chunk.rows)
            continue
        first_row = row
        for batch in batches:
            offsets = [offset for offset in range(batch.num_rows) if row + offset in wanted]
            for offset, record in zip(offsets, batch.take(pa.array(offsets, pa.int64())).to_pylist(), strict=True):
                found[row + offset] = text_of(record, config.on, path, row + offset - first_row + 1)
            row += batch.num_rows
    return found


def _chunks_with_hits(files: list, config: DedupeConfig, benchmark, executor):
    """(path, chunk, texts, contamination hits) in input order; with an executor, the checks of the next few
    chunks run ahead in parallel."""
    shared = executor.put(benchmark) if executor is not None and benchmark else None
    ahead: deque = deque()
    for path in files:
        for chunk in read_chunks(path, chunk_rows=5000, columns=TEXT_COLUMNS):
            texts = [text_of(record, config.on, path, record["__row__"]) for record in chunk.rows]
            if benchmark is None:
                hits = [None] * len(texts)
            elif shared is not None:
                hits = executor.submit(contamination_hits, shared, texts)
            else:
                hits = contamination_hits(benchmark, texts)
            ahead.append((path, chunk, texts, hits))
            if len(ahead) > 2 * config.workers:
                yield _resolved(ahead.popleft())
    while ahead:
        yield _resolved(ahead.popleft())


def _resolved(item: tuple) -> tuple:
    path, chunk, texts, hits = item
    return path, chunk, texts, hits.result() if hasattr(hits, "result") else hits


def contamination_hits(benchmark: BenchmarkIndex, texts: list[str]) -> list:
    """The benchmark item each text shares an n-gram with (or None), for a batch of texts."""
    return [benchmark.check(words(text)) or None for text in texts]


def _tables(path, schema: pa.Schema):
    """The input as Arrow tables in the unified schema: Parquet batches directly, other formats through rows."""
    if path.suffix == ".parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=5000):
            table = pa.Table.from_batches([batch])
            yield conform(table.rename_columns([_carried(n) for n in table.column_names]), schema)
    else:
        for chunk in read_chunks(path, chunk_rows=5000):
            yield pa.Table.from_pylist([{_carried(k): v for k, v in row.items()} for row in chunk.rows], schema=schema)


def _contamination_or_copy(text: str, hit, rid: str, exact) -> dict | None:
    if hit:
        return {
            "dedupe_reason": "contaminated",
            "dedupe_match": hit.benchmark_id,
            "dedupe_similarity": None,
            "dedupe_ngram": hit.ngram,
        }
    if exact:
        earlier = exact.check(normalise(text), rid)
        if earlier is not None:
            return {
                "dedupe_reason": "exact_duplicate",
                "dedupe_match": earlier,
                "dedupe_similarity": 1.0,
                "dedupe_ngram": None,
            }
    return None
