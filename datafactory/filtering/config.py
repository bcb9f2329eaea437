"""The filter stage's options: one typed config, checked whole before any row is read.

Why apart from the stage: the CLI, recipes and the runner build it; only the stage runs it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from datafactory.errors import UsageError
from datafactory.filtering.evaluate import EvalSpec
from datafactory.filtering.select import STRATEGIES
from datafactory.rules import RuleConfig, resolve_rules
from datafactory.scale.runtime import check_executor
from datafactory.verifiers.base import verifier_class

RESUME_KEYS = [
    "inputs", "verifier", "gold_field", "rules", "language", "rule_options", "timeout", "verifier_options",
    "judge_model", "judge_template", "judge_scope", "judge_threshold", "judge_max_tokens",
    "completion_field", "prompt_field", "id_field",
]  # fmt: skip


@dataclass
class FilterConfig:
    inputs: list[str]
    out: str
    verifier: str = "math"
    gold_field: str = "answer"
    rules: str = "default"
    language: str = "en"
    rule_options: list[str] = field(default_factory=list)
    keep: int | None = None
    select: str = "shortest"
    min_pass_rate: float = 0.0
    max_pass_rate: float = 1.0
    workers: int = max(1, os.cpu_count() or 1)
    timeout: float = 20.0
    seed: int = 0
    shard_rows: int = 10_000
    rl_prompts: str | None = None
    verifier_options: dict = field(default_factory=dict)  # per verifier name: {"math": {...}, "code": {...}}
    completion_field: str | None = None  # default: completion, response, output, or the last assistant turn
    prompt_field: str | None = None  # hashed into prompt ids when the input has none
    id_field: str | None = None  # default: prompt_id, else a hash of the prompt
    judge_model: str | None = None
    judge_engine: str = "vllm"
    judge_base_url: str | None = None
    judge_api_key_env: str | None = None
    judge_template: str | None = None  # default: correctness with a gold field, helpful_harmless without
    judge_threshold: float = 7.0
    judge_scope: str = "undecided"
    judge_max_tokens: int = 512
    judge_cache: str | None = None
    executor: str = "local"
    ray_address: str | None = None
    overwrite: bool = False
    allow_unfinished: bool = False  # read a stage output without _SUCCESS

    @property
    def chain(self) -> list[str]:
        """`math,judge` → ["math", "judge"]: the rule-based verifier runs in the workers, the judge after it."""
        return [name.strip() for name in self.verifier.split(",") if name.strip()]

    @property
    def worker_verifier(self) -> str:
        return self.chain[0]

    @property
    def judged(self) -> bool:
        return "judge" in self.chain

    def options_for(self, name: str) -> dict:
        return dict(self.verifier_options.get(name) or {})

    def validate(self) -> None:
        check_executor(self.executor)
        chain = self.chain
        if not chain or len(chain) > 2 or (len(chain) == 2 and (chain[1] != "judge" or chain[0] == "judge")):
            raise UsageError(f"--verifier {self.verifier!r}: one verifier, or a rule-based one then judge (math,judge)")
        for name in chain:
            verifier_class(name)
        for name in self.verifier_options:  # options of verifiers not in the chain are ignored (recipe-wide options)
            verifier_class(name)
        if self.worker_verifier == "code":
            from datafactory.verifiers.code import prepare

            prepare(self.options_for("code"))
        if self.worker_verifier == "math":
            from datafactory.verifiers.math_compare import MathPolicy

            MathPolicy.from_options(self.options_for("math"))
        if self.judged:
            from datafactory.judge.stage import check_judge_config

            check_judge_config(self)
        if self.select not in STRATEGIES:
            raise UsageError(f"--select {self.select!r}: choose one of {', '.join(STRATEGIES)}")
        if self.keep is not None and self.keep < 1:
            raise UsageError("--keep must be at least 1")
        if not 0 <= self.min_pass_rate <= self.max_pass_rate <= 1:
            raise UsageError("--min-pass-rate and --max-pass-rate must satisfy 0 <= min <= max <= 1")
        if self.timeout <= 0 or self.workers < 1 or self.shard_rows < 1:
            raise UsageError("--timeout, --workers and --shard-rows must be positive")

    def spec(self) -> EvalSpec:
        config = RuleConfig(language=self.language).override(self.rule_options)
        verifier = self.worker_verifier
        return EvalSpec(verifier, self.options_for(verifier), resolve_rules(self.rules), config)

    def needs_gold(self) -> bool:
        """Whether the first verifier reads a gold column (the judge: when its template uses one)."""
        if self.worker_verifier == "judge":
            from datafactory.judge.stage import template_needs_gold

            return template_needs_gold(self)
        return verifier_class(self.worker_verifier).needs_gold
