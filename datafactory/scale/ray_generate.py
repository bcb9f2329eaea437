"""`generate --executor ray --replicas N`: data-parallel sampling over N engine replicas on a Ray cluster.

Why behind the Engine interface: the generate stage (prompt chunks, per-prompt seeds, shards, resume) stays the
one the local run uses, so the samples contract cannot drift. Each chunk of requests is split across the
replicas (Ray actors, each with its own `--tensor-parallel-size` GPUs); per-request seeds make the samples the
same whichever replica draws them. A replica that dies is restarted by Ray and its share retried; if the driver
dies, the rerun resumes from the shards already written, like a local run.
"""

from __future__ import annotations

import contextlib

from datafactory.engines.base import Completion, Engine, EngineOptions, Request, Sampling, engine_class
from datafactory.scale.runtime import init_ray


class EngineReplica:
    """One engine inside a Ray actor."""

    def __init__(self, engine: str, options: EngineOptions, seed: int):
        self.engine = engine_class(engine)(options, seed=seed)

    def generate(self, requests: list[Request], sampling: Sampling) -> list[list[Completion]]:
        return self.engine.generate(requests, sampling)

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        self.engine.close()


class RayReplicaEngine(Engine):
    def __init__(
        self, engine: str, options: EngineOptions, seed: int, replicas: int, address: str | None,
        cpus_per_replica: float = 1.0,
    ):  # fmt: skip
        super().__init__(options)
        self.name = engine
        ray = init_ray(address)
        gpus = options.tensor_parallel_size if ray.cluster_resources().get("GPU", 0) > 0 else 0
        actor = ray.remote(EngineReplica).options(
            num_cpus=cpus_per_replica, num_gpus=gpus, max_restarts=-1, max_task_retries=-1
        )
        self.ray = ray
        self.replicas = [actor.remote(engine, options, seed) for _ in range(max(1, replicas))]
        ray.get([replica.ready.remote() for replica in self.replicas])  # fail here, not mid-run, if one cannot start

    def generate(self, requests: list[Request], sampling: Sampling) -> list[list[Completion]]:
        share = -(-len(requests) // len(self.replicas))
        parts = [requests[i : i + share] for i in range(0, len(requests), share)]
        refs = [replica.generate.remote(part, sampling) for replica, part in zip(self.replicas, parts, strict=False)]
        return [completions for result in self.ray.get(refs) for completions in result]

    def close(self) -> None:
        for replica in self.replicas:
            with contextlib.suppress(Exception):  # a replica that is already gone needs no closing
                self.ray.get(replica.close.remote(), timeout=60)
            self.ray.kill(replica)
