"""The stage contract (stages.py): one frame owns the output folder for every stage, a new stage is one module and
one registration, and a failure leaves what a resume can use and nothing else.

The failure tests are adversarial on "a stage never damages or litters": a failure in a fresh folder, in a folder
the user made (with their own files), in a stage that restarts, in one that resumes, and a second run in the same
process (the lock of the failed one must not outlive it).
"""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datafactory.errors import BadInput, UsageError
from datafactory.frame import run_stage
from datafactory.io.writer import ShardWriter
from datafactory.stages import STAGES, Plan, ReadsStages, Result, StageKind, StageOutput
from tests.conftest import write_jsonl


@dataclass
class CountConfig(ReadsStages):
    """A stage a user might add: count rows per value of a column."""

    inputs: list[str]
    out: str
    column: str = "category"
    fail: str = ""  # the test's way to make its work fail: "at-start", or "half-way" (after its shard)

    def validate(self) -> None:
        self.check_stage_options()
        if not self.column:
            raise UsageError("--column must name a column")


def check_count(config: CountConfig) -> Plan:
    return Plan(config.input_files())


def count_rows(config: CountConfig, plan: Plan, outdir, executor) -> Result:
    if config.fail == "at-start":
        raise UsageError(f"{plan.inputs[0]}: failed at the start, as the test asked")
    table = pa.concat_tables(pq.read_table(p) for p in plan.inputs)
    counts = table.group_by(config.column).aggregate([([], "count_all")]).sort_by(config.column)
    writer = ShardWriter(outdir.path, counts.schema)
    writer.add_table(counts)
    writer.close()
    if config.fail == "half-way":
        raise UsageError(f"{plan.inputs[0]}: failed half-way, as the test asked")
    (outdir.path / "histogram.json").write_text(json.dumps(counts.to_pylist()))
    return Result({"rows_in": table.num_rows, "rows_kept": counts.num_rows}, {"executor": executor.kind})


@pytest.fixture
def count_stage(monkeypatch):
    """The new stage registered exactly as docs/architecture.md says: its module, and one entry in STAGES."""
    module = types.ModuleType("count_stage")
    module.CountConfig, module.check_count, module.count_rows = CountConfig, check_count, count_rows
    monkeypatch.setitem(sys.modules, "count_stage", module)
    kind = StageKind(
        "count",
        "count_stage:CountConfig",
        "count_stage:check_count",
        "count_stage:count_rows",
        rows="counts",
        group_by="category",
        files=("histogram.json",),
    )
    monkeypatch.setitem(STAGES, "count", kind)
    return kind


@pytest.fixture
def rows(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    pq.write_table(pa.table({"category": ["a", "b", "a"], "text": ["x", "y", "z"]}), folder / "part-00000.parquet")
    return folder


def test_a_new_stage_is_one_module_and_one_registration(tmp_path, rows, count_stage):
    out = tmp_path / "counts"
    manifest = run_stage("count", CountConfig(inputs=[str(rows)], out=str(out)))
    assert (out / ".datafactory/SUCCESS").exists() and manifest["complete"] and manifest["stage"] == "count"
    assert manifest["counts"] == {"rows_in": 3, "rows_kept": 2} and manifest["executor"] == "local"
    assert [s["rows"] for s in manifest["shards"]] == [2]
    assert pq.read_table(out / "part-00000.parquet").to_pylist() == [
        {"category": "a", "count_all": 2},
        {"category": "b", "count_all": 1},
    ]
    view = StageOutput.read(out)  # what report and stats read
    assert view.kind is count_stage and view.counts["rows_kept"] == 2 and view.shards() == [out / "part-00000.parquet"]
    with pytest.raises(UsageError, match="holds a finished count run"):  # the frame's refusal, not the stage's
        run_stage("count", CountConfig(inputs=[str(rows)], out=str(out)))
    assert not (tmp_path / ".counts.lock").exists()  # a refused run lets go of OUT at once
    (out / "mine.txt").write_text("a user's note")
    again = run_stage("count", CountConfig(inputs=[str(rows)], out=str(out), column="text", overwrite=True))
    assert again["counts"]["rows_kept"] == 3 and (out / "mine.txt").read_text() == "a user's note"


def test_the_check_fails_before_the_folder_is_touched(tmp_path, count_stage):
    out = tmp_path / "counts"
    with pytest.raises(UsageError, match="--column"):
        run_stage("count", CountConfig(inputs=[str(tmp_path)], out=str(out), column=""))
    with pytest.raises(UsageError):
        run_stage("count", CountConfig(inputs=[str(tmp_path / "missing")], out=str(out)))
    assert not out.exists() and not list(tmp_path.glob(".counts*"))


def test_a_failure_in_a_fresh_folder_leaves_nothing_and_no_lock(tmp_path, rows, count_stage):
    out = tmp_path / "counts"
    with pytest.raises(UsageError, match="at the start"):
        run_stage("count", CountConfig(inputs=[str(rows)], out=str(out), fail="at-start"))
    assert not out.exists() and not list(tmp_path.glob(".counts*"))  # neither its manifest nor its lock
    STAGES["count"] = StageKind(**{**count_stage.__dict__, "restarts": True})
    with pytest.raises(UsageError, match="half-way"):  # a stage that restarts cannot use what it wrote
        run_stage("count", CountConfig(inputs=[str(rows)], out=str(out), fail="half-way"))
    assert not out.exists() and not list(tmp_path.glob(".counts*"))
    run_stage("count", CountConfig(inputs=[str(rows)], out=str(out)))  # the same process may use OUT at once
    assert (out / ".datafactory/SUCCESS").exists()


def test_a_failure_keeps_a_users_files_and_what_a_resume_can_use(tmp_path, rows, count_stage):
    out = tmp_path / "counts"
    out.mkdir()
    (out / "notes.md").write_text("mine")
    with pytest.raises(UsageError, match="half-way"):
        run_stage("count", CountConfig(inputs=[str(rows)], out=str(out), fail="half-way"))
    # a stage that resumes keeps its finished shards (a resume starts after them); the user's file stays
    assert (out / "notes.md").read_text() == "mine" and (out / "part-00000.parquet").exists()
    assert not (out / ".datafactory/SUCCESS").exists()
    restarting = StageKind(**{**count_stage.__dict__, "restarts": True})
    STAGES["count"] = restarting
    with pytest.raises(UsageError, match="half-way"):
        run_stage("count", CountConfig(inputs=[str(rows)], out=str(out), fail="half-way"))
    # a stage that restarts has nothing to resume from: its partial output goes, the user's file stays
    assert sorted(p.name for p in out.iterdir()) == ["notes.md"]


def test_a_failed_overwrite_leaves_the_finished_output_whole(tmp_path, rows, count_stage):
    out = tmp_path / "counts"
    first = run_stage("count", CountConfig(inputs=[str(rows)], out=str(out)))
    with pytest.raises(UsageError, match="half-way"):
        run_stage("count", CountConfig(inputs=[str(rows)], out=str(out), overwrite=True, fail="half-way"))
    assert (
        json.loads((out / ".datafactory/manifest.json").read_text()) == first
        and (out / ".datafactory/SUCCESS").exists()
    )
    assert not list(tmp_path.glob(".counts*"))


def test_every_stage_declares_a_check_and_work_that_exist():
    """The table names code by import path: a typo would fail only when that stage runs."""
    for kind in STAGES.values():
        assert callable(kind.load(kind.check)) and callable(kind.load(kind.work))
        assert kind.config_class().validate
        for hook in (kind.summary, kind.session, kind.across_sources):
            assert hook is None or callable(kind.load(hook))


def test_a_resume_after_a_filter_failure_continues_from_its_work(tmp_path):
    """A real stage that resumes (filter): a bad row in its second input fails it after the first input's rows
    were evaluated; that work stays, and fixing the input resumes from it."""
    from datafactory.filtering.config import FilterConfig

    good = {"prompt_id": "p", "prompt": "1+1?", "completion": "<think>so</think> \\boxed{2}", "answer": "2"}
    write_jsonl(tmp_path / "a.jsonl", [good])
    user = {"role": "user", "content": "1+1?"}
    write_jsonl(tmp_path / "b.jsonl", [{"prompt_id": "q", "messages": [user], "answer": "2"}])
    out = tmp_path / "filtered"
    config = dict(inputs=[str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")], out=str(out), workers=1)
    with pytest.raises(BadInput, match="b.jsonl"):
        run_stage("filter", FilterConfig(**config))
    assert list((out / ".work").iterdir()) and not (out / ".datafactory/SUCCESS").exists()
    answer = {"role": "assistant", "content": "<think>so</think> \\boxed{2}"}
    write_jsonl(tmp_path / "b.jsonl", [{"prompt_id": "q", "messages": [user, answer], "answer": "2"}])
    with pytest.raises(UsageError, match="inputs changed"):  # the frame's resume check saw the edit
        run_stage("filter", FilterConfig(**config))
    manifest = run_stage("filter", FilterConfig(**config, overwrite=True))
    assert manifest["counts"]["rows_in"] == manifest["counts"]["rows_kept"] == 2  # columns of either input


def test_the_judges_options_are_one_object_under_the_names_users_know():
    """`judge.model` inside; `--judge-model`, the recipe key `filter.judge_model` and the manifest's
    `judge_model` outside, as before the nesting (so recipes, resumes and old manifests still agree)."""
    from dataclasses import fields

    from datafactory.filtering.config import FilterConfig
    from datafactory.judge.options import JudgeOptions
    from datafactory.recipes import load_recipe, stage_options
    from tests.conftest import REPO

    config = FilterConfig.build(inputs=["-"], out="-", verifier="math,judge", judge_model="toy", judge_threshold=8.0)
    assert (config.judge.model, config.judge.threshold, config.judge.scope) == ("toy", 8.0, "undecided")
    arguments = config.arguments()
    assert "judge" not in arguments and arguments["judge_model"] == "toy"
    assert {k for k in arguments if k.startswith("judge_")} == {f"judge_{f.name}" for f in fields(JudgeOptions)}
    recipe = load_recipe(REPO / "recipes" / "r1-sft.yaml")
    judged = [s for s in recipe.sources if "judge" in stage_options(recipe.data, "filter", s)["verifier"]]
    for source in judged:
        built = FilterConfig.build(inputs=["-"], out="-", **stage_options(recipe.data, "filter", source))
        assert built.judge.engine == "openai" and built.judge.base_url.startswith("http://127.0.0.1")
    assert len(judged) == 2
    with pytest.raises(UsageError, match="--judge-scope 'some'"):
        FilterConfig.build(inputs=["-"], out="-", verifier="judge", judge_model="toy", judge_scope="some").validate()
