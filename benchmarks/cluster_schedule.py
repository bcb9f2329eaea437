"""The generate scheduler at cluster sizes this machine cannot hold, by simulation: 4, 16 and 64 engine replicas.

The replicas are real Ray actors run by the real scheduler (`scale/ray_generate.RayReplicaEngine` and
`generate/sample_loop.SampleLoop`, unchanged); only the engine inside each actor is a stand-in, `SimulatedEngine`
below (it lives here and is never an engine a user can pick). It runs `--concurrency` samples at once, as a
continuous-batching engine does, and each sample occupies its slot for a time proportional to its length.

Lengths: DeepSeek-R1's responses in OpenThoughts average about 6,000 tokens and some exceed 20,000 (Open-R1
Update #1, https://huggingface.co/blog/open-r1/update-1). A lognormal with those two figures (mean 6,000, about
1.5% above 20,000: mu 8.49, sigma 0.65), cut at a 32,768-token limit, draws them; a sample's length comes from its
seed, so both schedulers draw the very same samples. Adaptive runs (`--target 1`) pass a sample with its prompt's
own solve rate (uniform 0.05..0.95 per prompt), checked at once in this process.

Three schedulers: the chunk split before the stream (the engine interface's batching fallback over the replicas'
even split: each chunk of prompts waits for its slowest replica), the stream (each replica kept full, samples go
where there is room) with the slots left idle at the end of an adaptive run, and the stream with them filled
(`filled`: what a run on GPU replicas does, Engine.idle_slots_free). Filling adds work that may prove unneeded, so
compare the wall times (and the work) of `stream` and `filled`, not only their busy fractions. Figures: the replicas' busy fraction (slot time spent on samples, those cancelled part-way by adaptive
sampling included, over slots x wall time)
and the wall time over the ideal (that work divided over every slot).

Scale: a real replica runs about 256 sequences at once (vLLM's max_num_seqs) and generate's chunk is
`--shard-rows` (10,000) samples; simulating 256 slots per replica at 64 replicas is more samples than one driver
machine can simulate in minutes, so the stand-in runs `--slots` and the chunk is scaled with it (shard rows
10,000 x slots / 256): the chunk holds as many samples per slot of the cluster as a real run's does.

    .venv/bin/python benchmarks/cluster_schedule.py [--replicas 4 16 64] [--samples-per-slot 40]
"""

from __future__ import annotations

import argparse
import math
import random
import time

from datafactory.engines.base import Completion, Engine, EngineOptions, Request, Sampling
from datafactory.generate.sample_loop import SampleLoop, default_window
from datafactory.prompts import Prompt
from datafactory.scale.ray_generate import RayReplicaEngine

MEAN_TOKENS, MU, SIGMA, LIMIT = 6000, 8.49, 0.65, 32_768
REAL_SLOTS = 256  # sequences a real replica runs at once
CANCELLED = "cluster-schedule-cancelled"  # the named actor that sums cancelled samples' slot time


def sample_length(seed: int) -> int:
    return min(LIMIT, max(1, int(random.Random(seed).lognormvariate(MU, SIGMA))))


def solve_rate(messages: list[dict]) -> float:
    return random.Random(messages[-1]["content"]).uniform(0.05, 0.95)


class SimulatedEngine(Engine):
    """A stand-in engine (benchmarks only): `concurrency` slots; a sample holds one for length x seconds per token."""

    name = "simulated"
    idle_slots_free = True  # its slots are independent, as a GPU batch below its limit nearly is

    def __init__(self, options: EngineOptions, seed: int = 0):
        super().__init__(options)
        self.slots = options.concurrency
        self.token_s = options.extra["token_seconds"]
        self.waiting: list = []  # (key, seed) not started
        self.running: list = []  # (finish time, key, seed, tokens)

    def stream_capacity(self) -> int:
        return self.slots

    def submit(self, tickets, sampling: Sampling) -> None:
        self.waiting.extend((key, t.seed + j, t.messages) for t in tickets for j, key in enumerate(t.sample_keys()))
        self._start(time.monotonic())

    def _start(self, at: float) -> None:
        while self.waiting and len(self.running) < self.slots:
            key, seed, messages = self.waiting.pop(0)
            tokens = sample_length(seed)
            self.running.append((at + tokens * self.token_s, key, seed, _completion(messages, seed, tokens)))
        self.running.sort(key=lambda r: r[0])

    def collect(self):
        if not self.running:
            return []
        time.sleep(max(0.0, self.running[0][0] - time.monotonic()))
        now, done = time.monotonic(), []
        while self.running and self.running[0][0] <= now:  # a freed slot takes the next sample when it frees
            finish, key, _, completion = self.running.pop(0)
            done.append((key, completion))
            self._start(finish)
        return done

    def cancel(self, keys) -> None:
        dropped, now = set(keys), time.monotonic()
        self.waiting = [w for w in self.waiting if w[0] not in dropped]
        stopped = [r for r in self.running if r[1] in dropped]
        self.running = [r for r in self.running if r[1] not in dropped]
        if stopped:  # slot time spent on samples cancelled part-way (adaptive): busy, though nothing came back
            partial = sum(max(0.0, min(now, r[0]) - (r[0] - r[3].completion_tokens * self.token_s)) for r in stopped)
            import ray

            ray.get_actor(CANCELLED).add.remote(partial)
        self._start(now)

    @property
    def in_flight(self) -> int:
        return len(self.waiting) + len(self.running)

    def generate(self, requests: list[Request], sampling: Sampling) -> list[list[Completion]]:
        """A batch, continuously batched over the slots; returns when its last sample ends."""
        start = time.monotonic()
        free = [start] * self.slots
        results = []
        for request in requests:
            at = min(free)
            tokens = sample_length(request.seed)
            free[free.index(at)] = at + tokens * self.token_s
            results.append([_completion(request.messages, request.seed, tokens)])
        time.sleep(max(0.0, max(free) - time.monotonic()))
        return results


def _completion(messages: list[dict], seed: int, tokens: int) -> Completion:
    passed = random.Random(seed * 7 + 1).random() < solve_rate(messages)
    return Completion("pass" if passed else "fail", "stop", 100, tokens)


class SlotTime:
    """A Ray actor the stand-ins report cancelled samples' slot time to."""

    def __init__(self):
        self.seconds = 0.0

    def add(self, seconds: float) -> None:
        self.seconds += seconds

    def take(self) -> float:
        seconds, self.seconds = self.seconds, 0.0
        return seconds


class ChunkSplit(Engine):
    """Today's scheduler: the engine interface's batching fallback over the replicas' `generate`, which splits each
    chunk evenly and returns when the slowest replica's share is done."""

    name = "chunk-split"

    def __init__(self, replicas: RayReplicaEngine):
        super().__init__(replicas.options)
        self.replicas = replicas

    def generate(self, requests, sampling):
        return self.replicas.generate(requests, sampling)


class InstantChecks:
    """The verifier workers' interface, answering at once (the checks are not what is measured here)."""

    size = 4

    def __init__(self):
        self.done: list = []

    def submit(self, tasks, tag) -> None:
        self.done.append((tag, [{"verdict": t["completion"] if t["completion"] == "pass" else "wrong_answer"}
                                for t in tasks]))  # fmt: skip

    def poll(self, wait_s: float = 0.0):
        done, self.done = self.done, []
        return done


def run(engine: Engine, prompts: int, n: int, target: int | None, token_s: float, shard_rows: int, slot_time) -> dict:
    sampling = Sampling(n=n, temperature=0.6, max_tokens=LIMIT, seed=0)
    work = {"seconds": 0.0}

    def write(draws, kept) -> None:
        work["seconds"] += sum(c.completion_tokens for c in draws.completions.values()) * token_s

    window = default_window(engine, n, None, shard_rows, target is not None)
    check = InstantChecks() if target else None
    task_of = (lambda draws, i: {"completion": draws.completions[i].text}) if target else None
    items = (Prompt(f"p{i}", [{"role": "user", "content": f"problem {i}"}], {}) for i in range(prompts))
    import ray

    ray.get(slot_time.take.remote())
    started = time.monotonic()
    tally = SampleLoop(engine, sampling, window, target, write, check, task_of).run(items)
    wall = time.monotonic() - started
    work["seconds"] += tally.tokens_discarded * token_s  # came back, not kept: slot time all the same
    time.sleep(0.5)  # the last reports of cancelled work
    cancelled = ray.get(slot_time.take.remote())
    return {"wall": wall, "work": work["seconds"] + cancelled, "samples": tally.samples_back}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--slots", type=int, default=4, help="samples each replica runs at once")
    parser.add_argument("--sample-seconds", type=float, default=1.0, help="simulated time of a mean-length sample")
    parser.add_argument("--samples-per-slot", type=int, default=40, help="run size: fixed-n samples per slot")
    parser.add_argument("--runs", nargs="+", default=["fixed", "target"], help="fixed -n, adaptive, or both")
    parser.add_argument("--schedulers", nargs="+", default=["chunk split", "stream", "filled"], help="which to run")
    args = parser.parse_args()
    token_s = args.sample_seconds / MEAN_TOKENS
    import ray

    slot_time = None  # one actor for the whole benchmark: the replicas find it by name
    print(f"{'replicas':>8} {'run':>9} {'scheduler':>12} {'samples':>8} {'busy':>6} {'wall/ideal':>10} {'wall s':>7} "
          f"{'work s':>8}")  # fmt: skip
    for count in args.replicas:
        options = EngineOptions(model="simulated", concurrency=args.slots, extra={"token_seconds": token_s})
        replicas = RayReplicaEngine(SimulatedEngine, options, 0, count, None, cpus_per_replica=0)
        slot_time = slot_time or ray.remote(SlotTime).options(name=CANCELLED, num_cpus=0).remote()
        try:
            prompts = math.ceil(count * args.slots * args.samples_per_slot / 4)
            for label, n, target in (("fixed n=4", 4, None), ("target 1", 8, 1)):
                if label.split()[0] not in args.runs:
                    continue
                for name, engine in (("chunk split", ChunkSplit(replicas)), ("stream", replicas), ("filled", replicas)):
                    if name not in args.schedulers or (name == "filled" and target is None):  # fills adaptive only
                        continue
                    replicas.idle_slots_free = name == "filled"
                    shard_rows = max(n, 10_000 * args.slots // REAL_SLOTS)
                    got = run(engine, prompts, n, target, token_s, shard_rows, slot_time)
                    ideal = got["work"] / (count * args.slots)
                    busy = ideal / got["wall"]
                    print(f"{count:>8} {label:>9} {name:>12} {got['samples']:>8} {busy:>6.3f} "
                          f"{got['wall'] / ideal:>10.2f} {got['wall']:>7.1f} {got['work']:>8.0f}", flush=True)  # fmt: skip
        finally:
            replicas.close()


if __name__ == "__main__":
    main()
