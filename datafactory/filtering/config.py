"""The filter stage's options: one typed config, checked whole before any row is read.

Why apart from the stage: the CLI, recipes and the runner build it; only the stage runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from datafactory.checks.options import CheckOptions
from datafactory.errors import OptionError
from datafactory.filtering.select import STRATEGIES
from datafactory.judge.options import JudgeOptions
from datafactory.options import option
from datafactory.stages import ReadsStages, nested
from datafactory.verifiers.base import verifier_class


@dataclass
class FilterConfig(CheckOptions, ReadsStages):
    inputs: list[str] = option(
        help="Sample shards from generate, or traces you already have (folders, files, globs or s3:// URLs).",
        panel="Input",
        argument=True,
        resume=True,
    )
    out: str = option(
        help="Output folder or s3:// URL: kept rows; .rejected/ and .pass_rates/ beside them.",
        panel="Output",
        flags=("-o", "--out"),
    )
    keep: int | None = option(
        None, help="Keep at most K passing samples per prompt (default: all distinct).", panel="Selection"
    )
    select: str = option(
        "shortest", help="Which passing samples to keep.", panel="Selection", choices=tuple(STRATEGIES)
    )
    min_pass_rate: float = option(0.0, help="Keep only prompts whose pass rate is at least this.", panel="Selection")
    max_pass_rate: float = option(1.0, help="Keep only prompts whose pass rate is at most this.", panel="Selection")
    seed: int = option(0, help="Seed for --select random.", panel="Selection")
    shard_rows: int = option(10_000, help="Rows per output shard.", panel="Output")
    rl_prompts: str | None = option(
        None, help="Write prompts with 0 < pass rate < 1 to this JSONL file (RL prompts).", panel="Output"
    )
    completion_field: str | None = option(
        None,
        help="Column holding the completion (default: completion, generations, response, output, content, "
        "the last assistant turn of messages/conversations, solution).",
        panel="Input",
        resume=True,
    )
    prompt_field: str | None = option(
        None,
        help="Column holding the prompt, hashed into ids when the input has no prompt_id.",
        panel="Input",
        resume=True,
    )
    id_field: str | None = option(
        None,
        help="Column holding the prompt id (default: prompt_id, else a hash of the prompt).",
        panel="Input",
        resume=True,
    )
    reasoning_field: str | None = option(
        None,
        help="Column holding the reasoning apart from the completion, put in front of it as <think>…</think> "
        "(default: reasoning_content or reasoning beside a response/output/content column).",
        panel="Input",
        resume=True,
    )
    to_think_tags: bool = option(
        False,
        help="Rewrite <|begin_of_thought|>… <|begin_of_solution|>… completions (OpenThoughts, "
        "Bespoke-Stratos) as <think>…</think> and the solution.",
        panel="Input",
        resume=True,
    )
    judge: JudgeOptions = nested(JudgeOptions, "judge_")  # --judge-*; recipe keys judge_*

    def validate(self) -> None:
        self.check_stage_options()
        self.validate_checks()
        if self.judged:
            self.judge.validate()
        if self.keep is not None and self.keep < 1:
            raise OptionError("keep", "--keep must be at least 1")
        for name in ("min_pass_rate", "max_pass_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise OptionError(name, f"--{name.replace('_', '-')} must be between 0 and 1")
        if self.min_pass_rate > self.max_pass_rate:
            raise OptionError("min_pass_rate", "--min-pass-rate must not be above --max-pass-rate")
        if self.shard_rows < 1:
            raise OptionError("shard_rows", "--shard-rows must be positive")

    def check_resources(self) -> None:
        """The judge's model or server, when a judge is in the chain."""
        if self.judged:
            from datafactory.engines.base import EngineOptions, engine_class

            judge = EngineOptions(
                model=self.judge.model, base_url=self.judge.base_url, api_key_env=self.judge.api_key_env
            )
            engine_class(self.judge.engine).check_reachable(judge, prefix="judge_")

    def needs_gold(self) -> bool:
        """Whether the first verifier needs a gold column (the judge: when its template uses one); with
        `--gold majority` the column may be missing (every prompt is then voted)."""
        if self.gold == "majority":
            return False
        if self.worker_verifier == "judge":
            from datafactory.judge.stage import template_needs_gold

            return template_needs_gold(self)
        return verifier_class(self.worker_verifier).needs_gold
