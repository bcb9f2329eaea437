"""A stop request (SIGINT, SIGTERM) that survives code which swallows KeyboardInterrupt.

Why: the CLI turns SIGTERM into KeyboardInterrupt so the stack unwinds and engines shut their workers down, but a
signal that lands inside an engine's start-up can be caught there and lost. The request is also remembered, and
long-running loops call `check()` at safe points (after the engine starts, per finished prompt).
"""

from __future__ import annotations

_requested: list[int] = []


def request_stop(signum: int) -> None:
    _requested.append(signum)


def stop_requested() -> int | None:
    return _requested[0] if _requested else None


def check() -> None:
    """Raise KeyboardInterrupt when a stop was requested (again, if the first one was swallowed)."""
    if _requested:
        raise KeyboardInterrupt


def reset() -> None:
    """Forget stop requests (a process that runs the CLI more than once, such as the test suite)."""
    _requested.clear()
