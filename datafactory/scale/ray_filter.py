"""`filter --executor ray`: the filter's batches evaluated by Ray Data actors, results back in input order.

Why it gives the same rows and reasons as the local executor: each actor runs the very `WorkerPool` the local
filter uses (one forkserver evaluator process, with the same hard per-row timeout), over the same task batches;
Ray Data keeps their order (`preserve_order`). A killed actor is restarted by Ray and its batch retried, so no
row is lost or written twice: rows are written only by the driver, as the ordered results come back.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from datafactory.filtering.evaluate import EvalSpec
from datafactory.scale.runtime import init_ray

ITEMS_PER_CALL = 32  # task batches per actor call: a call costs milliseconds, a batch of one prompt's samples less


class RayEvaluator:
    """A Ray Data actor: a one-process WorkerPool of the local filter, kept warm across batches."""

    def __init__(self, spec: EvalSpec, timeout: float):
        from datafactory.filtering.pool import WorkerPool

        self.pool = WorkerPool(spec, workers=1, timeout=timeout).__enter__()

    def __call__(self, batch: dict) -> dict:
        before = (self.pool.timeouts, self.pool.crashes)
        results = list(self.pool.map([pickle.loads(payload) for payload in batch["payload"]]))
        counts = (self.pool.timeouts - before[0], self.pool.crashes - before[1])
        # the call's timeout and crash counts ride on its first batch
        out = [pickle.dumps((r, counts if i == 0 else (0, 0))) for i, r in enumerate(results)]
        return {"index": batch["index"], "payload": np.array(out, dtype=object)}


class RayFilterPool:
    """Drop-in for WorkerPool: `map(batches, on_row)` yields each batch's results, in order."""

    def __init__(self, spec: EvalSpec, workers: int, timeout: float, address: str | None = None):
        self.spec, self.workers, self.timeout = spec, max(1, workers), timeout
        self.ray = init_ray(address)
        self.timeouts = self.crashes = 0

    def __enter__(self) -> RayFilterPool:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def map(self, batches: Iterable[list[dict]], on_row: Callable[[int], None] | None = None) -> Iterator[list[dict]]:
        import ray.data

        items = [{"index": i, "payload": pickle.dumps(batch)} for i, batch in enumerate(b for b in batches if b)]
        if not items:
            return
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        blocks = max(1, min(len(items) // ITEMS_PER_CALL, 8 * self.workers))
        dataset = ray.data.from_items(items, override_num_blocks=blocks)
        evaluated = dataset.map_batches(
            RayEvaluator,
            fn_constructor_args=(self.spec, self.timeout),
            batch_size=ITEMS_PER_CALL,
            compute=ray.data.ActorPoolStrategy(size=min(self.workers, len(items))),
            num_cpus=1,
            max_restarts=-1,
            max_task_retries=-1,
        )
        waiting, expected = {}, 0
        for row in evaluated.iter_rows():
            waiting[row["index"]] = pickle.loads(row["payload"])
            while expected in waiting:
                results, (timeouts, crashes) = waiting.pop(expected)
                self.timeouts += timeouts
                self.crashes += crashes
                if on_row:
                    on_row(len(results))
                expected += 1
                yield results
