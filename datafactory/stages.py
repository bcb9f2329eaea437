"""The stages, declared once: each stage's name, its config and run function, what it writes beside its shards,
and where its set-aside rows go; and a read-side view of a finished stage's folder.

Why a table: recipes, the runner, `stats` and `report` all need to know what the stages are and what their
folders hold; each used to keep its own list. Adding a stage is its module plus one entry here (see
docs/architecture.md). Entries name their code as "module:attribute" so nothing is imported until used, and `io/`
receives the file names from here instead of knowing any stage's files itself.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from datafactory.io.outdir import MANIFEST, OutputDir
from datafactory.io.writer import SHARD_PATTERN
from datafactory.registry import load


@dataclass(kw_only=True)
class StageOptions:
    """The options every stage has, declared once (their flags: cli/options.py)."""

    executor: str = "local"  # local, or ray: where the stage's parallel work runs
    ray_address: str | None = None
    overwrite: bool = False  # replace a finished output

    def check_stage_options(self) -> None:
        from datafactory.scale.runtime import check_executor

        check_executor(self.executor)

    def arguments(self) -> dict:
        """The options as the manifest records them (and a resume compares them): inputs as strings."""
        recorded = asdict(self)
        if "inputs" in recorded:
            recorded["inputs"] = [str(p) for p in recorded["inputs"]]
        return recorded

    # Where a stage's parallel work runs is decided by these three methods alone (`--executor`): no stage
    # imports scale/ itself.
    def tasks(self, local=None):
        """Where the stage's independent tasks run: Ray tasks with `--executor ray`, else `local()` (a thread
        pool, say), or None to run them inline."""
        if self.executor == "ray":
            from datafactory.scale.runtime import RayExecutor

            return RayExecutor(self.ray_address)
        return local() if local else None

    def verifier_pool(self, spec, workers: int, timeout: float):
        """The verifier workers (filter): the local forkserver pool, or the same evaluators as Ray actors."""
        if self.executor == "ray":
            from datafactory.scale.ray_filter import RayFilterPool

            return RayFilterPool(spec, workers, timeout, self.ray_address)
        from datafactory.filtering.pool import WorkerPool

        return WorkerPool(spec, workers, timeout)

    def inference_engine(self, name: str, settings, seed: int, replicas: int = 1):
        """The inference engine (generate): one here, or `replicas` of it as Ray actors."""
        if self.executor == "ray":
            from datafactory.scale.ray_generate import RayReplicaEngine

            return RayReplicaEngine(name, settings, seed, replicas, self.ray_address)
        from datafactory.engines.base import engine_class

        return engine_class(name)(settings, seed=seed)


@dataclass(kw_only=True)
class ReadsStages(StageOptions):
    """The options of a stage that reads other stages' outputs."""

    allow_unfinished: bool = False  # read a stage output without _SUCCESS

    def input_files(self) -> list[Path]:
        """The files behind `inputs` (folders, globs, files), refusing a stage output without _SUCCESS unless
        `--allow-unfinished`."""
        from datafactory.io.readers import expand_inputs, require_finished

        require_finished(self.inputs, self.allow_unfinished)
        return expand_inputs(self.inputs)


@dataclass(frozen=True)
class StageKind:
    name: str
    config: str  # "module:ConfigClass": the options, from the CLI and recipe sections alike
    run: str  # "module:function": config -> manifest
    rows: str  # what its shards hold, as the report names them
    group_by: str  # the column the report groups its rows by in the sample browser
    set_aside: str | None = None  # the sub-folder of rows it set aside with their reasons (rejected/, removed/)
    files: tuple[str, ...] = ()  # files it writes beside its shards, besides _manifest.json and _SUCCESS
    folders: tuple[str, ...] = ()  # sub-folders it owns (set-aside rows, work in progress)

    def output_dir(self, path: str | Path) -> OutputDir:
        """Its OUT folder, knowing exactly which files and folders there are the stage's own."""
        return OutputDir(path, self.name, files=self.files, folders=self.folders)

    def open(self, config: StageOptions, inputs: list[Path], resume_keys=(), work: str | None = None):
        """Its OUT folder for `config`, checked (fresh, resumable or refused; see OutputDir.check), and the
        arguments its manifest records: what every stage does before it prepares the folder."""
        outdir, arguments = self.output_dir(config.out), config.arguments()
        outdir.check(arguments, config.overwrite, inputs, list(resume_keys), work=work)
        return outdir, arguments

    def config_class(self) -> type:
        return load({self.name: self.config}, self.name, "stage")

    def runner(self):
        return load({self.name: self.run}, self.name, "stage")


STAGES = {
    stage.name: stage
    for stage in (
        StageKind(
            "generate",
            "datafactory.generate:GenerateConfig",
            "datafactory.generate:run_generate",
            "samples",
            "finish_reason",
        ),  # fmt: skip
        StageKind(
            "filter",
            "datafactory.filtering.config:FilterConfig",
            "datafactory.filtering.stage:run_filter",
            "kept",
            "verdict",
            set_aside="rejected",
            files=("pass_rates.parquet",),
            folders=("rejected", "_work"),
        ),
        StageKind(
            "dedupe",
            "datafactory.dedupe.stage:DedupeConfig",
            "datafactory.dedupe.stage:run_dedupe",
            "kept",
            "dedupe_reason",
            set_aside="removed",
            folders=("removed",),
        ),
        StageKind(
            "mix",
            "datafactory.mix.stage:MixConfig",
            "datafactory.mix.stage:run_mix",
            "rows",
            "category",
            files=("bad_rows.jsonl",),
            folders=("_work",),
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
        return sorted(self.path.glob(SHARD_PATTERN))

    def set_aside_shards(self) -> list[Path]:
        if self.kind is None or self.kind.set_aside is None:
            return []
        return sorted((self.path / self.kind.set_aside).glob(SHARD_PATTERN))
