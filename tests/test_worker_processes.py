"""Ctrl-C while worker processes start is one line, never a child's traceback (worker_processes.py, interrupts.py).

The ways it broke, each tested: the fork server and a fresh worker took the terminal's SIGINT (the whole process
group gets it) while importing or unpickling, before any handler of ours ran; and a SIGINT to the parent between
handing the fork server a worker's pipes and writing its start-up data left a child that died with EOFError."""

import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from datafactory.dedupe.minhash import BATCH
from datafactory.interrupts import held
from tests.conftest import as_from_a_terminal

CUT_LAUNCH = textwrap.dedent("""
    import signal, sys, time
    from multiprocessing import forkserver

    def child(path):
        open(path, "w").write("ran")

    if __name__ == "__main__":
        from datafactory.worker_processes import worker_context
        import multiprocessing
        context = worker_context() if sys.argv[1] == "worker" else multiprocessing.get_context("forkserver")
        forkserver.ensure_running()
        real = forkserver.connect_to_new_process

        def cut(fds):  # Ctrl-C at the worst moment: the fork server has the pipes, the start-up data is unwritten
            pipes = real(fds)
            signal.raise_signal(signal.SIGINT)
            return pipes

        forkserver.connect_to_new_process = cut
        process = context.Process(target=child, args=(sys.argv[2],))
        try:
            process.start()
            print("not interrupted")
        except KeyboardInterrupt:
            print("interrupted after start" if process.pid else "interrupted during start")
        time.sleep(1.5)  # the child, if whole, runs meanwhile
    """)


def cut_launch(tmp_path, kind):
    script = tmp_path / "cut.py"
    script.write_text(CUT_LAUNCH)
    marker = tmp_path / f"{kind}.ran"
    return subprocess.run(
        [sys.executable, str(script), kind, str(marker)], capture_output=True, text=True, timeout=60,
        preexec_fn=as_from_a_terminal,
    ), marker  # fmt: skip


def test_a_launch_cut_by_ctrl_c_is_finished_before_the_interrupt_is_raised(tmp_path):
    done, marker = cut_launch(tmp_path, "worker")
    assert done.stdout.strip() == "interrupted after start", (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert marker.read_text() == "ran"


def test_the_cut_is_the_real_failure_without_the_worker_context(tmp_path):
    """The same cut on a plain forkserver context: the child's EOFError traceback (so the test above tests it)."""
    done, marker = cut_launch(tmp_path, "plain")
    assert done.stdout.strip() == "interrupted during start", (done.stdout, done.stderr)
    assert "EOFError" in done.stderr and not marker.exists()


IGNORES = textwrap.dedent("""
    import signal, sys
    from multiprocessing import forkserver

    def deaf(pid="self"):  # from the kernel: SIGINT in the process's blocked or ignored set
        fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
        return any(int(fields[key].split()[0], 16) >> (signal.SIGINT - 1) & 1 for key in ("SigBlk", "SigIgn"))

    def child(conn):
        conn.send(deaf())

    if __name__ == "__main__":
        from datafactory.worker_processes import worker_context
        context = worker_context()
        print(signal.getsignal(signal.SIGINT) is signal.default_int_handler and not deaf())  # the parent hears
        print(deaf(forkserver._forkserver._forkserver_pid))
        parent, conn = context.Pipe()
        process = context.Process(target=child, args=(conn,))
        process.start()
        print(parent.recv())
        process.join()
    """)


def test_the_fork_server_and_its_workers_ignore_ctrl_c_from_their_first_instruction(tmp_path):
    script = tmp_path / "ignores.py"
    script.write_text(IGNORES)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                          preexec_fn=as_from_a_terminal)  # fmt: skip
    assert done.stdout.split() == ["True", "True", "True"], (done.stdout, done.stderr)


LOST = textwrap.dedent("""
    import signal
    from multiprocessing import util

    real = util.spawnv_passfds

    def spawn(path, args, passfds):  # Ctrl-C to the parent at the instant the fork server starts
        if any("multiprocessing.forkserver" in str(arg) for arg in args):
            signal.raise_signal(signal.SIGINT)
        return real(path, args, passfds)

    if __name__ == "__main__":
        from datafactory.worker_processes import worker_context
        util.spawnv_passfds = spawn
        try:
            worker_context()
            print("lost")
        except KeyboardInterrupt:
            print("interrupted")
    """)


def test_a_ctrl_c_while_the_fork_server_starts_is_not_lost(tmp_path):
    """Ignoring SIGINT for that instant (another way to make the server deaf) would drop the user's Ctrl-C."""
    script = tmp_path / "lost.py"
    script.write_text(LOST)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                          preexec_fn=as_from_a_terminal)  # fmt: skip
    assert done.stdout.strip() == "interrupted", (done.stdout, done.stderr)


DEDUPE = textwrap.dedent("""
    import os, signal, time

    if __name__ == "__main__":
        from datafactory.dedupe.minhash import BATCH, NearDuplicateFinder
        texts = {row: f"note {row} on {row * 7} and {row % 13} " + "word " * 20 for row in range(2 * BATCH)}
        texts[2 * BATCH - 1] = texts[0]  # one near-duplicate to find
        finder = NearDuplicateFinder(workers=2)
        for row in range(BATCH):  # the first batch goes to the pool: its workers start
            finder.add(row, texts[row], str(row))
        try:
            os.killpg(0, signal.SIGINT)  # Ctrl-C at a terminal: every process of the group
            time.sleep(2)
        except KeyboardInterrupt:
            print("interrupted")
        for row in range(BATCH, 2 * BATCH):
            finder.add(row, texts[row], str(row))
        print(finder.resolve(lambda rows: {row: texts[row] for row in rows}))
    """)


def test_dedupe_workers_outlive_a_ctrl_c_that_the_parent_handles(tmp_path):
    """The MinHash pool once lost its workers to Ctrl-C (tracebacks, and dedupe hung). The parent here takes the
    KeyboardInterrupt and carries on: the same workers must still answer, and print nothing."""
    script = tmp_path / "dedupe.py"
    script.write_text(DEDUPE)

    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          start_new_session=True, preexec_fn=as_from_a_terminal)  # fmt: skip
    duplicate = {2 * BATCH - 1: ("0", 1.0)}
    assert done.stdout.split("\n")[:2] == ["interrupted", str(duplicate)], (done.stdout, done.stderr)
    assert done.stderr == ""


@pytest.fixture
def terminal_sigint():
    """SIGINT as a terminal's shell leaves it (a suite started with `&` or nohup inherits it ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_held_raises_the_first_stop_when_the_block_ends_and_a_second_at_once(terminal_sigint):
    reached = []
    with pytest.raises(KeyboardInterrupt), held():
        signal.raise_signal(signal.SIGINT)
        reached.append("after one")
    assert reached == ["after one"]
    with pytest.raises(KeyboardInterrupt), held():
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
        reached.append("after two")
    assert reached == ["after one"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers are as they were


def test_held_hands_sigterm_to_the_handler_that_was_there():
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: seen.append(signum))
    try:
        with held():
            signal.raise_signal(signal.SIGTERM)
            assert seen == []
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_every_worker_process_of_the_package_starts_from_the_worker_context():
    """A pool built on a plain multiprocessing context would bring the tracebacks back (dedupe's also hung)."""
    package = Path(__file__).parent.parent / "datafactory"
    plain = [
        str(path)
        for path in package.rglob("*.py")
        if path.name != "worker_processes.py"
        and re.search(
            r"get_context\(|mp_context=(?!worker_context\()|multiprocessing import .*Process", path.read_text()
        )
    ]
    assert not plain
    assert "worker_context(" in (package / "dedupe" / "minhash.py").read_text()
    assert "worker_context(" in (package / "checks" / "pool.py").read_text()
