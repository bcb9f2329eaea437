"""What a generate run will cost, estimated from the prompts it has finished: completion tokens with a 95%
interval, time at the measured rate, and money at a price per million tokens.

Why from finished prompts: a prompt's cost (its samples' lengths, and with `--target` how many samples it needed)
is the unit that varies; the prompts done so far are a sample of them drawn without replacement, so the total
is the tokens spent plus the prompts left times their mean, with a t interval narrowed by the finite-population
correction. It assumes the inputs are not sorted by difficulty (the first prompts are like the rest).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from datafactory.errors import DataFactoryError

SLICE = 0.05  # `--forecast` samples this share of the prompts (at least MIN_SLICE), then stops
MIN_SLICE = 20


class Forecasted(DataFactoryError):
    """`generate --forecast` stopped after its first slice, on purpose: the same command without it resumes."""

    exit_code = 0


@dataclass
class Forecast:
    prompts: int  # prompts this run samples
    price: float | None = None  # per million completion tokens
    costs: list[int] = field(default_factory=list)  # completion tokens of each prompt done
    started: float = field(default_factory=time.monotonic)
    at_slice: dict | None = None  # the estimate once SLICE of the prompts were done, for the manifest

    def add(self, tokens: int) -> None:
        self.costs.append(tokens)
        if self.at_slice is None and len(self.costs) >= slice_size(self.prompts):
            self.at_slice = self.estimate()

    def estimate(self) -> dict | None:
        done = len(self.costs)
        if done < 2:
            return None
        mean = sum(self.costs) / done
        spread = math.sqrt(sum((c - mean) ** 2 for c in self.costs) / (done - 1))
        left = max(0, self.prompts - done)
        finite = math.sqrt(left / max(1, self.prompts - 1))
        half = _t95(done - 1) * spread / math.sqrt(done) * finite * left
        spent = sum(self.costs)
        total = spent + left * mean
        rate = spent / max(1e-9, time.monotonic() - self.started)
        estimate = {
            "after_prompts": done,
            "completion_tokens": round(total),
            "low": round(max(spent, total - half)),
            "high": round(total + half),
            "seconds_left": round(left * mean / rate) if rate else None,
        }
        if self.price is not None:
            estimate["cost"] = round(total / 1e6 * self.price, 2)
        return estimate

    def line(self) -> str:
        """`2.1M tokens (1.9M–2.3M), 14 min left, $6.30`: the estimate in words."""
        estimate = self.estimate()
        if estimate is None:
            return "forecast: not enough prompts done yet"
        words = f"{_short(estimate['completion_tokens'])} completion tokens ({_short(estimate['low'])}–"
        words += f"{_short(estimate['high'])}, 95%)"
        if estimate["seconds_left"] is not None:
            words += f", {_duration(estimate['seconds_left'])} left at {_short(self._rate())} tokens/s"
        if "cost" in estimate:
            words += f", about {estimate['cost']:,.2f} at {self.price:g} per million"
        return f"forecast after {estimate['after_prompts']} of {self.prompts} prompts: {words}"

    def _rate(self) -> float:
        return sum(self.costs) / max(1e-9, time.monotonic() - self.started)


def slice_size(prompts: int) -> int:
    return min(prompts, max(MIN_SLICE, math.ceil(prompts * SLICE)))


def _t95(freedom: int) -> float:
    """Student's t quantile for a two-sided 95% interval (scipy.special: a fraction of scipy.stats' import)."""
    from scipy.special import stdtrit

    return float(stdtrit(freedom, 0.975))


def _short(value: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
