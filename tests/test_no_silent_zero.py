"""A stage that keeps nothing, or a reason that rejects nearly every row, says so and names the likely cause; a run
that ends with nothing still writes its summary and report."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tests.conftest import run_cli, write_jsonl


def _rows(count: int, extra=lambda i: {}) -> list[dict]:
    return [{"prompt": f"What is {i} + {i}?", "answer": str(2 * i), **extra(i)} for i in range(count)]


def test_reasoning_in_a_column_of_its_own_is_named_with_the_option_that_reads_it(tmp_path):
    rows = _rows(12, extra=lambda i: {"thinking": f"Add {i} to itself.", "content": f"\\boxed{{{2 * i}}}"})
    source = write_jsonl(tmp_path / "api.jsonl", rows)
    result = run_cli("filter", source, "-o", tmp_path / "a", "--rules", "r1")
    assert result.returncode == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert "0 rows kept: all 12 rows lack a <think> block" in line and "--reasoning-field thinking" in line
    again = run_cli("filter", source, "-o", tmp_path / "b", "--rules", "r1", "--reasoning-field", "thinking")
    assert again.returncode == 0 and "12 rows -> 12 kept" in again.stderr, again.stderr
    kept = pq.read_table(tmp_path / "b").to_pylist()
    assert kept[0]["completion"] == "<think>\nAdd 0 to itself.\n</think>\n\n\\boxed{0}"


def test_plain_answers_with_format_rules_say_what_to_leave_out(tmp_path):
    source = write_jsonl(tmp_path / "plain.jsonl", _rows(10, extra=lambda i: {"response": f"\\boxed{{{2 * i}}}"}))
    result = run_cli("filter", source, "-o", tmp_path / "a", "--rules", "r1")
    assert result.returncode == 0, result.stderr
    assert "all 10 rows lack a <think> block; for answers without reasoning traces, leave bad_format out" in (
        result.stderr
    )


def test_a_model_that_solves_nothing_is_named(tmp_path):
    rows = [{**row, "sample_index": k, "completion": f"<think>\nGuess.\n</think>\n\n\\boxed{{{k + 999}}}"}
            for row in _rows(6, extra=lambda i: {}) for k in range(3)]  # fmt: skip
    source = write_jsonl(tmp_path / "wrong.jsonl", rows)
    result = run_cli("filter", source, "-o", tmp_path / "a")
    assert result.returncode == 0, result.stderr
    assert "0 rows kept: the model answered none of 6 prompts right (wrong_answer 18)" in result.stderr


def test_one_reason_behind_nine_rows_in_ten_is_named_even_when_some_are_kept(tmp_path):
    rows = _rows(20, extra=lambda i: {"response": f"<think>\nAdd.\n</think>\n\n\\boxed{{{2 * i if i < 2 else 0}}}"})
    rows[0]["answer"] = "0"
    source = write_jsonl(tmp_path / "mostly.jsonl", rows)
    result = run_cli("filter", source, "-o", tmp_path / "a")
    assert result.returncode == 0, result.stderr
    assert "wrong_answer rejects 18 of 20 rows" in result.stderr and "0 rows kept" not in result.stderr
    fine = run_cli("filter", write_jsonl(tmp_path / "fine.jsonl", rows[:3]), "-o", tmp_path / "b")
    assert fine.returncode == 0 and "rejects" not in fine.stderr and "kept:" not in fine.stderr, fine.stderr


def test_a_dedupe_that_removes_everything_says_so(tmp_path):
    source = write_jsonl(tmp_path / "same.jsonl", [{"prompt": "What is 1 + 1?"}] * 3)
    benchmark = write_jsonl(tmp_path / "bench.jsonl", [{"problem": "What is 1 + 1?"}])
    result = run_cli("dedupe", source, "-o", tmp_path / "d", "--decontaminate", benchmark, "--ngram", "3")
    assert result.returncode == 0, result.stderr
    assert "0 rows kept: every row was removed" in result.stderr


def _finished_samples(folder, rows) -> None:
    """A generate output as an earlier run left it (the recipe skips a finished stage): its shard and records."""
    (folder / ".datafactory").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-00000.parquet")
    manifest = {"stage": "generate", "complete": True, "counts": {"prompts": 4, "rows_out": len(rows)}}
    (folder / ".datafactory" / "manifest.json").write_text(json.dumps(manifest))
    (folder / ".datafactory" / "SUCCESS").write_text("")


def test_a_run_whose_filter_keeps_nothing_still_writes_its_summary_and_report(tmp_path):
    out = tmp_path / "run"
    messages = lambda i: [{"role": "user", "content": f"What is {i} + {i}?"}]  # noqa: E731
    wrong = [
        {
            "prompt_id": f"m{i}",
            "sample_index": 0,
            "messages": messages(i),
            "answer": str(2 * i),
            "completion": "<think>\nGuess.\n</think>\n\n\\boxed{999}",
            "finish_reason": "stop",
        }
        for i in range(4)
    ]
    chat = [{"prompt_id": f"c{i}", "sample_index": 0, "messages": [{"role": "user", "content": f"Hi {i}"}],
             "completion": f"Hello {i}!", "finish_reason": "stop"} for i in range(4)]  # fmt: skip
    _finished_samples(out / "math" / "samples", wrong)
    _finished_samples(out / "chat" / "samples", chat)
    recipe = {
        "name": "empty", "out": str(out), "model": "toy",
        "sources": [{"name": "math", "category": "reasoning", "inputs": ["unused.jsonl"], "verifier": "math"},
                    {"name": "chat", "category": "general", "inputs": ["unused.jsonl"], "verifier": "none"}],
        "mix": {"ratio": "3:1"},
    }  # fmt: skip
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    result = run_cli("run", tmp_path / "recipe.yaml", "--from", "filter")
    assert result.returncode == 2, result.stderr
    assert "0 rows kept: the model answered none of 4 prompts right" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "cannot form one 3:1 unit: the reasoning sources hold 0 rows" in last
    assert "the filter kept none of 4 (wrong_answer 4)" in last and "Traceback" not in result.stderr
    assert "kept by filter" in result.stdout and (out / "report.html").is_file()


@pytest.mark.engine
def test_the_gsm8k_recipe_on_the_toy_model_explains_its_empty_end(tmp_path, shared_data):
    """The bundled gsm8k recipe run as a new user would on a laptop (the toy model, which solves no GSM8K
    problem): every stage that ran is in the summary and the report, and the last line names the stage that
    emptied the data and why."""
    repo = Path(__file__).resolve().parent.parent
    out = tmp_path / "gsm"
    result = run_cli(
        "run", repo / "recipes/gsm8k.yaml", "--set", f"out={out}", "--set", f"sources.0.inputs=[{shared_data / 'gsm8k_test.jsonl'}]",
        "--set", "generate.limit=3", "--set", "generate.n=2", "--set", "generate.max_tokens=64", "--set", "engine=transformers",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    last = " ".join(result.stderr.strip().splitlines()[-1].split())
    assert last.startswith("error: cannot form one 1:0 unit") and "gsm8k: 0 rows, the filter kept none of 6" in last
    assert "kept by filter" in result.stdout and "no trace kept (completion tokens spent:" in result.stdout
    assert (out / "report.html").is_file() and (out / "gsm8k/deduped/.datafactory/SUCCESS").is_file()
