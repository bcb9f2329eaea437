"""The executor a stage's work is handed (`--executor local|ray`): the one place that chooses between local
processes and Ray, so no stage imports Ray, the verifier pool's processes or the engines' replicas itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChosenExecutor:
    """stages.Executor for `--executor` and `--ray-address`."""

    kind: str = "local"  # local, or ray
    address: str | None = None  # the Ray cluster (`--ray-address`)

    @classmethod
    def of(cls, config) -> ChosenExecutor:
        return cls(config.executor, config.ray_address)

    def tasks(self, local=None):
        """Where independent tasks run: Ray tasks, else `local()` (a thread pool, say), or None to run inline."""
        if self.kind == "ray":
            from datafactory.scale.runtime import RayExecutor

            return RayExecutor(self.address)
        return local() if local else None

    def verifier_pool(self, spec, workers: int, timeout: float):
        """The verifier workers (filter, generate --target): the local forkserver pool, or the same evaluators as
        Ray actors."""
        if self.kind == "ray":
            from datafactory.scale.ray_filter import RayFilterPool

            return RayFilterPool(spec, workers, timeout, self.address)
        from datafactory.checks.pool import WorkerPool

        return WorkerPool(spec, workers, timeout)

    def inference_engine(self, name: str, settings, seed: int, replicas: int = 1, checkers: int = 0):
        """The inference engine (generate): one here, or `replicas` of it as Ray actors, on a cluster with a CPU
        for each and for each of `checkers` verifier actors."""
        if self.kind == "ray":
            from datafactory.scale.ray_generate import RayReplicaEngine

            return RayReplicaEngine(name, settings, seed, replicas, self.address, checkers=checkers)
        from datafactory.engines.base import engine_class

        return engine_class(name)(settings, seed=seed)
