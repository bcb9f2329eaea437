"""Run an untrusted Python program in a bubblewrap container with hard limits, and say how it ended.

Why bwrap and a dropped uid: model-written code may fork-bomb, eat memory, loop, write huge files, phone home or
read secrets. Each run gets every namespace unshared (no network, own PID space), a read-only /usr, a private
64 MB /tmp, nothing of the project or home directories, and runs as an unprivileged uid of its own (so
RLIMIT_NPROC bites and /root is unreadable), with limits on address space, CPU time, file size, processes and
output, plus a wall clock. Killing bwrap tears down its PID namespace: nothing it started survives.
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from datafactory.errors import UsageError

SANDBOX_PYTHON = "/usr/bin/python3"
UID_RANGE = (1 << 20, 1 << 30)  # each run gets a fresh uid from this range: its process limit is its own


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 10.0
    memory_mb: int = 1024
    file_mb: int = 16
    processes: int = 32
    output_bytes: int = 1 << 20
    tmp_mb: int = 64


@dataclass
class RunResult:
    status: str  # ok, runtime_error, timeout, memory_limit, output_limit
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def check_sandbox(unsafe: bool) -> None:
    """Fail with exit 2 and the way out when no sandbox is available; warn when running without one."""
    if unsafe:
        print("warning: --unsafe-no-sandbox: generated programs run with limits but WITHOUT isolation", file=sys.stderr)
        return
    if bwrap_path() is None:
        raise UsageError(
            "the code verifier runs programs in bubblewrap, which is not installed: "
            "apt-get install bubblewrap (Debian/Ubuntu) or dnf install bubblewrap; "
            "--unsafe-no-sandbox runs them unisolated"
        )
    if not Path(SANDBOX_PYTHON).exists():
        raise UsageError(f"the sandbox runs {SANDBOX_PYTHON}, which is missing: apt-get install python3")


# The whole environment a program sees (and bwrap itself, whose /proc entry would otherwise show the caller's).
SANDBOX_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}


def _bwrap_command(folder: Path, limits: Limits, flags: list[str]) -> list[str]:
    """No /proc at all: nothing of bwrap's or the harness's memory and environment can be read through it."""
    command = [
        bwrap_path() or "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
        "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin", "--dev", "/dev",
        "--size", str(limits.tmp_mb << 20), "--tmpfs", "/tmp", "--ro-bind", str(folder), "/box",
        "--chdir", "/tmp", "--clearenv",
    ]  # fmt: skip
    for name, value in SANDBOX_ENV.items():
        command += ["--setenv", name, value]
    return [*command, SANDBOX_PYTHON, *flags, "/box/main.py"]


def _limit(limits: Limits, drop_uid: bool):
    uid_for_run = random.SystemRandom().randrange(*UID_RANGE)

    def apply() -> None:
        os.setsid()
        # as from a shell: the verifier worker running us is deaf to Ctrl-C (worker_processes.py); the program is not
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        cpu = int(limits.wall_seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb << 20, limits.memory_mb << 20))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb << 20, limits.file_mb << 20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if drop_uid and os.getuid() == 0:
            uid = uid_for_run
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))

    return apply


def run_python(
    source: str,
    stdin: str = "",
    limits: Limits = Limits(),
    unsafe: bool = False,
    files: dict[str, str] | None = None,
    secret: str | None = None,
    site: bool = True,
) -> RunResult:
    """Run `source` as main.py with `stdin`, beside read-only `files` (name -> text); never raises for anything
    the program does. The program gets SANDBOX_ENV and nothing else of the caller's environment. A `secret` is
    waiting, whole, in a pipe whose descriptor number is main.py's first argument (for the test harness's token:
    read at once, no round trip through a feeding thread). `site=False` starts Python without the site module
    (-S, ~3 ms less per run): main.py then adds the site-packages folders itself if it wants them."""
    folder = Path(tempfile.mkdtemp(prefix="df-sandbox-", dir=_scratch()))
    reader = None
    try:
        folder.chmod(0o755)
        for name, text in {"main.py": source, **(files or {})}.items():
            (folder / name).write_text(text)
            (folder / name).chmod(0o644)
        flags = ["-I"] if site else ["-I", "-S"]
        command = [SANDBOX_PYTHON if Path(SANDBOX_PYTHON).exists() else sys.executable, *flags, str(folder / "main.py")]
        if not unsafe:
            command = _bwrap_command(folder, limits, flags)
        if secret is not None:
            reader, writer = os.pipe()
            os.write(writer, secret.encode())
            os.close(writer)
            command.append(str(reader))
        return _run(command, stdin, limits, _limit(limits, drop_uid=not unsafe), (reader,) if reader else ())
    finally:
        if reader is not None:
            os.close(reader)
        shutil.rmtree(folder, ignore_errors=True)


def _scratch() -> str | None:
    """Where each run's files go: memory (/dev/shm) where it can be written, else the default temporary folder."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def _feed(pipe, data: bytes) -> None:
    with contextlib.suppress(OSError):
        pipe.write(data)
    with contextlib.suppress(OSError):
        pipe.close()


def _run(command: list[str], stdin: str, limits: Limits, preexec, pass_fds: tuple[int, ...] = ()) -> RunResult:
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=preexec,
        close_fds=True,
        pass_fds=pass_fds,
        env=SANDBOX_ENV,
    )
    if stdin:
        threading.Thread(target=_feed, args=(process.stdin, stdin.encode()), daemon=True).start()
    chunks = {process.stdout.fileno(): [], process.stderr.fileno(): []}
    size, overflow, timed_out = 0, False, False
    selector = selectors.DefaultSelector()
    for pipe in (process.stdout, process.stderr):
        selector.register(pipe.fileno(), selectors.EVENT_READ)
    deadline = started + limits.wall_seconds
    while selector.get_map() and not overflow:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for key, _ in selector.select(remaining):
            data = os.read(key.fd, 65536)
            if not data:
                selector.unregister(key.fd)
                continue
            chunks[key.fd].append(data)
            size += len(data)
            if size > limits.output_bytes:
                overflow = True
                break
    selector.close()
    if not overflow and not timed_out:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
    if process.poll() is None or overflow or timed_out:
        _kill(process)
    returncode = process.wait()
    stdout = b"".join(chunks[process.stdout.fileno()]).decode("utf-8", "replace")
    stderr = b"".join(chunks[process.stderr.fileno()]).decode("utf-8", "replace")
    process.stdout.close()
    process.stderr.close()
    status = _status(returncode, stderr, overflow, timed_out)
    return RunResult(status, returncode, stdout, stderr, time.monotonic() - started)


def _kill(process: subprocess.Popen) -> None:
    """Kill the process group (bwrap and, through its PID namespace, everything inside it)."""
    for target in (lambda: os.killpg(process.pid, signal.SIGKILL), lambda: process.kill()):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            target()


def _status(returncode: int, stderr: str, overflow: bool, timed_out: bool) -> str:
    if overflow:
        return "output_limit"
    if timed_out:
        return "timeout"
    signal_number = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if signal_number in (signal.SIGXCPU, signal.SIGKILL):
        return "timeout"
    if signal_number == signal.SIGXFSZ or "File too large" in stderr:
        return "output_limit"
    if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
        return "memory_limit"
    return "ok" if returncode == 0 else "runtime_error"
