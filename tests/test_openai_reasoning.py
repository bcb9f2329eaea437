"""Reasoning survives the OpenAI-compatible engine: a server that returns the trace apart from the answer (vLLM's
`--reasoning-parser`, the DeepSeek API's `reasoning_content`) still yields `<think>…</think>` completions."""

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datafactory.engines.openai_engine import completion_text
from datafactory.trace import parse_trace
from tests.conftest import run_cli, write_jsonl


def test_completion_is_rebuilt_from_every_field_servers_use():
    assert completion_text({"content": "The answer is 4."}) == "The answer is 4."
    assert completion_text({"content": None}) == ""
    for field in ("reasoning", "reasoning_content"):
        closed = completion_text({"content": "\n\nThe answer is \\boxed{4}.", field: "2 + 2 = 4.\n"})
        assert closed == "<think>\n2 + 2 = 4.\n</think>\n\nThe answer is \\boxed{4}."
        trace = parse_trace(closed)
        assert trace.reasoning == "2 + 2 = 4." and trace.response == "The answer is \\boxed{4}."
    unclosed = completion_text({"content": None, "reasoning": "2 + 2 = ..."})  # thinking cut off by max_tokens
    assert unclosed == "<think>\n2 + 2 = ..." and parse_trace(unclosed).problem
    assert completion_text({"content": "x", "reasoning": None, "reasoning_content": ""}) == "x"


@pytest.mark.engine
def test_vllm_serve_with_a_reasoning_parser_keeps_every_trace(tmp_path, vllm_reasoning_server):
    raw = httpx.post(
        f"{vllm_reasoning_server}/chat/completions",
        json={"model": "toy", "messages": [{"role": "user", "content": "What is 12 + 30?"}], "max_tokens": 200,
              "temperature": 0},
        timeout=120,
    ).json()["choices"][0]["message"]  # fmt: skip
    separated = raw.get("reasoning") or raw.get("reasoning_content")
    assert separated and "</think>" not in (raw.get("content") or ""), raw  # the server really splits them

    prompts = write_jsonl(
        tmp_path / "p.jsonl",
        [{"id": f"q{i}", "problem": f"What is {i} + {2 * i + 7}?", "answer": str(3 * i + 7)} for i in range(12)],
    )
    samples = tmp_path / "samples"
    result = run_cli(
        "generate", prompts, "-o", samples, "-m", "toy", "--engine", "openai", "--base-url", vllm_reasoning_server,
        "-n", "2", "--max-tokens", "400", "--temperature", "0.6",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = pa.concat_tables(pq.read_table(p) for p in sorted(samples.glob("part-*.parquet"))).to_pylist()
    assert len(rows) == 24
    closed = [r for r in rows if r["finish_reason"] == "stop"]
    assert closed and all(
        r["completion"].startswith("<think>\n") and "\n</think>\n\n" in r["completion"] for r in closed
    )
    assert all(parse_trace(r["completion"]).reasoning for r in closed)

    kept = tmp_path / "kept"
    result = run_cli("filter", samples, "-o", kept, "--verifier", "math", "--gold-field", "answer", "--rules", "r1")
    assert result.returncode == 0, result.stderr
    kept_rows = pq.read_table(kept / "part-00000.parquet").to_pylist()
    assert kept_rows and all(r["reasoning"] for r in kept_rows)
    rejected = pq.read_table(kept / ".rejected" / "part-00000.parquet").to_pylist()
    assert sum("bad_format" in r["reasons"] for r in rejected) < len(rows) / 2
