"""`filter --executor ray`: the filter's batches evaluated by Ray actors, results back in input order.

Why it gives the same rows and reasons as the local executor: each actor runs the very `WorkerPool` the local
filter uses (one forkserver evaluator process, with the same hard per-row timeout), over the same task batches,
and `ActorPool.map` returns results in submission order. A killed actor is restarted by Ray and its calls
retried (`max_restarts`/`max_task_retries`), so no row is lost or written twice: rows are written only by the
driver, as the ordered results come back. The actors start once per run and serve every input file (starting a
pool per file — what a Ray Data `map_batches` per file does — cost several seconds per file).
"""

from __future__ import annotations

import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from datafactory.checks.evaluate import EvalSpec
from datafactory.scale.runtime import init_ray

BATCHES_PER_CALL = 32  # task batches per actor call: a call costs milliseconds, a batch of one prompt's samples less


class RayEvaluator:
    """A Ray actor: a one-process WorkerPool of the local filter, kept warm across calls."""

    def __init__(self, spec: EvalSpec, timeout: float):
        from datafactory.checks.pool import WorkerPool

        self.pool = WorkerPool(spec, workers=1, timeout=timeout).__enter__()

    def evaluate(self, payload: bytes) -> bytes:
        """Pickled task batches in, pickled (results per batch, (timeouts, crashes)) out."""
        before = (self.pool.timeouts, self.pool.crashes)
        results = list(self.pool.map(pickle.loads(payload)))
        return pickle.dumps((results, (self.pool.timeouts - before[0], self.pool.crashes - before[1])))


class RayFilterPool:
    """Drop-in for WorkerPool: `map(batches, on_row)` yields each batch's results, in order (the filter);
    `submit(tasks, tag)` and `poll(wait_s)` stream batches as they come (generate's `--target`), one call per
    idle actor."""

    def __init__(self, spec: EvalSpec, workers: int, timeout: float, address: str | None = None):
        self.spec, self.workers, self.timeout = spec, max(1, workers), timeout
        self.size = self.workers  # how many batches run at once (WorkerPool's name for it)
        self.ray = init_ray(address)
        self.timeouts = self.crashes = 0
        self.actors: list = []
        self._waiting: deque = deque()  # (tag, tasks) not yet sent
        self._idle: list = []
        self._running: dict = {}  # object ref -> (actor, tag)

    def __enter__(self) -> RayFilterPool:
        actor = self.ray.remote(RayEvaluator).options(num_cpus=1, max_restarts=-1, max_task_retries=-1)
        self.actors = [actor.remote(self.spec, self.timeout) for _ in range(self.workers)]
        self._idle = list(self.actors)
        return self

    def __exit__(self, *exc) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors, self._idle, self._running = [], [], {}

    def submit(self, tasks: list[dict], tag: object) -> None:
        """Queue one batch for `poll`, which hands its results back with `tag`."""
        if tasks:
            self._waiting.append((tag, tasks))
            self._send()

    def poll(self, wait_s: float = 0.0) -> list[tuple[object, list[dict]]]:
        """Batches finished so far, as (tag, results), waiting at most `wait_s` for one when none is."""
        self._send()
        if not self._running:
            return []
        ready, _ = self.ray.wait(list(self._running), num_returns=1, timeout=wait_s)
        if ready:
            ready, _ = self.ray.wait(list(self._running), num_returns=len(self._running), timeout=0)
        finished = []
        for ref in ready:
            actor, tag = self._running.pop(ref)
            results, (timeouts, crashes) = pickle.loads(self.ray.get(ref))
            self.timeouts += timeouts
            self.crashes += crashes
            self._idle.append(actor)
            finished.append((tag, results[0]))
        self._send()
        return finished

    def _send(self) -> None:
        while self._waiting and self._idle:
            actor = self._idle.pop()
            tag, tasks = self._waiting.popleft()
            self._running[actor.evaluate.remote(pickle.dumps([tasks]))] = (actor, tag)

    def map(self, batches: Iterable[list[dict]], on_row: Callable[[int], None] | None = None) -> Iterator[list[dict]]:
        from ray.util import ActorPool

        calls = _calls((b for b in batches if b), BATCHES_PER_CALL)
        for payload in ActorPool(self.actors).map(lambda actor, p: actor.evaluate.remote(p), calls):
            results, (timeouts, crashes) = pickle.loads(payload)
            self.timeouts += timeouts
            self.crashes += crashes
            for batch in results:
                if on_row:
                    on_row(len(batch))
                yield batch


def _calls(batches: Iterator[list[dict]], size: int) -> Iterator[bytes]:
    group: list[list[dict]] = []
    for batch in batches:
        group.append(batch)
        if len(group) == size:
            yield pickle.dumps(group)
            group = []
    if group:
        yield pickle.dumps(group)
