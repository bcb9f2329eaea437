"""`datafactory dedupe`: its flags come from DedupeConfig (cli/flags.py); this adds examples and counts per reason."""

from __future__ import annotations

import typer

from datafactory.cli import app
from datafactory.cli.flags import stage_command

EXAMPLES = """
**Examples**

    datafactory dedupe kept/ -o deduped/ --on prompt --threshold 0.8

    datafactory dedupe kept/ -o deduped/ \\
        --decontaminate math500_test.jsonl \\
        --decontaminate gsm8k_test.jsonl

    datafactory dedupe general/*.parquet -o deduped/ --on messages --no-near

Survivors go to OUT/part-*.parquet; removed rows to OUT/.removed/ with
dedupe_reason, dedupe_match, dedupe_similarity and dedupe_ngram.
"""


def report(counts: dict, out: str) -> None:
    removed = ", ".join(f"{k} {v}" for k, v in counts["removed"].items())
    empty = "; 0 rows kept: every row was removed" if counts["rows_in"] and not counts["rows_kept"] else ""
    typer.echo(f"dedupe: {counts['rows_in']} rows -> {counts['rows_kept']} kept ({removed}) in {out}{empty}", err=True)


stage_command(
    app,
    "dedupe",
    help="Remove exact and near-duplicate rows and benchmark leaks; the first occurrence is kept.",
    epilog=EXAMPLES,
    report=report,
)
