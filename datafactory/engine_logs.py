"""Keep an inference engine's own output out of the terminal: it goes to a log file in the output folder.

Why at the file-descriptor level: vLLM logs (to stdout and stderr) from this process and from its engine-core and
worker processes, which inherit descriptors 1 and 2; swapping `sys.stdout`/`sys.stderr` would catch none of the
children, and vLLM's logger keeps the stream it found at import. While the engine runs, descriptors 1 and 2 point
at the log file; datafactory's own lines and progress bar write to `TERMINAL`, which follows a copy of where
stderr pointed before. `--verbose` leaves everything where it was.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

LOG_NAME = ".datafactory/engine.log"  # beside the manifest, hidden from readers of the rows
_redirected = None  # while an engine's output goes to its log: a stream on the saved terminal


class _Terminal:
    """stderr as it was before any redirection: what datafactory itself says goes here."""

    def _stream(self):
        return _redirected if _redirected is not None else sys.stderr

    def write(self, text: str) -> int:
        return self._stream().write(text)

    def flush(self) -> None:
        self._stream().flush()

    def isatty(self) -> bool:
        return self._stream().isatty()

    def fileno(self) -> int:
        return self._stream().fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._stream(), "encoding", "utf-8")


TERMINAL = _Terminal()


@contextlib.contextmanager
def engine_output(folder: str | Path | None, verbose: bool = False):
    """Within the block, descriptors 1 and 2 write to FOLDER/.datafactory/engine.log (appended); yields that path or None."""
    global _redirected
    if verbose or folder is None or _redirected is not None:
        yield None
        return
    path = Path(folder) / LOG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    kept = {fd: os.dup(fd) for fd in (1, 2)}
    with open(path, "ab") as log:
        log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}\n".encode())
        log.flush()
        for fd in kept:
            os.dup2(log.fileno(), fd)
    _redirected = os.fdopen(os.dup(kept[2]), "w", buffering=1, encoding="utf-8", errors="replace")
    try:
        yield path
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in kept.items():
            os.dup2(saved, fd)
            os.close(saved)
        _redirected.close()
        _redirected = None


def say(text: str) -> None:
    """One line of datafactory's own, to the terminal even while the engine's output is redirected."""
    print(text, file=TERMINAL, flush=True)
