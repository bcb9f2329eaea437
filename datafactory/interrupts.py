"""A stop request (SIGINT, SIGTERM) that survives code which swallows KeyboardInterrupt, and one that waits.

Why: the CLI turns SIGTERM into KeyboardInterrupt so the stack unwinds and engines shut their workers down, but a
signal that lands inside an engine's start-up can be caught there and lost. The request is also remembered, and
long-running loops call `check()` at safe points (after the engine starts, per finished prompt). A few steps
must not stop halfway (launching a worker process); `held()` makes a stop wait for their end.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_requested: list[int] = []
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then handle the first one as it would have been.

    A second signal during the block is handled at once (a user who presses Ctrl-C twice means it). Only the
    main thread receives Python's signal handlers, so elsewhere nothing needs holding."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    # a handler of None was not set from Python, and cannot be put back: that signal is left alone
    previous = {s: handler for s in STOP_SIGNALS if (handler := signal.getsignal(s)) is not None}

    def hold(signum, frame) -> None:
        caught.append(signum)
        if len(caught) > 1:
            _deliver(signum, previous[signum], frame)

    for signum in previous:
        signal.signal(signum, hold)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if len(caught) == 1:  # a second one was handled when it came
            _deliver(caught[0], previous[caught[0]], None)


def _deliver(signum: int, handler, frame) -> None:
    if callable(handler):
        handler(signum, frame)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)
