"""Run untrusted Python programs in bubblewrap containers with hard limits, and say how each ended.

Why bwrap, a dropped uid and a cgroup: model-written code may fork-bomb, eat memory, loop, write huge files, phone
home or read secrets. Each run gets every namespace unshared (no network, own PID space), a read-only /usr and
/dev, a private in-memory /tmp and /dev/shm (64 MB together), nothing of the project or home directories, and
runs as an unprivileged uid of its own (so RLIMIT_NPROC bites and /root is unreadable). Memory and processes are
bounded for the whole program, every process it starts counted (a cgroup, verifiers/cgroup.py; where none can be made, per
process); CPU time, file size and output too, plus a wall clock. Killing bwrap tears down its PID namespace:
nothing it started survives. `run_linked` runs two such programs joined by two pipes (the code verifier's split
harness: the tests in one, the program in the other).
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
from dataclasses import dataclass, field
from pathlib import Path

from datafactory.errors import UsageError
from datafactory.verifiers import cgroup

SANDBOX_PYTHON = "/usr/bin/python3"
UID_RANGE = (1 << 20, 1 << 30)  # each run gets a fresh uid from this range: its process limit is its own
SHM_MB = 8  # of the temporary space, /dev/shm's share; /tmp has the rest


@dataclass(frozen=True)
class Limits:
    """For the whole program, every process it starts counted (memory and processes where a cgroup can be made)."""

    wall_seconds: float = 10.0
    memory_mb: int = 1024
    file_mb: int = 16
    processes: int = 32
    output_bytes: int = 1 << 20  # stdout and stderr together
    tmp_mb: int = 64  # /tmp and /dev/shm together


@dataclass
class RunResult:
    status: str  # ok, runtime_error, timeout, memory_limit, output_limit
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Box:
    """One program to run: its main source, files beside it, its standard input and extra arguments."""

    source: str
    files: dict[str, str] = field(default_factory=dict)
    stdin: str = ""
    args: tuple[str, ...] = ()
    pass_fds: tuple[int, ...] = ()
    site: bool = True
    grouped: bool = True  # in a cgroup of its own (moving a process into one costs ~5 ms on cgroup v1)


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
        "--symlink", "usr/bin", "/bin", "--dev", "/dev", "--size", str(SHM_MB << 20), "--tmpfs", "/dev/shm",
        "--remount-ro", "/dev", "--size", str(max(1, limits.tmp_mb - SHM_MB) << 20), "--tmpfs", "/tmp",
        "--ro-bind", str(folder), "/box",
        "--remount-ro", "/", "--chdir", "/tmp", "--clearenv",
    ]  # fmt: skip
    for name, value in SANDBOX_ENV.items():
        command += ["--setenv", name, value]
    return [*command, SANDBOX_PYTHON, *flags, "/box/main.py"]


def _limit(limits: Limits, drop_uid: bool, group: cgroup.Group | None):
    uid_for_run = random.SystemRandom().randrange(*UID_RANGE)

    def apply() -> None:
        os.setsid()
        if group is not None:
            group.join()
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
    site: bool = True,
) -> RunResult:
    """Run `source` as main.py with `stdin`, beside read-only `files` (name -> text); never raises for anything
    the program does. The program gets SANDBOX_ENV and nothing else of the caller's environment. `site=False`
    starts Python without the site module (-S, ~3 ms less per run): main.py then adds the site-packages folders
    itself if it wants them."""
    return _run_boxes([Box(source, files or {}, stdin, site=site)], limits, unsafe)[0]


def run_linked(first: Box, second: Box, limits: Limits, unsafe: bool = False) -> tuple[RunResult, RunResult]:
    """Run two programs at once, each in a sandbox of its own (its own uid, limits and files: neither can see the
    other), joined by two pipes: the last two arguments of each are the descriptors it reads the other's messages
    from and writes its own to. One wall clock and one output budget for both."""
    to_first, to_second = os.pipe(), os.pipe()  # (read end, write end)
    ends = [*to_first, *to_second]
    boxes = [
        _with_pipe(first, to_first[0], to_second[1]),
        _with_pipe(second, to_second[0], to_first[1]),
    ]

    def close_ends() -> None:  # once both have their copies: a program's end of the pipe closes with it
        while ends:
            os.close(ends.pop())

    try:
        program, tests = _run_boxes(boxes, limits, unsafe, after_start=close_ends)
        return program, tests
    finally:
        close_ends()


def _with_pipe(box: Box, reads: int, writes: int) -> Box:
    return Box(
        box.source, box.files, box.stdin, (*box.args, str(reads), str(writes)), (reads, writes), box.site, box.grouped
    )


def _run_boxes(boxes: list[Box], limits: Limits, unsafe: bool, after_start=None) -> list[RunResult]:
    with contextlib.ExitStack() as stack:
        processes, groups = [], []
        stack.callback(_end, processes)  # last in, first out: the processes end before their groups go back
        for box in boxes:
            folder = Path(tempfile.mkdtemp(prefix="df-sandbox-", dir=_scratch()))
            stack.callback(shutil.rmtree, folder, ignore_errors=True)
            folder.chmod(0o755)
            for name, text in {"main.py": box.source, **box.files}.items():
                (folder / name).write_text(text)
                (folder / name).chmod(0o644)
            flags = ["-I"] if box.site else ["-I", "-S"]
            command = [
                SANDBOX_PYTHON if Path(SANDBOX_PYTHON).exists() else sys.executable,
                *flags,
                str(folder / "main.py"),
            ]
            if not unsafe:
                command = _bwrap_command(folder, limits, flags)
            group = stack.enter_context(cgroup.lease(limits.memory_mb, limits.processes)) if box.grouped else None
            groups.append((group, group.memory_events() if group else 0))
            stack.callback(_end, processes)
            processes.append(_start([*command, *box.args], box, _limit(limits, not unsafe, group)))
        if after_start is not None:
            after_start()
        return _collect(processes, limits, groups)


def _end(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.returncode is None:
            _kill(process)
            process.wait()


def _scratch() -> str | None:
    """Where each run's files go: memory (/dev/shm) where it can be written, else the default temporary folder."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def _feed(pipe, data: bytes) -> None:
    with contextlib.suppress(OSError):
        pipe.write(data)
    with contextlib.suppress(OSError):
        pipe.close()


def _start(command: list[str], box: Box, preexec) -> subprocess.Popen:
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE if box.stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=preexec,
        close_fds=True,
        pass_fds=box.pass_fds,
        env=SANDBOX_ENV,
    )
    process.started = time.monotonic()
    if box.stdin:
        threading.Thread(target=_feed, args=(process.stdin, box.stdin.encode()), daemon=True).start()
    return process


def _collect(processes: list[subprocess.Popen], limits: Limits, groups: list) -> list[RunResult]:
    """Read every output of every process until all end, the wall clock runs out or the output is over budget."""
    started = min(process.started for process in processes)
    owner = {}
    chunks: dict[int, list[bytes]] = {}
    selector = selectors.DefaultSelector()
    for process in processes:
        for pipe in (process.stdout, process.stderr):
            owner[pipe.fileno()] = process
            chunks[pipe.fileno()] = []
            selector.register(pipe.fileno(), selectors.EVENT_READ)
    size, overflow, timed_out = 0, False, False
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
    results = []
    for process, group in zip(processes, groups, strict=True):
        late = timed_out
        if not overflow and not timed_out:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                late = True
        if process.poll() is None or overflow or late:
            _kill(process)
        returncode = process.wait()
        stdout = b"".join(chunks[process.stdout.fileno()]).decode("utf-8", "replace")
        stderr = b"".join(chunks[process.stderr.fileno()]).decode("utf-8", "replace")
        process.stdout.close()
        process.stderr.close()
        group, events_before = group
        memory = group is not None and group.memory_events() > events_before
        status = _status(returncode, stderr, overflow, late, memory)
        results.append(RunResult(status, returncode, stdout, stderr, time.monotonic() - process.started))
    return results


def _kill(process: subprocess.Popen) -> None:
    """Kill the process group (bwrap and, through its PID namespace, everything inside it)."""
    for target in (lambda: os.killpg(process.pid, signal.SIGKILL), lambda: process.kill()):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            target()


def _status(returncode: int, stderr: str, overflow: bool, timed_out: bool, memory: bool = False) -> str:
    if overflow:
        return "output_limit"
    if timed_out:
        return "timeout"
    if memory and returncode != 0:
        return "memory_limit"
    signal_number = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if signal_number in (signal.SIGXCPU, signal.SIGKILL):
        return "timeout"
    if signal_number == signal.SIGXFSZ or "File too large" in stderr:
        return "output_limit"
    if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
        return "memory_limit"
    return "ok" if returncode == 0 else "runtime_error"
