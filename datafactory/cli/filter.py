"""`datafactory filter`: options → FilterConfig → run_stage, then the funnel in one line."""

from __future__ import annotations

from typing import Annotated

import typer

from datafactory.checks.options import CheckOptions as Checks
from datafactory.cli import app
from datafactory.cli.options import (
    AllowUnfinished,
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
    verifier_options,
)  # fmt: skip
from datafactory.verifiers.code import DEFAULTS as CODE_DEFAULTS

EXAMPLES = """
**Examples**

    datafactory filter samples/ -o kept/ --verifier math --gold-field answer --rules r1 --keep 1

    datafactory filter samples/ -o kept/ --verifier choice --rules default,language_mixed --language en

    datafactory filter samples/ -o kept/ --verifier code --rules default --test-timeout 5

    datafactory filter samples/ -o kept/ --verifier math --math-option percent=either --math-option approx_rel_tol=1e-6

    datafactory filter samples/ -o kept/ --verifier math,judge --judge-model toy

    datafactory filter samples/ -o kept/ --verifier math --gold majority --gold-policy replace-suspect \\
        --gold-min-votes 4 --gold-min-share 0.6

    datafactory filter chat/ -o kept/ --verifier judge --judge-template helpful_harmless \\
        --judge-engine openai --judge-base-url http://127.0.0.1:8000/v1 --judge-model Qwen/Qwen2.5-7B-Instruct

    datafactory filter samples/ -o kept/ --verifier none --rules truncated,repetition \\
        --rule-option long_paragraph_chars=5000 --min-pass-rate 0.1 --rl-prompts rl.jsonl

    datafactory filter sharegpt_traces.jsonl -o kept/ --verifier math --gold-field solution --rules r1

    datafactory filter traces.parquet -o kept/ --completion-field output --prompt-field instruction --verifier none

Selected passes go to OUT/part-*.parquet; every other row, with its reasons, to OUT/.rejected/, pass rates to OUT/.pass_rates/.
"""


@app.command("filter", epilog=EXAMPLES)
def filter_command(
    inputs: Annotated[
        list[str], typer.Argument(help="Sample shards from generate (folders, files or globs).", show_default=False)
    ],
    out: Annotated[
        str, typer.Option("-o", "--out", help="Output folder: kept rows; .rejected/ and .pass_rates/ beside them.")
    ],
    verifier: Verifier = Checks.verifier,
    gold_field: GoldField = Checks.gold_field,
    gold: Gold = Checks.gold,
    gold_policy: GoldPolicy = Checks.gold_policy,
    gold_min_votes: GoldMinVotes = Checks.gold_min_votes,
    gold_min_share: GoldMinShare = Checks.gold_min_share,
    gold_flag_share: GoldFlagShare = Checks.gold_flag_share,
    completion_field: Annotated[
        str | None,
        typer.Option(
            help="Column holding the completion (default: completion, generations, response, output, content, "
            "the last assistant turn of messages/conversations, solution; README: Filter data you already have)."
        ),
    ] = None,
    prompt_field: Annotated[
        str | None, typer.Option(help="Column holding the prompt, hashed into ids when the input has no prompt_id.")
    ] = None,
    id_field: Annotated[
        str | None, typer.Option(help="Column holding the prompt id (default: prompt_id, else a hash of the prompt).")
    ] = None,
    reasoning_field: Annotated[
        str | None,
        typer.Option(
            help="Column holding the reasoning apart from the completion, put in front of it as <think>…</think> "
            "(default: reasoning_content or reasoning beside a response/output/content column)."
        ),
    ] = None,
    to_think_tags: Annotated[
        bool,
        typer.Option(
            help="Rewrite <|begin_of_thought|>…<|end_of_thought|> <|begin_of_solution|>…<|end_of_solution|> "
            "completions (OpenThoughts, Bespoke-Stratos) as <think>…</think> and the solution."
        ),
    ] = False,
    rules: Rules = Checks.rules,
    language: Language = Checks.language,
    rule_option: RuleOption = None,
    keep: Annotated[
        int | None, typer.Option(help="Keep at most K passing samples per prompt (default: all distinct).")
    ] = None,
    select: Annotated[
        str, typer.Option(help="Which passing samples to keep: shortest, longest, random or first.")
    ] = "shortest",
    min_pass_rate: Annotated[float, typer.Option(help="Keep only prompts whose pass rate is at least this.")] = 0.0,
    max_pass_rate: Annotated[float, typer.Option(help="Keep only prompts whose pass rate is at most this.")] = 1.0,
    workers: Workers = Checks.workers,
    timeout: Timeout = Checks.timeout,
    seed: Annotated[int, typer.Option(help="Seed for --select random.")] = 0,
    shard_rows: Annotated[int, typer.Option(help="Rows per output shard.")] = 10_000,
    rl_prompts: Annotated[
        str | None, typer.Option(help="Write prompts with 0 < pass rate < 1 to this JSONL file.")
    ] = None,
    test_format: TestFormat = CODE_DEFAULTS.test_format,
    test_timeout: TestTimeout = CODE_DEFAULTS.test_timeout,
    memory_mb: MemoryMb = CODE_DEFAULTS.memory_mb,
    unsafe_no_sandbox: UnsafeNoSandbox = CODE_DEFAULTS.unsafe_no_sandbox,
    math_option: MathOption = None,
    judge_model: Annotated[
        str | None, typer.Option(help="judge verifier: the judge model (a path, HF id, `toy`, or a served name).")
    ] = None,
    judge_engine: Annotated[str, typer.Option(help="judge verifier: vllm, openai or transformers.")] = "vllm",
    judge_base_url: Annotated[
        str | None, typer.Option(help="judge verifier: the OpenAI-compatible server (--judge-engine openai).")
    ] = None,
    judge_api_key_env: Annotated[
        str | None, typer.Option(help="judge verifier: environment variable holding the API key.")
    ] = None,
    judge_template: Annotated[
        str | None,
        typer.Option(help="judge verifier: correctness, helpful_harmless, or a template file (default by gold)."),
    ] = None,
    judge_threshold: Annotated[
        float, typer.Option(help="judge verifier: helpful_harmless passes when both scores reach this (1-10).")
    ] = 7.0,
    judge_scope: Annotated[
        str, typer.Option(help="judge verifier after another: judge the `undecided` rows only, or `all` rows.")
    ] = "undecided",
    judge_max_tokens: Annotated[int, typer.Option(help="judge verifier: tokens per verdict.")] = 512,
    judge_cache: Annotated[
        str | None, typer.Option(help="judge verifier: verdict cache file (default ~/.cache/datafactory/judge.sqlite).")
    ] = None,
    executor: Executor = "local",
    ray_address: RayAddress = None,
    overwrite: Overwrite = False,
    allow_unfinished: AllowUnfinished = False,
) -> None:
    """Rejection sampling: verify answers, apply R1 readability rules, keep the best k samples per prompt."""
    from datafactory.filtering.config import FilterConfig
    from datafactory.frame import run_stage
    from datafactory.judge.options import JudgeOptions

    config = FilterConfig(
        inputs=inputs, out=out, verifier=verifier, gold_field=gold_field, gold=gold, gold_policy=gold_policy, gold_min_votes=gold_min_votes,
        gold_min_share=gold_min_share, gold_flag_share=gold_flag_share, rules=rules, language=language,
        rule_options=rule_option or [], keep=keep, select=select, min_pass_rate=min_pass_rate,
        max_pass_rate=max_pass_rate, workers=workers, timeout=timeout, seed=seed, shard_rows=shard_rows,
        rl_prompts=rl_prompts, overwrite=overwrite, allow_unfinished=allow_unfinished, completion_field=completion_field, prompt_field=prompt_field,
        id_field=id_field, reasoning_field=reasoning_field, to_think_tags=to_think_tags,
        verifier_options=verifier_options(verifier, math_option, {"test_format": test_format,
            "test_timeout": test_timeout, "memory_mb": memory_mb, "unsafe_no_sandbox": unsafe_no_sandbox}),
        judge=JudgeOptions(model=judge_model, engine=judge_engine, base_url=judge_base_url,
            api_key_env=judge_api_key_env, template=judge_template, threshold=judge_threshold, scope=judge_scope,
            max_tokens=judge_max_tokens, cache=judge_cache),
        executor=executor, ray_address=ray_address,
    )  # fmt: skip
    from datafactory.filtering.stage import summary

    counts = run_stage("filter", config)["counts"]
    typer.echo(f"filter: {summary(counts, out)}", err=True)
