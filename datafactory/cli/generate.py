"""`datafactory generate`: its flags come from GenerateConfig (cli/flags.py); this adds examples and the summary."""

from __future__ import annotations

import typer

from datafactory.cli import app
from datafactory.cli.flags import stage_command

EXAMPLES = """
**Examples**

    datafactory generate prompts.jsonl -o samples/ -m ./my-model \\
        -n 8 --max-tokens 4096

    datafactory generate data/*.parquet -o samples/ \\
        -m Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2

    datafactory generate math500.jsonl -o samples/ -m served-name \\
        --engine openai --base-url http://127.0.0.1:8000/v1 \\
        --api-key-env OPENAI_API_KEY --concurrency 32

Adaptive: sample each prompt until one sample passes the filter's checks,
at most 8 samples:

    datafactory generate math.jsonl -o samples/ -m ./my-model -n 8 \\
        --target 1 --verifier math --gold-field answer --rules r1

    datafactory generate prompts.jsonl -o samples/ -m ./my-model \\
        --engine-option max_num_seqs=64 \\
        --engine-option enable_prefix_caching=true

Re-running the same command after a crash resumes: finished prompts are
kept, the rest are sampled.
"""


def report(counts: dict, out: str) -> None:
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


stage_command(
    app,
    "generate",
    help="Sample reasoning traces: many completions per prompt, written as sharded Parquet with provenance.",
    epilog=EXAMPLES,
    report=report,
)
