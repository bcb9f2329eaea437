"""`datafactory filter`: its flags come from FilterConfig (cli/flags.py); this adds examples and the funnel line."""

from __future__ import annotations

import typer

from datafactory.cli import app
from datafactory.cli.flags import stage_command

EXAMPLES = """
**Examples**

    datafactory filter samples/ -o kept/ --verifier math \\
        --gold-field answer --rules r1 --keep 1

    datafactory filter samples/ -o kept/ --verifier choice \\
        --rules default,language_mixed --language en

    datafactory filter samples/ -o kept/ --verifier code --test-timeout 5

    datafactory filter samples/ -o kept/ --verifier math \\
        --math-option percent=either --math-option approx_rel_tol=1e-6

    datafactory filter samples/ -o kept/ --verifier math,judge \\
        --judge-model toy

    datafactory filter samples/ -o kept/ --verifier math --gold majority \\
        --gold-policy replace-suspect --gold-min-votes 4 \\
        --gold-min-share 0.6

    datafactory filter chat/ -o kept/ --verifier judge \\
        --judge-template helpful_harmless --judge-engine openai \\
        --judge-base-url http://127.0.0.1:8000/v1 \\
        --judge-model Qwen/Qwen2.5-7B-Instruct

    datafactory filter samples/ -o kept/ --verifier none \\
        --rules truncated,repetition \\
        --rule-option long_paragraph_chars=5000 \\
        --min-pass-rate 0.1 --rl-prompts rl.jsonl

    datafactory filter sharegpt_traces.jsonl -o kept/ --verifier math \\
        --gold-field solution --rules r1

    datafactory filter traces.parquet -o kept/ --verifier none \\
        --completion-field output --prompt-field instruction

Selected passes go to OUT/part-*.parquet; every other row, with its
reasons, to OUT/.rejected/; pass rates to OUT/.pass_rates/.
"""


def report(counts: dict, out: str) -> None:
    from datafactory.filtering.stage import summary

    typer.echo(f"filter: {summary(counts, out)}", err=True)


stage_command(
    app,
    "filter",
    help="Rejection sampling: verify answers, apply R1 readability rules, keep the best k samples per prompt.",
    epilog=EXAMPLES,
    report=report,
)
