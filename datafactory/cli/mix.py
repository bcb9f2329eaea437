"""`datafactory mix`: options → MixConfig → run_stage, then counts per category."""

from __future__ import annotations

from typing import Annotated

import typer

from datafactory.cli import app
from datafactory.cli.options import AllowUnfinished, Executor, Overwrite, RayAddress

EXAMPLES = """
**Examples**

    datafactory mix --reasoning kept/ --general chat.jsonl --ratio 3:1 --total 800000 -o sft/

    datafactory mix --reasoning math/:2 --reasoning code/:1 --general sharegpt.json --ratio 3:1 -o sft/ \\
        --shard-bytes 256MB --seed 1

    datafactory mix --reasoning kept/ --general small.jsonl --ratio 3:1 --total 1000 --replacement -o sft/

A source is PATH, PATH:WEIGHT (its share within its category) and optionally @NAME (default: the folder name).
"""


@app.command(epilog=EXAMPLES)
def mix(
    out: Annotated[
        str,
        typer.Option(
            "-o", "--out", help="Output folder, a dataset repository: data/ shards, README.md card, dataset_info.json."
        ),
    ],
    reasoning: Annotated[
        list[str] | None, typer.Option(help="Reasoning source: PATH[:WEIGHT][@NAME] (repeatable).")
    ] = None,
    general: Annotated[
        list[str] | None, typer.Option(help="General source: PATH[:WEIGHT][@NAME] (repeatable).")
    ] = None,
    ratio: Annotated[str, typer.Option(help="REASONING:GENERAL rows, e.g. 3:1.")] = "3:1",
    total: Annotated[
        int | None, typer.Option(help="Rows in all (default: the most the sources allow at the ratio).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sampling and the shuffle.")] = 0,
    shard_rows: Annotated[int | None, typer.Option(help="Rows per shard (default 10,000).")] = None,
    shard_bytes: Annotated[str | None, typer.Option(help="Largest shard size instead, e.g. 256MB.")] = None,
    replacement: Annotated[
        bool,
        typer.Option("--replacement/--no-replacement", metavar="", help="Upsample a category that has too few rows."),
    ] = False,
    format: Annotated[
        str, typer.Option(help="messages (role/content) or sharegpt (conversations with from/value).")
    ] = "messages",
    on_bad_row: Annotated[
        str, typer.Option(help="error (exit 2) or skip (quarantine to OUT/bad_rows.jsonl).")
    ] = "error",
    name: Annotated[str, typer.Option(help="Dataset name in the card and dataset_info.json.")] = "datafactory_sft",
    memory: Annotated[
        str | None,
        typer.Option(help="Converted rows kept in RAM, e.g. 8GB; the rest spill to OUT/.work (default: 1/4 of RAM)."),
    ] = None,
    executor: Executor = "local",
    ray_address: RayAddress = None,
    overwrite: Overwrite = False,
    allow_unfinished: AllowUnfinished = False,
) -> None:
    """Mix reasoning and general data at a ratio into shuffled SFT shards that trainers load unchanged."""
    from datafactory.frame import run_stage
    from datafactory.mix.stage import MixConfig

    config = MixConfig(
        reasoning=reasoning or [], general=general or [], out=out, ratio=ratio, total=total, seed=seed,
        shard_rows=shard_rows, shard_bytes=shard_bytes, replacement=replacement, format=format,
        on_bad_row=on_bad_row, name=name, memory=memory, overwrite=overwrite, allow_unfinished=allow_unfinished, executor=executor, ray_address=ray_address,
    )  # fmt: skip
    counts = run_stage("mix", config)["counts"]
    parts = ", ".join(f"{c} {v['taken']}" for c, v in counts["per_category"].items())
    typer.echo(f"mix: {counts['rows_out']} rows ({parts}) in {out}", err=True)
