"""A control group per sandboxed program: its memory and its processes bounded in total, not per process.

Why: rlimits are per process. `RLIMIT_AS` of 200 MB let one program hold 945 MB across 32 processes; a cgroup
counts every process the program starts, its threads and what it writes to its in-memory /tmp. Both cgroup
layouts are served: v2 (one unified tree) and v1 (a `memory` and a `pids` tree), under this process's own group,
so that it works as root in a container as on a host. Where no group can be made (no cgroup file system, or one
not writable), `available()` says so and the sandbox falls back to the per-process limits (the verifier warns).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import signal
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Group:
    """One program's groups: a folder per controller tree (one on v2, two on v1)."""

    folders: tuple[Path, ...]
    version: int

    def empty(self) -> bool:
        return not any(_read_pids(folder) for folder in self.folders)

    def join(self) -> None:
        """Move the calling process in (a `preexec_fn`: the child, before it runs the program)."""
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def memory_events(self) -> int:
        """How often the group hit its memory limit so far (a run compares the count before and after)."""
        memory = self.folders[0]
        with contextlib.suppress(OSError, ValueError):
            if self.version == 2:
                events = dict(line.split() for line in (memory / "memory.events").read_text().splitlines())
                return int(events.get("oom_kill", 0)) + int(events.get("max", 0))
            return int((memory / "memory.failcnt").read_text())
        return 0

    def remove(self) -> None:
        """Kill whatever is left inside, then remove the groups."""
        for folder in self.folders:
            for _ in range(50):
                pids = _read_pids(folder)
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.01)


def _read_pids(folder: Path) -> list[int]:
    try:
        return [int(pid) for pid in (folder / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


_idle: dict[tuple[int, int], list[Group]] = {}  # this process's groups between runs, by their limits


@contextlib.contextmanager
def lease(memory_mb: int, processes: int):
    """A group with these limits for one run (None where none can be made). Groups are reused: a run's start
    costs no mkdir, its end no rmdir (the kernel frees a group some milliseconds after its last process)."""
    key = (memory_mb, processes)
    group = _idle[key].pop() if _idle.get(key) else create(memory_mb, processes)
    try:
        yield group
    finally:
        if group is not None:
            if group.empty():
                _idle.setdefault(key, []).append(group)
            else:
                group.remove()


@atexit.register
def _remove_idle() -> None:
    for groups in _idle.values():
        for group in groups:
            group.remove()
    _idle.clear()


def create(memory_mb: int, processes: int) -> Group | None:
    """A new group with these limits, or None where none can be made."""
    roots = _roots()
    if roots is None:
        return None
    version, memory_root, pids_root = roots
    _sweep(memory_root, pids_root)
    name = f"datafactory-{os.getpid()}-{secrets.token_hex(4)}"
    made: list[Path] = []
    try:
        memory = memory_root / name
        memory.mkdir()
        made.append(memory)
        if version == 2:
            (memory / "memory.max").write_text(str(memory_mb << 20))
            with contextlib.suppress(OSError):
                (memory / "memory.swap.max").write_text("0")
            (memory / "pids.max").write_text(str(processes))
            return Group((memory,), 2)
        (memory / "memory.limit_in_bytes").write_text(str(memory_mb << 20))
        with contextlib.suppress(OSError):  # no swap accounting: the limit above is all there is
            (memory / "memory.memsw.limit_in_bytes").write_text(str(memory_mb << 20))
        pids = pids_root / name
        pids.mkdir()
        made.append(pids)
        (pids / "pids.max").write_text(str(processes))
        return Group((memory, pids), 1)
    except OSError:
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        return None


_swept: list[int] = []


def _sweep(*roots: Path) -> None:
    """Once per process: remove the empty groups of processes that are gone (a worker ended with os._exit, or was
    killed, before it could remove its own)."""
    if _swept == [os.getpid()]:
        return
    _swept[:] = [os.getpid()]
    for root in dict.fromkeys(roots):
        for folder in root.glob("datafactory-*-*"):
            owner = folder.name.split("-")[1]
            if owner.isdigit() and not Path(f"/proc/{owner}").exists() and not _read_pids(folder):
                with contextlib.suppress(OSError):
                    folder.rmdir()


def available() -> bool:
    group = create(64, 4)
    if group is None:
        return False
    group.remove()
    return True


@lru_cache(maxsize=1)
def _roots() -> tuple[int, Path, Path] | None:
    """(version, the memory tree's folder of this process's group, the pids tree's), or None."""
    mounts = _mounts()
    groups = _own_groups()
    if "memory" in mounts and "pids" in mounts:  # v1
        memory = mounts["memory"] / groups.get("memory", "/").lstrip("/")
        pids = mounts["pids"] / groups.get("pids", "/").lstrip("/")
        if os.access(memory, os.W_OK) and os.access(pids, os.W_OK):
            return 1, memory, pids
    if "" in mounts:  # v2: the controllers must be enabled for this group's children
        own = mounts[""] / groups.get("", "/").lstrip("/")
        enabled = (
            (own / "cgroup.subtree_control").read_text().split() if (own / "cgroup.subtree_control").exists() else []
        )
        if {"memory", "pids"} <= set(enabled) and os.access(own, os.W_OK):
            return 2, own, own
    return None


def _mounts() -> dict[str, Path]:
    """Controller -> mount point ('' for the v2 tree)."""
    found: dict[str, Path] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            before, _, after = line.partition(" - ")
            fields = after.split(" ")
            kind, options = fields[0], fields[2] if len(fields) > 2 else ""
            point = Path(before.split(" ")[4])
            if kind == "cgroup2":
                found.setdefault("", point)
            elif kind == "cgroup":
                for option in options.split(","):
                    if option in ("memory", "pids"):
                        found.setdefault(option, point)
    return found


def _own_groups() -> dict[str, str]:
    """Controller -> this process's group path ('' for v2)."""
    groups: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                groups[controller] = path
    return groups
