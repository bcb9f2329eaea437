"""Shards cut by rows or by size, written on a thread per core with a row group per window.

Why the cuts are planned before writing: zstd compression is most of a mix's time, so shards must be written in
parallel, and a shard can only start once it is known where the one before it ends. Size cuts use an upper
bound of each row's Arrow in-memory size, which is never smaller than the zstd Parquet file it becomes, so
files stay under --shard-bytes (a row larger than the limit gets a shard alone).
Why windows: each open shard receives its rows a window at a time, as a row group, so memory holds a couple of
windows per thread rather than whole shards; the output is the same bytes as a serial write.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datafactory.io.writer import sha256_file, shard_name

WINDOW_ROWS = 10_000  # rows per row group, and per gather from the spool, at most
WINDOW_BYTES = 16 << 20  # ... and about this much data: long traces make windows of fewer rows


def window_rows(average_row_bytes: float) -> int:
    """Rows per window for rows of this average Arrow size."""
    return int(max(1, min(WINDOW_ROWS, WINDOW_BYTES // max(1.0, average_row_bytes))))


def shard_bounds(total: int, rows: int | None = None, max_bytes: int | None = None, sizes=None) -> list[range]:
    """The output positions of each shard: `rows` at a time, or as many as fit in `max_bytes` by `sizes`."""
    if max_bytes is None:
        return [range(start, min(total, start + rows)) for start in range(0, total, rows)]
    ends = np.cumsum(sizes, dtype=np.int64)
    bounds, start = [], 0
    while start < total:
        before = int(ends[start - 1]) if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, before + max_bytes, side="right")))
        bounds.append(range(start, stop))
        start = stop
    return bounds


def row_nbytes(batch: pa.RecordBatch) -> np.ndarray:
    """Per row, at least its share of the batch's Arrow buffers (values, offsets, validity)."""
    sizes = np.zeros(batch.num_rows, dtype=np.int64)
    for column in batch.columns:
        sizes += _value_bytes(column)
    return sizes


def _value_bytes(array: pa.Array) -> np.ndarray:
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        return pc.fill_null(pc.binary_length(array), 0).to_numpy(zero_copy_only=False).astype(np.int64) + 5
    if pa.types.is_list(kind):
        lengths = pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        item_ends = np.concatenate([[0], np.cumsum(_value_bytes(array.flatten()))])
        list_ends = np.concatenate([[0], np.cumsum(lengths)])
        return item_ends[list_ends[1:]] - item_ends[list_ends[:-1]] + 5
    if pa.types.is_struct(kind):
        return sum((_value_bytes(child) for child in array.flatten()), np.ones(len(array), dtype=np.int64))
    return np.full(len(array), kind.bit_width // 8 + 1, dtype=np.int64)


def lane_count(shards: int, cores: int) -> int:
    """Shards open at once: a core each, or up to twice that where it keeps every core busy to the end (five equal
    shards on two cores: three lanes, then two, rather than two, two and one alone)."""
    for lanes in range(cores, 2 * cores + 1):
        if shards % lanes == 0 or shards % lanes >= cores:
            return max(1, min(lanes, shards))
    return max(1, min(cores, shards))


class PlannedShardWriter:
    """Writes planned shards from `fetch(start, stop)` (the table of output rows start..stop): one shard open
    per thread, fed round robin a window at a time, at most two windows waiting per thread."""

    def __init__(
        self,
        directory: Path,
        schema: pa.Schema,
        bounds: list[range],
        fetch: Callable[[int, int], pa.Table],
        window: int = WINDOW_ROWS,
    ):
        self.directory, self.schema, self.fetch, self.window = Path(directory), schema, fetch, window
        self.queue = deque(enumerate(bounds))
        self.threads = lane_count(len(bounds), os.cpu_count() or 1)
        self.digests: dict[Path, str] = {}  # sha256 of each finished shard, hashed on its lane

    def write(self, advance: Callable[[int], None] = lambda rows: None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        lanes = [_Lane(self.directory, self.schema, self.digests) for _ in range(self.threads)]
        try:
            while self.queue or any(lane.shard for lane in lanes):
                for lane in lanes:
                    if lane.shard is None and self.queue:
                        lane.open(*self.queue.popleft())
                    if lane.shard is not None:
                        start = lane.position
                        stop = min(lane.shard.stop, start + self.window)
                        lane.write(self.fetch(start, stop))
                        advance(stop - start)
            for lane in lanes:
                lane.drain()
        except BaseException:
            for lane in lanes:
                lane.abandon()
            raise
        finally:
            for lane in lanes:
                lane.pool.shutdown(wait=True)


class _Lane:
    """One thread and the shard it is writing: windows are compressed in order on the thread."""

    def __init__(self, directory: Path, schema: pa.Schema, digests: dict[Path, str]):
        self.directory, self.schema, self.digests = directory, schema, digests
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="shard-writer")
        self.waiting: deque[Future] = deque()
        self.shard: range | None = None
        self.position = 0
        self.writer: pq.ParquetWriter | None = None
        self.tmp: Path | None = None
        self.temporary: list[Path] = []  # every shard's temporary name, for abandon()

    def open(self, index: int, shard: range) -> None:
        self.shard, self.position = shard, shard.start
        self.path = self.directory / shard_name(index)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self.temporary.append(self.tmp)
        self.writer = pq.ParquetWriter(self.tmp, self.schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        while len(self.waiting) >= 2:
            self.waiting.popleft().result()
        self.waiting.append(self.pool.submit(self.writer.write_table, table))
        self.position += table.num_rows
        if self.position == self.shard.stop:
            self.waiting.append(self.pool.submit(_finish, self.writer, self.tmp, self.path, self.digests))
            self.shard = self.writer = self.tmp = None

    def drain(self) -> None:
        while self.waiting:
            self.waiting.popleft().result()

    def abandon(self) -> None:
        """After an error: stop, and leave no half-written shard behind."""
        for future in self.waiting:
            future.cancel()
        self.pool.shutdown(wait=True)
        if self.writer is not None:
            with contextlib.suppress(Exception):  # the error that brought us here is the one to report
                self.writer.close()
        for tmp in self.temporary:
            tmp.unlink(missing_ok=True)


def _finish(writer: pq.ParquetWriter, tmp: Path, path: Path, digests: dict[Path, str]) -> None:
    """Close the shard, flush it to disk and give it its name in one step (readers see all of it or nothing);
    hash it while it is still in the page cache."""
    writer.close()
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    digests[path] = sha256_file(path)
