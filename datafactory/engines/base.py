"""The engine interface: chat prompts in, n sampled completions per prompt out.

Why a small interface: the generate stage (chunking, seeds, shards, resume) is the same for every backend; an
engine only turns a batch of requests into completions. Engines are looked up by name and imported lazily, so
`--engine openai` never imports torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from datafactory.errors import UsageError
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


@dataclass
class Completion:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


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

    def __init__(self, options: EngineOptions):
        self.options = options
        self.model_name = options.model
        self.on_prompt_done = None  # called once per finished request, for progress; engines that can, do

    def _prompt_done(self) -> None:
        if self.on_prompt_done is not None:
            self.on_prompt_done()

    def describe(self) -> str:
        """Where the engine runs, for the line that says it is starting."""
        return self.name

    def generate(self, requests: list[Request], sampling: Sampling) -> list[list[Completion]]:
        """Return, for each request, its `request.n` completions in sample-index order."""
        raise NotImplementedError

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
