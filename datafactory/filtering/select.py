"""Best-k selection per prompt and pass rates.

Why after evaluation: a prompt's samples may be spread over shards, so selection works on a compact per-row
summary (a few numbers per row), never on the text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from datafactory.errors import UsageError
from datafactory.seeds import derive_seed

STRATEGIES = ("shortest", "longest", "random", "first")


@dataclass
class RowSummary:
    key: tuple[int, int]  # (spool file, row) — where the row is
    sample_index: int
    passed: bool  # every check passed
    verifier_ok: bool
    length: int
    completion_hash: int


@dataclass
class PromptOutcome:
    n: int = 0
    n_pass: int = 0
    selected: set = field(default_factory=set)
    in_range: bool = True

    @property
    def pass_rate(self) -> float:
        return self.n_pass / self.n if self.n else 0.0


def select(
    rows: list[RowSummary], prompt_id: str, keep: int | None, strategy: str, seed: int, min_rate: float, max_rate: float
) -> PromptOutcome:
    """Pass rate (share of samples the verifier accepted) and the rows kept for one prompt."""
    if strategy not in STRATEGIES:
        raise UsageError(f"--select {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    outcome = PromptOutcome(n=len(rows), n_pass=sum(r.verifier_ok for r in rows))
    outcome.in_range = min_rate <= outcome.pass_rate <= max_rate
    if not outcome.in_range:
        return outcome
    distinct: dict[int, RowSummary] = {}
    for row in sorted((r for r in rows if r.passed), key=lambda r: r.sample_index):
        distinct.setdefault(row.completion_hash, row)
    candidates = list(distinct.values())
    if strategy == "shortest":
        candidates.sort(key=lambda r: (r.length, r.sample_index))
    elif strategy == "longest":
        candidates.sort(key=lambda r: (-r.length, r.sample_index))
    elif strategy == "random":
        random.Random(derive_seed(seed, prompt_id)).shuffle(candidates)
    chosen = candidates if keep is None else candidates[:keep]
    outcome.selected = {r.key for r in chosen}
    return outcome
