"""A pool of worker processes with a hard time limit per row.

Why not multiprocessing.Pool: a row that hangs (sympy on 10^{10^{10^{10}}}, a runaway program) must cost only
itself. Here each worker takes a batch of rows and reports each row as it finishes; a worker silent for longer
than the limit is killed, its current row is marked `verifier_timeout`, a fresh worker takes the rest of the
batch, and nothing hangs. Results come back in submission order.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import wait

from datafactory.checks.evaluate import EvalSpec, Evaluator, result_for
from datafactory.worker_processes import worker_context

PRELOAD = ["datafactory.checks.evaluate", "datafactory.verifiers.math", "math_verify", "sympy"]


def _worker_main(conn, spec: EvalSpec) -> None:
    """Evaluate batches until told to stop, or until the parent is gone (Ctrl-C, SIGTERM): then end quietly.
    Ctrl-C reaches the whole process group; the parent decides what an interrupt means, not the workers (they
    ignore it from birth, see worker_processes.py; said again here for a fork server someone else started)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    evaluator = Evaluator(spec)
    try:
        conn.send(("ready", None, None))
        while True:
            message = conn.recv()
            if message is None:
                return
            batch_id, start, tasks = message
            for offset, task in enumerate(tasks):
                conn.send((batch_id, start + offset, evaluator.evaluate(task)))
    except (BrokenPipeError, EOFError, ConnectionResetError):
        return


@dataclass
class _Job:
    batch_id: int
    start: int
    tasks: list


class _Worker:
    def __init__(self, context, spec: EvalSpec):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, spec), daemon=True)
        self.process.start()
        child.close()
        self.job: _Job | None = None
        self.done_in_job = 0
        self.deadline = float("inf")
        self.ready = False

    def give(self, job: _Job, timeout: float) -> None:
        self.job, self.done_in_job = job, 0
        self.deadline = time.monotonic() + timeout
        self.conn.send((job.batch_id, job.start, job.tasks))

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


WORKER_MB = 512  # what one verifier worker may take (sympy, a sandbox's pipes): memory caps the workers too


def worker_cap() -> int:
    """The most verifier workers this machine can run: 4 per core (code verification waits on its sandboxes), and
    no more than its memory holds at WORKER_MB each."""
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20
    return max(1, min(4 * (os.cpu_count() or 1), memory_mb // WORKER_MB))


def capped(workers: int) -> int:
    """`--workers` within what this machine can run (checks.worker_cap), saying so when it asked for more."""
    cap = worker_cap()
    if workers > cap:
        print(f"note: --workers {workers}: this machine runs at most {cap} (its cores and memory); using {cap}",
              file=sys.stderr)  # fmt: skip
    return max(1, min(workers, cap))


class WorkerPool:
    """`map(batches)` yields one list of results per batch of task dicts, in order."""

    def __init__(self, spec: EvalSpec, workers: int = 2, timeout: float = 20.0, start_timeout: float = 120.0):
        self.spec, self.size, self.timeout, self.start_timeout = spec, capped(workers), timeout, start_timeout
        self.context = worker_context(PRELOAD)
        self.workers: list[_Worker] = []
        self.timeouts = self.crashes = 0
        self._stream: deque[_Job] = deque()
        self._stream_results: dict[int, list] = {}
        self._stream_tags: dict[int, object] = {}
        self._stream_next = 0

    def __enter__(self) -> WorkerPool:
        self.workers = [self._spawn() for _ in range(self.size)]
        return self

    def __exit__(self, *exc) -> None:
        for worker in self.workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
            worker.process.join(timeout=2)
            worker.kill()

    def _spawn(self) -> _Worker:
        worker = _Worker(self.context, self.spec)
        worker.deadline = time.monotonic() + self.start_timeout
        return worker

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        fresh = self._spawn()
        self.workers[self.workers.index(worker)] = fresh
        return fresh

    def map(self, batches: Iterable[list[dict]], on_row: Callable[[int], None] | None = None) -> Iterator[list[dict]]:
        source = iter(batches)
        queue: deque[_Job] = deque()
        results: dict[int, list] = {}
        sizes: dict[int, int] = {}
        submitted = emitted = 0
        exhausted = False
        while True:
            while not exhausted and len(queue) + sum(w.job is not None for w in self.workers) < 2 * self.size:
                batch = next(source, None)
                if batch is None:
                    exhausted = True
                    break
                if batch:
                    queue.append(_Job(submitted, 0, batch))
                    results[submitted], sizes[submitted] = [None] * len(batch), len(batch)
                    submitted += 1
            for worker in self.workers:
                if worker.ready and worker.job is None and queue:
                    worker.give(queue.popleft(), self.timeout)
            while emitted in sizes and all(r is not None for r in results[emitted]):
                yield results.pop(emitted)
                del sizes[emitted]
                emitted += 1
            if exhausted and not queue and emitted == submitted:
                return
            self._collect(queue, results, on_row)

    def submit(self, tasks: list[dict], tag: object) -> None:
        """Queue one batch for `poll`, which hands its results back with `tag`."""
        if not tasks:
            return
        job_id = self._stream_next = self._stream_next + 1
        self._stream.append(_Job(job_id, 0, tasks))
        self._stream_results[job_id], self._stream_tags[job_id] = [None] * len(tasks), tag

    def poll(self, wait_s: float = 0.0) -> list[tuple[object, list[dict]]]:
        """Batches finished so far, as (tag, results), waiting at most `wait_s` for one when none is."""
        self._dispatch()
        wait_for = wait_s
        while self._stream_results:  # read every result already there (one per worker per pass), then return
            received = self._collect(self._stream, self._stream_results, None, wait_for)
            self._dispatch()
            if not received:
                break
            wait_for = 0.0
        finished = [job for job, rows in self._stream_results.items() if all(r is not None for r in rows)]
        return [(self._stream_tags.pop(job), self._stream_results.pop(job)) for job in finished]

    def _dispatch(self) -> None:
        for worker in self.workers:
            if worker.ready and worker.job is None and self._stream:
                worker.give(self._stream.popleft(), self.timeout)

    def _collect(self, queue: deque, results: dict, on_row, wait_s: float | None = None) -> bool:
        """Read at most one message per busy worker (waiting up to the nearest deadline, or `wait_s`); True
        when any came."""
        waiting = [w for w in self.workers if w.job is not None or not w.ready]
        if not waiting:
            return False
        pause = max(0.0, min(w.deadline for w in waiting) - time.monotonic())
        if wait_s is not None:
            pause = min(pause, wait_s)
        ready = wait([w.conn for w in waiting], timeout=pause)
        received = bool(ready)
        for worker in list(waiting):
            if worker.conn in ready:
                self._receive(worker, queue, results, on_row)
            elif time.monotonic() >= worker.deadline:
                self._fail(worker, queue, results, "verifier_timeout", f"no result within {self.timeout:g} s")
        return received

    def _receive(self, worker: _Worker, queue: deque, results: dict, on_row) -> None:
        try:
            batch_id, index, result = worker.conn.recv()
        except (EOFError, OSError):
            code = worker.process.exitcode
            self._fail(worker, queue, results, "verifier_error", f"worker died (exit code {code})")
            return
        if batch_id == "ready":
            worker.ready = True
            worker.deadline = float("inf")
            return
        results[batch_id][index] = result
        worker.done_in_job += 1
        worker.deadline = time.monotonic() + self.timeout
        if on_row:
            on_row(1)
        if worker.done_in_job == len(worker.job.tasks):
            worker.job, worker.deadline = None, float("inf")

    def _fail(self, worker: _Worker, queue: deque, results: dict, verdict: str, detail: str) -> None:
        job = worker.job
        if job is None:  # died or hung while starting
            if not worker.ready and time.monotonic() < worker.deadline and worker.process.is_alive():
                return
            raise RuntimeError(f"a verifier worker failed to start ({detail})")
        self.timeouts += verdict == "verifier_timeout"
        self.crashes += verdict == "verifier_error"
        index = job.start + worker.done_in_job
        results[job.batch_id][index] = result_for(verdict, detail, self.spec.verifier)
        rest = job.tasks[worker.done_in_job + 1 :]
        if rest:
            queue.appendleft(_Job(job.batch_id, index + 1, rest))
        self._replace(worker)
