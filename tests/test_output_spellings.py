"""One output folder, however it is spelled: a symbolic link, `.`, a dangling link; and a stop sent on purpose to a
run its shell started with SIGINT ignored (a background job).

Each way an operator may get around the lock or the overwrite is one line and exit 2, or handled, never a
traceback or a folder left behind.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq

from datafactory.io.outdir import OutputDir
from tests.conftest import as_from_a_terminal, run_cli


def _samples(folder, count=20):
    folder.mkdir()
    rows = [
        {"prompt_id": f"p{i}", "sample_index": 0, "answer": str(i), "finish_reason": "stop",
         "completion": f"<think>\nIt is {i}.\n</think>\n\nThe answer is \\boxed{{{i}}}."}
        for i in range(count)
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-00000.parquet")
    return folder


def test_a_link_to_a_folder_in_use_is_the_same_folder(tmp_path):
    samples = _samples(tmp_path / "s")
    (tmp_path / "out").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "out")
    holder = OutputDir(tmp_path / "out", "filter")
    holder.lock()
    try:
        result = run_cli("filter", samples, "-o", tmp_path / "link")
    finally:
        holder.unlock()
    assert result.returncode == 2 and "in use by" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list((tmp_path / "out").iterdir()) == []


def test_overwrite_through_a_link_replaces_the_folder_and_keeps_the_link(tmp_path):
    samples = _samples(tmp_path / "s")
    (tmp_path / "out").mkdir()
    (tmp_path / "link").symlink_to("out")
    assert run_cli("filter", samples, "-o", tmp_path / "link").returncode == 0
    again = run_cli("filter", samples, "-o", tmp_path / "link", "--overwrite", "--keep", "1")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "link").is_symlink() and os.readlink(tmp_path / "link") == "out"
    manifest = json.loads((tmp_path / "out" / ".datafactory/manifest.json").read_text())
    assert manifest["arguments"]["keep"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "out", "s"]  # no .link.replaced, no .overwrite


def test_a_link_to_nothing_is_one_line(tmp_path):
    samples = _samples(tmp_path / "s")
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    result = run_cli("filter", samples, "-o", tmp_path / "dangling")
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "missing").exists()


def test_overwriting_the_current_folder_is_refused_in_one_line(tmp_path):
    samples = _samples(tmp_path / "s")
    here = tmp_path / "here"
    here.mkdir()
    for out in (".", str(tmp_path)):
        result = subprocess.run(
            [sys.executable, "-m", "datafactory", "filter", str(samples), "-o", out, "--overwrite"],
            capture_output=True, text=True, cwd=here, timeout=120,
        )  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert "current folder" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here", "s"] and list(here.iterdir()) == []


def _as_a_background_job() -> None:
    """A non-interactive shell starts `cmd &` with SIGINT ignored."""
    as_from_a_terminal()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_sigint_to_a_background_run_is_the_terminals_line_and_status(tmp_path):
    samples = _samples(tmp_path / "s", count=20_000)
    process = subprocess.Popen(
        [sys.executable, "-m", "datafactory", "filter", str(samples), "-o", str(tmp_path / "o"), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=_as_a_background_job,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (tmp_path / "o" / ".work").is_dir() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)
    os.kill(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted; the same command resumes" and "Traceback" not in stderr
