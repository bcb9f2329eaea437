"""Run a recipe's stages in order, per source, into one folder; finished stages are skipped, so a stopped run
resumes where it stopped.

Layout: OUT/prompts/ (built-in prompt sets), OUT/SOURCE/{samples,filtered,deduped}/, OUT/sft/ (the mix).
One inference engine is started for all sources that still need sampling.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from datafactory import frame
from datafactory.errors import DataFactoryError, UsageError
from datafactory.io.outdir import MANIFEST, SUCCESS
from datafactory.io.readers import expand_inputs
from datafactory.recipes import PROMPT_SETS, Recipe, recipe_keys, stage_options
from datafactory.registry import load
from datafactory.stages import ORDER, STAGES, StageKind, StageOutput


def _done(folder: Path) -> bool:
    return (folder / SUCCESS).exists()


def _manifest(folder: Path) -> dict:
    """A stage output's manifest as the read-side view gives it; {} where the stage has not run."""
    return StageOutput.read(folder).manifest if (folder / MANIFEST).is_file() else {}


class RecipeRun:
    """The stages of a recipe, each run the same way from its declaration in stages.STAGES: per source into
    OUT/SOURCE/FOLDER (inputs: the source's own for the first stage, else the previous stage's folder), or once
    over every source into OUT/FOLDER."""

    def __init__(self, recipe: Recipe, stages: list[str], redo: bool = False, say=print, verbose: bool = False):
        self.recipe, self.stages, self.redo, self.say, self.verbose = recipe, stages, redo, say, verbose
        self.out = recipe.out
        self.data = recipe.data

    def folder(self, source: dict, stage: str) -> Path:
        kind = STAGES[stage]
        return self.out / kind.folder if kind.across_sources else self.out / source["name"] / kind.folder

    def _inputs(self, source: dict) -> list[str]:
        inputs = source["inputs"] if isinstance(source["inputs"], list) else [source["inputs"]]
        return [str(i).format(out=self.out, prompts=self.out / "prompts") for i in inputs]

    def _upstream(self, kind: StageKind, source: dict) -> list[str]:
        """What a per-source stage reads: the previous stage's folder, or the source's inputs for the first."""
        position = ORDER.index(kind.name)
        return [str(self.folder(source, ORDER[position - 1]))] if position else self._inputs(source)

    def _skip(self, folder: Path, label: str) -> bool:
        if _done(folder) and not self.redo:
            self.say(f"{label}: already done ({folder})")
            return True
        return False

    def run(self) -> dict:
        self.preflight()
        stopped = None
        try:
            for stage in self.stages:
                if stage == "prompts":
                    self._prompts()
                elif STAGES[stage].across_sources:
                    self._across_sources(STAGES[stage])
                else:
                    self._per_source(STAGES[stage])
        except DataFactoryError as err:
            if not self._wrote_anything():
                raise
            stopped = err  # a stage with nothing to work on: the summary and report of what ran still matter
        summary = self.summary()
        summary["report"] = self._report()
        summary["stopped"] = stopped
        return summary

    def _wrote_anything(self) -> bool:
        return any(self.out.glob(f"*/*/{MANIFEST}")) or any(self.out.glob(f"*/{MANIFEST}"))

    def _report(self) -> Path | None:
        """The HTML report of every stage output of the run, rewritten at the end of each run."""
        from datafactory.report.build import build_report

        if not self._wrote_anything():
            return None
        return build_report([str(self.out)], str(self.out / "report.html"), title=f"datafactory run: {self.out}")

    def _prompts(self) -> None:
        """Prompt sets the recipe generates (registered in recipes.PROMPT_SETS), into OUT/prompts/."""
        folder = self.out / "prompts"
        for name, spec in (self.data.get("prompts") or {}).items():
            wrote = load(PROMPT_SETS, name, "prompt set")(folder, spec or {})
            self.say(f"prompts: {wrote} in {folder}")

    def _config(self, kind: StageKind, folder: Path, fields: dict, source: dict | None = None):
        """The stage's config: what the recipe decides (inputs, out, recipe-wide keys), then its section's
        options (recipes.stage_options; a section cannot set what the recipe decides)."""
        options = stage_options(self.data, kind.name, source)
        recipe_wide = recipe_keys(self.data, kind.name)
        return kind.config_class().build(out=str(folder), overwrite=self.redo, **fields, **recipe_wide, **options)

    def _per_source(self, kind: StageKind) -> None:
        todo = [s for s in self.recipe.sources if not self._skip(self.folder(s, kind.name), f"{kind.name} {s['name']}")]
        if not todo:
            return
        configs = [self._config(kind, self.folder(s, kind.name), {"inputs": self._upstream(kind, s)}, s) for s in todo]
        # a stage whose sources share something costly (generate: one engine) checks every source before it starts
        plans = [self._planned(kind, s, c) for s, c in zip(todo, configs, strict=True)] if kind.session else None
        with frame.shared(kind, configs, self.out, self.verbose) as resources:
            for index, (source, config) in enumerate(zip(todo, configs, strict=True)):
                manifest = frame.run(kind, config, plans[index] if plans else None, **resources)
                self.say(f"{kind.name} {source['name']}: {kind.summarise(manifest['counts'], config.out)}")

    def _planned(self, kind: StageKind, source: dict, config):
        """A source's check, before the shared resource starts; errors name the recipe's source."""
        try:
            return kind.plan(config)
        except UsageError as err:
            index = self.recipe.sources.index(source)
            raise UsageError(f"{self.recipe.path}: sources.{index} ({source['name']}): {err}") from None

    def _across_sources(self, kind: StageKind) -> None:
        folder = self.out / kind.folder
        if self._skip(folder, kind.name):
            return
        previous = ORDER[ORDER.index(kind.name) - 1]
        upstream = [(source, self.folder(source, previous)) for source in self.recipe.sources]
        manifest = frame.run(kind, self._config(kind, folder, kind.fields_across_sources(upstream)))
        self.say(f"{kind.name}: {kind.summarise(manifest['counts'], folder)}")

    def preflight(self) -> None:
        """What can be checked before any stage runs: every source's inputs that exist before the run (not the
        prompt sets the run writes), so a missing file fails in a second, not after the engine starts."""
        for index, source in enumerate(self.recipe.sources):
            for spec in self._inputs(source):
                if ORDER[0] not in self.stages or (self.out / "prompts") in Path(spec).parents:
                    continue
                try:
                    expand_inputs([spec])
                except UsageError as err:
                    raise UsageError(
                        f"{self.recipe.path}: sources.{index}.inputs: {err} "
                        f"(pass your own: --set sources.{index}.inputs='[your.jsonl]')"
                    ) from None

    def _tokens_to_total(self, result: dict) -> int | None:
        """Completion tokens still to generate for the mix's `total` at the yield seen so far (kept traces per
        token), or None without a total or a yield."""
        total = (self.data.get("mix") or {}).get("total")
        if not total or not result["kept"] or not result["tokens"]:
            return None
        return max(0, round((total - result["kept"]) * result["tokens"] / result["kept"]))

    def summary(self) -> dict:
        """Numbers for the final table, read from the stage manifests."""
        result = {
            "prompts": 0,
            "samples": 0,
            "budget": 0,
            "tokens": 0,
            "per_source": {},
            "kept": 0,
            "rejected": Counter(),
            "duplicates": Counter(),
            "mix": {},
            "out": None,
        }
        for source in self.recipe.sources:
            generated = _manifest(self.folder(source, "generate")).get("counts", {})
            filtered = _manifest(self.folder(source, "filter")).get("counts", {})
            deduped = _manifest(self.folder(source, "dedupe")).get("counts", {})
            result["prompts"] += generated.get("prompts", 0)
            result["samples"] += generated.get("rows_out", 0)
            result["budget"] += generated.get("sample_budget", generated.get("rows_out", 0))
            result["tokens"] += generated.get("completion_tokens", 0)
            kept = filtered.get("rows_kept", 0)
            result["per_source"][source["name"]] = {
                "tokens_per_kept_trace": round(generated.get("completion_tokens", 0) / kept, 1) if kept else None,
                "tokens_by_verdict": filtered.get("completion_tokens_by_verdict", {}),
            }
            result["kept"] += filtered.get("rows_kept", 0)
            result["rejected"].update({k: v for k, v in filtered.get("verdicts", {}).items() if k != "pass"})
            result["duplicates"].update(deduped.get("removed", {}))
        result["tokens_to_total"] = self._tokens_to_total(result)
        mixed = _manifest(self.folder({}, "mix")).get("counts", {})
        if mixed:
            result["mix"] = {c: v["taken"] for c, v in mixed.get("per_category", {}).items()}
            result["out"] = str(self.folder({}, "mix"))
        return result
