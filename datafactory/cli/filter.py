"""`datafactory filter`: options → FilterConfig → run_filter, then the funnel in one line."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from datafactory.cli import app
from datafactory.cli.options import AllowUnfinished, Executor, Overwrite, RayAddress

EXAMPLES = """
**Examples**

    datafactory filter samples/ -o kept/ --verifier math --gold-field answer --rules r1 --keep 1

    datafactory filter samples/ -o kept/ --verifier choice --rules default,language_mixed --language en

    datafactory filter samples/ -o kept/ --verifier code --rules default --test-timeout 5

    datafactory filter samples/ -o kept/ --verifier math --math-option percent=either --math-option approx_rel_tol=1e-6

    datafactory filter samples/ -o kept/ --verifier math,judge --judge-model toy

    datafactory filter chat/ -o kept/ --verifier judge --judge-template helpful_harmless \\
        --judge-engine openai --judge-base-url http://127.0.0.1:8000/v1 --judge-model Qwen/Qwen2.5-7B-Instruct

    datafactory filter samples/ -o kept/ --verifier none --rules truncated,repetition \\
        --rule-option long_paragraph_chars=5000 --min-pass-rate 0.1 --rl-prompts rl.jsonl

    datafactory filter sharegpt_traces.jsonl -o kept/ --verifier math --gold-field solution --rules r1

    datafactory filter traces.parquet -o kept/ --completion-field output --prompt-field instruction --verifier none

Selected passes go to OUT/part-*.parquet; every other row, with its reasons, to OUT/rejected/.
"""


def _verifier_options(verifier: str, math_options: list[str], code_options: dict) -> dict:
    from datafactory.errors import UsageError

    options: dict = {}
    names = verifier.split(",")
    if "code" in names:
        options["code"] = code_options
    if math_options:
        if "math" not in names:
            raise UsageError("--math-option needs --verifier math")
        options["math"] = {}
        for item in math_options:
            name, sep, value = item.partition("=")
            if not sep:
                raise UsageError(f"--math-option {item!r}: expected NAME=VALUE, e.g. percent=either")
            options["math"][name.strip()] = value.strip()
    return options


@app.command("filter", epilog=EXAMPLES)
def filter_command(
    inputs: Annotated[
        list[str], typer.Argument(help="Sample shards from generate (folders, files or globs).", show_default=False)
    ],
    out: Annotated[str, typer.Option("-o", "--out", help="Output folder: kept rows, rejected/, pass_rates.parquet.")],
    verifier: Annotated[
        str,
        typer.Option(help="math, code (sandboxed tests), choice, exact, judge, none (rules only), or math,judge."),
    ] = "math",
    gold_field: Annotated[str, typer.Option(help="Column holding the gold answer.")] = "answer",
    completion_field: Annotated[
        str | None,
        typer.Option(
            help="Column holding the completion (default: completion, response, output, or the last "
            "assistant turn of messages/conversations)."
        ),
    ] = None,
    prompt_field: Annotated[
        str | None, typer.Option(help="Column holding the prompt, hashed into ids when the input has no prompt_id.")
    ] = None,
    id_field: Annotated[
        str | None, typer.Option(help="Column holding the prompt id (default: prompt_id, else a hash of the prompt).")
    ] = None,
    rules: Annotated[
        str, typer.Option(help="Rule set (default, r1, none) or a comma list of rules and sets.")
    ] = "default",
    language: Annotated[
        str, typer.Option(help="Target language of the reasoning, for language_mixed (ISO 639-1).")
    ] = "en",
    rule_option: Annotated[
        list[str] | None, typer.Option(help="Override a rule threshold, NAME=VALUE (repeatable).")
    ] = None,
    keep: Annotated[
        int | None, typer.Option(help="Keep at most K passing samples per prompt (default: all distinct).")
    ] = None,
    select: Annotated[
        str, typer.Option(help="Which passing samples to keep: shortest, longest, random or first.")
    ] = "shortest",
    min_pass_rate: Annotated[float, typer.Option(help="Keep only prompts whose pass rate is at least this.")] = 0.0,
    max_pass_rate: Annotated[float, typer.Option(help="Keep only prompts whose pass rate is at most this.")] = 1.0,
    workers: Annotated[int, typer.Option(help="Verifier worker processes.")] = max(1, os.cpu_count() or 1),
    timeout: Annotated[float, typer.Option(help="Hard time limit per row in seconds (then verifier_timeout).")] = 20.0,
    seed: Annotated[int, typer.Option(help="Seed for --select random.")] = 0,
    shard_rows: Annotated[int, typer.Option(help="Rows per output shard.")] = 10_000,
    rl_prompts: Annotated[
        str | None, typer.Option(help="Write prompts with 0 < pass rate < 1 to this JSONL file.")
    ] = None,
    test_format: Annotated[str, typer.Option(help="code verifier: auto, humaneval, mbpp or stdio.")] = "auto",
    test_timeout: Annotated[float, typer.Option(help="code verifier: wall-clock seconds per program run.")] = 10.0,
    memory_mb: Annotated[int, typer.Option(help="code verifier: address-space limit per program, in MB.")] = 1024,
    unsafe_no_sandbox: Annotated[
        bool,
        typer.Option(
            "--unsafe-no-sandbox", metavar="", help="code verifier: run programs without bubblewrap (limits only)."
        ),
    ] = False,
    math_option: Annotated[
        list[str] | None,
        typer.Option(
            help="math verifier policy, NAME=VALUE (repeatable): percent, approx_rel_tol, lists, units, intervals."
        ),
    ] = None,
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
    from datafactory.filtering.stage import run_filter

    config = FilterConfig(
        inputs=inputs, out=out, verifier=verifier, gold_field=gold_field, rules=rules, language=language,
        rule_options=rule_option or [], keep=keep, select=select, min_pass_rate=min_pass_rate,
        max_pass_rate=max_pass_rate, workers=workers, timeout=timeout, seed=seed, shard_rows=shard_rows,
        rl_prompts=rl_prompts, overwrite=overwrite, allow_unfinished=allow_unfinished, completion_field=completion_field, prompt_field=prompt_field,
        id_field=id_field,
        verifier_options=_verifier_options(verifier, math_option or [], {"test_format": test_format,
            "test_timeout": test_timeout, "memory_mb": memory_mb, "unsafe_no_sandbox": unsafe_no_sandbox}),
        judge_model=judge_model, judge_engine=judge_engine, judge_base_url=judge_base_url,
        judge_api_key_env=judge_api_key_env, judge_template=judge_template, judge_threshold=judge_threshold,
        judge_scope=judge_scope, judge_max_tokens=judge_max_tokens, judge_cache=judge_cache,
        executor=executor, ray_address=ray_address,
    )  # fmt: skip
    counts = run_filter(config)["counts"]
    top = ", ".join(f"{k} {v}" for k, v in counts["verdicts"].items() if k != "pass")
    typer.echo(
        f"filter: {counts['rows_in']} rows -> {counts['rows_kept']} kept, {counts['rows_rejected']} rejected ({top}) in {out}",
        err=True,
    )
