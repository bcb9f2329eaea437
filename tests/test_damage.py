"""Nothing a user does can damage finished data: unfinished inputs are refused, a resume notices replaced inputs,
--overwrite keeps the old output until the new one is finished, a full or read-only disk and damaged files are
one line each. Real commands on real files; the full and read-only disks are real tmpfs mounts (root only)."""

import json
import subprocess
import uuid
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import as_from_a_terminal, run_cli, write_jsonl


def samples(count=40, answer="1"):
    return [
        {"prompt_id": f"p{i}", "sample_index": 0, "answer": "1", "finish_reason": "stop", "problem": f"Question {i}?",
         "completion": f"<think>\nThink about {i}.\n</think>\n\nThe answer is $\\boxed{{{answer}}}$."}
        for i in range(count)
    ]  # fmt: skip


def one_line_error(result, code=2):
    assert result.returncode == code, (result.returncode, result.stderr)
    line = result.stderr.strip()
    assert "Traceback" not in line and "\n" not in line and line.startswith("error: "), line
    return line


def test_an_unfinished_stage_output_is_refused_as_input(tmp_path):
    folder = tmp_path / "samples"
    (folder / ".datafactory").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(samples()), folder / "part-00000.parquet")
    (folder / ".datafactory/manifest.json").write_text(json.dumps({"stage": "generate", "complete": False}))
    for args in (["filter", folder, "-o", tmp_path / "f"], ["dedupe", folder, "-o", tmp_path / "d"],
                 ["mix", "--reasoning", f"{folder}:2", "--ratio", "1:0", "-o", tmp_path / "m"]):  # fmt: skip
        line = one_line_error(run_cli(*args))
        assert "unfinished generate run" in line and "--allow-unfinished" in line
    assert not (tmp_path / "f").exists()
    result = run_cli("filter", folder, "-o", tmp_path / "f", "--allow-unfinished")
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_a_resume_with_replaced_inputs_is_refused(tmp_path):
    """A real filter killed with SIGKILL half way, its input replaced, the same command again: refused."""
    import signal
    import sys
    import time

    source = tmp_path / "samples.parquet"
    pq.write_table(pa.Table.from_pylist(samples(20_000)), source)
    command = [sys.executable, "-m", "datafactory", "filter", str(source), "-o", str(tmp_path / "o"), "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (tmp_path / "o" / ".work").is_dir() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "o" / ".datafactory/SUCCESS").exists()
    pq.write_table(pa.Table.from_pylist(samples(20_000, answer="2")), source)  # other rows, same name
    line = one_line_error(run_cli("filter", source, "-o", tmp_path / "o", "--workers", "1"))
    assert "the inputs changed since the unfinished run" in line and "--overwrite" in line
    assert run_cli("filter", source, "-o", tmp_path / "o", "--workers", "1", "--overwrite").returncode == 0


def test_overwrite_keeps_the_finished_output_until_the_new_one_is_finished(tmp_path):
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    write_jsonl(good, [{"prompt": f"Say {i}", "response": f"{i}"} for i in range(50)])
    write_jsonl(
        bad, [{"prompt": f"Say {i}", "response": f"{i}"} for i in range(50)] + [{"prompt": "x", "response": ""}]
    )
    out = tmp_path / "sft"
    assert run_cli("mix", "--general", good, "--ratio", "0:1", "-o", out).returncode == 0
    (out / "notes.txt").write_text("mine")
    before = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert "data/part-00000.parquet" in before and ".datafactory/SUCCESS" in before
    line = one_line_error(run_cli("mix", "--general", bad, "--ratio", "0:1", "-o", out, "--overwrite"))
    assert "bad.jsonl, row 51" in line
    assert {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # untouched
    assert run_cli("mix", "--general", good, "--ratio", "0:1", "-o", out, "--overwrite", "--seed", "3").returncode == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / ".datafactory/SUCCESS").exists()
    assert json.loads((out / ".datafactory/manifest.json").read_text())["arguments"]["seed"] == 3
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith((".overwrite", ".replaced"))]


@pytest.mark.slow
def test_a_killed_runs_hidden_shards_are_cleaned_and_timeouts_count_every_run(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(samples(20) + samples(3, answer="2")), folder / "part-00000.parquet")
    out = tmp_path / "o"
    assert run_cli("filter", folder, "-o", out).returncode == 0
    (out / ".datafactory/SUCCESS").unlink()  # as if killed before its end
    (out / ".rejected" / f".part-00000.parquet.tmp-{uuid.uuid4().hex[:6]}").write_bytes(b"half a shard")
    result = run_cli("filter", folder, "-o", out)
    assert result.returncode == 0, result.stderr
    assert not list((out / ".rejected").glob(".*tmp-*"))
    manifest = json.loads((out / ".datafactory/manifest.json").read_text())
    assert manifest["counts"]["verifier_timeouts"] == manifest["counts"]["reasons"].get("verifier_timeout", 0)


def test_damaged_inputs_and_bad_values_are_one_line(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(samples(500)), folder / "part-00000.parquet")
    data = (folder / "part-00000.parquet").read_bytes()
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(data[: len(data) // 2] + data[-8:])
    for command in ("filter", "dedupe"):
        line = one_line_error(run_cli(command, truncated, "-o", tmp_path / command))
        assert "truncated.parquet: not a readable Parquet file" in line
    assert run_cli("dedupe", folder, "-o", tmp_path / "d").returncode == 0
    (tmp_path / "d" / "part-00000.parquet").write_bytes(truncated.read_bytes())
    for args in (["stats", tmp_path / "d"], ["report", tmp_path / "d", "-o", tmp_path / "r.html"]):
        assert "part-00000.parquet: not a readable Parquet file" in one_line_error(run_cli(*args))
    line = one_line_error(
        run_cli("mix", "--reasoning", folder, "--ratio", "1:0", "-o", tmp_path / "m", "--shard-bytes", "0")
    )
    assert "--shard-bytes" in line
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"name: t\nout: {tmp_path / 'run'}\nmodel: toy\nprompts:\n  toy: {{reasoning: 5, general: 5}}\n"
        "sources:\n  - {name: a, category: reasoning, inputs: ['{prompts}/reasoning.jsonl']}\ngenerate:\n  n: four\n"
    )
    assert "generate.n: expected int, got 'four'" in one_line_error(run_cli("run", recipe))
    assert not (tmp_path / "run").exists()


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 300 KB tmpfs (needs root, as CI and `make test` have)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (not root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_and_a_read_only_one_are_one_line(tmp_path, tiny_disk):
    rows = [
        {"prompt": f"Tell me {i}: " + " ".join(str(i * j) for j in range(200)), "response": "ok"} for i in range(3000)
    ]
    source = write_jsonl(tmp_path / "big.jsonl", rows)
    line = one_line_error(run_cli("dedupe", source, "-o", tiny_disk / "out", "--shard-rows", "300"), code=1)
    assert "No space left on device" in line
    for shard in (tiny_disk / "out").glob("part-*.parquet"):  # what is visible is whole
        pq.read_metadata(shard)
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    line = one_line_error(run_cli("dedupe", source, "-o", tiny_disk / "other"), code=1)
    assert "Read-only file system" in line


@pytest.mark.slow
@pytest.mark.parametrize(("stop", "after"), [("SIGINT", 0.0), ("SIGINT", 0.3), ("SIGINT", 1.0), ("SIGTERM", 0.3)])
def test_ctrl_c_or_sigterm_to_the_group_is_a_line_and_a_status_not_a_silent_0(tmp_path, stop, after):
    """Ctrl-C as a terminal delivers it (a scheduler's SIGTERM likewise), to every process of the group, while the
    verifier workers start (0 s after `_work` appears) and while they work: one line, never a worker's or the fork
    server's traceback; the resume then has every row, and none judged by a worker the signal killed."""
    import os
    import signal
    import sys
    import time

    folder = tmp_path / "s"
    folder.mkdir()
    rows = samples(20_000)
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-00000.parquet")
    process = subprocess.Popen(
        [sys.executable, "-m", "datafactory", "filter", str(folder), "-o", str(tmp_path / "o"), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=as_from_a_terminal,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (tmp_path / "o" / ".work").is_dir() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(after)
    signum = getattr(signal, stop)
    os.killpg(process.pid, signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted; the same command resumes" and "Traceback" not in stderr
    assert not (tmp_path / "o" / ".datafactory/SUCCESS").exists()
    assert run_cli("filter", folder, "-o", tmp_path / "o", "--workers", "2").returncode == 0  # and it resumes
    verdicts = [
        verdict
        for shard in (tmp_path / "o").rglob("part-*.parquet")
        for verdict in pq.read_table(shard, columns=["verdict"]).column("verdict").to_pylist()
    ]
    assert len(verdicts) == len(rows) and set(verdicts) == {"pass"}, Counter(verdicts)
