"""Sources, the ratio and exact counts per category and per source.

Rounding (documented in the README): with --total N and ratio R:G, reasoning gets round(N·R/(R+G)) (halves
up) and general the rest. Without --total: the largest k with k·R and k·G rows available (integer ratio parts).
Within a category, a source's share follows its weight (default: its row count), split by largest remainder.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from datafactory.errors import UsageError
from datafactory.io.outdir import MANIFEST
from datafactory.io.readers import expand_inputs, require_finished

SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "m": 1e6, "mb": 1e6, "mib": 2**20, "g": 1e9, "gb": 1e9, "gib": 2**30, "t": 1e12, "tb": 1e12, "tib": 2**40}  # fmt: skip


@dataclass
class Source:
    name: str
    category: str
    files: list[Path]
    weight: float | None = None  # None: proportional to the source's rows
    rows: int = 0
    quota: int = 0
    on_bad_row: str = field(default="error", repr=False)
    origin: Path | None = field(default=None, repr=False)  # the PATH given, when the name was not (@NAME)
    path: Path | None = field(default=None, repr=False)  # the PATH given


def parse_size(text: str, option: str = "--shard-bytes") -> int:
    match = SIZE.match(text)
    if not match or (match.group(2) or "").lower() not in UNITS:
        raise UsageError(f"{option} {text!r}: expected a size like 256MB, 1GiB or 500000")
    return int(float(match.group(1)) * UNITS[(match.group(2) or "").lower()])


def parse_ratio(text: str) -> tuple[float, float]:
    parts = text.split(":")
    try:
        reasoning, general = (float(p) for p in parts)
    except ValueError:
        raise UsageError(f"--ratio {text!r}: expected REASONING:GENERAL, e.g. 3:1") from None
    if reasoning < 0 or general < 0 or reasoning + general == 0:
        raise UsageError(f"--ratio {text!r}: parts must be >= 0 and not both 0")
    return reasoning, general


def parse_source(spec: str, category: str, allow_unfinished: bool = False) -> Source:
    """PATH, PATH:WEIGHT, and optionally @NAME at the end (the name defaults to the folder or file name). A stage
    output that never finished is refused unless `allow_unfinished`."""
    name = None
    if "@" in spec:
        spec, name = spec.rsplit("@", 1)
    weight = None
    head, sep, tail = spec.rpartition(":")
    if sep and head:
        try:
            weight = float(tail)
            spec = head
        except ValueError:
            pass
    if weight is not None and weight <= 0:
        raise UsageError(f"source {spec!r}: weight must be > 0")
    path = Path(spec)
    require_finished([spec], allow_unfinished)
    files = expand_inputs([spec])
    origin = None
    if not name:
        name = path.name if path.is_dir() else (path.parent.name if "*" in spec else path.name.split(".")[0])
        origin = path.parent if "*" in spec else path
    return Source(name=name, category=category, files=files, weight=weight, origin=origin, path=path)


def distinct_names(sources: list[Source]) -> None:
    """Sources named after folders of the same name (run/math/deduped, run/chat/deduped) are named by the first
    part of their paths that tells them apart (math, chat)."""
    by_name: dict[str, list[Source]] = {}
    for source in sources:
        by_name.setdefault(source.name, []).append(source)
    for group in by_name.values():
        unnamed = [s for s in group if s.origin is not None]
        if len(group) < 2 or len(unnamed) != len(group):
            continue
        parts = [s.origin.resolve().parts for s in group]
        for depth in range(2, min(map(len, parts)) + 1):
            names = [p[-depth] for p in parts]
            if len(set(names)) == len(names):
                for source, name in zip(group, names, strict=True):
                    source.name = name
                break


def _split(count: int, sources: list[Source]) -> None:
    """Largest-remainder split of `count` rows over sources by weight (default weight: row count)."""
    weights = [s.weight if s.weight is not None else s.rows for s in sources]
    if not sources:
        return
    if sum(weights) == 0:
        if count == 0:  # nothing wanted of this category (a ratio of 1:0): empty sources are fine
            return
        raise UsageError(f"{sources[0].category}: the sources have no rows")
    exact = [count * w / sum(weights) for w in weights]
    quotas = [math.floor(x) for x in exact]
    order = sorted(range(len(sources)), key=lambda i: (-(exact[i] - quotas[i]), i))
    for i in order[: count - sum(quotas)]:
        quotas[i] += 1
    for source, quota in zip(sources, quotas, strict=True):
        source.quota = quota


def _shortfall(category: str, needed: int, sources: list[Source]) -> str:
    """Why a category cannot give `needed` rows, in words: each source's rows and, for a stage's output, what
    became of the rows it read."""
    have = sum(s.rows for s in sources)
    parts = ", ".join(f"{s.name}: {s.rows} rows{_history(s)}" for s in sources)
    return f"the {category} sources hold {have} rows, one unit needs {needed} ({parts})"


def _history(source: Source) -> str:
    folder = source.path if source.path and source.path.is_dir() else None
    return "" if folder is None or source.rows else _stage_history(folder, depth=3)


def _stage_history(folder: Path, depth: int) -> str:
    """What became of a stage output's rows, by its manifest; a stage that read nothing names its own input's."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return ""
    counts, stage = manifest.get("counts", {}), manifest.get("stage")
    inputs = manifest.get("arguments", {}).get("inputs") or []
    if not counts.get("rows_in") and depth and len(inputs) == 1 and (Path(inputs[0]) / MANIFEST).is_file():
        return _stage_history(Path(inputs[0]), depth - 1)
    if stage == "filter":
        verdicts = ", ".join(f"{k} {v}" for k, v in counts.get("verdicts", {}).items() if k != "pass")
        return f", the filter kept none of {counts.get('rows_in', 0)} ({verdicts})"
    if stage == "dedupe":
        removed = ", ".join(f"{k} {v}" for k, v in counts.get("removed", {}).items() if v)
        return f", dedupe removed all {counts.get('rows_in', 0)} ({removed})"
    return f", its {stage} wrote none"


def plan_counts(sources: list[Source], reasoning: float, general: float, total: int | None, replacement: bool) -> dict:
    by_category = {c: [s for s in sources if s.category == c] for c in ("reasoning", "general")}
    available = {c: sum(s.rows for s in group) for c, group in by_category.items()}
    for category, share in (("reasoning", reasoning), ("general", general)):
        if share > 0 and not by_category[category]:
            raise UsageError(f"--ratio gives {category} a share but no --{category} source was given")
    if total is not None:
        wanted_reasoning = math.floor(total * reasoning / (reasoning + general) + 0.5)
        wanted = {"reasoning": wanted_reasoning, "general": total - wanted_reasoning}
    else:
        if not (float(reasoning).is_integer() and float(general).is_integer()):
            raise UsageError("without --total the ratio parts must be whole numbers (e.g. 3:1)")
        k = min(
            available[c] // int(share) for c, share in (("reasoning", reasoning), ("general", general)) if share > 0
        )
        wanted = {"reasoning": k * int(reasoning), "general": k * int(general)}
        if k == 0:
            short = [c for c, share in (("reasoning", reasoning), ("general", general)) if share > available[c]]
            why = "; ".join(_shortfall(c, int(share), by_category[c]) for c, share in
                            (("reasoning", reasoning), ("general", general)) if c in short)  # fmt: skip
            raise UsageError(f"cannot form one {int(reasoning)}:{int(general)} unit: {why}")
    for category, count in wanted.items():
        if count > available[category] and not replacement:
            raise UsageError(
                f"{category}: has {available[category]} rows, needs {count}; pass --replacement to upsample or lower --total"
            )
        _split(count, by_category[category])
        for source in by_category[category]:
            if source.quota > source.rows and not replacement:
                raise UsageError(
                    f"source {source.name} ({category}): has {source.rows} rows, needs {source.quota} at its weight; "
                    "pass --replacement or change the weights"
                )
            if source.quota and not source.rows:
                raise UsageError(f"source {source.name} ({category}): has no rows, needs {source.quota}")
    return {c: {"available": available[c], "taken": wanted[c]} for c in wanted}
