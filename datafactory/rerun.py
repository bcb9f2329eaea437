"""Which stages of a recipe run again: a finished stage is reused only when what made it is unchanged.

Why: a recipe is edited and rerun many times. Each stage's manifest records its arguments and the sha256 of every
input file; a stage reruns when an option that decides its rows changed (resources such as `workers` do not
count: options.py, `output=False`), when its inputs changed, or when a stage it reads reruns. The plan is made
before anything is written, so `run --dry-run` prints exactly what `run` will do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from datafactory.errors import DataFactoryError
from datafactory.io.outdir import MANIFEST, SUCCESS, input_digest
from datafactory.io.readers import expand_inputs
from datafactory.io.remote import fetch_input, is_url, shown

RUN, RESUME, REUSE, RERUN = "run", "resume", "reuse", "rerun"


@dataclass
class Step:
    """One stage of one source (or of every source: the mix): what the run does with it, and why."""

    stage: str
    source: str | None
    folder: Path
    config: object
    action: str
    why: str

    @property
    def label(self) -> str:
        return f"{self.stage} {self.source}" if self.source else self.stage

    @property
    def runs(self) -> bool:
        return self.action != REUSE


def _manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _shown(value) -> str:
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def changed_options(before: dict, now: dict) -> list[str]:
    """The options that decide a stage's rows and differ from its last run, as `keep: 1 → 2`."""
    return [
        f"{name}: {_shown(before.get(name))} → {_shown(value)}"
        for name, value in now.items()
        if name != "inputs" and before.get(name) != value
    ] + [f"{name}: {_shown(before[name])} → (default)" for name in before if name not in now and name != "inputs"]


def _digests(files: list[Path], twins: dict[Path, Path]) -> dict[str, str]:
    """Each input file's sha256, read from its twin where the run will rewrite it first (a prompt set)."""
    return {shown(path): input_digest(twins.get(path, path)) for path in files}


def changed_inputs(manifest: dict, inputs: list[str], twins: dict[Path, Path]) -> str | None:
    """Why the files a first stage reads differ from those its last run read, or None."""
    try:
        files = expand_inputs(inputs)
    except Exception:  # noqa: BLE001 (a missing input is the preflight's to report; here it only means 'changed')
        return "its inputs are not what they were"
    recorded = {entry["path"]: entry["sha256"] for entry in manifest.get("inputs", [])}
    now = _digests(files, twins)
    if set(now) != set(recorded):
        return "its input files are not the same files"
    edited = sorted(Path(p).name for p in now if now[p] != recorded[p])
    return f"{', '.join(edited)} changed" if edited else None


def upstream_changed(manifest: dict, upstream: list[Path]) -> str | None:
    """Why what a stage reads differs from what its last run read, or None: its recorded inputs from the upstream
    folders against those folders' manifests (an upstream rerun outside this recipe), any other recorded input (a
    benchmark file) against the file as it is now."""
    shards = sorted(entry["sha256"] for folder in upstream for entry in (_manifest(folder) or {}).get("shards", []))
    within, others = [], []
    for entry in manifest.get("inputs", []):
        inside = any(Path(entry["path"]).is_relative_to(folder) for folder in upstream)
        (within if inside else others).append(entry)
    if sorted(entry["sha256"] for entry in within) != shards:
        return f"{', '.join(str(f) for f in upstream)} changed since it ran"
    for entry in others:
        try:
            path = fetch_input(entry["path"]) if is_url(entry["path"]) else Path(entry["path"])
        except DataFactoryError:
            return f"{entry['path']} is gone"
        if not path.exists() or input_digest(path) != entry["sha256"]:
            return f"{path.name} changed"
    return None


def decide(
    step_folder: Path,
    decisive: dict,
    redo: str | None,
    reruns_upstream: list[str],
    inputs_changed,
) -> tuple[str, str]:
    """(action, why) for one stage: `redo` forces a rerun (`--from`, `--overwrite`); otherwise a finished stage
    is reused unless an option, an upstream stage or an input changed; an unfinished one resumes with the same
    options and starts over with others."""
    manifest = _manifest(step_folder)
    finished = (step_folder / SUCCESS).exists() and manifest is not None
    if redo:
        return (RERUN if finished else RUN), redo
    if manifest is None:
        return RUN, "not run yet"
    changed = changed_options(_decisive(manifest), decisive)
    if not finished:
        return (RERUN, "stopped earlier; " + "; ".join(changed)) if changed else (RESUME, "stopped earlier")
    if changed:
        return RERUN, "; ".join(changed)
    if reruns_upstream:
        return RERUN, f"{', '.join(reruns_upstream)} reruns"
    why = inputs_changed(manifest)
    return (RERUN, why) if why else (REUSE, "unchanged")


def _decisive(manifest: dict) -> dict:
    """The recorded arguments that decide rows, by the config's own declarations."""
    from datafactory.stages import STAGES

    kind = STAGES.get(manifest.get("stage"))
    arguments = manifest.get("arguments", {})
    return kind.config_class().decisive(arguments) if kind else arguments
