"""The dedupe stage: one pass in input order; each row is kept, or removed with its reason and what it matched.

Order of checks per row: contaminated (benchmark n-gram), exact_duplicate, near_duplicate. The first occurrence
is kept. The indexes hold hashes and signatures only, so memory grows with kept rows, not with text.
A stopped run starts over (its indexes must see every earlier row); the shards of a finished run are
byte-identical for the same input.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from datafactory.dedupe.decontam import BenchmarkIndex
from datafactory.dedupe.minhash import ExactIndex, NearDuplicateIndex
from datafactory.dedupe.text import ON_CHOICES, normalise, row_id, text_of, words
from datafactory.errors import UsageError
from datafactory.io.outdir import OutputDir
from datafactory.io.readers import expand_inputs, input_schema, read_chunks
from datafactory.io.writer import ShardWriter
from datafactory.progress import StageProgress
from datafactory.schema import INTERNAL_COLUMNS, PassthroughTypes

REMOVED_FIELDS = [
    pa.field("dedupe_reason", pa.string()),
    pa.field("dedupe_match", pa.string()),
    pa.field("dedupe_similarity", pa.float64()),
    pa.field("dedupe_ngram", pa.string()),
]


@dataclass
class DedupeConfig:
    inputs: list[str]
    out: str
    on: str = "prompt"
    exact: bool = True
    near: bool = True
    threshold: float = 0.8
    num_perm: int = 128
    shingle: int = 5
    decontaminate: list[str] = field(default_factory=list)
    decontaminate_field: str | None = None
    ngram: int = 8
    shard_rows: int = 10_000
    overwrite: bool = False

    def validate(self) -> None:
        if self.on not in ON_CHOICES:
            raise UsageError(f"--on {self.on!r}: choose one of {', '.join(ON_CHOICES)}")
        if not 0 < self.threshold <= 1:
            raise UsageError("--threshold must be in (0, 1]")
        if self.num_perm < 16 or self.shingle < 1 or self.ngram < 1 or self.shard_rows < 1:
            raise UsageError("--num-perm must be at least 16; --shingle, --ngram and --shard-rows at least 1")


def _schema(path) -> pa.Schema:
    schema = input_schema(path)
    if schema is None:
        types = PassthroughTypes(prefix_reserved=False)
        for chunk in read_chunks(path):
            types.observe(chunk.rows)
        schema = pa.schema(types.fields())
    return pa.schema(
        [f for f in schema if f.name not in INTERNAL_COLUMNS and f.name not in {x.name for x in REMOVED_FIELDS}]
    )


def run_dedupe(config: DedupeConfig) -> dict:
    config.validate()
    files = expand_inputs(config.inputs)
    try:
        schema = pa.unify_schemas([_schema(p) for p in files], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise UsageError(f"the inputs' columns have incompatible types: {err}") from None
    benchmark = (
        BenchmarkIndex(config.decontaminate, config.ngram, config.decontaminate_field) if config.decontaminate else None
    )
    exact = ExactIndex() if config.exact else None
    near = NearDuplicateIndex(config.threshold, config.num_perm, config.shingle) if config.near else None

    outdir = OutputDir(config.out, "dedupe")
    arguments = {**asdict(config), "inputs": [str(p) for p in config.inputs]}
    outdir.check(arguments, config.overwrite, files, resume_keys=[])
    outdir.overwrite = True  # a stopped dedupe starts over: see the module docstring
    outdir.prepare(arguments)
    kept = ShardWriter(outdir.path, schema, config.shard_rows)
    removed = ShardWriter(outdir.path / "removed", pa.schema(list(schema) + REMOVED_FIELDS), config.shard_rows)
    per_input: dict[str, Counter] = {}
    total = sum(pq.ParquetFile(p).metadata.num_rows if p.suffix == ".parquet" else 0 for p in files) or None
    with StageProgress("dedupe", total, unit="rows") as progress:
        for path in files:
            counts = per_input.setdefault(str(path), Counter())
            for chunk in read_chunks(path, chunk_rows=5000):
                kept_rows, removed_rows = [], []
                for row in chunk.rows:
                    number = row["__row__"]
                    text = text_of(row, config.on, path, number)
                    verdict = _check(text, row_id(row, path, number), benchmark, exact, near)
                    counts["rows_in"] += 1
                    if verdict is None:
                        kept_rows.append(row)
                        counts["kept"] += 1
                    else:
                        removed_rows.append({**row, **verdict})
                        counts[verdict["dedupe_reason"]] += 1
                kept.add_table(_table(kept_rows, kept.schema))
                removed.add_table(_table(removed_rows, removed.schema))
                progress.advance(len(chunk.rows))
    kept.close()
    removed.close()
    totals = sum(per_input.values(), Counter())
    counts = {
        "rows_in": totals["rows_in"],
        "rows_kept": totals["kept"],
        "removed": {r: totals[r] for r in ("contaminated", "exact_duplicate", "near_duplicate")},
        "per_input": {name: dict(c) for name, c in per_input.items()},
        "benchmark_items": benchmark.items if benchmark else 0,
    }
    extra = {"lsh_bands": near.bands if near else None}
    return outdir.finish(arguments, files + (benchmark.sources if benchmark else []), counts, sub="removed", **extra)


def _table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def _check(text: str, rid: str, benchmark, exact, near) -> dict | None:
    tokens = words(text) if (benchmark or near) else []
    if benchmark:
        hit = benchmark.check(tokens)
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
    if near:
        match = near.check(tokens, rid)
        if match:
            return {
                "dedupe_reason": "near_duplicate",
                "dedupe_match": match[0],
                "dedupe_similarity": match[1],
                "dedupe_ngram": None,
            }
    return None
