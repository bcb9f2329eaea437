"""An edited recipe reruns what the edit touched and nothing else (rerun.py): one real run of a recipe with every
stage (the toy reasoner on the transformers engine), then, for each recipe key, the stages an edit of it reruns."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from datafactory.recipes import load_recipe, stage_range
from datafactory.rerun import REUSE
from datafactory.runner import RecipeRun
from tests.conftest import run_cli

pytestmark = pytest.mark.engine

REPO = Path(__file__).resolve().parent.parent
GENERATE = {"generate arithmetic", "generate chat"}
FILTER = {"filter arithmetic", "filter chat"}
DEDUPE = {"dedupe arithmetic", "dedupe chat"}
ARITHMETIC = {"generate arithmetic", "filter arithmetic", "dedupe arithmetic", "mix"}
CHAT = {"generate chat", "filter chat", "dedupe chat", "mix"}
EVERYTHING = GENERATE | FILTER | DEDUPE | {"mix"}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """The demo recipe, small, run once to the end."""
    root = tmp_path_factory.mktemp("rerun")
    text = (REPO / "recipes/demo.yaml").read_text()
    for old, new in [
        ("out: demo-out/run", f"out: {root / 'run'}"),
        ("engine: vllm", "engine: transformers"),
        ("reasoning: 500, general: 200", "reasoning: 12, general: 4"),
    ]:
        assert old in text
        text = text.replace(old, new)
    (root / "recipe.yaml").write_text(text)
    result = run_cli("run", root / "recipe.yaml")
    assert result.returncode == 0, result.stderr
    return root / "recipe.yaml"


def _reruns(recipe: Path, *overrides: str) -> set[str]:
    steps = RecipeRun(load_recipe(recipe, list(overrides)), stage_range(None, None), say=lambda _: None).plan()
    assert len(steps) == 7
    return {step.label for step in steps if step.action != REUSE}


def _copy_of_reasoning(recipe: Path) -> str:
    copy = recipe.parent / "elsewhere.jsonl"
    shutil.copy(recipe.parent / "run/prompts/reasoning.jsonl", copy)
    return str(copy)


EDITS = [
    # the recipe-wide keys and prompt sets
    (["model=MODEL_PATH"], EVERYTHING),  # the same weights by another name: a different model as far as anyone knows
    (["engine=vllm"], EVERYTHING),
    (["prompts.toy.reasoning=10"], EVERYTHING),  # the toy set draws both files from one random stream
    (["prompts.toy.general=5"], CHAT),  # reasoning.jsonl comes out byte-identical
    (["prompts.toy.seed=1"], EVERYTHING),
    (["name=renamed"], set()),
    # a source's own keys
    (["sources.0.inputs=[ELSEWHERE]"], ARITHMETIC),  # another file, even one with the same bytes
    (["sources.0.verifier=exact"], ARITHMETIC),  # generate has a target: its checks decide which samples are drawn
    (["sources.1.rules=truncated"], CHAT),
    (["sources.0.weight=2"], {"mix"}),
    (["sources.0.gold_field=answer"], set()),  # written as it already was
    (["sources.0.filter.keep=2"], {"filter arithmetic", "dedupe arithmetic", "mix"}),
    (["sources.1.dedupe.on=completion"], {"dedupe chat", "mix"}),
    # generate
    (["generate.n=3"], EVERYTHING),
    (["generate.temperature=0.7"], EVERYTHING),
    (["generate.max_tokens=100"], EVERYTHING),
    (["generate.seed=1"], EVERYTHING),
    (["generate.target=2"], EVERYTHING),
    (["generate.concurrency=2"], set()),  # a resource
    (["generate.verbose=true"], set()),
    # filter
    (["filter.keep=2"], FILTER | DEDUPE | {"mix"}),
    (["filter.select=longest"], FILTER | DEDUPE | {"mix"}),
    (["filter.min_pass_rate=0.1"], FILTER | DEDUPE | {"mix"}),
    (["filter.timeout=30"], EVERYTHING),  # a check option: generate's target applies it too
    (["filter.workers=1"], set()),
    # dedupe
    (["dedupe.threshold=0.7"], DEDUPE | {"mix"}),
    (["dedupe.exact=false"], DEDUPE | {"mix"}),
    (["dedupe.workers=1"], set()),
    # mix
    (["mix.seed=1"], {"mix"}),
    (["mix.ratio=2:1"], {"mix"}),
    (["mix.format=sharegpt"], {"mix"}),
    (["mix.memory=1GB"], set()),
]


@pytest.mark.parametrize(("edits", "expected"), EDITS, ids=[" ".join(e) for e, _ in EDITS])
def test_an_edit_reruns_exactly_the_stages_downstream_of_it(finished, edits, expected):
    from datafactory.engines.local_model import TOY_MODEL

    edits = [e.replace("MODEL_PATH", str(TOY_MODEL)).replace("ELSEWHERE", _copy_of_reasoning(finished)) for e in edits]
    assert _reruns(finished, *edits) == expected


def test_a_rerun_without_an_edit_reruns_nothing_and_leaves_every_file_as_it_was(finished):
    out = finished.parent / "run"
    before = {p: hashlib.sha256(p.read_bytes()).digest() for p in out.rglob("*") if p.is_file()}
    result = run_cli("run", finished)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("reuse (unchanged)") == 7 and "starting" not in result.stderr
    after = {p: hashlib.sha256(p.read_bytes()).digest() for p in out.rglob("*") if p.is_file()}
    changed = {p.relative_to(out) for p in before if after.get(p) != before[p]} | set(after.keys() - before.keys())
    assert changed <= {Path("report.html")}  # the report is written anew; every shard and manifest is as it was
    assert sum(1 for p in before if p.suffix == ".parquet") >= 7


def test_dry_run_says_what_would_run_and_writes_nothing(finished, tmp_path):
    fresh = tmp_path / "fresh"
    result = run_cli("run", finished, "--set", f"out={fresh}", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("run (not run yet)") == 7 and not fresh.exists()
    again = run_cli("run", finished, "--dry-run", "--overwrite")
    assert again.returncode == 0 and again.stderr.count("rerun (--overwrite)") == 7
    edited = run_cli("run", finished, "--dry-run", "--set", "mix.seed=3")
    assert "mix: rerun (seed: 0 → 3)" in edited.stderr and edited.stderr.count("reuse (unchanged)") == 6


def test_a_filter_edit_reruns_from_the_filter_without_starting_the_engine(finished):
    """Last in this module: it changes the run, then puts it back as the recipe says."""
    from datafactory.stages import StageOutput

    run = finished.parent / "run"
    samples = {p: p.read_bytes() for p in (run / "arithmetic/samples").rglob("*") if p.is_file()}
    result = run_cli("run", finished, "--set", "filter.keep=2")
    assert result.returncode == 0, result.stderr
    assert "filter arithmetic: rerun (keep: 1 → 2)" in " ".join(result.stderr.split())
    assert "starting" not in result.stderr  # no engine: generate was reused
    assert {p: p.read_bytes() for p in samples} == samples
    assert StageOutput.read(run / "arithmetic/filtered").manifest["arguments"]["keep"] == 2
    assert _reruns(finished, "filter.keep=2") == set()  # the run is what the edited recipe describes
    back = run_cli("run", finished)
    assert back.returncode == 0 and "filter arithmetic: rerun (keep: 2 → 1)" in " ".join(back.stderr.split())
    assert _reruns(finished) == set()


def test_dry_run_forecasts_a_generate_rerun_from_the_earlier_run(finished):
    """`run --dry-run` says what each generate that reruns will cost, from the earlier run's tokens per prompt
    (the same prompts here: the forecast is that run's total), and says why when it cannot."""
    from datafactory.generate.forecast import _short

    result = run_cli("run", finished, "--dry-run", "--overwrite", "--set", "generate.price_per_million=2")
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stderr.split())  # the lines as a terminal wraps them
    for source, prompts in (("arithmetic", 12), ("chat", 4)):
        manifest = json.loads((finished.parent / f"run/{source}/samples/.datafactory/manifest.json").read_text())
        spent = manifest["counts"]["completion_tokens"]
        words = f"forecast from the earlier run's {prompts} prompts, for {prompts}: {_short(spent)} completion tokens"
        assert words in said, said
    assert said.count("at 2 per million") == 2
    other = run_cli("run", finished, "--dry-run", "--set", "generate.max_tokens=64")
    assert "no forecast: the earlier run drew samples with another max_tokens" in " ".join(other.stderr.split())
