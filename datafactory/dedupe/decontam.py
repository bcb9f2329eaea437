"""Benchmark decontamination: a row sharing any word n-gram with a benchmark item is removed.

Why word n-grams after normalisation: reformatted leaks (case, whitespace, LaTeX spacing) keep their word
sequence. Items shorter than n words count as one n-gram of their own length. Only hashes are kept, so memory
is bounded by the benchmark, not the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import xxhash

from datafactory.dedupe.text import words
from datafactory.errors import BadInput
from datafactory.io.readers import expand_inputs, iter_chunks

BENCHMARK_FIELDS = ("problem", "question", "prompt")
ID_FIELDS = ("unique_id", "task_id", "id", "prompt_id")


def _gram_hash(tokens: list[str] | tuple[str, ...]) -> int:
    return xxhash.xxh64_intdigest(" ".join(tokens).encode())


@dataclass
class Contamination:
    benchmark_id: str
    ngram: str


class BenchmarkIndex:
    def __init__(self, paths: list[str], ngram: int = 8, field: str | None = None):
        self.ngram = ngram
        self.grams: dict[int, str] = {}
        self.short_lengths: set[int] = set()
        self.items = 0
        self.sources: list[Path] = expand_inputs(paths) if paths else []
        for chunk in iter_chunks(self.sources):
            for row in chunk.rows:
                self._add(row, chunk.path, field)

    def _add(self, row: dict, path: Path, field: str | None) -> None:
        name = field or next((f for f in BENCHMARK_FIELDS if isinstance(row.get(f), str)), None)
        if name is None or not isinstance(row.get(name), str):
            raise BadInput(
                f"no benchmark text (need one of {', '.join(BENCHMARK_FIELDS)}, or --decontaminate-field)",
                path,
                row.get("__row__"),
                field,
            )
        id_name = next((f for f in ID_FIELDS if row.get(f) is not None), None)
        item_id = f"{path.name}:{row[id_name] if id_name else row['__row__']}"
        tokens = words(row[name])
        if not tokens:
            return
        self.items += 1
        size = min(self.ngram, len(tokens))
        if size < self.ngram:
            self.short_lengths.add(size)
        for start in range(len(tokens) - size + 1):
            self.grams.setdefault(_gram_hash(tokens[start : start + size]), item_id)

    def check(self, tokens: list[str]) -> Contamination | None:
        for size in (self.ngram, *sorted(self.short_lengths)):
            for start in range(len(tokens) - size + 1):
                gram = tokens[start : start + size]
                item = self.grams.get(_gram_hash(gram))
                if item is not None:
                    return Contamination(item, " ".join(gram))
        return None
