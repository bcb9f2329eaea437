"""Progress for long work: a rich bar on a terminal, plain periodic log lines otherwise (CI, files, pipes)."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from datafactory.engine_logs import TERMINAL


class StageProgress:
    """Counts `done` of `total` units and shows extra counters (samples, tokens/s) beside them."""

    def __init__(self, description: str, total: int | None, unit: str = "rows", interval: float = 10.0):
        self.description, self.total, self.unit, self.interval = description, total, unit, interval
        self.done = 0
        self.extra: dict[str, str] = {}
        self.console = Console(file=TERMINAL)
        self.started = time.monotonic()
        self.last_line = self.started
        self.bar: Progress | None = None

    def __enter__(self) -> StageProgress:
        if self.console.is_terminal:
            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self.unit),
                TextColumn("{task.fields[extra]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=self.total, extra="")
        return self

    def advance(self, units: int = 1, **extra: str) -> None:
        self.done += units
        self.extra.update(extra)
        text = "  ".join(f"{k} {v}" for k, v in self.extra.items())
        if self.bar is not None:
            self.bar.update(self.task, advance=units, extra=text)
        elif time.monotonic() - self.last_line >= self.interval:
            self.last_line = time.monotonic()
            total = f"/{self.total}" if self.total is not None else ""
            print(f"[{self.description}] {self.done}{total} {self.unit}  {text}", file=TERMINAL, flush=True)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
