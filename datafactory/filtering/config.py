"""The filter stage's options: one typed config, checked whole before any row is read.

Why apart from the stage: the CLI, recipes and the runner build it; only the stage runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from datafactory.checks.options import CheckOptions
from datafactory.errors import OptionError
from datafactory.filtering.select import STRATEGIES
from datafactory.judge.options import JudgeOptions
from datafactory.stages import ReadsStages, nested
from datafactory.verifiers.base import verifier_class

RESUME_KEYS = [
    "inputs", "verifier", "gold_field", "rules", "language", "rule_options", "timeout", "verifier_options",
    "judge_model", "judge_template", "judge_scope", "judge_threshold", "judge_max_tokens",
    "completion_field", "prompt_field", "id_field", "reasoning_field", "to_think_tags", "gold", "gold_policy", "gold_min_votes", "gold_min_share",
    "gold_flag_share",
]  # fmt: skip


@dataclass
class FilterConfig(CheckOptions, ReadsStages):
    inputs: list[str]
    out: str
    keep: int | None = None
    select: str = "shortest"
    min_pass_rate: float = 0.0
    max_pass_rate: float = 1.0
    seed: int = 0
    shard_rows: int = 10_000
    rl_prompts: str | None = None
    completion_field: str | None = None  # default: filtering/inputs.py's order
    prompt_field: str | None = None  # hashed into prompt ids when the input has none
    id_field: str | None = None  # default: prompt_id, else a hash of the prompt
    reasoning_field: str | None = (
        None  # reasoning kept apart from the completion (default: reasoning_content, reasoning)
    )
    to_think_tags: bool = False  # OpenThoughts' thought/solution markers rewritten as <think> tags
    judge: JudgeOptions = nested(JudgeOptions, "judge_")  # --judge-*; recipe keys judge_*

    def resume_keys(self) -> list[str]:
        return RESUME_KEYS

    def validate(self) -> None:
        self.check_stage_options()
        self.validate_checks()
        if self.judged:
            self.judge.validate()
        if self.select not in STRATEGIES:
            raise OptionError("select", f"--select {self.select!r}: choose one of {', '.join(STRATEGIES)}")
        if self.keep is not None and self.keep < 1:
            raise OptionError("keep", "--keep must be at least 1")
        for option in ("min_pass_rate", "max_pass_rate"):
            if not 0 <= getattr(self, option) <= 1:
                raise OptionError(option, f"--{option.replace('_', '-')} must be between 0 and 1")
        if self.min_pass_rate > self.max_pass_rate:
            raise OptionError("min_pass_rate", "--min-pass-rate must not be above --max-pass-rate")
        if self.shard_rows < 1:
            raise OptionError("shard_rows", "--shard-rows must be positive")

    def needs_gold(self) -> bool:
        """Whether the first verifier needs a gold column (the judge: when its template uses one); with
        `--gold majority` the column may be missing (every prompt is then voted)."""
        if self.gold == "majority":
            return False
        if self.worker_verifier == "judge":
            from datafactory.judge.stage import template_needs_gold

            return template_needs_gold(self)
        return verifier_class(self.worker_verifier).needs_gold
