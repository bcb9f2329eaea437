"""Recipe files: validation errors name the key and the allowed values; overrides and stage ranges."""

import pytest

from datafactory.errors import UsageError
from datafactory.recipes import STAGES, load_recipe, stage_range
from tests.conftest import REPO, run_cli

GOOD = """
out: {out}
model: toy
sources:
  - name: arithmetic
    category: reasoning
    inputs: ["{{prompts}}/reasoning.jsonl"]
mix:
  ratio: "3:1"
dedupe:
  on: prompt
"""


def write(tmp_path, text: str):
    path = tmp_path / "recipe.yaml"
    path.write_text(text.format(out=tmp_path / "run"))
    return path


def test_bundled_recipes_are_valid():
    for name in ("demo", "r1-sft", "gsm8k"):
        recipe = load_recipe(REPO / "recipes" / f"{name}.yaml")
        assert recipe.sources and recipe.data["model"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("generate:\n  tempurature: 0.5\n", "generate.tempurature: unknown key; allowed: api_key_env"),
        ("colour: blue\n", "colour: unknown key; allowed: dedupe, engine"),
        ("mix:\n  ratio: three\n", "mix.ratio: --ratio 'three'"),
        ("engine: llama\n", "engine: 'llama' is not one of vllm, openai, transformers"),
    ],
)
def test_errors_name_the_key_and_the_allowed_values(tmp_path, change, message):
    path = write(tmp_path, GOOD.replace('mix:\n  ratio: "3:1"\n', "") + change)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_recipe(path)


def test_missing_required_option_and_bad_source(tmp_path):
    with pytest.raises(UsageError, match="model: missing"):
        load_recipe(write(tmp_path, GOOD.replace("model: toy\n", "")))
    with pytest.raises(UsageError, match=r"sources.0.inputs: missing"):
        load_recipe(write(tmp_path, GOOD.replace('    inputs: ["{{prompts}}/reasoning.jsonl"]\n', "")))
    with pytest.raises(UsageError, match="sources.0.category: 'chat' is not one of reasoning, general"):
        load_recipe(write(tmp_path, GOOD.replace("category: reasoning", "category: chat")))


def test_overrides_and_the_yaml_on_key(tmp_path):
    recipe = load_recipe(write(tmp_path, GOOD), ["generate.n=2", "sources.0.verifier=exact", "dedupe.exact=false"])
    assert recipe.data["generate"] == {"n": 2}
    assert recipe.sources[0]["verifier"] == "exact"
    assert recipe.data["dedupe"] == {"on": "prompt", "exact": False}  # `on:` stays a key, not YAML 1.1's True
    with pytest.raises(UsageError, match="expected KEY=VALUE"):
        load_recipe(write(tmp_path, GOOD), ["generate.n"])


def test_stage_ranges():
    assert stage_range(None, None) == STAGES
    assert stage_range("filter", "dedupe") == ["filter", "dedupe"]
    with pytest.raises(UsageError, match="--from 'nope'"):
        stage_range("nope", None)
    with pytest.raises(UsageError, match="comes after"):
        stage_range("mix", "generate")


def test_run_reports_a_bad_recipe_with_exit_2(tmp_path):
    result = run_cli("run", write(tmp_path, GOOD), "--set", "mix.ratio=0:0")
    assert result.returncode == 2 and "mix.ratio" in result.stderr


@pytest.mark.parametrize(
    ("assignment", "key"),
    [
        ("dedupe.threshold=2.0", "dedupe.threshold: --threshold must be in (0, 1]"),
        ("dedupe.shingle=0", "dedupe.shingle: --shingle must be at least 1"),
        ("generate.temperature=-1", "generate.temperature: --temperature"),
        ("filter.keep=0", "filter.keep: --keep must be at least 1"),
        ("sources.0.filter={keep: 0}", "sources.0.filter.keep: --keep must be at least 1"),
        ("sources.0.verifier=nope", "sources.0.verifier: unknown verifier 'nope'"),
        ("filter.rules=r1,nope", "filter.rules: --rules: unknown rule 'nope'"),
        ("filter.rule_options=[min_tokens=many]", "filter.rule_options: --rule-option min_tokens=many"),
        ("filter.gold_min_share=2", "filter.gold_min_share: --gold-min-share"),
        ("filter.judge_threshold=20", "filter.judge_threshold: --judge-threshold must be between 1 and 10"),
        ("mix.total=0", "mix.total: --total must be at least 1"),
        ("mix.ratio=3to1", "mix.ratio: --ratio '3to1': expected REASONING:GENERAL"),
        ("mix.memory=lots", "mix.memory: --memory 'lots': expected a size"),
        ("mix.shard_bytes=huge", "mix.shard_bytes: --shard-bytes 'huge': expected a size"),
        ("mix.executor=slurm", "mix.executor: --executor 'slurm': choose one of local, ray"),
    ],
)
def test_every_bad_value_names_its_recipe_key(tmp_path, assignment, key):
    """The error is typed (errors.OptionError carries the option), so the key is exact for every stage, for a
    source's own section and for errors raised deep inside (verifiers, rules, typed options)."""
    judged = ["filter.verifier=math,judge", "filter.judge_model=toy"] if "judge" in assignment else []
    with pytest.raises(UsageError) as caught:
        load_recipe(write(tmp_path, GOOD), [*judged, assignment])
    message = str(caught.value)
    assert f"recipe.yaml: {key}" in message, message


def _nonsense_values():
    """Every option of every stage with a value of its own type that makes no sense (-5, a made-up word)."""
    from datafactory.recipes import CONFIGS, allowed_options

    for stage, config in CONFIGS.items():
        fields = config.option_fields()
        for key in allowed_options(stage):
            kind = str(fields[key].type)
            if kind.startswith(("int", "float")):
                yield stage, key, "-5"
            elif kind.startswith("str"):
                yield stage, key, "zz-nonsense"


def test_whatever_option_is_wrong_the_error_names_that_key(tmp_path):
    """Not only the cases someone thought of: every option given a nonsense value either loads or fails naming
    its own key (an error from deep code without OptionError would name only the section)."""
    failures, anonymous = 0, []
    for stage, key, value in _nonsense_values():
        try:
            load_recipe(write(tmp_path, GOOD), [f"{stage}.{key}={value}"])
        except UsageError as err:
            failures += 1
            if f": {stage}.{key}: " not in str(err):
                anonymous.append(f"{stage}.{key}={value}: {err}")
    assert failures > 30 and not anonymous, anonymous


def test_set_reads_values_as_yaml_1_2(tmp_path):
    """`--set mix.ratio=2:1` is the ratio 2:1 (YAML 1.1 reads it as the base-60 number 121), `on` is a word."""
    recipe = load_recipe(write(tmp_path, GOOD), ["mix.ratio=2:1", "dedupe.on=prompt", "generate.temperature=1e-1"])
    assert recipe.data["mix"]["ratio"] == "2:1" and recipe.data["dedupe"]["on"] == "prompt"
    assert recipe.data["generate"]["temperature"] == 0.1
    # A leading zero is decimal, as YAML 1.2 has it (not octal, not a float): 010 is the integer 10.
    recipe = load_recipe(write(tmp_path, GOOD), ["generate.n=010", "generate.seed=08"])
    assert recipe.data["generate"]["n"] == 10 and type(recipe.data["generate"]["n"]) is int
    assert recipe.data["generate"]["seed"] == 8 and type(recipe.data["generate"]["seed"]) is int


def test_errors_name_the_key_where_the_recipe_sets_it():
    from datafactory.recipes import key_of

    data = {"model": "m", "sources": [{"name": "a", "verifier": "math", "filter": {"keep": 2}}], "filter": {"keep": 1}}
    assert key_of(data, "filter", "keep", 0) == "sources.0.filter.keep"
    assert key_of(data, "filter", "select", 0) == "filter.select"
    assert key_of(data, "filter", "verifier", 0) == "sources.0.verifier"
    assert key_of(data, "generate", "model", 0) == "model"
    assert key_of(data, "mix", None, None) == "mix"
