"""Connect to Ray, and an executor with the `submit(fn, *args) → future` shape the stages already use.

Why this shape: the stages fan work out through `concurrent.futures`-style executors (threads, processes); Ray
tasks slot in behind the same two methods, so `--executor ray` changes where work runs, not what it does.
Ray is an optional extra (`pip install 'datafactory[ray]'`): nothing imports it unless `--executor ray` is given.
"""

from __future__ import annotations

import math
import os

from datafactory.errors import OptionError

EXECUTORS = ("local", "ray")


def check_executor(executor: str) -> None:
    if executor not in EXECUTORS:
        raise OptionError("executor", f"--executor {executor!r}: choose one of {', '.join(EXECUTORS)}")
    if executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise OptionError("executor", "--executor ray needs Ray: pip install 'datafactory[ray]'") from None


def init_ray(address: str | None = None, cpus: float = 0, why: str = ""):
    """Join the cluster at `address` (`auto`: the one `ray start` made on this machine), or start a local Ray
    with this machine's CPUs (at least `cpus`: a local run shares its cores as the local executor does) when no
    address is given. Idempotent. A cluster with fewer than `cpus` CPUs is refused (actors that cannot be placed
    would wait forever), naming the options (`why`)."""
    import ray

    if not ray.is_initialized():
        options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=max(os.cpu_count() or 1, math.ceil(cpus)), **options)
    have = ray.cluster_resources().get("CPU", 0)
    if cpus > have:
        raise OptionError("replicas", f"the Ray cluster has {have:g} CPUs; {why} need {cpus:g} (one each)")
    return ray


class RayFuture:
    def __init__(self, ref):
        self.ref = ref

    def result(self):
        import ray

        return ray.get(self.ref)


class RayExecutor:
    """`submit(fn, *args)` as a Ray task (one CPU each, retried if its worker dies); `shutdown()` is a no-op."""

    def __init__(self, address: str | None = None, num_cpus: float = 1):
        self.ray = init_ray(address)
        self.num_cpus = num_cpus
        self._remote = {}

    def submit(self, fn, *args) -> RayFuture:
        if fn not in self._remote:
            self._remote[fn] = self.ray.remote(num_cpus=self.num_cpus, max_retries=3)(fn)
        return RayFuture(self._remote[fn].remote(*args))

    def put(self, value):
        return self.ray.put(value)

    def shutdown(self, wait: bool = True) -> None:
        pass

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc) -> None:
        pass
