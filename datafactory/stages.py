"""The stage contract: each stage declared once (its config, the check it runs before its output folder is
touched, its work, what its folder holds), the options every stage has, the executor's interface, and a
read-side view of a finished stage's folder. The frame that runs a stage is frame.py.

Why one declaration: inputs, the output folder (check, prepare, finish, manifest, clean-up after a failure) and
the executor are the same for every stage; a stage that wrote them itself would get one of them subtly wrong.
Every stage imports this module, so it reaches neither Ray nor the verifier pool (tests/test_stages.py).
Recipes, the runner, `stats` and `report` read the same table, so adding a stage is its module plus one entry
here (see docs/architecture.md). Entries name their code as "module:attribute" so nothing is imported until
used, and `io/` receives the file names from here instead of knowing any stage's files itself.
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import Field, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from datafactory.errors import OptionError
from datafactory.io.outdir import MANIFEST, OutputDir
from datafactory.io.writer import SHARD_PATTERN
from datafactory.options import check_choices, option
from datafactory.registry import load


class Executor(Protocol):
    """Where a stage's parallel work runs (`--executor`), chosen by the frame (frame.py) and handed to the stage's
    work; the implementation is `scale/executor.py`, the only code that reaches Ray."""

    def tasks(self, local=None): ...  # Ray tasks, else `local()` (a thread pool, say), or None to run inline

    def verifier_pool(self, spec, workers: int, timeout: float): ...  # the filter's checks: local or Ray actors

    # one engine, or replicas (leaving `checkers` CPUs for the checks of `generate --target`)
    def inference_engine(self, name: str, settings, seed: int, replicas: int = 1, checkers: int = 0): ...


EXECUTORS = ("local", "ray")


def nested(options: type, prefix: str):
    """A config field holding an options object (the judge's): its fields are options named `prefix` + field on
    the command line, in recipes and in the manifest (`judge.model` is `--judge-model`, `judge_model`)."""
    return field(default_factory=options, metadata={"prefix": prefix})


@dataclass(kw_only=True)
class StageOptions:
    """The options every stage has, declared once (each with its flag, help and panel: options.py)."""

    executor: str = option(
        "local",
        help="Where parallel work runs: this machine, or a Ray cluster (pip install 'datafactory[ray]').",
        panel="Scale",
        choices=EXECUTORS,
        output=False,
    )
    ray_address: str | None = option(
        None,
        help="--executor ray: the cluster's address, or auto; default: start a local Ray.",
        panel="Scale",
        output=False,
    )
    overwrite: bool = option(False, help="Replace a finished output instead of refusing.", panel="Output", output=False)

    def check_stage_options(self) -> None:
        specs = self.option_fields()
        values = self.arguments()
        wrong = check_choices(values, specs)
        if wrong:
            raise OptionError(*wrong)
        if self.executor == "ray" and importlib.util.find_spec("ray") is None:
            raise OptionError("executor", "--executor ray needs Ray: pip install 'datafactory[ray]'")
        for name, value in values.items():  # one check for every number option of every stage
            if isinstance(value, float) and not math.isfinite(value):
                raise OptionError(name, f"--{name.replace('_', '-')} {value}: expected a finite number")

    def resume_keys(self) -> list[str]:
        """The options a stopped run must share with its resume: those declared `resume` (none: the stage
        restarts instead)."""
        return [name for name, spec in self.option_fields().items() if spec.metadata.get("resume")]

    @classmethod
    def decisive(cls, arguments: dict) -> dict:
        """Of recorded arguments, those that decide the stage's rows: not `out`, not resources (`output=False`);
        one this version does not declare counts (a recipe then reruns the stage rather than trust it)."""
        specs = cls.option_fields()
        return {k: v for k, v in arguments.items() if k != "out" and (k not in specs or specs[k].metadata["output"])}

    def check_resources(self) -> None:
        """What the stage will use from outside (a model, a server, a file an option names) is there: checked
        before anything is written, by the frame and by a recipe before its first stage. None by default."""

    def decisive_arguments(self) -> dict:
        return self.decisive(self.arguments())

    @classmethod
    def option_fields(cls) -> dict[str, Field]:
        """Every option by its flat name (its recipe key; its flag is --name): a nested options object's fields
        under its prefix."""
        flat: dict[str, Field] = {}
        for spec in fields(cls):
            prefix = spec.metadata.get("prefix")
            if prefix is None:
                flat[spec.name] = spec
            else:
                flat.update({prefix + inner.name: inner for inner in fields(spec.default_factory)})
        return flat

    @classmethod
    def build(cls, **options):
        """The config from flat options (recipe keys; `judge_model` goes to `judge.model`)."""
        for spec in fields(cls):
            prefix = spec.metadata.get("prefix")
            if prefix is not None:
                mine = {key: options.pop(key) for key in [k for k in options if k.startswith(prefix)]}
                options[spec.name] = spec.default_factory(**{k[len(prefix) :]: v for k, v in mine.items()})
        return cls(**options)

    def arguments(self) -> dict:
        """The options as the manifest records them (and a resume compares them), by their flat names: inputs as
        strings."""
        recorded = {}
        for name, value in asdict(self).items():
            prefix = self.__dataclass_fields__[name].metadata.get("prefix")
            recorded.update({prefix + k: v for k, v in value.items()} if prefix is not None else {name: value})
        if "inputs" in recorded:
            recorded["inputs"] = [str(p) for p in recorded["inputs"]]
        return recorded


@dataclass(kw_only=True)
class ReadsStages(StageOptions):
    """The options of a stage that reads other stages' outputs."""

    allow_unfinished: bool = option(
        False, help="Read a stage output that never finished (a stopped run) as it is.", panel="Input", output=False
    )

    def input_files(self) -> list[Path]:
        """The files behind `inputs` (folders, globs, files), refusing a stage output that never finished unless
        `--allow-unfinished`."""
        from datafactory.io.readers import expand_inputs, require_finished

        require_finished(self.inputs, self.allow_unfinished)
        return expand_inputs(self.inputs)


@dataclass
class Plan:
    """What a stage's check found, before its output folder is touched: the input files (fingerprinted for a
    resume) and whatever its work needs next (a stage subclasses this)."""

    inputs: list[Path]

    def recorded_inputs(self) -> list[Path]:
        """The inputs the manifest lists with their sha256 (dedupe adds its benchmark files)."""
        return self.inputs


@dataclass
class Result:
    """What a stage's work returns to the frame: its counts, further manifest fields, and the sha256 of files it
    already hashed (path -> digest, so finishing does not read them again)."""

    counts: dict
    manifest: dict[str, Any] = field(default_factory=dict)
    digests: dict | None = None


@dataclass(frozen=True)
class StageKind:
    name: str
    config: str  # "module:ConfigClass": the options, from the CLI and recipe sections alike
    check: str  # "module:function": config -> Plan, everything that can fail before OUT is touched
    work: str  # "module:function": (config, plan, outdir, executor, **resources) -> Result
    rows: str  # what its shards hold, as the report names them
    group_by: str  # the column the report groups its rows by in the sample browser
    set_aside: str | None = None  # the hidden sub-folder of rows it set aside with their reasons (.rejected/)
    files: tuple[str, ...] = ()  # files it writes beside its shards, besides .datafactory/
    folders: tuple[str, ...] = ()  # sub-folders it owns (set-aside rows, work in progress), hidden from readers
    data: str = ""  # the sub-folder its shards go in: "" for OUT itself
    restarts: bool = False  # a stopped run starts over rather than resuming (fast, or it cannot resume)
    resumes_from: str | None = None  # a sub-folder whose content alone makes a stopped run resumable
    small_pages: bool = False  # transparent huge pages off while it runs (memory.py: Arrow-heavy stages)
    # In a recipe (runner.py): its folder, OUT/SOURCE/FOLDER per source or OUT/FOLDER for a stage that runs once
    # over every source; the recipe's top-level keys it takes; for a stage across sources, "module:function"
    # turning [(source, previous stage's folder)] into config fields; "module:function" (configs, out, verbose)
    # -> a context manager of resources its sources share (generate: one engine); "module:function"
    # (counts, folder) -> its line in the run's output.
    folder: str = ""
    recipe_keys: tuple[str, ...] = ()
    across_sources: str | None = None
    session: str | None = None
    summary: str | None = None

    def output_dir(self, path: str | Path) -> OutputDir:
        """Its OUT folder, knowing exactly which files and folders there are the stage's own."""
        return OutputDir(path, self.name, files=self.files, folders=self.folders, data=self.data)

    def config_class(self) -> type:
        return self.load(self.config)

    def plan(self, config) -> Plan:
        """Validate the config and run the stage's check: what can fail fails here, before OUT is touched."""
        config.validate()
        config.check_resources()
        return self.load(self.check)(config)

    def fields_across_sources(self, upstream: list[tuple[dict, Path]]) -> dict:
        """A stage across sources: its config fields for [(recipe source, its previous stage's folder)]."""
        return self.load(self.across_sources)(upstream)

    def summarise(self, counts: dict, folder: str | Path) -> str:
        if self.summary:
            return self.load(self.summary)(counts, folder)
        return f"{counts['rows_in']} rows -> {counts['rows_kept']} kept"

    def load(self, spec: str):
        return load({self.name: spec}, self.name, "stage")


PASS_RATES = ".pass_rates/pass_rates.parquet"  # the filter's per-prompt pass rates, beside its rows

STAGES = {
    stage.name: stage
    for stage in (
        StageKind(
            "generate",
            "datafactory.generate.config:GenerateConfig",
            "datafactory.generate.stage:check_generate",
            "datafactory.generate.stage:sample",
            "samples",
            "finish_reason",
            folder="samples",
            recipe_keys=("model", "engine"),
            session="datafactory.generate.stage:shared_engine",
            summary="datafactory.generate.stage:summary",
        ),
        StageKind(
            "filter",
            "datafactory.filtering.config:FilterConfig",
            "datafactory.filtering.stage:check_filter",
            "datafactory.filtering.stage:filter_rows",
            "kept",
            "verdict",
            set_aside=".rejected",
            folders=(".rejected", ".pass_rates", ".work"),
            resumes_from=".work",
            folder="filtered",
            summary="datafactory.filtering.stage:summary",
        ),
        StageKind(
            "dedupe",
            "datafactory.dedupe.stage:DedupeConfig",
            "datafactory.dedupe.stage:check_dedupe",
            "datafactory.dedupe.stage:remove_duplicates",
            "kept",
            "dedupe_reason",
            set_aside=".removed",
            folders=(".removed",),
            restarts=True,
            small_pages=True,
            folder="deduped",
        ),
        StageKind(
            "mix",
            "datafactory.mix.stage:MixConfig",
            "datafactory.mix.stage:check_mix",
            "datafactory.mix.stage:mix_sources",
            "rows",
            "category",
            files=("bad_rows.jsonl", "README.md", "dataset_info.json"),
            folders=(".work",),
            data="data",  # beside its card, as a Hugging Face dataset repository holds them
            restarts=True,  # fast and deterministic
            small_pages=True,
            folder="sft",
            across_sources="datafactory.mix.stage:recipe_sources",
            summary="datafactory.mix.stage:summary",
        ),
    )
}
ORDER = list(STAGES)  # the order a recipe runs them in


@dataclass
class StageOutput:
    """A stage's output folder as readers see it: its manifest, its shards and its set-aside shards."""

    path: Path
    manifest: dict
    kind: StageKind | None  # None: a folder written by a stage this version does not know

    @classmethod
    def read(cls, path: str | Path) -> StageOutput:
        path = Path(path)
        manifest = json.loads((path / MANIFEST).read_text())
        return cls(path, manifest, STAGES.get(manifest.get("stage")))

    @property
    def stage(self) -> str:
        return self.manifest.get("stage", "unknown")

    @property
    def counts(self) -> dict:
        return self.manifest.get("counts", {})

    def shards(self) -> list[Path]:
        data = self.path / self.kind.data if self.kind is not None and self.kind.data else self.path
        return sorted(data.glob(SHARD_PATTERN))

    def set_aside_shards(self) -> list[Path]:
        if self.kind is None or self.kind.set_aside is None:
            return []
        return sorted((self.path / self.kind.set_aside).glob(SHARD_PATTERN))
