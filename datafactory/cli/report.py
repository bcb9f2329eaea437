"""`datafactory report PATH... -o report.html`: a self-contained HTML report over stage outputs."""

from __future__ import annotations

from typing import Annotated

import typer

from datafactory.cli import Command, app

EXAMPLES = """
**Examples**

    datafactory report runs/demo -o report.html

    datafactory report samples/ kept/ deduped/ sft/ -o report.html \\
        --per-reason 100

Open the file in any browser; it needs no network and carries a seeded
sample of rows per reason.
"""


@app.command("report", epilog=EXAMPLES, cls=Command)
def report(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Stage output folders, or a recipe run folder (its stages are found below it).", show_default=False
        ),
    ],
    out: Annotated[str, typer.Option("-o", "--out", help="The HTML file to write.")] = "report.html",
    per_reason: Annotated[int, typer.Option(help="Rows per reason (or kept) in the sample browser.")] = 40,
    seed: Annotated[int, typer.Option(help="Seed of the sample browser's random draw.")] = 0,
    title: Annotated[str | None, typer.Option(help="Title of the report.")] = None,
) -> None:
    """Funnels, pass rates, lengths, sources and a sample browser of rejected rows, in one HTML file."""
    from datafactory.errors import UsageError
    from datafactory.report.build import build_report

    if per_reason < 1:
        raise UsageError("--per-reason must be at least 1")
    path = build_report(paths, out, per_group=per_reason, seed=seed, title=title)
    typer.echo(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB)", err=True)
