"""Pass-rate estimates that stay honest when sampling stopped early.

Why not passed/drawn: `generate --target K` stops a prompt at its K-th pass (or at the budget n). Stopping on a
success makes passed/drawn biased upwards (K=1: a prompt solved 1 time in 10 that happens to pass on draw 2
shows 0.5). Under this stopping rule (inverse binomial sampling truncated at n), the unbiased estimate is the
Girshick–Mosteller–Savage ratio of lattice paths, which works out to:

- stopped at the K-th pass after m draws: (K - 1) / (m - 1) (Haldane's estimator; 1 when m = K = 1);
- stopped at the budget with s < K passes: s / n (the plain share: the stopping rule never fired).

It is unbiased, not precise: with K = 1 it is 1 when the first sample passed and 0 otherwise, so range filters
(`--min-pass-rate`) on adaptive data should be read with the interval. The interval is exact for this design:
order the outcomes from "K passes in K draws" down to "0 passes in n draws"; the probability of an outcome at
least as good as (s passes in m draws) is P(Binomial(m, p) >= s), and of one at most as good is
P(Binomial(m - 1, p) <= K - 1) when stopped at the K-th pass, else P(Binomial(n, p) <= s). Inverting both tails
gives Clopper–Pearson-style bounds through Beta quantiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

CONFIDENCE = 0.95


@dataclass(frozen=True)
class PassRate:
    estimate: float
    low: float
    high: float


@lru_cache(maxsize=65536)  # a run's prompts share a few (drawn, passed) pairs: each interval is worked out once
def pass_rate(drawn: int, passed: int, target: int | None = None, confidence: float = CONFIDENCE) -> PassRate:
    """The unbiased estimate and exact interval for `passed` of `drawn` samples, drawn until `target` passes
    (None: a fixed number of draws, where this is passed/drawn with a Clopper–Pearson interval)."""
    if drawn <= 0:
        return PassRate(0.0, 0.0, 1.0)
    # imported here: scipy.special takes 0.2 s to import (scipy.stats, used before, 0.8 s), paid by every filter
    # at start-up although only its end needs it. betaincinv is the Beta quantile itself: scipy.stats.beta.ppf
    # spent ~90 µs a call around it.
    from scipy.special import betaincinv

    tail = (1 - confidence) / 2
    low = float(betaincinv(passed, drawn - passed + 1, tail)) if passed > 0 else 0.0
    stopped_on_pass = target is not None and passed >= target
    if stopped_on_pass:
        estimate = 1.0 if drawn == 1 else (target - 1) / (drawn - 1)
        high = float(betaincinv(target, drawn - target, 1 - tail)) if drawn > target else 1.0
    else:
        estimate = passed / drawn
        high = float(betaincinv(passed + 1, drawn - passed, 1 - tail)) if passed < drawn else 1.0
    return PassRate(estimate, low, high)
