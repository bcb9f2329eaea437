"""`generate --executor ray --replicas N`: one stream of samples over N engine replicas on a Ray cluster.

Why a stream and not chunks: with long-tailed trace lengths, a chunk split evenly across replicas leaves most of
them idle while the slowest finishes its share. Here the driver holds the samples not yet sent and gives each
replica only what keeps its own batch full (`ROOM` times what it runs at once); a replica asks for more each time
samples finish (one `step` call: cancels, new samples, then what finished). A prompt's later samples go to
whichever replica has room: per-sample seeds (engines/base.Ticket) make a sample the same wherever it is drawn.

Faults: a replica that dies takes nothing with it. Its samples not yet returned go back to the front of the
driver's queue (as single samples with their own seeds) and are drawn elsewhere; Ray restarts the actor, which
rejoins once its engine is ready again. Rows are written only by the driver, so none is lost or written twice.
A replica that cannot start fails the run in one line before any prompt is sent.
"""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass, field

from datafactory.engines.base import Completion, Engine, EngineOptions, Request, Sampling, Ticket, engine_class
from datafactory.errors import EngineError
from datafactory.scale.runtime import init_ray

ROOM = 2  # samples a replica holds per sequence it runs at once: enough to refill its batch between two calls


class EngineReplica:
    """One engine inside a Ray actor. `engine` is a name from engines/base.ENGINES, or (benchmarks) a class."""

    def __init__(self, engine, options: EngineOptions, seed: int):
        self.engine = (engine_class(engine) if isinstance(engine, str) else engine)(options, seed=seed)

    def ready(self) -> tuple[int, bool]:
        """What it runs at once (its stream capacity; for an engine that only batches, --concurrency), and
        whether its idle slots cost nothing (Engine.idle_slots_free)."""
        capacity = getattr(self.engine, "stream_capacity", None)
        count = int(capacity()) if callable(capacity) else self.engine.options.concurrency
        return count, bool(self.engine.idle_slots_free)

    def step(self, watch: tuple, cancels: list, tickets: list[Ticket], sampling: Sampling | None) -> list:
        """Cancel, start new samples, and return those that finished (waiting for one while any is in flight).
        `watch` is `(the in-flight checks,)` when they change (they keep each sample's state here), else `()`."""
        if watch:
            self.engine.watch = watch[0]
        if cancels:
            self.engine.cancel(cancels)
        if tickets:
            self.engine.submit(tickets, sampling)
        return self.engine.collect() if self.engine.in_flight else []

    def generate(self, requests: list[Request], sampling: Sampling) -> list[list[Completion]]:
        return self.engine.generate(requests, sampling)

    def close(self) -> None:
        self.engine.close()


@dataclass
class _Replica:
    actor: object
    capacity: int
    sent: dict = field(default_factory=dict)  # sample key -> its single-sample Ticket, until it comes back
    outbox: list = field(default_factory=list)  # tickets for its next call
    cancels: list = field(default_factory=list)
    call: object = None  # the outstanding `step` (or, while it restarts, `ready`) call
    restarting: bool = False
    watched: bool = False  # it has the current in-flight checks

    @property
    def load(self) -> int:
        return len(self.sent)


class RayReplicaEngine(Engine):
    def __init__(
        self, engine, options: EngineOptions, seed: int, replicas: int, address: str | None,
        cpus_per_replica: float = 1.0, checkers: int = 0,
    ):  # fmt: skip
        super().__init__(options)
        self.name = engine if isinstance(engine, str) else getattr(engine, "name", "engine")
        why = f"--replicas {replicas}" + (f" and --workers {checkers}" if checkers else "")
        ray = init_ray(address, replicas * cpus_per_replica + checkers, why)
        gpus = options.tensor_parallel_size if ray.cluster_resources().get("GPU", 0) > 0 else 0
        actor = ray.remote(EngineReplica).options(
            num_cpus=cpus_per_replica, num_gpus=gpus, max_restarts=-1, max_task_retries=0
        )
        self.ray = ray
        actors = [actor.remote(engine, options, seed) for _ in range(max(1, replicas))]
        answers = []
        for number, handle in enumerate(actors, 1):  # fail here, not mid-run, if one cannot start
            try:
                answers.append(ray.get(handle.ready.remote()))
            except Exception as err:
                for other in actors:
                    ray.kill(other, no_restart=True)
                raise EngineError(f"engine replica {number} of {len(actors)} could not start: {_cause(err)}") from None
        self.replicas = [_Replica(handle, capacity) for handle, (capacity, _) in zip(actors, answers, strict=True)]
        self.idle_slots_free = all(free for _, free in answers)
        self.queue: deque[Ticket] = deque()  # samples not yet given to a replica
        self.sampling: Sampling | None = None
        self.ready: list = []
        self.restarts = 0

    @property
    def watch(self):
        return self._watch

    @watch.setter
    def watch(self, watch) -> None:
        """The in-flight checks run where the samples are drawn: each replica gets them with its next call."""
        self._watch = watch
        for replica in getattr(self, "replicas", []):
            replica.watched = False

    def describe(self) -> str:
        return f"{len(self.replicas)} {self.name} replicas on Ray"

    def stream_capacity(self) -> int:
        return sum(r.capacity for r in self.replicas)

    def submit(self, tickets: list[Ticket], sampling: Sampling) -> None:
        self.sampling = sampling
        self.queue.extend(single for ticket in tickets for single in _singles(ticket))

    def cancel(self, keys: list[tuple[str, int]]) -> None:
        dropped = set(keys)
        self.queue = deque(t for t in self.queue if (t.prompt_id, t.first) not in dropped)
        self.ready = [(key, c) for key, c in self.ready if key not in dropped]
        for replica in self.replicas:
            mine = [key for key in keys if key in replica.sent]
            for key in mine:
                del replica.sent[key]
            replica.outbox = [t for t in replica.outbox if (t.prompt_id, t.first) not in dropped]
            replica.cancels.extend(mine)

    @property
    def in_flight(self) -> int:
        return len(self.queue) + sum(r.load for r in self.replicas) + len(self.ready)

    def collect(self) -> list[tuple[tuple[str, int], Completion]]:
        while not self.ready:
            self._dispatch()
            calls = {r.call: r for r in self.replicas if r.call is not None}
            if not calls:
                return []
            done, _ = self.ray.wait(list(calls), num_returns=1)
            done, _ = self.ray.wait(list(calls), num_returns=len(calls), timeout=0)
            for ref in done:
                self._returned(calls[ref], ref)
        ready, self.ready = self.ready, []
        return ready

    def _dispatch(self) -> None:
        """Give queued samples to the replicas with room (the least loaded first) and call every idle replica."""
        open_ = [r for r in self.replicas if not r.restarting]
        for replica in sorted(open_, key=lambda r: r.load / r.capacity):
            for _ in range(min(len(self.queue), ROOM * replica.capacity - replica.load)):
                ticket = self.queue.popleft()
                replica.sent[(ticket.prompt_id, ticket.first)] = ticket
                replica.outbox.append(ticket)
        for replica in open_:
            if replica.call is None and (replica.sent or replica.cancels):
                tickets, cancels = replica.outbox, replica.cancels
                watch = () if replica.watched else (self.watch,)
                replica.outbox, replica.cancels, replica.watched = [], [], True
                replica.call = replica.actor.step.remote(watch, cancels, tickets, self.sampling)

    def _returned(self, replica: _Replica, ref) -> None:
        replica.call = None
        try:
            result = self.ray.get(ref)
        except Exception as err:
            if not _actor_died(err):
                raise EngineError(f"an engine replica failed: {_cause(err)}") from None
            if replica.restarting and _restarting(err):  # still coming back: ask again
                replica.call = replica.actor.ready.remote()
            elif replica.restarting:  # it will not come back: go on without it
                self.replicas.remove(replica)
                if not self.replicas:
                    raise EngineError(f"every engine replica died; the last: {_cause(err)}") from None
            else:
                self._lost(replica)
            return
        if replica.restarting:  # `ready` answered: the restarted engine is back
            replica.restarting = False
            return
        for key, completion in result:
            if replica.sent.pop(key, None) is not None:
                self.ready.append((key, completion))

    def _lost(self, replica: _Replica) -> None:
        """The replica died: what it was drawing goes back to the front of the queue; wait for its restart."""
        self.queue.extendleft(reversed(list(replica.sent.values())))
        replica.sent, replica.outbox, replica.cancels = {}, [], []
        replica.restarting, replica.watched = True, False
        self.restarts += 1
        replica.call = replica.actor.ready.remote()

    def generate(self, requests: list[Request], sampling: Sampling) -> list[list[Completion]]:
        """The batch API (not used by generate): requests split evenly across the replicas."""
        share = -(-len(requests) // len(self.replicas))
        parts = [requests[i : i + share] for i in range(0, len(requests), share)]
        refs = [r.actor.generate.remote(part, sampling) for r, part in zip(self.replicas, parts, strict=False)]
        return [completions for result in self.ray.get(refs) for completions in result]

    def close(self) -> None:
        for replica in self.replicas:
            with contextlib.suppress(Exception):  # a replica that is already gone needs no closing
                self.ray.get(replica.actor.close.remote(), timeout=60)
            self.ray.kill(replica.actor)


def _singles(ticket: Ticket) -> list[Ticket]:
    """A ticket as one ticket per sample (sample i keeps seed + i), so any sample can go anywhere or come back."""
    return [
        Ticket(ticket.prompt_id, ticket.first + j, 1, ticket.messages, ticket.seed + j) for j in range(ticket.count)
    ]


def _actor_died(err: Exception) -> bool:
    from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

    return isinstance(err, ActorDiedError | ActorUnavailableError | RayActorError)


def _restarting(err: Exception) -> bool:
    """Ray's word for an actor that is being restarted (a call to it fails until it is back)."""
    from ray.exceptions import ActorUnavailableError

    return isinstance(err, ActorUnavailableError)


def _cause(err: Exception) -> str:
    """The first line of what went wrong inside the replica, not Ray's wrapping of it."""
    cause = getattr(err, "cause", None) or getattr(err, "base_exception", None) or err
    text = str(cause).strip().splitlines()
    return text[-1] if text else type(cause).__name__
