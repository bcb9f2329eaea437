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


SAMPLING_KEYS = ("engine", "model", "n", "target", "max_tokens", "temperature", "top_p", "stop_doomed")


def from_earlier_run(folder, config, prompts: int) -> str:
    """Before a rerun (`run --dry-run`, and the plan of every `run`): what the step's generate will cost, from the
    earlier run in its folder: its prompts' completion tokens are a sample of what the new run's prompts will
    cost, so the total is `prompts` times their mean, with a t interval (no finite-population narrowing: the
    edit that makes the step rerun may change the samples). Only when that run drew samples the same way."""
    import json
    from collections import Counter
    from datetime import datetime
    from pathlib import Path

    import pyarrow.parquet as pq

    manifest_path = Path(folder) / ".datafactory" / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return "no earlier run to forecast from (`datafactory generate --forecast` samples 5% and stops)"
    before = manifest.get("arguments", {})
    now = config.arguments()
    changed = [key for key in SAMPLING_KEYS if before.get(key) != now.get(key)]
    if changed:
        return f"no forecast: the earlier run drew samples with another {changed[0]}"
    costs: Counter = Counter()
    for shard in sorted(Path(folder).glob("part-*.parquet")):
        table = pq.read_table(shard, columns=["prompt_id", "completion_tokens"])
        for prompt_id, tokens in zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True):
            costs[prompt_id] += tokens or 0
    if len(costs) < 2:
        return "no forecast: the earlier run finished fewer than 2 prompts"
    values = list(costs.values())
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    total, half = prompts * mean, prompts * _t95(len(values) - 1) * spread / math.sqrt(len(values))
    words = f"{_short(total)} completion tokens ({_short(max(0, total - half))}–{_short(total + half)}, 95%)"
    try:
        took = datetime.fromisoformat(manifest["finished"]) - datetime.fromisoformat(manifest["started"])
        rate = sum(values) / max(1.0, took.total_seconds())
        words += f", about {_duration(total / rate)} at the earlier run's {_short(rate)} tokens/s"
    except (KeyError, ValueError, TypeError):
        pass
    if config.price_per_million is not None:
        words += f", about {total / 1e6 * config.price_per_million:,.2f} at {config.price_per_million:g} per million"
    return f"forecast from the earlier run's {len(values)} prompts, for {prompts}: {words}"
