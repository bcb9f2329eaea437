"""filter on reasoning data people already have: ShareGPT conversations, messages with an assistant turn,
prompt/response columns; nothing renamed, every missing column named in one error."""

import pyarrow as pa
import pyarrow.parquet as pq

from datafactory.prompts import prompt_hash
from tests.conftest import run_cli, write_jsonl

THINK = "<think>\nAdd the numbers: 2 + 2 = 4.\n</think>\n\nThe answer is \\boxed{{{}}}."


def read(folder):
    shards = sorted(folder.glob("part-*.parquet"))
    return pa.concat_tables(pq.read_table(s) for s in shards).to_pylist() if shards else []


def test_sharegpt_conversations_filter_and_mix_without_renaming(tmp_path):
    rows = [
        {"conversations": [{"from": "human", "value": "What is 2 + 2?"}, {"from": "gpt", "value": THINK.format(answer)}],
         "answer": "4"}
        for answer in ("4", "5", "4")
    ] + [{"conversations": [{"from": "human", "value": "What is 3 + 3?"}, {"from": "gpt", "value": THINK.format(6)}],
          "answer": "6"}]  # fmt: skip
    source = write_jsonl(tmp_path / "sharegpt.jsonl", rows)
    result = run_cli("filter", source, "-o", tmp_path / "kept", "--rules", "r1", "--keep", "1")
    assert result.returncode == 0, result.stderr
    kept = read(tmp_path / "kept")
    assert len(kept) == 2  # one per prompt: the three samples of "2 + 2" share a hashed id
    first = next(r for r in kept if r["answer"] == "4")
    assert first["prompt_id"] == prompt_hash([{"role": "user", "content": "What is 2 + 2?"}])
    assert first["messages"] == [{"role": "user", "content": "What is 2 + 2?"}]
    assert first["reasoning"] == "Add the numbers: 2 + 2 = 4." and first["pass_rate"] == 2 / 3
    rejected = read(tmp_path / "kept" / ".rejected")
    assert {r["verdict"] for r in rejected} == {"wrong_answer", "not_selected"}
    mixed = run_cli("mix", "--reasoning", tmp_path / "kept", "--ratio", "1:0", "-o", tmp_path / "sft")
    assert mixed.returncode == 0, mixed.stderr
    messages = read(tmp_path / "sft" / "data")[0]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] and messages[1]["content"].startswith("<think>")


def test_prompt_response_columns_and_messages_with_an_assistant_turn(tmp_path):
    table = pa.table({
        "instruction": ["Name a prime.", "Name a prime.", "Say hi."],
        "output": ["<think>\n2 is prime.\n</think>\n\n2", "<think>\n3 is prime.\n</think>\n\n3", "<think>\nHi.\n</think>\n\nhi"],
    })  # fmt: skip
    pq.write_table(table, tmp_path / "pairs.parquet")
    result = run_cli("filter", tmp_path / "pairs.parquet", "-o", tmp_path / "a", "--verifier", "none", "--keep", "1")
    assert result.returncode == 0, result.stderr
    kept = read(tmp_path / "a")
    assert sorted(r["completion"].split()[-1] for r in kept) == ["2", "hi"]  # shortest of the two primes, and hi
    assert len({r["prompt_id"] for r in kept}) == 2

    chats = [{"id": f"c{i}", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                                         {"role": "assistant", "content": "<think>\nGreet.\n</think>\n\nHello."}]}
             for i in range(2)]  # fmt: skip
    source = write_jsonl(tmp_path / "chats.jsonl", chats)
    result = run_cli("filter", source, "-o", tmp_path / "b", "--verifier", "none", "--id-field", "id")
    assert result.returncode == 0, result.stderr
    kept = read(tmp_path / "b")
    assert sorted(r["prompt_id"] for r in kept) == ["c0", "c1"]
    assert kept[0]["messages"] == chats[0]["messages"][:2] and kept[0]["response"] == "Hello."


def test_every_missing_column_is_named_in_one_error(tmp_path):
    source = write_jsonl(tmp_path / "odd.jsonl", [{"text": "hello", "rating": 1}])
    result = run_cli("filter", source, "-o", tmp_path / "o", "--verifier", "math", "--gold-field", "gold")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert line.count("\n") == 0 and "odd.jsonl" in line
    for part in ("a completion", "a prompt_id or a prompt", "'gold' (--gold-field)", "columns: text, rating"):
        assert part in line, line
    explicit = run_cli("filter", source, "-o", tmp_path / "p", "--completion-field", "reply", "--id-field", "key")
    assert explicit.returncode == 2 and "'reply' (--completion-field)" in explicit.stderr
    assert "'key' (--id-field)" in explicit.stderr
    not_assistant = write_jsonl(tmp_path / "q.jsonl", [{"messages": [{"role": "user", "content": "Hi"}]}])
    result = run_cli("filter", not_assistant, "-o", tmp_path / "q", "--verifier", "none")
    assert result.returncode == 2 and "q.jsonl, row 1, field 'messages'" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
