"""The generate stage's options: one typed config, checked whole before any row is read.

Why apart from the stage: the CLI, recipes and the runner build it; only the stage (generate/stage.py) runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from datafactory.checks.options import CHECK_KEYS, CheckOptions
from datafactory.engines.base import EngineOptions, Sampling
from datafactory.errors import OptionError
from datafactory.prompts import check_field_names
from datafactory.rules import resolve_rules
from datafactory.stages import StageOptions

RESUME_KEYS = [
    "inputs", "model", "engine", "n", "temperature", "top_p", "max_tokens", "seed", "system",
    "prompt_field", "id_field", "target",
]  # fmt: skip
LOCAL_ENGINES = {"vllm", "transformers"}
ENGINE = EngineOptions(model="")  # the engine options' defaults, declared there once


@dataclass
class GenerateConfig(CheckOptions, StageOptions):
    """Sampling options; the check options (verifier, rules, gold field, …) matter only with `target`."""

    inputs: list[str]
    out: str
    model: str
    engine: str = "vllm"
    n: int = 4
    target: int | None = None  # sample until this many samples pass the checks, at most n
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 4096
    seed: int = 0
    system: str | None = None
    prompt_field: str | None = None
    id_field: str | None = None
    limit: int | None = None
    shard_rows: int = 10_000
    chunk_prompts: int | None = None
    base_url: str | None = ENGINE.base_url
    api_key_env: str | None = ENGINE.api_key_env
    concurrency: int = ENGINE.concurrency
    tensor_parallel_size: int = ENGINE.tensor_parallel_size
    gpu_memory_utilization: float | None = ENGINE.gpu_memory_utilization
    max_model_len: int | None = ENGINE.max_model_len
    kv_cache_gb: float | None = ENGINE.kv_cache_gb
    dtype: str = ENGINE.dtype
    engine_extra: dict = field(default_factory=dict)
    engine_options: dict = field(default_factory=dict)  # --engine-option NAME=VALUE: the engine's own arguments
    replicas: int = 1
    verbose: bool = False  # the engine's own output on the terminal instead of OUT/.datafactory/engine.log

    def sampling(self) -> Sampling:
        return Sampling(self.n, self.temperature, self.top_p, self.max_tokens, self.seed)

    def engine_settings(self) -> EngineOptions:
        """The engine's options: every one this config shares with EngineOptions, by name, and the extras."""
        shared = {f.name: getattr(self, f.name) for f in fields(EngineOptions) if f.name in self.__dataclass_fields__}
        return EngineOptions(**shared, extra={**self.engine_extra, **self.engine_options})

    def resume_keys(self) -> list[str]:
        return RESUME_KEYS + (CHECK_KEYS if self.target is not None else [])

    def validate(self) -> None:
        checks = [
            (self.n >= 1, "n", "-n must be at least 1"),
            (self.temperature >= 0, "temperature", "--temperature must be >= 0"),
            (0 < self.top_p <= 1, "top_p", "--top-p must be in (0, 1]"),
            (self.max_tokens >= 1, "max_tokens", "--max-tokens must be at least 1"),
            (self.shard_rows >= 1, "shard_rows", "--shard-rows must be at least 1"),
            (self.limit is None or self.limit >= 1, "limit", "--limit must be at least 1"),
            (self.concurrency >= 1, "concurrency", "--concurrency must be at least 1"),
            (
                self.chunk_prompts is None or self.chunk_prompts >= 1,
                "chunk_prompts",
                "--chunk-prompts must be at least 1",
            ),
            (self.replicas >= 1, "replicas", "--replicas must be at least 1"),
            (self.replicas == 1 or self.executor == "ray", "replicas", "--replicas above 1 needs --executor ray"),
            (
                self.target is None or 1 <= self.target <= self.n,
                "target",
                f"--target must be between 1 and -n ({self.n})",
            ),
        ]
        for ok, option, message in checks:
            if not ok:
                raise OptionError(option, message)
        check_field_names(self.prompt_field, self.id_field)
        self.check_stage_options()
        if self.target is not None:
            self._check_target()

    def _check_target(self) -> None:
        if self.judged:
            raise OptionError(
                "verifier",
                f"--verifier {self.verifier}: the judge cannot check samples inside generate; use --target with "
                "math, code, choice or exact (or none with rules), then `filter --verifier math,judge`",
            )
        self.validate_checks()
        if self.worker_verifier == "none" and not resolve_rules(self.rules):
            raise OptionError(
                "target", "--target needs checks that can reject a sample: a --verifier other than none, or --rules"
            )
