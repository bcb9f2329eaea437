"""Atomic, rotating zstd Parquet shards: `part-00000.parquet`, `part-00001.parquet`, …

Why: a reader (or a resumed run) must never see half a shard, so each shard is written under a hidden temporary
name, flushed to disk and renamed in one step.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SHARD_PATTERN = "part-*.parquet"


def shard_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


_DIGESTS: dict[tuple, str] = {}  # (path, size, mtime_ns, inode) -> sha256, so a shard is hashed once per process


def sha256_file(path: Path) -> str:
    """The file's sha256; remembered while its size, mtime and inode stay the same (the writer hashes a shard
    when it writes it, the manifest asks again at the end)."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if key in _DIGESTS:
        return _DIGESTS[key]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if len(_DIGESTS) > 100_000:
        _DIGESTS.clear()
    _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


def fingerprint(path: Path) -> list[int]:
    """Size and modification time of an input or a published file (all its files, for a folder): cheap to take at every start, and
    enough to notice an input replaced between a stopped run and its resume."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    stats = [p.stat() for p in files]
    return [len(stats), sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary name and a rename, so readers see all or nothing."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_table_atomic(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd")
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` in `schema`: its columns in that order and type, a column it lacks as nulls (inputs of one stage
    need not all have every column)."""
    for spec in schema:
        if spec.name not in table.column_names:
            table = table.append_column(spec, pa.nulls(table.num_rows, spec.type))
    return table.select(schema.names).cast(schema)


@dataclass
class ShardInfo:
    name: str
    rows: int
    sha256: str


class ShardWriter:
    """Buffers rows and writes a shard once `shard_rows` are buffered.

    Rows arrive in groups (all samples of one prompt, say) and a group is never split across shards, so a
    resumed run can tell a finished group from a missing one by looking at whole shards only.
    """

    def __init__(self, directory: Path, schema: pa.Schema, shard_rows: int = 10_000, start_index: int = 0):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        self.shard_rows = max(1, shard_rows)
        self.next_index = start_index
        self.buffer: list[dict] = []
        self.tables: list[pa.Table] = []
        self.written: list[ShardInfo] = []

    def add_group(self, rows: list[dict]) -> None:
        self.buffer.extend(rows)
        if len(self.buffer) >= self.shard_rows:
            self.flush()

    def add(self, row: dict) -> None:
        self.add_group([row])

    def add_table(self, table: pa.Table) -> None:
        """Append Arrow rows (cast to the writer's schema), writing full shards as they fill."""
        if self.buffer:
            self.flush()
        self.tables.append(conform(table, self.schema))
        while sum(t.num_rows for t in self.tables) >= self.shard_rows:
            combined = pa.concat_tables(self.tables)
            self._write(combined.slice(0, self.shard_rows))
            rest = combined.slice(self.shard_rows)
            self.tables = [rest] if rest.num_rows else []

    def flush(self) -> None:
        if self.tables:
            self._write(pa.concat_tables(self.tables))
            self.tables = []
        if self.buffer:
            self._write(pa.Table.from_pylist(self.buffer, schema=self.schema))
            self.buffer = []

    def _write(self, table: pa.Table, empty: bool = False) -> None:
        if table.num_rows == 0 and not empty:
            return
        path = self.directory / shard_name(self.next_index)
        write_table_atomic(table, path)
        self.written.append(ShardInfo(path.name, table.num_rows, sha256_file(path)))
        self.next_index += 1

    def close(self, at_least_one: bool = False) -> list[ShardInfo]:
        """Write what is buffered; with `at_least_one`, an output with no rows still gets one (empty) shard, so
        the next stage reads it as zero rows of a known schema instead of refusing an empty folder."""
        self.flush()
        if at_least_one and not self.written:
            self._write(self.schema.empty_table(), empty=True)
        return self.written

    @property
    def rows_written(self) -> int:
        return sum(info.rows for info in self.written)
