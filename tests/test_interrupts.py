"""What an operator does to a long job cannot damage it: a second command on the same folder is refused, SIGTERM
ends the run with a line and status 143 and leaves no engine process behind, a lock left by kill -9 is no lock,
and the same command then finishes with every (prompt_id, sample_index) once. Real `generate` on the tiny model."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli, write_jsonl

pytestmark = pytest.mark.engine

N = 2


def command(prompts, out, model):
    return [sys.executable, "-m", "datafactory", "generate", str(prompts), "-o", str(out), "-m", str(model),
            "-n", str(N), "--max-tokens", "96", "--shard-rows", "8", "--dtype", "float32", "--temperature", "1.0"]  # fmt: skip


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_lock_sigterm_and_stale_lock(tmp_path, tiny_model):
    prompts = write_jsonl(
        tmp_path / "p.jsonl", [{"id": f"q{i}", "problem": f"Count to {i}, slowly."} for i in range(300)]
    )
    out = tmp_path / "out"
    err = open(tmp_path / "a.err", "w")  # noqa: SIM115
    first = subprocess.Popen(command(prompts, out, tiny_model), stdout=subprocess.DEVNULL, stderr=err)
    try:
        assert wait_for(lambda: "ready on" in (tmp_path / "a.err").read_text(), 300), (tmp_path / "a.err").read_text()
        second = run_cli(*command(prompts, out, tiny_model)[3:], timeout=60)
        assert second.returncode == 2 and f"in use by pid {first.pid}" in second.stderr, second.stderr
        workers = descendants(first.pid)
        assert workers  # vLLM's engine core runs in a child process
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=120) == 143
    finally:
        if first.poll() is None:
            first.kill()
        err.close()
    stderr = (tmp_path / "a.err").read_text()
    assert "interrupted; the same command resumes" in stderr and "Traceback" not in stderr
    assert wait_for(lambda: not any(alive(pid) for pid in workers), 30), [p for p in workers if alive(p)]

    killed = subprocess.Popen(command(prompts, out, tiny_model), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(
        lambda: (out.parent / ".out.lock").is_file() and str(killed.pid) in (out.parent / ".out.lock").read_text(), 60
    )
    os.kill(killed.pid, signal.SIGKILL)  # its lock file stays behind, its lock does not
    killed.wait()
    for pid in descendants(killed.pid):
        os.kill(pid, signal.SIGKILL)
    finished = run_cli(*command(prompts, out, tiny_model)[3:], timeout=900)
    assert finished.returncode == 0, finished.stderr
    pairs = [
        (row["prompt_id"], row["sample_index"])
        for shard in sorted(out.glob("part-*.parquet"))
        for row in pq.read_table(shard, columns=["prompt_id", "sample_index"]).to_pylist()
    ]
    assert sorted(pairs) == sorted((f"q{i}", s) for i in range(300) for s in range(N))


def test_sigint_to_a_background_generate_is_the_terminals_line_and_status(tmp_path, tiny_model):
    """A shell starts `datafactory generate … &` with SIGINT ignored; a SIGINT sent to the job's group later reached
    only vLLM's engine core, and the run ended with an EngineDeadError traceback and status 1."""
    prompts = write_jsonl(
        tmp_path / "p.jsonl", [{"id": f"q{i}", "problem": f"Count to {i}, slowly."} for i in range(300)]
    )

    def as_a_background_job() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    err = open(tmp_path / "g.err", "w")  # noqa: SIM115
    job = subprocess.Popen(
        command(prompts, tmp_path / "out", tiny_model), stdout=subprocess.DEVNULL, stderr=err,
        start_new_session=True, preexec_fn=as_a_background_job,
    )  # fmt: skip
    try:
        assert wait_for(lambda: "ready on" in (tmp_path / "g.err").read_text(), 300), (tmp_path / "g.err").read_text()
        os.killpg(job.pid, signal.SIGINT)
        assert job.wait(timeout=120) == 130
    finally:
        if job.poll() is None:
            job.kill()
        err.close()
    stderr = (tmp_path / "g.err").read_text()
    assert stderr.strip().splitlines()[-1] == "interrupted; the same command resumes", stderr[-2000:]
    assert "Traceback" not in stderr and "EngineDeadError" not in stderr, stderr[-2000:]
