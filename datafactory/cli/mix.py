"""`datafactory mix`: its flags come from MixConfig (cli/flags.py); this adds examples and counts per category."""

from __future__ import annotations

import typer

from datafactory.cli import app
from datafactory.cli.flags import stage_command

EXAMPLES = """
**Examples**

    datafactory mix --reasoning kept/ --general chat.jsonl \\
        --ratio 3:1 --total 800000 -o sft/

    datafactory mix --reasoning math/:2 --reasoning code/:1 \\
        --general sharegpt.json --ratio 3:1 -o sft/ \\
        --shard-bytes 256MB --seed 1

    datafactory mix --reasoning kept/ --general small.jsonl --ratio 3:1 \\
        --total 1000 --replacement -o sft/

A source is PATH, PATH:WEIGHT (its share within its category) and
optionally @NAME (default: the folder name).
"""


def report(counts: dict, out: str) -> None:
    parts = ", ".join(f"{c} {v['taken']}" for c, v in counts["per_category"].items())
    typer.echo(f"mix: {counts['rows_out']} rows ({parts}) in {out}", err=True)


stage_command(
    app,
    "mix",
    help="Mix reasoning and general data at a ratio into shuffled SFT shards that trainers load unchanged.",
    epilog=EXAMPLES,
    report=report,
)
