"""`--executor ray` on a local Ray (2 CPUs): the same rows and reasons as the local executor for filter, dedupe
and mix; generate with 2 CPU vLLM replicas of the toy model writes every sample exactly once; a Ray worker killed
mid-run (by this test) loses and duplicates nothing."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli, write_jsonl

pytest.importorskip("ray", reason="Ray is the optional extra datafactory[ray]")
pytestmark = pytest.mark.ray

IGNORED = {"verifier_detail"}  # a worker's timing words may differ; verdicts and reasons may not


def math_samples(folder: Path, prompts: int, per_prompt: int = 4) -> Path:
    rng = random.Random(5)
    rows = []
    for p in range(prompts):
        a, b = rng.randint(2, 40), rng.randint(2, 40)
        gold = f"\\frac{{{a}}}{{{b}}}"
        for s in range(per_prompt):
            answer = gold if s % 2 == 0 else f"\\frac{{{a + s}}}{{{b}}}"
            body = "Divide carefully.\n" + ("Das ist falsch, wir rechnen noch einmal nach. " * 3 if s == 3 else "")
            rows.append({
                "prompt_id": f"p{p}", "sample_index": s, "messages": [{"role": "user", "content": f"{a}/{b}?"}],
                "completion": f"<think>\n{body}</think>\n\nThe answer is $\\boxed{{{answer}}}$.",
                "finish_reason": "length" if s == 1 and p % 9 == 0 else "stop", "completion_tokens": 30 + s,
                "answer": gold,
            })  # fmt: skip
    folder.mkdir(parents=True)
    for shard, start in enumerate(range(0, len(rows), 1000)):
        pq.write_table(pa.Table.from_pylist(rows[start : start + 1000]), folder / f"part-{shard:05d}.parquet")
    return folder


def rows_of(folder: Path, sub: str | None = None) -> list[dict]:
    target = folder / sub if sub else folder
    tables = [pq.read_table(s) for s in sorted(target.glob("part-*.parquet"))]
    rows = pa.concat_tables(tables).to_pylist() if tables else []
    return sorted(
        ({k: v for k, v in r.items() if k not in IGNORED} for r in rows),
        key=lambda r: (r["prompt_id"], r.get("sample_index") or 0),
    )


def test_filter_on_ray_equals_local(tmp_path):
    samples = math_samples(tmp_path / "s", prompts=60)
    args = ["--rules", "r1", "--keep", "1", "--workers", "2"]
    assert run_cli("filter", samples, "-o", tmp_path / "local", *args).returncode == 0
    result = run_cli("filter", samples, "-o", tmp_path / "ray", *args, "--executor", "ray", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for sub in (None, ".rejected"):
        local, ray = rows_of(tmp_path / "local", sub), rows_of(tmp_path / "ray", sub)
        assert local == ray and local
    reasons = {r for row in rows_of(tmp_path / "ray", ".rejected") for r in row["reasons"]}
    assert {"wrong_answer", "truncated", "language_mixed", "not_selected"} <= reasons
    assert (tmp_path / "local" / ".pass_rates/pass_rates.parquet").read_bytes() == (
        tmp_path / "ray" / ".pass_rates/pass_rates.parquet"
    ).read_bytes()


def test_dedupe_and_mix_on_ray_equal_local(tmp_path):
    rng = random.Random(2)
    words = [f"w{i}" for i in range(400)]
    rows = []
    for i in range(600):
        text = " ".join(rng.choices(words, k=40))
        rows.append({"prompt_id": f"a{i}", "prompt": text, "response": f"ok {i}"})
        if i % 10 == 0:
            rows.append({"prompt_id": f"b{i}", "prompt": text.replace("w", "w", 1) + " w1", "response": "near"})
        if i % 25 == 0:
            rows.append({"prompt_id": f"c{i}", "prompt": text, "response": "exact"})
    rows.append(
        {
            "prompt_id": "leak",
            "prompt": "Natalia sold clips to 48 of her friends in April, and then she sold half as many",
            "response": "x",
        }
    )
    write_jsonl(tmp_path / "in.jsonl", rows)
    bench = write_jsonl(
        tmp_path / "bench.jsonl",
        [
            {
                "question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May."
            }
        ],
    )
    for executor in ("local", "ray"):
        args = ["dedupe", tmp_path / "in.jsonl", "-o", tmp_path / f"d-{executor}", "--decontaminate", bench]
        result = run_cli(*args, "--executor", executor, "--workers", "2", timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        args = ["mix", "--reasoning", f"{tmp_path / f'd-{executor}'}@deduped", "--general", tmp_path / "in.jsonl"]
        args += ["--ratio", "1:1"]
        result = run_cli(*args, "-o", tmp_path / f"m-{executor}", "--executor", executor, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
    assert rows_of(tmp_path / "d-local") == rows_of(tmp_path / "d-ray")
    removed = rows_of(tmp_path / "d-ray", ".removed")
    assert removed == rows_of(tmp_path / "d-local", ".removed")
    assert {r["dedupe_reason"] for r in removed} == {"contaminated", "exact_duplicate", "near_duplicate"}
    shards = sorted((tmp_path / "m-local" / "data").glob("part-*.parquet"))
    assert shards
    for shard in shards:
        assert shard.read_bytes() == (tmp_path / "m-ray" / "data" / shard.name).read_bytes()


@pytest.mark.engine
def test_generate_with_two_vllm_replicas_writes_every_sample_once(tmp_path):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": f"q{i}", "prompt": f"What is {i} + 3?"} for i in range(30)])
    args = ["generate", prompts, "-o", tmp_path / "o", "-m", "toy", "-n", "3", "--max-tokens", "40"]
    args += ["--dtype", "float32", "--shard-rows", "30", "--executor", "ray", "--replicas", "2"]
    result = run_cli(*args, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = rows_of(tmp_path / "o")
    keys = [(r["prompt_id"], r["sample_index"]) for r in rows]
    assert sorted(keys) == sorted({(f"q{i}", s) for i in range(30) for s in range(3)})
    assert all(r["completion"] for r in rows)


def _ray_worker_pids(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_a_ray_worker_killed_mid_run_loses_and_duplicates_nothing(tmp_path):
    samples = math_samples(tmp_path / "s", prompts=1500)
    args = ["filter", samples, "--rules", "default", "--workers", "2"]
    assert run_cli(*args, "-o", tmp_path / "local").returncode == 0
    command = [sys.executable, "-m", "datafactory", *map(str, args), "-o", str(tmp_path / "ray"), "--executor", "ray"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed, deadline = None, time.monotonic() + 300
    while killed is None and process.poll() is None and time.monotonic() < deadline:
        workers = _ray_worker_pids("RayEvaluator")
        if len(workers) >= 2:
            time.sleep(2)  # let it get some batches done first
            killed = workers[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.2)
    _, stderr = process.communicate(timeout=600)
    assert killed is not None, "the run ended before a worker could be killed"
    assert process.returncode == 0, stderr[-3000:]
    for sub in (None, ".rejected"):
        local, ray = rows_of(tmp_path / "local", sub), rows_of(tmp_path / "ray", sub)
        assert len(ray) == len({(r["prompt_id"], r["sample_index"]) for r in ray})  # no duplicates
        assert ray == local  # nothing lost, same verdicts
    manifest = json.loads((tmp_path / "ray" / ".datafactory/manifest.json").read_text())
    assert manifest["counts"]["rows_in"] == 6000


def test_the_ray_pool_streams_batches_as_the_local_pool_does():
    """generate --target with --executor ray checks samples on Ray actors through submit/poll."""
    from datafactory.checks.options import CheckOptions
    from datafactory.checks.pool import WorkerPool
    from datafactory.scale.ray_filter import RayFilterPool

    spec = CheckOptions(verifier="math", rules="r1").spec()
    tasks = [{"prompt_id": f"p{i}", "completion": f"<think>\nAdd.\n</think>\n\n\\boxed{{{i % 3}}}", "gold": "1",
              "finish_reason": "stop", "completion_tokens": 9} for i in range(12)]  # fmt: skip

    def streamed(pool) -> dict:
        with pool:
            for start in range(0, 12, 3):
                pool.submit(tasks[start : start + 3], start)
            got: dict = {}
            deadline = time.monotonic() + 120
            while len(got) < 4 and time.monotonic() < deadline:
                got.update(pool.poll(1.0))
            return {tag: [(r["verdict"], r["extracted_answer"]) for r in rows] for tag, rows in got.items()}

    local = streamed(WorkerPool(spec, 2, 20.0))
    on_ray = streamed(RayFilterPool(spec, 2, 20.0))
    assert on_ray == local and len(local) == 4
    assert [v for rows in local.values() for v, _ in rows].count("pass") == 4


@pytest.mark.engine
def test_adaptive_generate_on_ray_checks_with_the_executor_it_is_handed(tmp_path):
    """generate --target --executor ray: the engine replicas and the verifier actors both come from the frame's
    executor; the rows equal a local adaptive run's (each sample's seed is its own)."""
    prompts = write_jsonl(
        tmp_path / "p.jsonl", [{"id": f"q{i}", "prompt": f"What is {i} + 3?", "answer": str(i + 3)} for i in range(16)]
    )
    args = ["generate", prompts, "-m", "toy", "-n", "4", "--target", "1", "--verifier", "math", "--rules", "r1",
            "--max-tokens", "48", "--dtype", "float32", "--workers", "1"]  # fmt: skip
    assert run_cli(*args, "-o", tmp_path / "local", timeout=900).returncode == 0
    result = run_cli(*args, "-o", tmp_path / "ray", "--executor", "ray", timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    local, on_ray = rows_of(tmp_path / "local"), rows_of(tmp_path / "ray")
    assert [(r["prompt_id"], r["sample_index"], r["completion"]) for r in on_ray] == [
        (r["prompt_id"], r["sample_index"], r["completion"]) for r in local
    ]
    adaptive = json.loads((tmp_path / "ray" / ".datafactory/manifest.json").read_text())["counts"]["adaptive_now"]
    assert adaptive["prompts_reaching_target"] > 0 and len(on_ray) < 16 * 4
