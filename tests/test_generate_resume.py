"""Resume exactly: a real `datafactory generate` killed with SIGKILL, then re-run, ends with every
(prompt_id, sample_index) exactly once. Uses the openai engine against a real `vllm serve`."""

import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from datafactory.io.writer import sha256_file
from tests.conftest import run_cli, write_jsonl

pytestmark = pytest.mark.engine

N = 2
PROMPTS = [{"id": f"p{i:03d}", "problem": f"What is {i} + {i * 3}?", "answer": str(4 * i)} for i in range(40)]


def _command(prompts, out, server):
    return [
        sys.executable, "-m", "datafactory", "generate", str(prompts), "-o", str(out), "-m", "tiny",
        "--engine", "openai", "--base-url", server, "-n", str(N), "--max-tokens", "48",
        "--shard-rows", "4", "--chunk-prompts", "2", "--concurrency", "1", "--temperature", "1.0",
    ]  # fmt: skip


def _kill_when(command, condition, deadline=120):
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    started = time.monotonic()
    while not condition() and process.poll() is None and time.monotonic() - started < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return process.returncode


def _pairs(out):
    pairs = []
    for shard in sorted(out.glob("part-*.parquet")):
        table = pq.read_table(shard, columns=["prompt_id", "sample_index"])
        pairs.extend(zip(table.column("prompt_id").to_pylist(), table.column("sample_index").to_pylist(), strict=True))
    return pairs


def test_sigkill_then_rerun_loses_and_duplicates_nothing(tmp_path, vllm_server):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", PROMPTS)
    out = tmp_path / "out"
    command = _command(prompts, out, vllm_server)

    assert _kill_when(command, lambda: len(list(out.glob("part-*.parquet"))) >= 3) == -signal.SIGKILL
    first = {p.name: sha256_file(p) for p in out.glob("part-*.parquet")}
    assert 3 <= len(first) < 20 and not (out / ".datafactory/SUCCESS").exists()
    for shard in first:
        assert pq.ParquetFile(out / shard).metadata.num_rows == 4  # every visible shard is whole
    _kill_when(command, lambda: len(list(out.glob("part-*.parquet"))) >= len(first) + 2)
    (out / ".part-00099.parquet.tmp-1").write_bytes(b"half a shard from a crash")

    result = run_cli(*command[3:])
    assert result.returncode == 0, result.stderr
    pairs = _pairs(out)
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == {(p["id"], i) for p in PROMPTS for i in range(N)}
    assert all(sha256_file(out / name) == digest for name, digest in first.items())
    assert not list(out.glob(".*tmp*"))
    assert "already done" in result.stderr


def test_rerun_of_a_finished_run_refuses_and_overwrite_redoes_it(tmp_path, vllm_server):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", PROMPTS[:3])
    out = tmp_path / "out"
    args = _command(prompts, out, vllm_server)[3:]
    assert run_cli(*args).returncode == 0
    again = run_cli(*args)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    assert run_cli(*args, "--overwrite").returncode == 0
    assert len(_pairs(out)) == 3 * N
