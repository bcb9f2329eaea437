"""The sandbox's limits hold for the whole program, every process it starts counted, not for each process.

Each program below tries to get past one limit by spreading over processes or places: memory over forked
children, processes beyond the cap, disk over /tmp, /dev/shm and /dev, output over several writers.
"""

import pytest

from datafactory.verifiers import cgroup
from datafactory.verifiers.sandbox import Limits, bwrap_path, run_python

pytestmark = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed (make test installs it)")

MEMORY_OVER_CHILDREN = """
import os, select, time
ready, told = os.pipe()
children = {}
for _ in range(6):
    pid = os.fork()
    if pid == 0:
        block = b'x' * (100 << 20)  # written, so really held
        os.write(told, b'h')
        time.sleep(3)
        os._exit(0)
    children[pid] = False
reported = b''
deadline = time.monotonic() + 2
while time.monotonic() < deadline and len(reported) < 6:
    if select.select([ready], [], [], 0.1)[0]:
        reported += os.read(ready, 16)
alive = sum(os.waitpid(pid, os.WNOHANG) == (0, 0) for pid in children)
print('holding at once:', min(alive, len(reported)))
"""


@pytest.mark.skipif(not cgroup.available(), reason="no writable cgroup here: memory is bounded per process only")
def test_memory_is_bounded_for_all_of_a_programs_processes():
    """Six children of 100 MB each, under 250 MB: with per-process limits all six held theirs at once."""
    result = run_python(MEMORY_OVER_CHILDREN, limits=Limits(memory_mb=250, wall_seconds=10))
    assert "holding at once" in result.stdout, (result.status, result.stderr[-300:])
    holding = int(result.stdout.split()[-1])
    assert 1 <= holding <= 2, holding


def test_a_program_that_stays_under_its_memory_runs():
    result = run_python("block = b'x' * (50 << 20)\nprint(len(block))\n", limits=Limits(memory_mb=250))
    assert result.status == "ok" and result.stdout.strip() == str(50 << 20), result.stderr


PROCESSES = """
import os, time
started = 0
for _ in range(200):
    try:
        if os.fork() == 0:
            time.sleep(2)
            os._exit(0)
        started += 1
    except OSError:
        break
print(started)
"""


def test_processes_are_bounded_for_the_whole_program():
    result = run_python(PROCESSES, limits=Limits(processes=12, wall_seconds=10))
    assert result.status == "ok", result.stderr[-300:]
    assert int(result.stdout.split()[-1]) < 12


DISK = """
import os
written = 0
for folder in ('/tmp', '/dev/shm', '/dev', '/box', '/'):
    for index in range(100):
        try:
            with open(f'{folder}/fill-{index}', 'wb') as handle:
                handle.write(b'x' * (4 << 20))
            written += 4
        except OSError:
            break
print(written)
"""


def test_disk_is_bounded_in_total_across_every_writable_place():
    result = run_python(DISK, limits=Limits(tmp_mb=64, file_mb=16, wall_seconds=10))
    assert result.status == "ok", result.stderr[-300:]
    written = int(result.stdout.split()[-1])
    assert 0 < written <= 64, written  # /dev was a 12 GB tmpfs without a cap, / one without any


OUTPUT_OVER_CHILDREN = """
import os
for _ in range(4):
    if os.fork() == 0:
        os.write(1, b'x' * (400 << 10))
        os.write(2, b'y' * (400 << 10))
        os._exit(0)
for _ in range(4):
    os.wait()
"""


def test_output_is_bounded_for_the_whole_program():
    result = run_python(OUTPUT_OVER_CHILDREN, limits=Limits(output_bytes=1 << 20))
    assert result.status == "output_limit", result.status
    assert len(result.stdout) + len(result.stderr) <= (1 << 20) + (64 << 10)


@pytest.mark.skipif(not cgroup.available(), reason="no writable cgroup here")
def test_groups_a_killed_worker_left_are_removed_by_the_next_process(monkeypatch):
    """Workers end with os._exit (no atexit) or are killed: their idle groups must not pile up run after run."""
    _, memory_root, pids_root = cgroup._roots()
    dead = 4_000_000  # above any pid this kernel hands out (pid_max is at most 4,194,304)
    stale = [root / f"datafactory-{dead}-0000abcd" for root in (memory_root, pids_root)]
    for folder in stale:
        folder.mkdir()
    monkeypatch.setattr(cgroup, "_swept", [])  # as a fresh process
    group = cgroup.create(64, 4)
    group.remove()
    assert not any(folder.exists() for folder in stale)
