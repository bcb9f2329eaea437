"""Errors a user can act on, each mapped to an exit code by the CLI (2: bad usage or input, 1: failure)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path


class DataFactoryError(Exception):
    """A failure reported as one line, without a traceback."""

    exit_code = 1


class UsageError(DataFactoryError):
    """The command line asks for something impossible (unknown engine, missing model, OUT already complete)."""

    exit_code = 2


class OptionError(UsageError):
    """One option's value is wrong. `option` is its config field: a recipe names its key by it, while the message
    names the command-line flag."""

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


@contextmanager
def about(option: str):
    """Within the block, a usage error from deeper code (an unknown verifier, a bad rule option) is about
    `option`."""
    try:
        yield
    except OptionError:
        raise
    except UsageError as err:
        raise OptionError(option, str(err)) from None


class BadInput(DataFactoryError):
    """An input row cannot be used; the message names the file, the 1-based row and the field."""

    exit_code = 2

    def __init__(self, message: str, file: str | Path | None = None, row: int | None = None, field: str | None = None):
        self.file, self.row, self.field, self.reason = file, row, field, message
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class EngineError(DataFactoryError):
    """The inference engine failed after start-up (server errors past the retries, a crashed worker)."""
