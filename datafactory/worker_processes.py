"""Worker processes (the filter's verifiers, dedupe's MinHash) that a Ctrl-C cannot catch halfway.

Why: Ctrl-C in a terminal reaches every process of the group, and one pressed while workers started printed
their tracebacks over the one line the CLI promises (the fork server importing sympy, a child unpickling its
start-up data); dedupe could hang. The parent decides what an interrupt means: it stops, says so, and its workers
end when it is gone. So the fork server starts with SIGINT blocked (as CPython's resource tracker starts), which
it and every worker it forks inherit from their first instruction, while the parent's own Ctrl-C waits, pending,
for the instant of that start rather than being lost; and a stop signal to the parent while it launches a worker
waits until the launch is whole (cut between handing the fork server its pipes and writing the child's start-up
data, it leaves a child that dies with EOFError).
"""

from __future__ import annotations

import signal
from multiprocessing import forkserver, resource_tracker
from multiprocessing.context import ForkServerContext, ForkServerProcess

from datafactory.interrupts import held


class WholeStartProcess(ForkServerProcess):
    def start(self) -> None:
        with held():
            super().start()


class WorkerContext(ForkServerContext):
    Process = WholeStartProcess


def worker_context(preload: list[str] | None = None) -> WorkerContext:
    """A forkserver context whose server is running, deaf to Ctrl-C, with `preload` imported (when it starts)."""
    context = WorkerContext()
    if preload:
        context.set_forkserver_preload(preload)
    _start_server_deaf_to_ctrl_c()
    return context


def _start_server_deaf_to_ctrl_c() -> None:
    """Start the fork server (once per process) with SIGINT blocked in this thread, which it inherits.

    The resource tracker starts first: its own start unblocks the signals it blocked, ours included."""
    resource_tracker.ensure_running()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        forkserver.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
