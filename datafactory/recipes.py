"""Recipe files: the stages of a run (prompts → generate → filter → dedupe → mix) in one validated YAML file.

Why validated up front: a typo in the mix section must fail in the first second, naming the key and the allowed
values, not after an hour of sampling. Options of a stage section are exactly the options of that stage's
command (the fields of its config dataclass), so the CLI and recipes never drift apart.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from datafactory.checks.options import CHECK_KEYS
from datafactory.errors import UsageError
from datafactory.registry import load
from datafactory.stages import ORDER
from datafactory.stages import STAGES as DECLARED

STAGES = ["prompts", *ORDER]  # a recipe's steps: its prompt sets, then the declared stages in order
PER_SOURCE = [name for name in ORDER if not DECLARED[name].across_sources]
RECIPE_WIDE = {key for kind in DECLARED.values() for key in kind.recipe_keys}  # model, engine
TOP_KEYS = {"name", "out", "prompts", "sources", "requires", *RECIPE_WIDE, *ORDER}
SOURCE_KEYS = {"name", "category", "inputs", "verifier", "rules", "gold_field", "gold", "weight", *PER_SOURCE}
CATEGORIES = ("reasoning", "general")
# prompt sets a recipe can generate (`prompts: {NAME: {...}}`): "module:writer", its options' home "module:NAME"
PROMPT_SETS = {"toy": ("datafactory.toy.data:write_prompt_set", "datafactory.toy.data:PROMPT_SET_OPTIONS")}
DEFAULT_VERIFIER = {"reasoning": "math", "general": "none"}
DEFAULT_RULES = {"reasoning": "r1", "general": "truncated,repetition"}
# options a stage section may not set: the recipe decides them (generate's checks come from the source and the
# filter section, so they are written once and `generate.target` checks exactly what filter will)
DECIDED_ELSEWHERE = {"generate": {"engine_extra", "workers", *CHECK_KEYS}, "mix": {"reasoning", "general"}}
FIXED = {
    name: {"inputs", "out", "overwrite", *kind.recipe_keys, *DECIDED_ELSEWHERE.get(name, ())}
    for name, kind in DECLARED.items()
}
CONFIGS = {name: kind.config_class() for name, kind in DECLARED.items()}


class _RecipeLoader(yaml.SafeLoader):
    """YAML 1.2 booleans and numbers: only true/false, and no base-60. YAML 1.1 would read the key `on:`
    (dedupe's option) as True, and `--set mix.ratio=2:1` as the number 121."""


YAML_1_1 = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_RecipeLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] not in YAML_1_1]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _pattern, _first in [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^[-+]?[0-9]+$", "-+0123456789"),  # YAML 1.2's core schema: 010 is 10, not the float 10.0
    ("float", r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$",
     "-+.0123456789"),
]:  # fmt: skip
    _RecipeLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first))


def _mapping_without_duplicates(loader: _RecipeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    """A mapping whose every key is written once: YAML's last-one-wins would drop a value without a word."""
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is written twice", mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_RecipeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def _decimal_int(loader: _RecipeLoader, node: yaml.ScalarNode) -> int:
    """A plain integer is decimal (YAML 1.2): 010 is 10, where YAML 1.1 reads an octal 8."""
    text = loader.construct_scalar(node)
    try:
        return int(text, 10)
    except ValueError:  # an explicit `!!int 0x1f`
        return loader.construct_yaml_int(node)


_RecipeLoader.add_constructor("tag:yaml.org,2002:int", _decimal_int)


def _yaml(text: str):
    return yaml.load(text, Loader=_RecipeLoader)  # noqa: S506 (a SafeLoader subclass)


def _yaml_error(path: Path, err: yaml.YAMLError) -> str:
    """A YAML error as one line: where, and what (PyYAML prints 4 to 7 lines with a picture of the spot)."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    context = getattr(err, "context", None)
    return f"{path}: not valid YAML ({where}{problem}{f', {context}' if context else ''})"


@dataclass
class Recipe:
    path: Path
    data: dict

    @property
    def out(self) -> Path:
        return Path(self.data["out"])

    @property
    def sources(self) -> list[dict]:
        return self.data["sources"]


SIMPLE_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "dict": (dict,)}


def _check_types(path: Path, section: dict, stage: str, where: str) -> None:
    """Each value of a stage section has its option's type (`n: four` fails at load, naming `generate.n`)."""
    declared = {name: str(f.type) for name, f in CONFIGS[stage].option_fields().items()}
    for key, value in section.items():
        kinds = [k.strip() for k in declared.get(key, "").split("|")]
        if value is None and "None" in kinds:
            continue
        allowed: tuple = ()
        for kind in kinds:
            allowed += (list,) if kind.startswith("list") else SIMPLE_TYPES.get(kind, ())
        if not allowed:
            continue
        if isinstance(value, bool) and bool not in allowed or not isinstance(value, allowed):
            wanted = " or ".join(k for k in kinds)
            _fail(path, f"{where}.{key}", f"expected {wanted}, got {value!r}")


def allowed_options(stage: str) -> list[str]:
    return sorted(name for name in CONFIGS[stage].option_fields() if name not in FIXED[stage])


def _fail(path: Path, key: str, message: str) -> None:
    raise UsageError(f"{path}: {key}: {message}")


def _check_keys(path: Path, section: dict, allowed: set | list, where: str) -> None:
    if not isinstance(section, dict):
        _fail(path, where, f"expected a mapping, got {type(section).__name__}")
    for key in section:
        if key not in allowed:
            _fail(path, f"{where}.{key}" if where else key, f"unknown key; allowed: {', '.join(sorted(allowed))}")


def apply_overrides(data: dict, assignments: list[str], path: Path) -> dict:
    """`--set a.b.c=value` (value read as YAML; list items by index: sources.0.verifier=exact)."""
    data = copy.deepcopy(data)
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {assignment!r}: expected KEY=VALUE, e.g. generate.n=2")
        parts, target = key.split("."), data
        for part in parts[:-1]:
            if isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            elif isinstance(target, dict):
                target = target.setdefault(part, {})
            else:
                raise UsageError(f"--set {assignment!r}: {part!r} does not exist in {path}")
        last = parts[-1]
        try:
            value = _yaml(raw) if raw else None
        except yaml.YAMLError as err:
            raise UsageError(f"--set {assignment!r}: {_yaml_error(Path('the value'), err)}") from None
        if isinstance(target, list) and last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value
    return data


def stage_options(data: dict, stage: str, source: dict | None = None) -> dict:
    """A stage's options for one source: the recipe-wide section, then the source's own section; for filter
    (and generate, whose target and in-flight checks apply them) the source's verifier, rules, gold field and gold
    mode, with the category's defaults."""
    options = {**(data.get(stage) or {}), **((source or {}).get(stage) or {})}
    if source is None or stage not in ("generate", "filter"):
        return options
    checks = {k: v for k, v in stage_options(data, "filter", None).items() if k in CHECK_KEYS or k == "workers"}
    checks.update({k: v for k, v in (source.get("filter") or {}).items() if k in CHECK_KEYS or k == "workers"})
    checks["rules"] = checks.get("rules") or source.get("rules") or DEFAULT_RULES[source["category"]]
    checks.setdefault("gold_field", source.get("gold_field", "answer"))
    if source.get("gold"):  # `gold: majority`: samples vote a gold where the source has none
        checks["gold"] = source["gold"]
    checks["verifier"] = source.get("verifier") or checks.get("verifier") or DEFAULT_VERIFIER[source["category"]]
    if stage == "filter":
        return {**options, **checks}
    decides = options.get("target") is not None or options.get("stop_doomed", True)  # which samples it draws or stops
    return {**options, **checks} if decides else options


def _check_whole(path: Path, data: dict) -> None:
    """Build and validate every stage config of every source now, so `filter.keep: 0` fails at load, naming the
    recipe key, not after an hour of sampling."""
    for index, source in enumerate(data["sources"]):
        for stage in PER_SOURCE:
            options = stage_options(data, stage, source)
            config = CONFIGS[stage].build(inputs=["-"], out="-", **recipe_keys(data, stage), **options)
            _validated(path, stage, config, data, index)
    for stage in (name for name in ORDER if name not in PER_SOURCE):
        options = stage_options(data, stage)
        upstream = DECLARED[stage].fields_across_sources([(s, Path("-")) for s in data["sources"]])
        config = CONFIGS[stage].build(out="-", **upstream, **recipe_keys(data, stage), **options)
        _validated(path, stage, config, data, None)


def recipe_keys(data: dict, stage: str) -> dict:
    """The recipe's top-level keys a stage takes (generate: model, engine), as the runner passes them."""
    return {key: str(data[key]) for key in DECLARED[stage].recipe_keys if key in data}


def key_of(data: dict, stage: str, option: str | None, source_index: int | None = None) -> str:
    """Where a recipe sets a stage's option: the source's own key (`sources.0.verifier`), the source's stage
    section (`sources.0.filter.keep`), a top-level key (`model`), or the recipe-wide section (`filter.keep`)."""
    if stage == "generate" and option in CHECK_KEYS:
        stage = "filter"  # generate's checks are the filter's, written once in the filter section or the source
    source = data["sources"][source_index] if source_index is not None else {}
    where = f"sources.{source_index}" if source_index is not None else ""
    if option is None:
        return f"{where}.{stage}".lstrip(".")
    if option in source and option in SOURCE_KEYS:
        return f"{where}.{option}"
    if option in (source.get(stage) or {}):
        return f"{where}.{stage}.{option}"
    if option in DECLARED[stage].recipe_keys and option in data:
        return option
    return f"{stage}.{option}"


def _validated(path: Path, stage: str, config, data: dict, source_index: int | None) -> None:
    """`config.validate()`, its error naming the recipe key of the option it is about (errors.OptionError)."""
    try:
        config.validate()
    except UsageError as err:
        raise UsageError(f"{path}: {key_of(data, stage, getattr(err, 'option', None), source_index)}: {err}") from None


def validate(path: Path, data: dict) -> None:
    _check_keys(path, data, TOP_KEYS, "")
    for key in ("name", "out", "model"):
        if data.get(key) is not None and not isinstance(data[key], str):
            _fail(path, key, f"expected text, got {data[key]!r:.40}")
    for required in ("out", "model", "sources"):
        if required not in data or data[required] in (None, "", []):
            _fail(path, required, "missing (required)")
    if "://" in str(data["out"]):  # the run folder holds the plan's records and the report: a local folder
        _fail(path, "out", "a recipe's run folder must be local; sources' inputs may be URLs (s3://…), and each "
              "stage command (`datafactory filter … -o s3://…`) writes to a store")  # fmt: skip
    if data.get("engine", "vllm") not in ("vllm", "openai", "transformers"):
        _fail(path, "engine", f"{data['engine']!r} is not one of vllm, openai, transformers")
    for name, spec in (data.get("prompts") or {}).items():
        if name not in PROMPT_SETS:
            _fail(path, f"prompts.{name}", f"unknown prompt set; allowed: {', '.join(PROMPT_SETS)}")
        _check_keys(path, spec or {}, load(PROMPT_SETS, name, "prompt set", 1), f"prompts.{name}")
    _check_keys(path, data.get("requires") or {}, {"gpus"}, "requires")
    gpus = (data.get("requires") or {}).get("gpus", 0)
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
        _fail(path, "requires.gpus", f"expected a whole number of GPUs, got {gpus!r}")
    if not isinstance(data["sources"], list):
        _fail(path, "sources", "expected a list of sources")
    names = set()
    for index, source in enumerate(data["sources"]):
        where = f"sources.{index}"
        _check_keys(path, source, SOURCE_KEYS, where)
        for required in ("name", "category", "inputs"):
            if not source.get(required):
                _fail(path, f"{where}.{required}", "missing (required)")
        if source["category"] not in CATEGORIES:
            _fail(path, f"{where}.category", f"{source['category']!r} is not one of {', '.join(CATEGORIES)}")
        if source["name"] in names:
            _fail(path, f"{where}.name", f"{source['name']!r} is used twice")
        names.add(source["name"])
        for stage in PER_SOURCE:
            _check_keys(path, source.get(stage) or {}, allowed_options(stage), f"{where}.{stage}")
            _check_types(path, source.get(stage) or {}, stage, f"{where}.{stage}")
    for stage in ORDER:
        _check_keys(path, data.get(stage) or {}, allowed_options(stage), stage)
        _check_types(path, data.get(stage) or {}, stage, stage)
    _check_whole(path, data)


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such recipe file")
    try:
        data = _yaml(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as err:
        raise UsageError(f"{path}: not valid UTF-8 (byte {err.start}); save the recipe as UTF-8") from None
    except yaml.YAMLError as err:
        raise UsageError(_yaml_error(path, err)) from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a recipe is a mapping of sections")
    data = apply_overrides(data, overrides or [], path)
    validate(path, data)
    return Recipe(path, data)


def stage_range(start: str | None, until: str | None) -> list[str]:
    for option, value in (("--from", start), ("--until", until)):
        if value is not None and value not in STAGES:
            raise UsageError(f"{option} {value!r}: choose one of {', '.join(STAGES)}")
    first = STAGES.index(start) if start else 0
    last = STAGES.index(until) if until else len(STAGES) - 1
    if first > last:
        raise UsageError(f"--from {start} comes after --until {until}")
    return STAGES[first : last + 1]
