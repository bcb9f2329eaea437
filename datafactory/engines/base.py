"""The engine interface: chat prompts in, sampled completions out.

Why a small interface: the generate stage (seeds, verification, shards, resume) is the same for every backend.
An engine offers two ways in: `generate` (a batch of requests, n samples each; the judge uses it) and a stream
of single samples (`submit` / `collect` / `cancel`), which generate uses so that new samples go in as others
finish and nothing waits for the slowest sample of a batch. Engines that cannot stream natively get the
batching fallback below. Engines are looked up by name and imported lazily, so `--engine openai` never imports
torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from datafactory.errors import UsageError, about
from datafactory.registry import load


@dataclass(frozen=True)
class Sampling:
    n: int = 4
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 4096
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Request:
    """One prompt to sample `n` times; `seed` is derived from (--seed, prompt_id)."""

    messages: list[dict]
    n: int
    seed: int


@dataclass(frozen=True)
class Ticket:
    """Samples `first` … `first + count - 1` of a prompt. Sample i has seed `seed + (i - first)`: with vLLM,
    one request of n samples and seed s draws exactly the samples of n requests seeded s, s+1, …, so a sample
    is the same whichever run, order or grouping draws it."""

    prompt_id: str
    first: int
    count: int
    messages: list[dict]
    seed: int

    def sample_keys(self) -> list[tuple[str, int]]:
        return [(self.prompt_id, self.first + j) for j in range(self.count)]


@dataclass
class Completion:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    aborted: str | None = None  # the rule it had already failed for good when the engine stopped it (its watch)


@dataclass
class EngineOptions:
    """What an engine needs to start; unused fields are ignored by engines that have no such setting."""

    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    concurrency: int = 16
    request_timeout: float = 600.0
    max_retries: int = 6
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float | None = None
    max_model_len: int | None = None
    kv_cache_gb: float | None = None
    dtype: str = "auto"
    extra: dict = field(default_factory=dict)


class Engine:
    """Subclasses set `name` and implement `generate`; `model_name` is what rows record in `model`."""

    name = "base"
    # An idle slot of this engine's batch costs as much time as a busy one (a GPU decoding below its batch
    # limit): the end of an adaptive run may fill such slots with samples that may prove unneeded (sample_loop).
    # Only an engine that says how many it has (`stream_capacity()`) may set it.
    idle_slots_free = False

    def __init__(self, options: EngineOptions):
        self.options = options
        self.model_name = options.model
        self.on_prompt_done = None  # called once per finished request, for progress; engines that can, do
        self._queued: list[Ticket] = []
        self._sampling: Sampling | None = None
        # Set by generate: `feed(key, new_text, tokens) -> reason | None` and `drop(key)` (rules/inflight.py).
        # An engine that streams tokens stops a sample once it returns a reason; others ignore it.
        self.watch = None

    def _prompt_done(self) -> None:
        if self.on_prompt_done is not None:
            self.on_prompt_done()

    def describe(self) -> str:
        """Where the engine runs, for the line that says it is starting."""
        return self.name

    def generate(self, requests: list[Request], sampling: Sampling) -> list[list[Completion]]:
        """Return, for each request, its `request.n` completions in sample-index order."""
        raise NotImplementedError

    # The stream of single samples. The fallback batches whatever was submitted since the last collect.
    def submit(self, tickets: list[Ticket], sampling: Sampling) -> None:
        """Start drawing these samples (`sampling.n` is ignored: one sample per ticket)."""
        self._queued.extend(tickets)
        self._sampling = sampling

    def collect(self) -> list[tuple[tuple[str, int], Completion]]:
        """Samples finished since the last call, at least one while any is in flight (waits for it)."""
        tickets, self._queued = self._queued, []
        if not tickets:
            return []
        singles = [(key, t.messages, t.seed + j) for t in tickets for j, key in enumerate(t.sample_keys())]
        results = self.generate([Request(messages, 1, seed) for _, messages, seed in singles], self._sampling)
        return [(key, samples[0]) for (key, _, _), samples in zip(singles, results, strict=True)]

    def cancel(self, keys: list[tuple[str, int]]) -> None:
        """Stop drawing these samples (no longer needed); they are not collected. A ticket is cancelled when all
        of its samples are."""
        dropped = set(keys)
        self._queued = [t for t in self._queued if not dropped.issuperset(t.sample_keys())]

    @property
    def in_flight(self) -> int:
        """Samples submitted and not yet collected."""
        return sum(t.count for t in self._queued)

    @classmethod
    def check_reachable(cls, options: EngineOptions, prefix: str = "") -> None:
        """Before anything starts or is written: what the engine will load is there (a local engine: the model
        folder; a hub id is left to the engine to fetch). Errors are about `prefix` + the option (`model`,
        `judge_model`), so a recipe names its key."""
        from datafactory.engines.local_model import resolve_model

        with about(prefix + "model"):
            resolve_model(options.model)

    @classmethod
    def check_options(cls, extra: dict) -> None:
        """Refuse `--engine-option` names this engine does not take, before it starts."""
        if extra:
            raise UsageError(f"--engine-option: engine {cls.name!r} takes no engine options")

    def close(self) -> None:
        """Release the model or connections."""


ENGINES = {
    "vllm": "datafactory.engines.vllm_engine:VLLMEngine",
    "openai": "datafactory.engines.openai_engine:OpenAIEngine",
    "transformers": "datafactory.engines.transformers_engine:TransformersEngine",
}


def engine_class(name: str) -> type[Engine]:
    try:
        return load(ENGINES, name, "engine")
    except ImportError as err:
        hint = {"vllm": "pip install 'datafactory[cpu]' (or [gpu])", "transformers": "pip install 'datafactory[hf]'"}
        raise UsageError(
            f"engine {name!r} needs a package that is not installed ({err}); {hint.get(name, '')}"
        ) from None
