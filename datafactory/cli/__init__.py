"""The `datafactory` command: a thin Typer layer over the library (parse options, build a config, call it)."""

from __future__ import annotations

import errno
import signal
import sys

import typer

from datafactory import __version__
from datafactory.errors import DataFactoryError
from datafactory.interrupts import request_stop, stop_requested
from datafactory.memory import keep_freed_memory


def _plain_help(option):
    """`--help` without a type beside it (typer would show <bool>), in a panel of its own after the options."""
    if option is not None:
        option.metavar = ""
        option.rich_help_panel = "Help"
    return option


METAVARS = {int: "N", float: "X"}  # typer would show <int>, <float>, <str>


class Command(typer.core.TyperCommand):
    """A command whose help shows a value's kind as a word (N, X, TEXT) and no type beside what has none to give:
    its arguments (their help says what they are) and `--help`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, typer.core.TyperArgument):
                param.display_type_rich = lambda ctx: None
            elif param.metavar is None and not getattr(param, "is_flag", False):
                kind = getattr(getattr(param, "type_descriptor", None), "annotation", None)
                param.metavar = METAVARS.get(kind, "TEXT")

    def get_help_option(self, ctx):
        return _plain_help(super().get_help_option(ctx))


class Group(typer.core.TyperGroup):
    def get_help_option(self, ctx):
        return _plain_help(super().get_help_option(ctx))


app = typer.Typer(
    cls=Group,
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
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, metavar="", help="Print the version."
    ),
) -> None:
    """Turn prompts into verified SFT data for reasoning models."""


def _register() -> None:
    from datafactory.cli import dedupe, filter, generate, mix, report, run, stats, toy  # noqa: F401  (each registers its command)


def _click_error(err: BaseException) -> bool:
    """Click's own exceptions, from click or from the copy typer bundles (typer._click), which are not related."""
    return any(cls.__name__ == "ClickException" and cls.__module__.endswith(("click.exceptions", "_click.exceptions"))
               for cls in type(err).__mro__)  # fmt: skip


def usage_line(err: BaseException) -> str:
    """A click usage error as one line, with click's suggestion and where to read more."""
    message = " ".join(err.format_message().split())
    context = getattr(err, "ctx", None)
    command = context.command_path if context is not None else "datafactory"
    return f"error: {message} (see '{command} --help')"


STOPPED_BY = {"signal": signal.SIGINT}
WRITE_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EFBIG}


def _stop(signum, _frame) -> None:
    """SIGTERM (a scheduler, `kill`) ends the run as Ctrl-C does: the stack unwinds, so engines shut down their
    worker processes and shards stay whole; the exit status says which signal it was (128 + number). SIGINT too,
    also when the shell started us with it ignored (a background job): a SIGINT sent on purpose then stops the
    run with the same line and status, instead of reaching only the engine's processes."""
    STOPPED_BY["signal"] = signum
    request_stop(signum)
    raise KeyboardInterrupt


def _interrupted() -> None:
    print("interrupted; the same command resumes", file=sys.stderr)
    sys.exit(128 + STOPPED_BY["signal"])


def main() -> None:
    keep_freed_memory()
    _register()
    previous = {signum: signal.signal(signum, _stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        _main()
    finally:  # a library caller (the suite's in-process runs) gets its own handlers back
        for signum, handler in previous.items():
            if handler is not None:  # None: not set from Python, cannot be put back
                signal.signal(signum, handler)


def _main() -> None:
    try:
        code = app(standalone_mode=False)
    except DataFactoryError as err:
        print(f"error: {err}" if err.exit_code else str(err), file=sys.stderr)  # 0: stopped on purpose (--forecast)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        _interrupted()
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        _interrupted()
    except OSError as err:
        if stop_requested():  # what a stop broke on its way out (an engine's pipe) is the stop
            _interrupted()
        if err.errno not in WRITE_ERRORS:
            raise
        where = f": {err.filename}" if err.filename else ""
        print(f"error: {err.strerror}{where} (the output is unfinished; the same command resumes)", file=sys.stderr)
        sys.exit(1)
    except Exception as err:
        if stop_requested():  # an engine whose processes took the same signal dies with its own error
            _interrupted()
        if not _click_error(err):
            raise
        print(usage_line(err), file=sys.stderr)
        sys.exit(2 if err.exit_code in (1, 2) else err.exit_code)
    if isinstance(code, int) and code:  # typer returns the status of an interrupt instead of raising it
        if code == 130:
            _interrupted()
        sys.exit(code)
