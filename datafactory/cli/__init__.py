"""The `datafactory` command: a thin Typer layer over the library (parse options, build a config, call it)."""

from __future__ import annotations

import sys

import typer

from datafactory import __version__
from datafactory.errors import DataFactoryError
from datafactory.memory import keep_freed_memory

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
    keep_freed_memory()
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
