"""`datafactory mix` end to end: exact counts, weights, loading by datasets/TRL/LLaMA-Factory, determinism."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datafactory.frame import run_stage
from datafactory.io.writer import sha256_file
from tests.conftest import run_cli, write_jsonl


def reasoning_rows(count, tag="r"):
    return [
        {"prompt_id": f"{tag}{i}", "messages": [{"role": "user", "content": f"What is {i} + 1?"}],
        "reasoning": f"Add one to {i}.", "response": f"\\boxed{{{i + 1}}}", "verdict": "pass",
        "model": "toy", "verifier": "math", "pass_rate": 0.5, "completion_tokens": 10 + i % 7}
        for i in range(count)
    ]  # fmt: skip


@pytest.fixture
def sources(tmp_path):
    folder = tmp_path / "math"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(reasoning_rows(700)), folder / "part-00000.parquet")
    write_jsonl(tmp_path / "chat.jsonl", [{"prompt": f"Hello {i}", "response": f"Hi {i}!"} for i in range(150)])
    sharegpt = [
        {
            "conversations": [
                {"from": "system", "value": "Be brief."},
                {"from": "human", "value": f"Q{i}"},
                {"from": "gpt", "value": f"A{i}"},
            ]
        }
        for i in range(100)
    ]
    write_jsonl(tmp_path / "share.jsonl", sharegpt)
    return folder, tmp_path / "chat.jsonl", tmp_path / "share.jsonl"


def read(folder):
    return pa.concat_tables(pq.read_table(s) for s in sorted(folder.glob("data/part-*.parquet"))).to_pylist()


def mix(tmp_path, name, *args):
    out = tmp_path / name
    result = run_cli("mix", "-o", out, *args)
    return out, result


def test_exact_counts_for_ratios_and_totals(tmp_path, sources):
    math, chat, share = sources
    cases = [("3:1", "800", 600, 200), ("1:1", "101", 51, 50), ("3:1", None, 699, 233), ("1:0", "50", 50, 0)]
    for index, (ratio, total, want_r, want_g) in enumerate(cases):
        args = ["--reasoning", math, "--general", chat, "--general", share, "--ratio", ratio]
        args += ["--total", total] if total else []
        out, result = mix(tmp_path, f"o{index}", *args)
        assert result.returncode == 0, result.stderr
        rows = read(out)
        assert sum(r["category"] == "reasoning" for r in rows) == want_r, ratio
        assert sum(r["category"] == "general" for r in rows) == want_g, ratio
        assert len({(r["source"], json.dumps(r["messages"])) for r in rows}) == len(rows)  # no replacement: no repeats
        manifest = json.loads((out / ".datafactory/manifest.json").read_text())
        assert manifest["counts"]["per_category"]["reasoning"]["taken"] == want_r


def test_weights_within_a_category_and_source_names(tmp_path, sources):
    math, chat, _ = sources
    out, result = mix(
        tmp_path, "o", "--reasoning", f"{math}:2", "--reasoning", f"{chat}:1@chatty", "--ratio", "1:0", "--total", "300"
    )
    assert result.returncode == 0, result.stderr
    by_source = {}
    for row in read(out):
        by_source[row["source"]] = by_source.get(row["source"], 0) + 1
    assert by_source == {"math": 200, "chatty": 100}


def test_not_enough_rows_fails_with_counts_unless_replacement(tmp_path, sources):
    math, chat, _ = sources
    out, result = mix(tmp_path, "o", "--reasoning", math, "--general", chat, "--ratio", "1:1", "--total", "1000")
    assert result.returncode == 2
    assert "general: has 150 rows, needs 500" in result.stderr and not out.exists()
    out, result = mix(
        tmp_path, "o", "--reasoning", math, "--general", chat, "--ratio", "1:1", "--total", "1000", "--replacement"
    )
    assert result.returncode == 0, result.stderr
    general = [r for r in read(out) if r["category"] == "general"]
    assert len(general) == 500 and len({json.dumps(r["messages"]) for r in general}) == 150


def test_output_loads_in_datasets_trl_shape_and_llamafactory(tmp_path, sources):
    import datasets

    math, chat, share = sources
    out, result = mix(
        tmp_path,
        "o",
        "--reasoning",
        math,
        "--general",
        chat,
        "--general",
        share,
        "--total",
        "400",
        "--shard-rows",
        "150",
    )
    assert result.returncode == 0, result.stderr
    shards = sorted(str(p) for p in out.glob("data/part-*.parquet"))
    assert len(shards) == 3
    by_files = datasets.load_dataset("parquet", data_files=shards, split="train")
    by_folder = datasets.load_dataset(str(out), split="train")
    assert by_files.num_rows == by_folder.num_rows == 400
    for row in by_folder:
        messages = row["messages"]
        # TRL's conversational check: a list of dicts with "role" and "content"
        assert isinstance(messages, list) and all(set(m) == {"role", "content"} for m in messages)
        body = messages[1:] if messages[0]["role"] == "system" else messages
        assert [m["role"] for m in body] == ["user", "assistant"] * (len(body) // 2)
        if row["category"] == "reasoning":
            assert (
                messages[-1]["content"].startswith("<think>\n") and "\n</think>\n\n\\boxed{" in messages[-1]["content"]
            )
            assert row["verifier"] == "math" and row["model"] == "toy"
    info = json.loads((out / "dataset_info.json").read_text())
    assert len(info) == 1  # the data/ folder, which holds the shards alone
    for entry in info.values():
        assert (out / entry["file_name"]).is_dir() and entry["formatting"] == "sharegpt"
        assert entry["columns"] == {"messages": "messages"}
        assert entry["tags"] == {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
            "system_tag": "system",
        }
    card = (out / "README.md").read_text()
    assert card.startswith("---\nconfigs:") and "| math | reasoning | 700 | 300 |" in card
    tokens = sorted(row["completion_tokens"] for row in by_folder if row["category"] == "reasoning")
    nearest_rank = [tokens[round(p / 100 * (len(tokens) - 1))] for p in (50, 90, 99, 100)]
    assert "| reasoning | " + " | ".join(map(str, nearest_rank)) + " |" in card
    assert "| general |" not in card.split("Completion tokens")[1]  # no general row recorded any


def test_same_seed_is_byte_identical_and_shard_bytes_are_respected(tmp_path, sources):
    math, chat, _ = sources
    common = ["--reasoning", math, "--general", chat, "--total", "400", "--shard-bytes", "12KB"]
    digests = []
    for name in ("a", "b"):
        out, result = mix(tmp_path, name, *common)
        assert result.returncode == 0, result.stderr
        shards = sorted(out.glob("data/part-*.parquet"))
        assert len(shards) > 2 and all(s.stat().st_size <= 12_000 for s in shards)
        digests.append([sha256_file(s) for s in shards])
    assert digests[0] == digests[1]
    for name, memory in (("spilled", "0"), ("half-spilled", "40KB")):  # rows kept on disk give the same shards
        out, result = mix(tmp_path, name, *common, "--memory", memory)
        assert result.returncode == 0, result.stderr
        assert [sha256_file(s) for s in sorted(out.glob("data/part-*.parquet"))] == digests[0]
        assert not (out / ".work").exists()
    out, _ = mix(tmp_path, "c", *common, "--seed", "1")
    assert [sha256_file(s) for s in sorted(out.glob("data/part-*.parquet"))] != digests[0]


def test_bad_rows_error_or_quarantine_and_sharegpt_output(tmp_path, sources):
    math, chat, _ = sources
    bad = [{"prompt": "ok", "response": "fine"}] * 3 + [
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "user", "content": "b"},
                {"role": "assistant", "content": "c"},
            ]
        },
        {"prompt": "q", "response": "   "},
    ]
    write_jsonl(tmp_path / "bad.jsonl", bad)
    out, result = mix(tmp_path, "o", "--reasoning", math, "--general", tmp_path / "bad.jsonl", "--ratio", "1:1")
    assert result.returncode == 2 and "bad.jsonl, row 4, field 'messages': roles must alternate" in result.stderr
    assert not list(out.glob("data/part-*"))
    out, result = mix(
        tmp_path,
        "o",
        "--reasoning",
        math,
        "--general",
        tmp_path / "bad.jsonl",
        "--ratio",
        "1:1",
        "--on-bad-row",
        "skip",
        "--format",
        "sharegpt",
    )
    assert result.returncode == 0, result.stderr
    rows = read(out)
    assert len(rows) == 6 and all("conversations" in r and "messages" not in r for r in rows)
    assert {m["from"] for r in rows for m in r["conversations"]} <= {"human", "gpt", "system"}
    quarantined = [json.loads(line) for line in (out / "bad_rows.jsonl").read_text().splitlines()]
    assert len(quarantined) == 2 and "row 5" in quarantined[1]["error"]


def hostile_rows():
    """Rows of every shape mix reads, good and bad, as one Parquet file would hold them (nulls where absent)."""
    user, assistant = {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}
    system = {"role": "system", "content": "Be brief."}
    return [
        {"messages": [user], "reasoning": "think", "response": "R", "prompt_id": "a", "pass_rate": 0.25},
        {"messages": [user], "reasoning": "   ", "response": "R only"},
        {"messages": [user], "reasoning": "\u3000\xa0\n", "response": "unicode blanks are blank"},
        {"messages": [user], "reasoning": "\u200b", "response": "a zero-width space is not blank"},
        {"messages": [user], "reasoning": None, "response": None, "completion": "<think>x</think> C"},
        {"messages": [system, user, assistant], "reasoning": "ignored", "response": "ignored"},
        {"messages": [user, assistant, user, assistant], "completion_tokens": 7},
        {"messages": [user, user, assistant]},
        {"messages": [assistant]},
        {"messages": []},
        {"messages": [user], "response": ""},
        {"messages": [user, {"role": "assistant", "content": "  "}]},
        {"messages": [user, {"role": "assistant", "content": "\u2003\x85"}]},
        {"messages": [{"role": "tool", "content": "x"}, assistant]},
        {"messages": [system, system, user, assistant]},
        {"messages": [{"role": None, "content": "x"}, assistant]},
        {"messages": None, "prompt": "P", "response": "R"},
        {"messages": [user, None, assistant]},
        {"messages": [user], "response": "R", "model": "m", "verifier": "math", "prompt_id": "z"},
        {"messages": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "ShareGPT keys"}]},
        {"messages": [{"from": "human", "value": "Q"}], "response": "R after ShareGPT keys"},
        {"messages": [{"role": "user", "value": "Q"}, {"from": "gpt", "content": "keys mixed"}]},
        {"messages": [{"from": "bot", "value": "x"}, {"from": "gpt", "value": "A"}]},
    ]


def prompt_rows():
    return [
        {"prompt": "P", "response": "R", "prompt_id": 7},
        {"prompt": None, "problem": "P2", "completion": "C2", "system": "S"},
        {"prompt": "P3", "reasoning": "think", "response": "R3", "system": "  "},
        {"prompt": None, "response": "R"},
        {"prompt": "P", "response": None, "output": "O"},
        {"prompt": "P", "response": " "},
        {"prompt": "P5", "response": "R5", "system": "\u3000"},
        {"instruction": "I", "output": "O", "pass_rate": 1},
    ]


def sharegpt_rows():
    human, gpt = {"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}
    return [
        {"conversations": [human, gpt]},
        {"conversations": [{"from": "system", "value": "S"}, human, gpt]},
        {"conversations": [human, human]},
        {"conversations": [{"from": "bot", "value": "A"}]},
        {"conversations": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "role keys"}]},
        {"conversations": [human], "response": "R"},
        {"conversations": None, "prompt": "P", "response": "R"},
    ]


def large_types(kind: pa.DataType) -> pa.DataType:
    """The type polars writes: 64-bit offsets for every string and list."""
    if pa.types.is_string(kind):
        return pa.large_string()
    if pa.types.is_list(kind):
        return pa.large_list(large_types(kind.value_type))
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(f.name, large_types(f.type)) for f in kind])
    return kind


@pytest.mark.parametrize("shape", [hostile_rows, prompt_rows, sharegpt_rows])
@pytest.mark.parametrize("sharegpt", [False, True], ids=["messages", "sharegpt"])
@pytest.mark.parametrize("large", [False, True], ids=["string", "large_string"])
def test_column_wise_conversion_equals_the_row_path(tmp_path, sharegpt, shape, large):
    from concurrent.futures import ThreadPoolExecutor

    from datafactory.errors import BadInput
    from datafactory.mix.arrow_rows import convert
    from datafactory.mix.plan import Source
    from datafactory.mix.rows import SFT_SCHEMA, SHAREGPT_SCHEMA, sft_row
    from datafactory.mix.stage import convert_file

    rows = shape() * 3
    keys = list(dict.fromkeys(k for row in rows for k in row))
    path = tmp_path / "mixed.parquet"
    table = pa.Table.from_pylist([{k: row.get(k) for k in keys} for row in rows])
    if large:
        table = table.cast(pa.schema([pa.field(f.name, large_types(f.type)) for f in table.schema]))
    pq.write_table(table, path)
    stored = pq.read_table(path).to_pylist()
    expected, errors = [], []
    for number, row in enumerate(stored, start=1):
        try:
            expected.append(sft_row(row, "reasoning", "mixed", path, number, sharegpt))
        except BadInput as err:
            errors.append(str(err))
    assert 0 < len(errors) < len(rows)
    source = Source(files=[path], category="reasoning", name="mixed", weight=1.0)
    source.on_bad_row = "skip"
    quarantined = []
    with ThreadPoolExecutor(2) as pool:
        tables = list(convert_file(path, source, sharegpt, quarantined, pool))
    schema = SHAREGPT_SCHEMA if sharegpt else SFT_SCHEMA
    assert pa.Table.from_pylist(expected, schema=schema).equals(pa.concat_tables(tables))
    column_wise = convert(pq.read_table(path), "reasoning", "mixed", sharegpt)  # the fast path took part
    assert column_wise is not None and column_wise[1].any()
    assert [json.loads(q)["error"] for q in quarantined] == errors


def test_long_rows_are_converted_and_written_in_smaller_pieces(tmp_path, sources, monkeypatch):
    """Batches and windows are cut by bytes too: a batch of long traces would otherwise build strings past Arrow's
    2 GB per array (checked by hand with 20,000 rows of 110 KB). Lowered limits here force the cutting."""
    from datafactory.mix import shards, stage

    math, chat, _ = sources
    config = dict(reasoning=[str(math)], general=[str(chat)], total=400, shard_rows=400)
    run_stage("mix", stage.MixConfig(out=str(tmp_path / "whole"), **config))
    monkeypatch.setattr(stage, "BATCH_BYTES", 4096)
    monkeypatch.setattr(shards, "WINDOW_BYTES", 4096)
    run_stage("mix", stage.MixConfig(out=str(tmp_path / "cut"), **config))
    whole, cut = (pq.ParquetFile(tmp_path / name / "data" / "part-00000.parquet") for name in ("whole", "cut"))
    assert whole.metadata.num_row_groups == 1 and cut.metadata.num_row_groups > 5
    assert whole.read().equals(cut.read())


def test_a_failure_while_writing_leaves_no_half_written_shard(tmp_path):
    from datafactory.mix.shards import PlannedShardWriter

    schema = pa.schema([("n", pa.int64())])

    def fetch(start, stop):
        if start >= 12:
            raise OSError("disk gone")
        return pa.table({"n": list(range(start, stop))}, schema=schema)

    writer = PlannedShardWriter(tmp_path, schema, [range(0, 6), range(6, 12), range(12, 18)], fetch, window=2)
    with pytest.raises(OSError, match="disk gone"):
        writer.write()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not [n for n in names if ".tmp-" in n]
    for name in names:  # whatever was finished is whole
        assert pq.read_table(tmp_path / name).num_rows == 6


def test_text_parts_are_joined_and_other_content_is_named(tmp_path):
    parts = [{"type": "text", "text": "What is "}, {"type": "text", "text": "2 + 2?"}]
    image = [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]
    good = [{"messages": [{"role": "user", "content": parts}, {"role": "assistant", "content": "4"}]}] * 4
    write_jsonl(tmp_path / "parts.jsonl", good)
    out, result = mix(tmp_path, "o", "--general", tmp_path / "parts.jsonl", "--ratio", "0:1")
    assert result.returncode == 0, result.stderr
    assert read(out)[0]["messages"][0]["content"] == "What is 2 + 2?"
    write_jsonl(tmp_path / "image.jsonl", [{"messages": [{"role": "user", "content": image}, good[0]["messages"][1]]}])
    out, result = mix(tmp_path, "p", "--general", tmp_path / "image.jsonl", "--ratio", "0:1")
    assert result.returncode == 2
    assert "image.jsonl, row 1, field 'messages': message 1 (user) is not text but a list" in result.stderr
