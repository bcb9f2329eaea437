"""`datafactory run RECIPE`: the stages of a recipe file in order, then a summary table."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from datafactory.cli import Command, app

EXAMPLES = """
**Examples**

    datafactory run recipes/demo.yaml

    datafactory run recipes/demo.yaml --set generate.n=2 \\
        --set prompts.toy.reasoning=50

    datafactory run recipes/r1-sft.yaml --from filter --until dedupe

    datafactory run recipes/demo.yaml --set filter.keep=2 --dry-run

Run it again after an edit: stages whose options or inputs changed run
again, and the stages after them; the rest are reused. A stopped run
resumes. --from re-runs that stage and the ones after it; --dry-run says
which stages would run, and why, without running them.
"""


@app.command(epilog=EXAMPLES, cls=Command)
def run(
    recipe: Annotated[str, typer.Argument(help="Recipe file (YAML).")],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a recipe value, KEY=VALUE with a dotted key (repeatable)."),
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", help="First stage to run (prompts, generate, filter, dedupe, mix); it and later ones are redone."
        ),
    ] = None,
    until: Annotated[str | None, typer.Option(help="Last stage to run.")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", metavar="", help="Run every stage again, finished or not.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", metavar="", help="Check the recipe and its resources, say what would run, stop."),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", metavar="", help="Show the engine's own output (default: OUT/.datafactory/engine.log)."
        ),
    ] = False,
) -> None:
    """Run a recipe: prompts → generate → filter → dedupe → mix, resuming where a stopped run left off."""
    from datafactory.engine_logs import TERMINAL
    from datafactory.recipes import load_recipe, stage_range
    from datafactory.runner import RecipeRun

    loaded = load_recipe(recipe, set_ or [])
    stages = stage_range(from_, until)
    console = Console(file=TERMINAL)
    redo = "--overwrite" if overwrite else f"--from {from_}" if from_ else None
    say = lambda text: console.print(f"[bold]»[/] {text}")  # noqa: E731
    summary = RecipeRun(loaded, stages, redo=redo, say=say, verbose=verbose).run(dry_run=dry_run)
    if summary is None:
        return
    table = Table(title=f"{loaded.data.get('name', loaded.path.stem)}: {loaded.out}")
    table.add_column("step")
    table.add_column("rows", justify="right")
    table.add_row("prompts", f"{summary['prompts']:,}")
    saved = summary["budget"] - summary["samples"]
    table.add_row(
        "samples",
        f"{summary['samples']:,}" + (f" (of {summary['budget']:,}; {saved:,} not drawn)" if saved > 0 else ""),
    )
    table.add_row("completion tokens", f"{summary['tokens']:,}")
    for reason, rows in summary["rejected"].most_common():
        table.add_row(f"  rejected: {reason}", f"{rows:,}")
    table.add_row("kept by filter", f"{summary['kept']:,}")
    for reason, rows in summary["duplicates"].items():
        table.add_row(f"  removed: {reason}", f"{rows:,}")
    for category, rows in summary["mix"].items():
        table.add_row(f"mix: {category}", f"{rows:,}")
    Console().print(table)
    for name, source in summary["per_source"].items():
        spent = ", ".join(f"{verdict} {tokens:,}" for verdict, tokens in source["tokens_by_verdict"].items())
        per_trace = source["tokens_per_kept_trace"]
        if per_trace is None:
            typer.echo(f"{name}: no trace kept" + (f" (completion tokens spent: {spent})" if spent else ""))
        else:
            typer.echo(f"{name}: {per_trace} completion tokens per kept trace ({spent})")
    if summary.get("tokens_to_total") is not None:
        typer.echo(f"to reach mix.total at this yield: about {summary['tokens_to_total']:,} more completion tokens")
    if summary["out"]:
        typer.echo(f"SFT shards: {summary['out']}")
    if summary.get("report"):
        typer.echo(f"report: {summary['report']}")
    if summary["stopped"] is not None:
        raise summary["stopped"]  # one line and status 2, after the summary and report of what ran
