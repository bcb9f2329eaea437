"""Sampling as one stream: samples go into the engine as others finish, and prompts' rows are written, in input
order, as soon as they are decided. With a target, finished samples are checked by the filter's worker pool while
the engine works, and a prompt stops drawing once enough of its samples pass.

Why a prefix: a prompt's kept samples are always its samples 0..m-1, where m is the smallest count that holds
`target` passes (or the whole budget `n`). Sample i has the same seed in every run, so an adaptive run keeps
exactly the first samples a fixed `-n` run draws, and an interrupted run ends with the same rows as one that was
not (where the engine is deterministic). Samples drawn past m (in flight when the prompt was decided) are
cancelled or dropped, never written.

Where the budget goes: a prompt starts with `target` samples in flight; each failure doubles how many of its
samples may be in flight (never more than the budget left), so an easy prompt costs about target/pass-rate
samples and a hard one reaches its whole budget in a few rounds rather than one sample at a time. New prompts are
admitted as room frees up, so the engine's batch stays full of a mix of first and later rounds until the input
runs out; the last prompts' later rounds then run in a shrinking batch, each round waiting for its longest sample.
Where an idle slot costs as much time as a busy one (Engine.idle_slots_free: a GPU, replicas on a cluster), those
slots are filled at the end with the undecided prompts' next samples, the most-failed prompts first: rows are the
same (a prompt keeps its prefix; samples past it are cancelled), the end comes sooner, and the tokens spent rise a
little (benchmarks/cluster_schedule.py). On a CPU more sequences slow every step, so there the batch shrinks
(benchmarks/adaptive.py: drawing the whole budget at once cost 30% more tokens and saved no time).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from datafactory.checks.gold_votes import PrefixVote
from datafactory.engines.base import Completion, Engine, Sampling, Ticket
from datafactory.interrupts import check as check_stop
from datafactory.prompts import Prompt
from datafactory.seeds import derive_seed

HELD_BYTES = 256 << 20  # text of decided prompts held back for earlier ones; above it, no new prompts start


def _text_bytes(draws: PromptDraws) -> int:
    return sum(len(c.text) for c in draws.completions.values())


def sample_seed(seed: int, prompt_id: str, index: int) -> int:
    """Sample `index` of a prompt has this seed in every run, fixed or adaptive: the prompt's seed plus the index
    (what vLLM gives the i-th sample of a request seeded with the prompt's seed)."""
    return derive_seed(seed, prompt_id) + index


@dataclass
class PromptDraws:
    """One prompt's samples so far: what was asked for, what came back, and which passed."""

    prompt: Prompt
    budget: int
    target: int | None
    issued: int = 0
    completions: dict[int, Completion] = field(default_factory=dict)
    verdicts: dict[int, str] = field(default_factory=dict)  # sample index -> "pass" or the first reason
    # A prompt voted on while sampled (no gold, `--gold majority`): its samples' answers, and the function that
    # says how long a prefix of them already decides the vote (gold_votes.PrefixVote).
    settle: PrefixVote | None = None
    answers: dict[int, str | None] = field(default_factory=dict)

    def kept(self) -> int | None:
        """How many samples (a prefix) the prompt keeps, once that is known; None while it is not."""
        if self.target is None:
            return self.budget if len(self.completions) == self.budget else None
        if self.settle is not None:
            return self._settled()
        passes = 0
        for index in range(self.budget):
            if index not in self.verdicts:
                return None
            passes += self.verdicts[index] == "pass"
            if passes >= self.target:
                return index + 1
        return self.budget

    def _settled(self) -> int | None:
        prefix = []
        for index in range(self.budget):
            if index not in self.verdicts:
                break
            prefix.append(self.answers.get(index))
        kept = self.settle(prefix)
        return kept if kept is not None else (self.budget if len(prefix) == self.budget else None)

    def wanted(self) -> int:
        """How many more samples to put in flight now (see the module docstring). A voted prompt counts its most
        common answer's samples as passes and needs at least `settle.needed` of them."""
        left = self.budget - self.issued
        if self.target is None:
            return left
        if self.settle is None:
            passes = sum(v == "pass" for v in self.verdicts.values())
            needed = self.target
        else:
            passes = max(Counter(a for a in self.answers.values() if a is not None).values(), default=0)
            needed = self.settle.needed
        failures = len(self.verdicts) - passes
        outstanding = self.issued - len(self.verdicts)
        allowed = max(1, needed - passes) * 2 ** min(failures, 20)
        return max(0, min(left, allowed - outstanding))

    def passes(self, kept: int) -> int:
        """Passing samples among the kept: for a voted prompt, the votes of its consensus."""
        if self.settle is not None:
            return self.settle.votes([self.answers.get(i) for i in range(kept)])
        return sum(self.verdicts.get(i) == "pass" for i in range(kept))


@dataclass
class LoopTally:
    """What the stream spent and found, for the manifest and the run summary (this invocation only)."""

    samples_written: int = 0
    samples_discarded: int = 0
    tokens: int = 0  # completion tokens of every sample that came back, written or not
    tokens_discarded: int = 0
    prompts_done: int = 0
    prompts_reaching_target: int = 0
    passes: int = 0
    prompts_voted: int = 0  # prompts without a gold, sampled until their answers agreed (`--gold majority`)
    tokens_by_verdict: Counter = field(default_factory=Counter)
    forecast: object = None  # the run's Forecast (generate/forecast.py), once it ran
    samples_back: int = 0  # samples the engine returned, and their tokens (what a budget has paid for)
    tokens_spent: int = 0
    prompts_cut_short: int = 0  # drawing when the budget was spent: they keep what they had


class SampleLoop:
    """Drives one engine over a stream of prompts. `verify(tasks, tag)` / `poll()` is the worker pool (or None
    for a fixed run); `write(draws, kept)` receives each decided prompt."""

    def __init__(
        self,
        engine: Engine,
        sampling: Sampling,
        window: int,
        target: int | None,
        write: Callable[[PromptDraws, int], None],
        check=None,
        task_of: Callable[[PromptDraws, int], dict] | None = None,
        on_prompt: Callable[[LoopTally], None] | None = None,
        settle_of: Callable[[Prompt], PrefixVote | None] | None = None,
        budget: int | None = None,
    ):
        self.engine, self.sampling, self.window, self.target = engine, sampling, max(1, window), target
        self.write, self.check, self.task_of, self.on_prompt = write, check, task_of, on_prompt
        self.settle_of = settle_of  # a prompt's vote (see PromptDraws.settle), or None for prompts with a gold
        self.active: dict[str, PromptDraws] = {}
        self.hungry: dict[str, PromptDraws] = {}  # active prompts that may want more samples now
        self.order: deque[str] = deque()  # admitted prompts, in input order, until written
        self.decided: dict[str, tuple[PromptDraws, int]] = {}  # decided, waiting for earlier prompts
        self.decided_bytes = 0  # their completions' text, bounded by HELD_BYTES
        self.tally = LoopTally()
        self.budget = budget  # completion tokens this run may still spend (`--budget-tokens`), or None
        self.checking: set[tuple[str, int]] = set()  # samples sent to the checks, verdict not back yet

    def run(self, prompts: Iterator[Prompt]) -> LoopTally:
        pending = iter(prompts)
        exhausted = False
        while True:
            check_stop()
            exhausted = self._feed(pending, exhausted)
            if self._spent() and not self.engine.in_flight and not self.checking:
                self._close()  # the budget is spent: prompts keep what they have, the rest are not started
                return self.tally
            if exhausted and not self.active and not self.decided:
                return self.tally
            arrived = [key for key, completion in self.engine.collect() if self._arrived(key, completion)]
            if self.check is not None:
                self._send_to_check(arrived)
                for keys, results in self.check.poll(0.0 if self.engine.in_flight else 0.05):
                    for key, result in zip(keys, results, strict=True):
                        self._verified(key, result)

    def _affordable(self) -> int:
        """Samples the budget can still pay for, at the mean length of those back so far (the length limit
        before any, which may overspend by one sample at most): what is in flight is counted as spent."""
        if self.budget is None:
            return self.window
        back = self.tally.samples_back
        mean = self.tally.tokens_spent / back if back else self.sampling.max_tokens
        left = self.budget - self.tally.tokens_spent - self.engine.in_flight * mean
        affordable = max(0, int(left // max(1.0, mean)))
        if not back and not self.engine.in_flight and self.budget > 0:
            return max(1, affordable)  # one sample to learn what a sample costs, even under a small budget
        return affordable

    def _spent(self) -> bool:
        return self.budget is not None and self._affordable() == 0

    def _close(self) -> None:
        """Each prompt still drawing keeps the samples it has (as if -n were what it drew), in input order."""
        self.tally.prompts_cut_short = len(self.active)
        for draws in list(self.active.values()):
            draws.budget = draws.issued
            self._maybe_done(draws)

    def _feed(self, pending: Iterator[Prompt], exhausted: bool) -> bool:
        """Top up the engine: first the prompts already drawing, then new prompts in input order. Under a budget,
        prompts that have failed wait for new ones, the fewest failures first: a prompt that looks unsolvable
        does not spend what could bring another to its target."""
        room = min(self.window - self.engine.in_flight, self._affordable())
        tickets: list[Ticket] = []
        drawing, failed = list(self.hungry.values()), []
        if self.budget is not None:
            drawing.sort(key=_failures)
            failed = [d for d in drawing if _failures(d)]
            drawing = [d for d in drawing if not _failures(d)]
        room = self._top_up(drawing, room, tickets)
        while room > 0 and not exhausted and self.decided_bytes <= HELD_BYTES:
            prompt = next(pending, None)
            if prompt is None:
                exhausted = True
                break
            settle = self.settle_of(prompt) if self.settle_of and self.target is not None else None
            draws = PromptDraws(prompt, self.sampling.n, self.target, settle=settle)
            self.active[prompt.prompt_id] = draws
            self.order.append(prompt.prompt_id)
            room -= self._issue(draws, min(room, draws.wanted()), tickets)
            if draws.wanted():
                self.hungry[prompt.prompt_id] = draws
        self._top_up(failed, room, tickets)
        if exhausted and self.target is not None and self.budget is None and self.engine.idle_slots_free:
            self._fill_idle(tickets)
        if tickets:
            self.engine.submit(tickets, self.sampling)
        return exhausted

    def _top_up(self, drawing: list[PromptDraws], room: int, tickets: list[Ticket]) -> int:
        for draws in drawing:
            if room <= 0:
                break
            room -= self._issue(draws, min(room, draws.wanted()), tickets)
            if draws.wanted() == 0:
                del self.hungry[draws.prompt.prompt_id]
        return room

    def _fill_idle(self, tickets: list[Ticket]) -> None:
        """No prompt is left to start: give the slots that would idle to the undecided prompts' next samples, one
        each in turn, those with the most failures (the likeliest to need them) first."""
        idle = self.engine.stream_capacity() - self.engine.in_flight - sum(t.count for t in tickets)
        if idle <= 0:
            return
        undecided = sorted((d for d in self.active.values() if d.issued < d.budget), key=_failures, reverse=True)
        extra = Counter()
        while idle > 0 and undecided:
            for draws in undecided[:idle]:
                extra[draws.prompt.prompt_id] += 1
            idle -= min(idle, len(undecided))
            undecided = [d for d in undecided if d.issued + extra[d.prompt.prompt_id] < d.budget]
        for pid, count in extra.items():
            self._issue(self.active[pid], count, tickets)

    def _issue(self, draws: PromptDraws, count: int, tickets: list[Ticket]) -> int:
        if count <= 0:
            return 0
        pid, first = draws.prompt.prompt_id, draws.issued
        tickets.append(Ticket(pid, first, count, draws.prompt.messages, sample_seed(self.sampling.seed, pid, first)))
        draws.issued += count
        return count

    def _arrived(self, key: tuple[str, int], completion: Completion) -> bool:
        """Record a finished sample; True when it needs checking."""
        self.tally.samples_back += 1
        self.tally.tokens_spent += completion.completion_tokens
        draws = self.active.get(key[0])
        if draws is None:  # its prompt was decided while it was in flight
            self._discard(completion)
            return False
        draws.completions[key[1]] = completion
        self.tally.tokens += completion.completion_tokens
        if self.check is None:
            self._maybe_done(draws)
            return False
        return True

    def _send_to_check(self, keys: list[tuple[str, int]]) -> None:
        """The samples that arrived together go to the workers as a few batches (one per worker), not one by one."""
        if not keys:
            return
        parts = max(1, min(len(keys), self.check.size))
        self.checking.update(keys)
        for part in range(parts):
            batch = keys[part::parts]
            self.check.submit([self.task_of(self.active[k[0]], k[1]) for k in batch], batch)

    def _verified(self, key: tuple[str, int], result: dict) -> None:
        self.checking.discard(key)
        draws = self.active.get(key[0])
        if draws is None:
            return
        draws.verdicts[key[1]] = result["verdict"]
        draws.answers[key[1]] = result.get("extracted_answer")
        self._maybe_done(draws)
        if key[0] in self.active and result["verdict"] != "pass":
            self.hungry[key[0]] = draws

    def _maybe_done(self, draws: PromptDraws) -> None:
        kept = draws.kept()
        if kept is None:
            return
        pid = draws.prompt.prompt_id
        del self.active[pid]
        self.hungry.pop(pid, None)
        late = [(pid, i) for i in range(kept, draws.issued) if i not in draws.completions]
        if late:
            self.engine.cancel(late)
        for index, completion in draws.completions.items():
            if index >= kept:
                self._discard(completion)
        draws.completions = {i: c for i, c in draws.completions.items() if i < kept}
        self.decided[pid] = (draws, kept)
        self.decided_bytes += _text_bytes(draws)
        while self.order and self.order[0] in self.decided:  # written in input order
            done, count = self.decided.pop(self.order.popleft())
            self.decided_bytes -= _text_bytes(done)
            self.write(done, count)
        tally = self.tally
        tally.samples_written += kept
        tally.prompts_done += 1
        if self.target is not None:
            passes = draws.passes(kept)
            tally.prompts_voted += draws.settle is not None
            tally.passes += passes
            tally.prompts_reaching_target += passes >= self.target
            for i in range(kept):
                tally.tokens_by_verdict[draws.verdicts[i]] += draws.completions[i].completion_tokens
        if self.on_prompt:
            self.on_prompt(tally)

    def _discard(self, completion: Completion) -> None:
        self.tally.samples_discarded += 1
        self.tally.tokens_discarded += completion.completion_tokens


def _failures(draws: PromptDraws) -> int:
    return sum(verdict != "pass" for verdict in draws.verdicts.values())


def default_window(engine: Engine, n: int, chunk_prompts: int | None, shard_rows: int, adaptive: bool) -> int:
    """Samples kept in flight. For a streaming engine: fixed -n, a deep queue (8x what it runs at once: a request
    of n samples holds its place until its longest sample ends, so with long-tailed lengths a shallow queue would
    leave the batch part-empty); adaptive, twice what it runs at once (mostly single samples; a deeper queue would
    admit prompts faster than their later rounds come back, and the end of the run would be all later rounds).
    For an engine that only batches: the old chunk (`--chunk-prompts` prompts of n samples)."""
    capacity = getattr(engine, "stream_capacity", None)
    if callable(capacity):
        return max(n, (2 if adaptive else 8) * capacity())
    prompts = chunk_prompts or max(1, shard_rows // n)
    return max(1, prompts * n)


def elapsed_rate(tokens: int, started: float) -> str:
    return f"{tokens / max(1e-9, time.monotonic() - started):,.0f}"
