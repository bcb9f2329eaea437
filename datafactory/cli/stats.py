"""`datafactory stats PATH`: rich tables of a stage output's counts, reasons and lengths."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from datafactory.cli import Command, app

EXAMPLES = """
**Examples**

    datafactory stats samples/

    datafactory stats kept/ --json
"""


@app.command(epilog=EXAMPLES, cls=Command)
def stats(
    path: Annotated[str, typer.Argument(help="A stage's output folder (or a shard file).")],
    as_json: Annotated[
        bool, typer.Option("--json", metavar="", help="Print the numbers as JSON instead of tables.")
    ] = False,
) -> None:
    """Show counts, finish reasons, verdicts and completion-length percentiles of a stage's output."""
    import json

    from datafactory.stats import compute_stats

    result = compute_stats(path)
    if as_json:
        payload = {k: v for k, v in vars(result).items() if k != "manifest"}
        payload["stage"] = result.manifest.get("stage")
        typer.echo(json.dumps(payload, indent=2, default=dict))
        return
    console = Console()
    overview = Table(title=f"{path} ({result.manifest.get('stage', 'unknown stage')})")
    overview.add_column("measure")
    overview.add_column("value", justify="right")
    overview.add_row("rows", f"{result.rows:,}")
    overview.add_row("prompts", f"{result.prompts:,}")
    for name, value in result.length_percentiles.items():
        overview.add_row(f"completion tokens {name}", f"{value:,}")
    console.print(overview)
    for title, rows in result.breakdown.items():
        table = Table(title=title)
        table.add_column("")
        table.add_column("rows", justify="right")
        for label, value in rows.items():
            table.add_row(label, value if isinstance(value, str) else f"{value:,}")
        console.print(table)
    if result.funnel:
        funnel = Table(title="funnel (first failing reason per row)")
        funnel.add_column("step")
        funnel.add_column("rows", justify="right")
        for step, rows in result.funnel:
            funnel.add_row(step, f"{rows:,}")
        console.print(funnel)
    if result.pass_rate_histogram:
        histogram = Table(title="prompts by pass rate")
        histogram.add_column("pass rate")
        histogram.add_column("prompts", justify="right")
        for bucket, prompts in result.pass_rate_histogram.items():
            histogram.add_row(bucket, f"{prompts:,}")
        console.print(histogram)
    if result.suspect_golds:
        suspects = Table(title="suspect golds: the samples agree on another answer (review these)")
        for column in ("prompt", "gold", "majority answer", "votes", "checked against"):
            suspects.add_column(column, justify="right" if column == "votes" else "left")
        for row in result.suspect_golds:
            votes = f"{row['majority_votes']} of {row['answered']}"
            suspects.add_row(row["prompt_id"], row["gold"], row["majority_answer"], votes, row["gold_source"])
        console.print(suspects)
    if result.rejected_length_percentiles:
        lengths = Table(title="completion tokens, kept vs rejected")
        lengths.add_column("percentile")
        lengths.add_column("kept", justify="right")
        lengths.add_column("rejected", justify="right")
        for name, value in result.rejected_length_percentiles.items():
            lengths.add_row(name, f"{result.length_percentiles.get(name, 0):,}", f"{value:,}")
        console.print(lengths)
    if result.judge:
        judge = Table(title="judge")
        judge.add_column("measure")
        judge.add_column("value", justify="right")
        for name, value in result.judge.items():
            shown = "-" if value is None else f"{value:.1%}" if isinstance(value, float) else f"{value:,}"
            judge.add_row(name.replace("_", " "), shown)
        console.print(judge)
    for title, counter in (("finish_reason", result.finish_reasons), ("verdict", result.verdicts)):
        if counter:
            table = Table(title=title)
            table.add_column(title)
            table.add_column("rows", justify="right")
            table.add_column("share", justify="right")
            for key, count in counter.most_common():
                table.add_row(str(key), f"{count:,}", f"{count / max(1, result.rows):.1%}")
            console.print(table)
