"""Reasoning data people already have, in the shapes real datasets ship in: every row accounted for (kept, or
rejected with a reason), and each row's prompt and completion what a person reading the file takes them to be."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests import dataset_shapes as shapes
from tests.conftest import run_cli, set_aside_rows, stage_rows, write_jsonl

FILTER = ("--verifier", "math", "--gold-field", "answer", "--rules", "bad_format")


def _write(tmp_path, name: str, rows: list[dict], kind: str):
    if kind == "parquet":
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.Table.from_pylist(rows), path)
        return path
    if kind == "json":
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(rows, indent=2, ensure_ascii=False))
        return path
    return write_jsonl(tmp_path / f"{name}.jsonl", rows)


def _filter(tmp_path, name, rows, kind="jsonl", *options):
    source = _write(tmp_path, name, rows, kind)
    out = tmp_path / f"{name}-out"
    result = run_cli("filter", source, "-o", out, *FILTER, *options)
    assert result.returncode == 0, result.stderr
    return stage_rows(out), set_aside_rows(out), result


def _user_turn(row: dict) -> str:
    return next(m["content"] for m in row["messages"] if m["role"] == "user")


def _account(kept: list[dict], rejected: list[dict], expected: list[dict]) -> None:
    """Every sample once; its prompt and completion as written; passes exactly where the answer is right."""
    by_prompt = {e["prompt"]: e for e in expected}
    assert len(by_prompt) == len(expected), "the fixture's prompts are distinct"
    seen = set()
    for row in kept + rejected:
        wanted = by_prompt[_user_turn(row)]
        index = row.get("sample_index") or 0
        assert row["completion"] == wanted["completions"][index]
        assert (row["verdict"] == "pass") == wanted["right"][index], (row["verdict"], row["reasons"])
        seen.add((_user_turn(row), index))
    assert len(seen) == len(kept) + len(rejected) == sum(len(e["completions"]) for e in expected)
    assert {r["verdict"] for r in rejected} <= {"wrong_answer"}
    assert all(r["verdict"] == "pass" for r in kept)


@pytest.mark.parametrize(
    "build",
    [shapes.prompt_response, shapes.question_answer_solution, shapes.problem_solution_answer],
    ids=["prompt-response", "question-answer-solution", "problem-solution-answer"],
)
def test_column_shapes_read_without_options(tmp_path, build):
    rows, expected = build()
    kept, rejected, _ = _filter(tmp_path, build.__name__, rows)
    _account(kept, rejected, expected)
    assert all(r["messages"] == [{"role": "user", "content": _user_turn(r)}] for r in kept)


def test_a_response_column_is_the_completion_and_is_carried(tmp_path):
    rows, expected = shapes.prompt_response(30)
    kept, rejected, _ = _filter(tmp_path, "named", rows, "jsonl", "--completion-field", "response")
    _account(kept, rejected, expected)
    assert all(r["input_response"] == r["completion"] for r in kept + rejected)
    assert all(r["response"] == r["completion"].split("</think>\n\n")[1] for r in kept)  # the filter's own column


def test_alpaca_instruction_and_input_are_the_prompt_from_a_json_array(tmp_path):
    rows, expected = shapes.alpaca()
    kept, rejected, _ = _filter(tmp_path, "alpaca_data", rows, "json")
    _account(kept, rejected, expected)
    assert len({r["prompt_id"] for r in kept}) == 128  # 120 share "Solve the following problem."
    assert {r["input"] for r in kept} >= {""}  # carried as given
    deduped = run_cli("dedupe", tmp_path / "alpaca_data.json", "-o", tmp_path / "deduped", "--on", "prompt")
    assert deduped.returncode == 0, deduped.stderr
    assert len(stage_rows(tmp_path / "deduped")) == 128
    mixed = run_cli("mix", "--general", tmp_path / "alpaca_data.json", "--ratio", "0:1", "-o", tmp_path / "sft")
    assert mixed.returncode == 0, mixed.stderr
    users = sorted(m["messages"][0]["content"] for m in stage_rows(tmp_path / "sft", sft=True))
    assert users == sorted(e["prompt"] for e in expected)


@pytest.mark.parametrize("nested", [False, True], ids=["top-level", "in-assistant-turn"])
@pytest.mark.parametrize("key", ["reasoning_content", "reasoning"])
def test_reasoning_apart_from_content_becomes_a_think_block(tmp_path, nested, key):
    rows, expected = shapes.deepseek_api(nested=nested, key=key)
    kept, rejected, _ = _filter(tmp_path, "api", rows)
    _account(kept, rejected, expected)
    assert not any("bad_format" in r["reasons"] for r in rejected)
    if key == "reasoning" and not nested:
        assert all(r["input_reasoning"] and r["reasoning"] == r["input_reasoning"] for r in kept)
    source = _write(tmp_path, "api-mix", rows, "jsonl")
    mixed = run_cli("mix", "--reasoning", source, "--ratio", "1:0", "-o", tmp_path / "sft")
    assert mixed.returncode == 0, mixed.stderr
    answers = sorted(m["messages"][-1]["content"] for m in stage_rows(tmp_path / "sft", sft=True))
    assert answers == sorted(e["completions"][0] for e in expected)


def test_openr1_generations_are_samples_of_one_problem(tmp_path):
    rows, expected = shapes.openr1_math()
    kept, rejected, _ = _filter(tmp_path, "openr1", rows, "parquet")
    _account(kept, rejected, expected)
    for row in kept + rejected:
        problem = next(e for e in expected if e["prompt"] == _user_turn(row))
        assert row["correctness_math_verify"] == problem["right"][row["sample_index"]]
        assert row["messages"] == [{"role": "user", "content": problem["prompt"]}]
        assert row["input_messages"][-1]["role"] == "assistant"  # the input's own messages, carried
    assert "generations" not in pq.read_schema(sorted((tmp_path / "openr1-out").glob("part-*.parquet"))[0]).names
    one, _, _ = _filter(tmp_path, "openr1-k1", rows, "parquet", "--keep", "1")
    assert len(one) == sum(any(e["right"]) for e in expected)
    assert len({r["prompt_id"] for r in one}) == len(one)
    rates = {r["prompt_id"]: r["pass_rate"] for r in one}
    for row in one:
        problem = next(e for e in expected if e["prompt"] == _user_turn(row))
        assert rates[row["prompt_id"]] == pytest.approx(sum(problem["right"]) / len(problem["right"]))
    mixed = run_cli("mix", "--reasoning", tmp_path / "openr1-k1-out", "--ratio", "1:0", "-o", tmp_path / "sft")
    assert mixed.returncode == 0, mixed.stderr
    chosen = {_user_turn(r): r["completion"] for r in one}
    sft = stage_rows(tmp_path / "sft", sft=True)
    assert len(sft) == len(one)
    for row in sft:  # the kept generation, not the one the input's messages happened to hold
        user, assistant = row["messages"]
        assert assistant["content"] == chosen[user["content"]]


def test_openr1_generations_with_a_wrong_length_list_are_one_line(tmp_path):
    rows, _ = shapes.openr1_math(4)
    rows[2]["correctness_math_verify"] = rows[2]["correctness_math_verify"][:-1]
    source = write_jsonl(tmp_path / "openr1.jsonl", rows)
    result = run_cli("filter", source, "-o", tmp_path / "out", *FILTER)
    assert result.returncode == 2
    assert "row 3" in result.stderr and "correctness_math_verify" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("to_think", [False, True], ids=["as-written", "to-think-tags"])
def test_openthoughts_markers_are_reasoning_and_solution(tmp_path, to_think):
    rows, expected = shapes.openthoughts()
    options = ("--to-think-tags",) if to_think else ()
    kept, rejected, _ = _filter(tmp_path, "stratos", rows, "parquet", *options)
    for entry in expected:
        if to_think:
            entry["completions"] = [f"<think>\n{entry['reasoning']}\n</think>\n\n{entry['response']}"]
    _account(kept, rejected, expected)
    assert not any("bad_format" in r["reasons"] for r in rejected)
    for row in kept:
        entry = next(e for e in expected if e["prompt"] == _user_turn(row))
        assert (row["reasoning"], row["response"]) == (entry["reasoning"], entry["response"])
        assert row["messages"][0] == {"role": "system", "content": shapes.STRATOS_SYSTEM}
    mixed = run_cli("mix", "--reasoning", tmp_path / "stratos-out", "--ratio", "1:0", "-o", tmp_path / "sft")
    assert mixed.returncode == 0, mixed.stderr
    for row in stage_rows(tmp_path / "sft", sft=True):
        entry = next(e for e in expected if e["prompt"] == row["messages"][1]["content"])
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
        assert row["messages"][-1]["content"] == entry["completions"][0]


FILTER_OWN = ["reasoning", "response", "extracted_answer", "verdict", "reasons", "score", "verifier", "verifier_detail",
              "judge_verdict", "judge_analysis", "pass_rate", "selected", "gold_source"]  # fmt: skip


@pytest.mark.parametrize("column", FILTER_OWN)
def test_every_column_the_filter_writes_is_carried_when_an_input_has_it(tmp_path, column):
    rows, expected = shapes.prompt_response(6)
    for index, row in enumerate(rows):
        row[column] = f"theirs {index}"
    kept, rejected, _ = _filter(tmp_path, "own", rows, "jsonl", "--completion-field", "response")
    assert sorted(r[f"input_{column}"] for r in kept + rejected) == [f"theirs {i}" for i in range(6)]
    if column != "response":
        _account(kept, rejected, expected)


@pytest.mark.parametrize("column", ["verdict", "score", "selected"])
def test_a_column_the_filter_writes_reads_as_prompt_id_and_gold(tmp_path, column):
    rows, expected = shapes.prompt_response(6)
    for index, row in enumerate(rows):
        row[column] = f"p{index // 2}"
        row["response"], row["reasoning"] = row["answer"], row["response"]  # the gold in `response`
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out"
    result = run_cli(
        "filter", source, "-o", out, "--verifier", "math", "--completion-field", "reasoning",
        "--gold-field", "response", "--id-field", column,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    got = stage_rows(out) + set_aside_rows(out)
    assert sorted(r["prompt_id"] for r in got) == [f"p{i // 2}" for i in range(6)]
    assert sorted(r["verdict"] == "pass" for r in got) == sorted(e["right"][0] for e in expected)
    assert sorted(r["input_response"] for r in got) == sorted(r["answer"] for r in rows)


def test_generate_and_dedupe_carry_columns_of_their_own_names(tmp_path):
    rows = [{"prompt": f"What is {i} + 1?", "dedupe_reason": f"theirs {i}", "dedupe_match": None} for i in range(5)]
    source = write_jsonl(tmp_path / "in.jsonl", rows + rows[:1])
    result = run_cli("dedupe", source, "-o", tmp_path / "deduped")
    assert result.returncode == 0, result.stderr
    kept = stage_rows(tmp_path / "deduped")
    assert sorted(r["input_dedupe_reason"] for r in kept) == [f"theirs {i}" for i in range(5)]
    removed = set_aside_rows(tmp_path / "deduped")
    assert [(r["dedupe_reason"], r["input_dedupe_reason"]) for r in removed] == [("exact_duplicate", "theirs 0")]


def test_mix_says_a_generations_row_needs_a_filter_first(tmp_path):
    rows, _ = shapes.openr1_math(3)
    source = write_jsonl(tmp_path / "openr1.jsonl", rows)
    result = run_cli("mix", "--reasoning", source, "--ratio", "1:0", "-o", tmp_path / "sft")
    assert result.returncode == 2 and "generations" in result.stderr and "filter" in result.stderr
    assert "Traceback" not in result.stderr


def test_real_json_array_file_is_read_item_by_item(tmp_path, shared_data):
    result = run_cli("dedupe", shared_data / "sanitized-mbpp.json", "-o", tmp_path / "mbpp", "--on", "prompt")
    assert result.returncode == 0, result.stderr
    rows = stage_rows(tmp_path / "mbpp") + set_aside_rows(tmp_path / "mbpp")
    tasks = json.loads((shared_data / "sanitized-mbpp.json").read_text())
    assert sorted(r["task_id"] for r in rows) == sorted(t["task_id"] for t in tasks)


@pytest.mark.engine
def test_generate_carries_every_column_of_its_own_names(tmp_path, tiny_model):
    from datafactory.io.schema import SAMPLES_COLUMNS

    own = [c for c in SAMPLES_COLUMNS if c not in ("messages", "prompt_id")]
    rows = [{"prompt": f"What is {i} + 1?", **{c: f"theirs {c} {i}" for c in own}} for i in range(3)]
    source = write_jsonl(tmp_path / "prompts.jsonl", rows)
    out = tmp_path / "samples"
    result = run_cli("generate", source, "-o", out, "-m", tiny_model, "--engine", "transformers", "--max-tokens", "4")
    assert result.returncode == 0, result.stderr
    for row in stage_rows(out):
        index = int(row["messages"][-1]["content"].split()[2])
        assert all(row[f"input_{c}"] == f"theirs {c} {index}" for c in own)
        assert row["model"] != f"theirs model {index}" and row["completion"] != f"theirs completion {index}"


def test_a_dataset_repository_folder_is_read_from_its_data_folder(tmp_path):
    """A downloaded Hub repository (README.md card, data/train-0000N-of-0000M.parquet) is an input as it is."""
    rows, expected = shapes.openr1_math(20)
    repo = tmp_path / "OpenR1-Math-220k"
    (repo / "data").mkdir(parents=True)
    (repo / "README.md").write_text("---\nlicense: apache-2.0\n---\n# OpenR1-Math-220k\n")
    for part in range(2):
        table = pa.Table.from_pylist(rows[part * 10 : (part + 1) * 10])
        pq.write_table(table, repo / "data" / f"train-{part:05d}-of-00002.parquet")
    out = tmp_path / "kept"
    result = run_cli("filter", repo, "-o", out, *FILTER)
    assert result.returncode == 0, result.stderr
    _account(stage_rows(out), set_aside_rows(out), expected)


def test_a_row_with_no_prompt_to_group_it_by_is_one_line(tmp_path):
    """Hashing an empty prompt would put every such row under one prompt id: refused, naming the row and field."""
    rows = [
        {"messages": [{"role": "user", "content": "Hi"}], "response": "Hello"},
        {"messages": None, "response": "Hi"},
    ]
    result = run_cli("filter", write_jsonl(tmp_path / "in.jsonl", rows), "-o", tmp_path / "out", "--verifier", "none")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "row 2, field 'messages'" in result.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("answer", ["response", "output", "content"])
@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_reasoning_beside_any_answer_column_is_read_in_front_of_it(tmp_path, answer, kind):
    """Every answer column the shape table names, from JSONL and Parquet; a row whose reasoning is null keeps its
    answer as written (it then has no think block, and bad_format says so)."""
    rows, expected = shapes.deepseek_api(12)
    for row in rows:
        row[answer] = row.pop("content")
    rows[3]["reasoning_content"] = None
    expected[3]["completions"] = [rows[3][answer]]
    expected[3]["right"] = [False]  # no think block: rejected by bad_format, not read as a pass
    source = _write(tmp_path, "api", rows, kind)
    result = run_cli("filter", source, "-o", tmp_path / "out", *FILTER)
    assert result.returncode == 0, result.stderr
    kept, rejected = stage_rows(tmp_path / "out"), set_aside_rows(tmp_path / "out")
    by_prompt = {_user_turn(r): r for r in kept + rejected}
    assert len(by_prompt) == 12
    for entry in expected:
        assert by_prompt[entry["prompt"]]["completion"] == entry["completions"][0]
    assert by_prompt[expected[3]["prompt"]]["reasons"] == ["bad_format"]
