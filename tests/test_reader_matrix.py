"""Every stage's output folder, read by the readers people use: each returns exactly that stage's rows (not the
rejected, removed or pass-rate rows beside them), and the side outputs read as easily on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli
from tests.test_report import trace_row


def _pandas(folder: Path, cache: Path) -> list:
    import pandas

    return pandas.read_parquet(folder)["prompt_id"].tolist()


def _pyarrow_table(folder: Path, cache: Path) -> list:
    return pq.read_table(folder).column("prompt_id").to_pylist()


def _pyarrow_dataset(folder: Path, cache: Path) -> list:
    return ds.dataset(folder).to_table().column("prompt_id").to_pylist()


def _datasets_folder(folder: Path, cache: Path) -> list:
    import datasets

    return datasets.load_dataset(str(folder), split="train", cache_dir=str(cache))["prompt_id"]


def _datasets_data_dir(folder: Path, cache: Path) -> list:
    import datasets

    return datasets.load_dataset("parquet", data_dir=str(folder), split="train", cache_dir=str(cache))["prompt_id"]


def _polars(folder: Path, cache: Path) -> list:
    import polars

    return polars.read_parquet(f"{folder}/*.parquet")["prompt_id"].to_list()


def _duckdb(folder: Path, cache: Path) -> list:
    import duckdb

    rows = duckdb.connect().execute(f"SELECT prompt_id FROM read_parquet('{folder}/*.parquet')").fetchall()
    return [row[0] for row in rows]


READERS = {
    "pandas.read_parquet": _pandas,
    "pyarrow.parquet.read_table": _pyarrow_table,
    "pyarrow.dataset": _pyarrow_dataset,
    "datasets.load_dataset(OUT)": _datasets_folder,
    "datasets.load_dataset(parquet, data_dir)": _datasets_data_dir,
    "polars.read_parquet(OUT/*.parquet)": _polars,
    "duckdb.read_parquet(OUT/*.parquet)": _duckdb,
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    """samples → filter (rejects some) → dedupe (removes some) → mix, each by the real CLI."""
    root = tmp_path_factory.mktemp("matrix")
    rows = []
    for p in range(24):
        steps = f"We add {p} and {p + 1}.\nThat gives {2 * p + 1}."
        rows += [
            trace_row(f"p{p}", 0, steps, 2 * p + 1, str(2 * p + 1)),
            trace_row(f"p{p}", 1, steps, 0, str(2 * p + 1)),
        ]
    rows += [{**row, "prompt_id": f"copy{i}"} for i, row in enumerate(rows[:6:2])]  # exact copies for dedupe
    (root / "samples").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), root / "samples" / "part-00000.parquet")
    for args in (
        ("filter", root / "samples", "-o", root / "filtered", "--verifier", "math", "--shard-rows", "10"),
        ("dedupe", root / "filtered", "-o", root / "deduped", "--on", "completion", "--shard-rows", "7"),
        ("mix", "--reasoning", root / "deduped", "--ratio", "1:0", "-o", root / "sft", "--shard-rows", "5"),
    ):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
    return root


def _expected(folder: Path) -> list:
    """The stage's rows by its own account: the shards its manifest lists."""
    manifest = json.loads((folder / ".datafactory" / "manifest.json").read_text())
    return sorted(
        v for s in manifest["shards"] for v in pq.read_table(folder / s["name"]).column("prompt_id").to_pylist()
    )


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("stage", ["filtered", "deduped", "sft"])
def test_each_reader_returns_exactly_the_stage_rows(outputs, tmp_path, stage, reader):
    folder = outputs / stage
    expected = _expected(folder)
    counts = json.loads((folder / ".datafactory" / "manifest.json").read_text())["counts"]
    assert len(expected) == counts.get("rows_kept", counts.get("rows_out")) > 0
    data = folder / "data" if stage == "sft" and reader != "datasets.load_dataset(OUT)" else folder
    assert sorted(READERS[reader](data, tmp_path / "cache")) == expected


def test_side_outputs_read_on_purpose(outputs):
    import pandas
    import polars

    counts = json.loads((outputs / "filtered" / ".datafactory" / "manifest.json").read_text())["counts"]
    rejected = pandas.read_parquet(outputs / "filtered" / ".rejected")
    assert len(rejected) == counts["rows_rejected"] > 0 and set(rejected["verdict"]) == {"wrong_answer"}
    rates = polars.read_parquet(outputs / "filtered" / ".pass_rates" / "*.parquet")
    assert rates.height == counts["prompts"]
    removed = pq.read_table(outputs / "deduped" / ".removed")
    assert removed.num_rows == sum(json.loads((outputs / "deduped" / ".datafactory/manifest.json").read_text())["counts"]["removed"].values()) > 0  # fmt: skip


def test_the_mix_is_a_dataset_repository(outputs):
    """README.md card whose configs point at data/, and nothing but shards in data/ (what the Hub and
    LLaMA-Factory read)."""
    import yaml

    folder = outputs / "sft"
    card = (folder / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert header["configs"][0]["data_files"][0]["path"] == "data/part-*.parquet"
    assert all(p.name.startswith("part-") and p.suffix == ".parquet" for p in (folder / "data").iterdir())
    info = json.loads((folder / "dataset_info.json").read_text())
    assert [entry["file_name"] for entry in info.values()] == ["data"]


@pytest.mark.engine
def test_generate_output_reads_right_with_every_reader(tmp_path, tiny_model):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"What is {i} + 1?"}) + "\n" for i in range(3)))
    out = tmp_path / "samples"
    result = run_cli("generate", prompts, "-o", out, "-m", tiny_model, "--engine", "transformers", "-n", "2",
                     "--max-tokens", "8", "--shard-rows", "4")  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = _expected(out)
    assert len(expected) == 6
    for name, reader in READERS.items():
        assert sorted(reader(out, tmp_path / "cache")) == expected, name
