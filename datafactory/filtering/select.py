"""Best-k selection per prompt and pass rates.

Why after evaluation: a prompt's samples may be spread over shards, so selection works on a compact per-row
summary (a few numbers per row), never on the text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from datafactory.checks.pass_rates import PassRate, pass_rate
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
    """`n_pass` counts verifier passes; `passed` counts samples passing every check, the event adaptive generate
    stops on. With a `target` (adaptive input) the range filters use the unbiased estimate (checks/pass_rates.py)."""

    n: int = 0
    n_pass: int = 0
    passed: int = 0
    target: int | None = None
    selected: set = field(default_factory=set)
    in_range: bool = True

    @property
    def pass_rate(self) -> float:
        return self.n_pass / self.n if self.n else 0.0

    @property
    def estimate(self) -> PassRate:
        if self.target is None:
            return pass_rate(self.n, self.n_pass)
        return pass_rate(self.n, self.passed, self.target)

    @property
    def rate_for_range(self) -> float:
        return self.pass_rate if self.target is None else self.estimate.estimate

    @property
    def mixed(self) -> bool:
        """Both outcomes seen, so 0 < p < 1 for certain (worth RL, as in DAPO's dynamic sampling)."""
        ok = self.n_pass if self.target is None else self.passed
        return 0 < ok < self.n


def select(
    rows: list[RowSummary],
    prompt_id: str,
    keep: int | None,
    strategy: str,
    seed: int,
    min_rate: float,
    max_rate: float,
    target: int | None = None,
) -> PromptOutcome:
    """Pass rate (share of samples the verifier accepted, or the adaptive estimate) and the rows kept."""
    if strategy not in STRATEGIES:
        raise UsageError(f"--select {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    outcome = PromptOutcome(
        n=len(rows), n_pass=sum(r.verifier_ok for r in rows), passed=sum(r.passed for r in rows), target=target
    )
    outcome.in_range = min_rate <= outcome.rate_for_range <= max_rate
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
