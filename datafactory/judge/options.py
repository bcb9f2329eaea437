"""The judge's options, declared once: the `--judge-*` flags of `filter`, the `filter.judge_*` recipe keys.

Why nested: they are the judge's, not the filter's; FilterConfig holds one JudgeOptions as `judge`, and the flat
names (flags, recipe keys, the manifest's arguments) are `judge_` + a field (stages.StageOptions flattens them).
"""

from __future__ import annotations

from dataclasses import dataclass

from datafactory.errors import OptionError, about

SCOPES = ("undecided", "all")


@dataclass
class JudgeOptions:
    model: str | None = None  # a path, HF id, `toy`, or a served model name
    engine: str = "vllm"
    base_url: str | None = None  # the OpenAI-compatible server (engine openai)
    api_key_env: str | None = None
    template: str | None = None  # default: correctness with a gold field, helpful_harmless without
    threshold: float = 7.0  # helpful_harmless passes when both scores reach this (1-10)
    scope: str = "undecided"  # after another verifier: judge the rows it left undecided, or all
    max_tokens: int = 512
    cache: str | None = None  # the verdict cache file

    def validate(self) -> None:
        """Checked only when a judge is in the verifier chain."""
        from datafactory.engines.base import engine_class
        from datafactory.judge.templates import load_template

        if not self.model:
            raise OptionError(
                "judge_model", "--verifier judge needs --judge-model (a path, HF id, `toy`, or a served model name)"
            )
        with about("judge_engine"):
            engine_class(self.engine)
        if self.scope not in SCOPES:
            raise OptionError("judge_scope", f"--judge-scope {self.scope!r}: choose one of {', '.join(SCOPES)}")
        if not 1 <= self.threshold <= 10:
            raise OptionError("judge_threshold", "--judge-threshold must be between 1 and 10")
        if self.max_tokens < 1:
            raise OptionError("judge_max_tokens", "--judge-max-tokens must be at least 1")
        if self.template:
            with about("judge_template"):
                load_template(self.template)
