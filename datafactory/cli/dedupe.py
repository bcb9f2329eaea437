"""`datafactory dedupe`: options → DedupeConfig → run_stage, then counts per reason."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from datafactory.cli import app
from datafactory.cli.options import AllowUnfinished, Executor, Overwrite, RayAddress

EXAMPLES = """
**Examples**

    datafactory dedupe kept/ -o deduped/ --on prompt --threshold 0.8

    datafactory dedupe kept/ -o deduped/ --decontaminate math500_test.jsonl --decontaminate gsm8k_test.jsonl

    datafactory dedupe general/*.parquet -o deduped/ --on messages --no-near

Survivors go to OUT/part-*.parquet; removed rows to OUT/.removed/ with dedupe_reason, dedupe_match,
dedupe_similarity and dedupe_ngram.
"""


@app.command(epilog=EXAMPLES)
def dedupe(
    inputs: Annotated[
        list[str],
        typer.Argument(help="Rows to deduplicate (folders, files or globs), in priority order.", show_default=False),
    ],
    out: Annotated[str, typer.Option("-o", "--out", help="Output folder: survivors, and .removed/.")],
    on: Annotated[str, typer.Option(help="Compare the prompt, the completion or the whole messages.")] = "prompt",
    exact: Annotated[
        bool, typer.Option("--exact/--no-exact", metavar="", help="Remove exact duplicates (NFKC, case, whitespace).")
    ] = True,
    near: Annotated[
        bool, typer.Option("--near/--no-near", metavar="", help="Remove near-duplicates (MinHash LSH).")
    ] = True,
    threshold: Annotated[
        float, typer.Option(help="Jaccard similarity of word-shingle sets at or above which rows are near-duplicates.")
    ] = 0.8,
    num_perm: Annotated[int, typer.Option(help="MinHash permutations.")] = 128,
    shingle: Annotated[
        int, typer.Option(help="Words per shingle (3 catches a one-word edit in a 40-word text at 0.8; 5 does not).")
    ] = 3,
    decontaminate: Annotated[
        list[str] | None,
        typer.Option(help="Benchmark file or folder; rows sharing a word n-gram with it are removed (repeatable)."),
    ] = None,
    decontaminate_field: Annotated[
        str | None, typer.Option(help="Benchmark text field (default: first of problem, question, prompt).")
    ] = None,
    ngram: Annotated[int, typer.Option(help="Words per n-gram for decontamination.")] = 8,
    workers: Annotated[int, typer.Option(help="Processes computing MinHash signatures.")] = max(1, os.cpu_count() or 1),
    shard_rows: Annotated[int, typer.Option(help="Rows per output shard.")] = 10_000,
    executor: Executor = "local",
    ray_address: RayAddress = None,
    overwrite: Overwrite = False,
    allow_unfinished: AllowUnfinished = False,
) -> None:
    """Remove exact and near-duplicate rows and benchmark leaks; the first occurrence is kept."""
    from datafactory.dedupe.stage import DedupeConfig
    from datafactory.frame import run_stage

    config = DedupeConfig(
        inputs=inputs, out=out, on=on, exact=exact, near=near, threshold=threshold, num_perm=num_perm,
        shingle=shingle, decontaminate=decontaminate or [], decontaminate_field=decontaminate_field, ngram=ngram,
        workers=workers, shard_rows=shard_rows, overwrite=overwrite, allow_unfinished=allow_unfinished, executor=executor, ray_address=ray_address,
    )  # fmt: skip
    counts = run_stage("dedupe", config)["counts"]
    removed = ", ".join(f"{k} {v}" for k, v in counts["removed"].items())
    empty = "; 0 rows kept: every row was removed" if counts["rows_in"] and not counts["rows_kept"] else ""
    typer.echo(f"dedupe: {counts['rows_in']} rows -> {counts['rows_kept']} kept ({removed}) in {out}{empty}", err=True)
