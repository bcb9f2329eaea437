import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datafactory.errors import UsageError
from datafactory.io.outdir import OutputDir
from datafactory.io.writer import ShardWriter, sha256_file

SCHEMA = pa.schema([("prompt_id", pa.string()), ("sample_index", pa.int32())])


def _group(pid, n=3):
    return [{"prompt_id": pid, "sample_index": i} for i in range(n)]


def test_writer_never_splits_a_group_and_leaves_no_temporaries(tmp_path):
    writer = ShardWriter(tmp_path, SCHEMA, shard_rows=4)
    for pid in "abcde":
        writer.add_group(_group(pid))
    infos = writer.close()
    assert [i.rows for i in infos] == [6, 6, 3]
    for info in infos:
        ids = pq.read_table(tmp_path / info.name).column("prompt_id").to_pylist()
        assert all(ids.count(pid) == 3 for pid in set(ids))
        assert sha256_file(tmp_path / info.name) == info.sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert pq.ParquetFile(tmp_path / "part-00000.parquet").metadata.row_group(0).column(0).compression == "ZSTD"


def test_finish_writes_manifest_with_shard_hashes_then_success(tmp_path):
    out = OutputDir(tmp_path / "out", "generate")
    args = {"model": "m", "n": 3}
    out.check(args, overwrite=False, inputs=[], resume_keys=["model"])
    out.prepare(args)
    assert not out.is_complete()
    writer = ShardWriter(out.path, SCHEMA, 100)
    writer.add_group(_group("a"))
    writer.close()
    manifest = out.finish(args, [], {"rows_out": 3})
    assert out.is_complete()
    on_disk = json.loads((out.path / ".datafactory/manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    assert on_disk["shards"] == [
        {"name": "part-00000.parquet", "rows": 3, "sha256": sha256_file(out.path / "part-00000.parquet")}
    ]
    again = OutputDir(tmp_path / "out", "generate")
    with pytest.raises(UsageError, match="--overwrite"):
        again.check(args, overwrite=False, inputs=[], resume_keys=["model"])


def test_resume_refuses_changed_options_and_overwrite_keeps_foreign_files(tmp_path):
    out = OutputDir(tmp_path, "generate")
    out.check({"model": "a"}, False, [], ["model"])
    out.prepare({"model": "a"})
    writer = ShardWriter(tmp_path, SCHEMA, 1)
    writer.add_group(_group("x"))
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / ".part-00001.parquet.tmp-999").write_bytes(b"half")
    out.unlock()  # the run above ends (its process would); a lock is per run
    resumed = OutputDir(tmp_path, "generate")
    with pytest.raises(UsageError, match="model: 'a' -> 'b'"):
        resumed.check({"model": "b"}, False, [], ["model"])
    resumed.check({"model": "a"}, False, [], ["model"])
    assert resumed.resumed
    resumed.prepare({"model": "a"})
    assert not list(tmp_path.glob(".*tmp-*"))
    resumed.unlock()
    fresh = OutputDir(tmp_path, "generate")
    fresh.check({"model": "b"}, True, [], ["model"])
    fresh.prepare({"model": "b"})
    assert not fresh.shards() and (tmp_path / "notes.txt").read_text() == "mine"


def test_output_inside_an_input_is_refused(tmp_path):
    (tmp_path / "in.jsonl").write_text("{}\n")
    with pytest.raises(UsageError, match="holds input"):
        OutputDir(tmp_path, "generate").check({}, False, [tmp_path / "in.jsonl"], [])
