"""Where mix keeps the converted rows between validating them and writing them in shuffled order.

Why memory first: a shuffle across all sources needs every converted row at hand before the first shard can be
written, and writing them to a file only to read them back costs more than the conversion (measured with
benchmarks/mix.py). Why a budget: a mix larger than RAM must still run, so batches beyond `budget` bytes go to
an uncompressed Arrow file in `.work/` that is memory-mapped back; gathering reads both the same way, and the
shards are the same bytes whichever way a row was kept.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from datafactory.mix.shards import row_nbytes


def default_budget() -> int:
    """A quarter of physical memory: room for the converted rows, the shard writers and the rest of the machine."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4
    except (ValueError, OSError):
        return 2 << 30


class Spool:
    """The converted rows of every source, numbered per source from 0 in input order."""

    def __init__(self, spill_path: Path, schema: pa.Schema, budget: int):
        self.spill_path, self.schema, self.budget = Path(spill_path), schema, budget
        self.held = 0
        self.sources: list[list[pa.RecordBatch | int]] = []  # a batch in memory, or its number in the spill file
        self.spiller: pa.ipc.RecordBatchFileWriter | None = None
        self.spilled = 0
        self.mapped: pa.MemoryMappedFile | None = None
        self.batches: list[pa.RecordBatch] = []
        self.first_batch: list[int] = []
        self.batch_starts: list[np.ndarray] = []

    def new_source(self) -> None:
        self.sources.append([])

    def add(self, table: pa.Table) -> None:
        """Keep the rows of `table` as the next rows of the current source."""
        for batch in table.to_batches():
            if self.held + batch.nbytes <= self.budget:
                self.held += batch.nbytes
                self.sources[-1].append(batch)
                continue
            if self.spiller is None:
                self.spiller = pa.ipc.new_file(self.spill_path, self.schema)
            self.spiller.write_batch(batch)
            self.sources[-1].append(self.spilled)
            self.spilled += 1

    def seal(self) -> None:
        """Map the spill file back and index every batch; call once, after the last `add`."""
        spilled: list[pa.RecordBatch] = []
        if self.spiller is not None:
            self.spiller.close()
            self.mapped = pa.memory_map(str(self.spill_path))
            reader = pa.ipc.open_file(self.mapped)
            spilled = [reader.get_batch(i) for i in range(reader.num_record_batches)]
        for entries in self.sources:
            mine = [entry if isinstance(entry, pa.RecordBatch) else spilled[entry] for entry in entries]
            self.first_batch.append(len(self.batches))
            self.batch_starts.append(np.concatenate([[0], np.cumsum([b.num_rows for b in mine], dtype=np.int64)]))
            self.batches += mine
        self.sources = []

    def average_row_bytes(self) -> float:
        """The average Arrow size of a row (after `seal`)."""
        rows = sum(batch.num_rows for batch in self.batches)
        return sum(batch.nbytes for batch in self.batches) / rows if rows else 0.0

    def locate(self, source: int, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(global batch, row within it) of sorted row `indices` of one source."""
        starts = self.batch_starts[source]
        batch = np.searchsorted(starts, indices, side="right") - 1
        return batch + self.first_batch[source], indices - starts[batch]

    def row_sizes(self, batch: np.ndarray, row: np.ndarray) -> np.ndarray:
        """An upper bound of the Arrow size of each row at (batch[k], row[k]) (see shards.row_nbytes)."""
        sizes = [row_nbytes(b) for b in self.batches]
        starts = np.concatenate([[0], np.cumsum([len(s) for s in sizes], dtype=np.int64)])
        return np.concatenate(sizes)[starts[batch] + row] if sizes else np.zeros(0, np.int64)

    def gather(self, batch: np.ndarray, row: np.ndarray) -> pa.Table:
        """The rows at (batch[k], row[k]), in that order."""
        order = np.argsort(batch, kind="stable")
        pieces = []
        for number, group in zip(*_groups(batch[order]), strict=True):
            rows = row[order[group]]
            pieces.append(pa.Table.from_batches([self.batches[number].take(pa.array(rows))]))
        table = pa.concat_tables(pieces)
        return table.take(pa.array(np.argsort(order, kind="stable")))

    def close(self) -> None:
        self.batches, self.sources = [], []
        if self.spiller is not None and self.mapped is None:
            self.spiller.close()
        if self.mapped is not None:
            self.mapped.close()


def _groups(sorted_keys: np.ndarray) -> tuple[np.ndarray, list[slice]]:
    """The distinct keys of a sorted array and the slice each one covers."""
    keys, starts = np.unique(sorted_keys, return_index=True)
    ends = np.append(starts[1:], len(sorted_keys))
    return keys, [slice(a, b) for a, b in zip(starts, ends, strict=True)]
