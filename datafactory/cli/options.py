"""Command-line options several commands share, declared once so their names and help never drift apart."""

from __future__ import annotations

from typing import Annotated

import typer

Executor = Annotated[
    str, typer.Option(help="local (this machine), or ray to run on a Ray cluster (pip install 'datafactory[ray]').")
]
RayAddress = Annotated[
    str | None, typer.Option(help="--executor ray: cluster address, or `auto`; default: start a local Ray.")
]
Overwrite = Annotated[
    bool, typer.Option("--overwrite", metavar="", help="Replace a finished output instead of refusing.")
]
AllowUnfinished = Annotated[
    bool,
    typer.Option(
        "--allow-unfinished", metavar="", help="Read a stage output that has no _SUCCESS (a stopped run) as it is."
    ),
]
