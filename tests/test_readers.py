import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datafactory.errors import BadInput, UsageError
from datafactory.io.readers import expand_inputs, iter_chunks
from tests.conftest import write_jsonl

ROWS = [{"problem": f"p{i}", "answer": i} for i in range(5)]


def _rows(paths, chunk_rows=2):
    return [
        (c.path.name, r["__row__"], r["problem"]) for c in iter_chunks(expand_inputs(paths), chunk_rows) for r in c.rows
    ]


def test_jsonl_plain_and_gzip_give_rows_with_their_line_numbers(tmp_path):
    plain = write_jsonl(tmp_path / "a.jsonl", ROWS)
    text = plain.read_text().replace("\n", "\n\n", 1)  # a blank line is skipped but still counted
    plain.write_text(text)
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in ROWS[:2]))
    rows = _rows([plain, tmp_path / "b.jsonl.gz"])
    assert rows[:3] == [("a.jsonl", 1, "p0"), ("a.jsonl", 3, "p1"), ("a.jsonl", 4, "p2")]
    assert rows[-2:] == [("b.jsonl.gz", 1, "p0"), ("b.jsonl.gz", 2, "p1")]


def test_jsonl_with_a_byte_order_mark_and_crlf_line_ends(tmp_path):
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"problem": "p0"}\r\n{"problem": "p1"}\r\n')
    assert [r[2] for r in _rows([path])] == ["p0", "p1"]


def test_parquet_files_shard_dirs_and_globs(tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS[:3]), shards / "part-00000.parquet")
    pq.write_table(pa.Table.from_pylist(ROWS[3:]), shards / "part-00001.parquet")
    (shards / ".rejected").mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS), shards / ".rejected" / "part-00000.parquet")
    assert [r[2] for r in _rows([shards])] == ["p0", "p1", "p2", "p3", "p4"]
    assert [r[1] for r in _rows([str(shards / "part-*.parquet")])] == [1, 2, 3, 1, 2]
    assert len(_rows([shards / ".rejected"])) == 5


def test_saved_hugging_face_dataset_folder(tmp_path):
    import datasets

    datasets.Dataset.from_list(ROWS).save_to_disk(tmp_path / "hf")
    assert [r[2] for r in _rows([tmp_path / "hf"])] == [f"p{i}" for i in range(5)]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS)}).save_to_disk(tmp_path / "dd")
    with pytest.raises(UsageError, match="DatasetDict"):
        _rows([tmp_path / "dd"])
    assert len(_rows([tmp_path / "dd" / "train"])) == 5


@pytest.mark.parametrize(
    ("content", "message", "row"),
    [
        (b'{"problem": "a"}\n{oops\n', "invalid JSON", 2),
        (b'{"problem": "a"}\n[1, 2]\n', "expected a JSON object", 2),
        (b'{"problem": "\xff"}\n', "not valid UTF-8", 1),
        (b"", "file has no rows", None),
        (b"\n\n", "file has no rows", None),
    ],
)
def test_bad_jsonl_names_file_and_row(tmp_path, content, message, row):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(BadInput, match=message) as caught:
        _rows([path])
    assert caught.value.file == path and caught.value.row == row
    assert str(path) in str(caught.value)


def test_missing_and_unsupported_inputs(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        expand_inputs([tmp_path / "nope.jsonl"])
    with pytest.raises(UsageError, match="matches no file"):
        expand_inputs([str(tmp_path / "*.parquet")])
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(UsageError, match="unsupported"):
        expand_inputs([tmp_path / "x.csv"])
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(BadInput, match="Parquet"):
        _rows([tmp_path / "broken.parquet"])


def test_reads_real_benchmark_files(shared_data):
    gsm8k = [r for c in iter_chunks(expand_inputs([shared_data / "gsm8k_test.jsonl"]), 500) for r in c.rows]
    assert len(gsm8k) == 1319
    humaneval = list(iter_chunks(expand_inputs([shared_data / "HumanEval.jsonl.gz"])))
    assert sum(len(c.rows) for c in humaneval) == 164
    assert humaneval[0].rows[0]["task_id"] == "HumanEval/0"


@pytest.mark.parametrize("spelling", ["plain", "indented", "bom", "gzip"])
def test_a_json_array_file_is_read_item_by_item_however_it_was_saved(tmp_path, spelling):
    from datafactory.io.readers import count_rows

    items = [{"instruction": f"Task {i}", "input": "", "output": f"Done {i}"} for i in range(5)]
    text = json.dumps(items, indent=2 if spelling == "indented" else None).encode()
    path = tmp_path / ("data.json.gz" if spelling == "gzip" else "data.json")
    if spelling == "gzip":
        path.write_bytes(gzip.compress(text))
    else:
        path.write_bytes((b"\xef\xbb\xbf" if spelling == "bom" else b"") + b"\n " + text)
    rows = [row for chunk in iter_chunks([path]) for row in chunk.rows]
    assert [r.pop("__row__") for r in rows] == [1, 2, 3, 4, 5] and rows == items
    assert count_rows(path) == 5


def test_a_broken_json_array_names_the_item_after_the_last_good_one(tmp_path):
    path = tmp_path / "data.json"
    path.write_text('[{"a": 1},\n {"a": 2},\n {"a": ')
    with pytest.raises(BadInput) as caught:
        [row for chunk in iter_chunks([path]) for row in chunk.rows]
    assert caught.value.row == 3 and "invalid JSON after item 2" in str(caught.value)
