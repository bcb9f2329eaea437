"""The `datafactory` command: a thin Typer layer over the library (parse options, build a config, call it)."""

from __future__ import annotations

import os
import sys

import typer

from datafactory import __version__
from datafactory.errors import DataFactoryError

app = typer.Typer(
    name="datafactory",
    help="Turn prompts into verified SFT data for reasoning models (generate → filter → dedupe → mix).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"datafactory {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Turn prompts into verified SFT data for reasoning models."""


def _register() -> None:
    from datafactory.cli import dedupe, filter, generate, mix, report, run, stats, toy  # noqa: F401  (each registers its command)


def main() -> None:
    # Arrow's allocator (mimalloc) returns freed memory to the OS after 10 ms and faults it in again on the next
    # allocation. Stages allocate and free batches of tens of MB over and over, and on a VM those page faults
    # cost more than the work (benchmarks/mix.py, 2 cores: 1.8 million page faults and 3.3-3.6 s of system time
    # by default, 0.37 million and 0.9-1.1 s without). Freed memory is kept for reuse instead; a stage's peak is
    # bounded by its design, and MIMALLOC_PURGE_DELAY set by the user wins.
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")
    _register()
    try:
        app(standalone_mode=False)
    except DataFactoryError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        print("interrupted; re-run the same command to resume", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as err:  # click's usage errors carry their own exit code
        import click

        if isinstance(err, click.ClickException):
            err.show()
            sys.exit(err.exit_code)
        raise
