"""Charts for the report, drawn by matplotlib as inline SVG.

Why matplotlib and SVG: a well-kept library, no JavaScript to ship, text kept as text (`svg.fonttype: none`),
so each chart is a few KB and the report opens offline in any browser.
"""

from __future__ import annotations

import io
import re

from datafactory.stats import PASS_RATE_BUCKETS, pass_rate_bucket

KEPT, REMOVED, OTHER = "#2f855a", "#c53030", "#2b6cb0"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    # text.parse_math off: a source or folder named with two `$` is a name, not TeX for mathtext to choke on
    matplotlib.rcParams.update(
        {"svg.fonttype": "none", "svg.hashsalt": "datafactory", "font.size": 9, "text.parse_math": False}
    )
    import matplotlib.pyplot as plt

    return plt


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.tight_layout()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    _pyplot().close(figure)
    text = buffer.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg") :], flags=re.DOTALL)
    return text


def funnel_chart(steps: list[tuple[str, int]], title: str) -> str:
    """Rows in, each reason's removals (as negative bars), rows kept."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6.4, 0.45 * len(steps) + 0.9))
    labels = [name for name, _ in steps][::-1]
    values = [abs(n) for _, n in steps][::-1]
    colours = [REMOVED if n < 0 else (KEPT if i == len(steps) - 1 else OTHER) for i, (_, n) in enumerate(steps)]
    bars = axes.barh(labels, values, color=colours[::-1])
    axes.bar_label(bars, labels=[f"{'−' if n < 0 else ''}{abs(n):,}" for _, n in steps][::-1], padding=3)
    axes.set_title(title)
    axes.spines[["top", "right"]].set_visible(False)
    axes.margins(x=0.15)
    return _svg(figure)


def pass_rate_chart(rates: list[float], title: str) -> str:
    plt = _pyplot()
    counts = dict.fromkeys(PASS_RATE_BUCKETS, 0)
    for rate in rates:
        counts[pass_rate_bucket(rate)] += 1
    figure, axes = plt.subplots(figsize=(6.4, 2.6))
    bars = axes.bar(list(counts), list(counts.values()), color=OTHER)
    axes.bar_label(bars, padding=2)
    axes.set_xlabel("pass rate of the prompt's samples")
    axes.set_ylabel("prompts")
    axes.set_title(title)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def length_chart(lengths: dict[str, list[int]], title: str) -> str:
    """Completion-token histograms, one outline per group (kept/rejected, or per category)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6.4, 2.6))
    everything = [v for values in lengths.values() for v in values]
    bins = 30 if len(set(everything)) > 30 else max(1, len(set(everything)))
    colours = {"kept": KEPT, "rejected": REMOVED, "removed": REMOVED}
    for name, values in lengths.items():
        if values:
            axes.hist(values, bins=bins, range=(min(everything), max(everything)), histtype="step", linewidth=1.6,
                      label=f"{name} ({len(values):,})", color=colours.get(name))  # fmt: skip
    axes.set_xlabel("completion tokens")
    axes.set_ylabel("rows")
    axes.set_title(title)
    axes.legend(frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def source_chart(per_source: dict[str, dict], title: str) -> str:
    plt = _pyplot()
    names = list(per_source)
    figure, axes = plt.subplots(figsize=(6.4, 0.45 * len(names) + 0.9))
    taken = [per_source[n].get("taken", 0) for n in names]
    colours = [OTHER if per_source[n].get("category") == "reasoning" else KEPT for n in names]
    bars = axes.barh(names, taken, color=colours)
    axes.bar_label(bars, labels=[f"{t:,} ({per_source[n].get('category')})" for n, t in zip(names, taken, strict=True)])
    axes.set_title(title)
    axes.spines[["top", "right"]].set_visible(False)
    axes.margins(x=0.25)
    return _svg(figure)
