"""Nearest-rank percentiles of token lengths: `stats`, `report` and the mix's dataset card show the same ones."""

from __future__ import annotations

import numpy as np

PERCENTILES = (50, 90, 99, 100)


def percentiles(values) -> dict:
    """Nearest-rank percentiles of a list or NumPy array of numbers (sorted with NumPy: mix passes millions)."""
    values = np.sort(np.asarray(values))
    if not len(values):
        return {}
    last = len(values) - 1
    return {f"p{p}": values[min(last, round(p / 100 * last))].item() for p in PERCENTILES}
