"""Shards cut by rows or by size: a shard is closed before it would pass --shard-bytes.

Why Arrow's in-memory size as the measure: it is known before writing and is never smaller than the zstd
Parquet file it becomes, so files stay under the limit (a single row larger than the limit gets a shard alone).
Why threads: zstd compression is most of a mix's time and Arrow releases the GIL while compressing, so shards
are written on one thread per core (at most two pending per thread, which bounds memory); the output is the same
bytes as a serial write.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from datafactory.io.writer import shard_name, write_table_atomic


class SizedShardWriter:
    def __init__(self, directory: Path, schema: pa.Schema, rows: int | None = 10_000, max_bytes: int | None = None):
        self.directory, self.schema, self.rows, self.max_bytes = Path(directory), schema, rows, max_bytes
        self.pending: list[pa.Table] = []
        self.pending_rows = self.pending_bytes = 0
        self.index = 0
        self.threads = max(1, os.cpu_count() or 1)
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="shard-writer")
        self.writing: list[Future] = []

    def add(self, table: pa.Table) -> None:
        for batch in table.to_batches(max_chunksize=1000):
            self._add_slice(pa.Table.from_batches([batch], schema=self.schema))

    def _add_slice(self, table: pa.Table) -> None:
        start = 0
        while start < table.num_rows:
            take = table.num_rows - start
            if self.rows is not None:
                take = min(take, self.rows - self.pending_rows)
            piece = table.slice(start, take)
            if self.max_bytes is not None:
                piece = self._fit(piece)
                if piece.num_rows == 0:
                    self.flush()
                    continue
            self.pending.append(piece)
            self.pending_rows += piece.num_rows
            self.pending_bytes += piece.nbytes
            start += piece.num_rows
            if self.rows is not None and self.pending_rows >= self.rows:
                self.flush()

    def _fit(self, piece: pa.Table) -> pa.Table:
        """The longest prefix of `piece` that keeps the pending shard under max_bytes (at least one row when the
        shard is empty)."""
        room = self.max_bytes - self.pending_bytes
        if piece.nbytes <= room:
            return piece
        low, high = 0, piece.num_rows
        while low < high:
            middle = (low + high + 1) // 2
            if piece.slice(0, middle).nbytes <= room:
                low = middle
            else:
                high = middle - 1
        if low == 0 and self.pending_rows == 0:
            low = 1
        return piece.slice(0, low)

    def flush(self) -> None:
        if not self.pending_rows:
            return
        table = pa.concat_tables(self.pending)  # no combine: the writer thread reads the chunks as they are
        while len(self.writing) >= 2 * self.threads:
            self.writing.pop(0).result()
        self.writing.append(self.pool.submit(write_table_atomic, table, self.directory / shard_name(self.index)))
        self.index += 1
        self.pending, self.pending_rows, self.pending_bytes = [], 0, 0

    def close(self) -> None:
        """Write what is pending and wait for every shard; the first write error is raised here."""
        try:
            self.flush()
            for future in self.writing:
                future.result()
        finally:
            self.pool.shutdown(wait=True)
            self.writing = []
