"""The judge's options, declared once: the `--judge-*` flags of `filter`, the `filter.judge_*` recipe keys.

Why nested: they are the judge's, not the filter's; FilterConfig holds one JudgeOptions as `judge`, and the flat
names (flags, recipe keys, the manifest's arguments) are `judge_` + a field (stages.StageOptions flattens them).
"""

from __future__ import annotations

from dataclasses import dataclass

from datafactory.engines.base import ENGINES
from datafactory.errors import OptionError, about
from datafactory.options import option

SCOPES = ("undecided", "all")


@dataclass
class JudgeOptions:
    model: str | None = option(
        None, help="judge verifier: the judge model (a path, HF id, toy, or a served name).", panel="Judge", resume=True
    )
    engine: str = option("vllm", help="judge verifier: the engine that runs it.", panel="Judge", choices=tuple(ENGINES))
    base_url: str | None = option(
        None, help="judge verifier: the OpenAI-compatible server (--judge-engine openai).", panel="Judge"
    )
    api_key_env: str | None = option(
        None, help="judge verifier: environment variable holding the API key.", panel="Judge", output=False
    )
    template: str | None = option(
        None,
        help="judge verifier: correctness, helpful_harmless, or a template file (default: correctness "
        "with a gold field, helpful_harmless without).",
        panel="Judge",
        resume=True,
    )
    threshold: float = option(
        7.0,
        help="judge verifier: helpful_harmless passes when both scores reach this (1-10).",
        panel="Judge",
        resume=True,
    )
    scope: str = option(
        "undecided",
        help="judge verifier after another: judge the rows it left undecided, or all rows.",
        panel="Judge",
        choices=SCOPES,
        resume=True,
    )
    max_tokens: int = option(512, help="judge verifier: tokens per verdict.", panel="Judge", resume=True)
    cache: str | None = option(
        None,
        help="judge verifier: verdict cache file (default ~/.cache/datafactory/judge.sqlite).",
        panel="Judge",
        output=False,
    )

    def validate(self) -> None:
        """Checked only when a judge is in the verifier chain."""
        from datafactory.judge.templates import load_template

        if not self.model:
            raise OptionError(
                "judge_model", "--verifier judge needs --judge-model (a path, HF id, `toy`, or a served model name)"
            )
        if not 1 <= self.threshold <= 10:
            raise OptionError("judge_threshold", "--judge-threshold must be between 1 and 10")
        if self.max_tokens < 1:
            raise OptionError("judge_max_tokens", "--judge-max-tokens must be at least 1")
        if self.template:
            with about("judge_template"):
                load_template(self.template)
