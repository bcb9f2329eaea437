"""Run a recipe's stages in order, per source, into one folder. A finished stage is reused while what made it is
unchanged (rerun.py), so an edited recipe reruns what the edit touched and a stopped run resumes where it stopped.

Layout: OUT/prompts/ (built-in prompt sets), OUT/SOURCE/{samples,filtered,deduped}/, OUT/sft/ (the mix).
One inference engine is started for all sources that still need sampling.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from datafactory import frame
from datafactory.errors import DataFactoryError, UsageError
from datafactory.io.outdir import MANIFEST
from datafactory.io.readers import expand_inputs
from datafactory.preflight import check_requires, check_steps, check_writable
from datafactory.recipes import PROMPT_SETS, Recipe, recipe_keys, stage_options
from datafactory.registry import load
from datafactory.rerun import RERUN, Step, changed_inputs, decide, upstream_changed
from datafactory.stages import ORDER, STAGES, StageKind, StageOutput


def _manifest(folder: Path) -> dict:
    """A stage output's manifest as the read-side view gives it; {} where the stage has not run."""
    return StageOutput.read(folder).manifest if (folder / MANIFEST).is_file() else {}


class RecipeRun:
    """The stages of a recipe, each run the same way from its declaration in stages.STAGES: per source into
    OUT/SOURCE/FOLDER (inputs: the source's own for the first stage, else the previous stage's folder), or once
    over every source into OUT/FOLDER."""

    def __init__(self, recipe: Recipe, stages: list[str], redo: str | None = None, say=print, verbose: bool = False):
        """`redo`: why every stage in `stages` runs again whatever changed (`--from filter`, `--overwrite`)."""
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

    def run(self, dry_run: bool = False) -> dict | None:
        """Check what can be checked (preflight.py), say which stages run and why, then run them (`dry_run`: stop
        after saying)."""
        check_requires(self.recipe.path, self.data)
        self.preflight()
        check_writable(self.recipe.path, self.out)
        steps = self.plan()
        check_steps(self.recipe.path, self.data, steps)
        for step in steps:
            self.say(f"{step.label}: {step.action} ({step.why})")
            if dry_run and step.stage == "generate" and step.runs:
                self.say(f"  {self._forecast(step)}")
        if dry_run:
            return None
        stopped = None
        try:
            if "prompts" in self.stages:
                self._prompts(self.out / "prompts")
            for stage in ORDER:
                todo = [step for step in steps if step.stage == stage and step.runs]
                if todo:
                    self._run_steps(STAGES[stage], todo)
        except DataFactoryError as err:
            if not self._wrote_anything():
                raise
            stopped = err  # a stage with nothing to work on: the summary and report of what ran still matter
        summary = self.summary()
        summary["report"] = self._report()
        summary["stopped"] = stopped
        return summary

    def plan(self) -> list[Step]:
        """What each stage in range does, decided before anything is written: prompt sets the run rewrites are
        rendered into a scratch folder first, so their files compare as they will be."""
        with tempfile.TemporaryDirectory(prefix="datafactory-plan-") as scratch:
            twins = self._prompt_twins(Path(scratch)) if "prompts" in self.stages else {}
            steps: list[Step] = []
            for stage in ORDER:
                if stage not in self.stages:
                    continue
                kind = STAGES[stage]
                if kind.across_sources:
                    steps.append(self._plan_across(kind, steps))
                else:
                    steps.extend(self._plan_source(kind, source, steps, twins) for source in self.recipe.sources)
            return steps

    def _prompt_twins(self, scratch: Path) -> dict[Path, Path]:
        """{file the prompts step will write: the same file rendered into `scratch`}."""
        self._prompts(scratch, quiet=True)
        return {self.out / "prompts" / p.relative_to(scratch): p for p in scratch.rglob("*") if p.is_file()}

    def _plan_source(self, kind: StageKind, source: dict, earlier: list[Step], twins: dict) -> Step:
        folder = self.folder(source, kind.name)
        config = self._config(kind, folder, {"inputs": self._upstream(kind, source)}, source)
        position = ORDER.index(kind.name)
        if position:
            previous = ORDER[position - 1]
            reruns = [s.label for s in earlier if s.stage == previous and s.source == source["name"] and s.runs]
            upstream = [self.folder(source, previous)]
            action, why = decide(folder, config.decisive_arguments(), self.redo, reruns,
                                 lambda manifest: upstream_changed(manifest, upstream))  # fmt: skip
        else:
            action, why = decide(folder, config.decisive_arguments(), self.redo, [],
                                 lambda manifest: changed_inputs(manifest, config.inputs, twins))  # fmt: skip
        config.overwrite = action == RERUN
        return Step(kind.name, source["name"], folder, config, action, why)

    def _plan_across(self, kind: StageKind, earlier: list[Step]) -> Step:
        folder = self.out / kind.folder
        previous = ORDER[ORDER.index(kind.name) - 1]
        upstream = [(source, self.folder(source, previous)) for source in self.recipe.sources]
        config = self._config(kind, folder, kind.fields_across_sources(upstream))
        reruns = [s.label for s in earlier if s.stage == previous and s.runs]
        folders = [f for _, f in upstream]
        action, why = decide(folder, config.decisive_arguments(), self.redo, reruns,
                             lambda manifest: upstream_changed(manifest, folders))  # fmt: skip
        config.overwrite = action == RERUN
        return Step(kind.name, None, folder, config, action, why)

    def _forecast(self, step: Step) -> str:
        """What the step's generate will cost, from the earlier run in its folder (generate/forecast.py)."""
        from datafactory.generate.forecast import from_earlier_run
        from datafactory.generate.stage import check_generate

        try:
            prompts = check_generate(step.config).scan.prompts
        except DataFactoryError:  # inputs an earlier step of this run writes: counted once they exist
            return "no forecast: its prompts are not written yet"
        return from_earlier_run(step.folder, step.config, prompts)

    def _wrote_anything(self) -> bool:
        return any(self.out.glob(f"*/*/{MANIFEST}")) or any(self.out.glob(f"*/{MANIFEST}"))

    def _report(self) -> Path | None:
        """The HTML report of every stage output of the run, rewritten at the end of each run."""
        from datafactory.report.build import build_report

        if not self._wrote_anything():
            return None
        return build_report([str(self.out)], str(self.out / "report.html"), title=f"datafactory run: {self.out}")

    def _prompts(self, folder: Path, quiet: bool = False) -> None:
        """Prompt sets the recipe generates (registered in recipes.PROMPT_SETS), into `folder` (OUT/prompts/)."""
        for name, spec in (self.data.get("prompts") or {}).items():
            wrote = load(PROMPT_SETS, name, "prompt set")(folder, spec or {})
            if not quiet:
                self.say(f"prompts: {wrote} in {folder}")

    def _config(self, kind: StageKind, folder: Path, fields: dict, source: dict | None = None):
        """The stage's config: what the recipe decides (inputs, out, recipe-wide keys), then its section's
        options (recipes.stage_options; a section cannot set what the recipe decides)."""
        options = stage_options(self.data, kind.name, source)
        recipe_wide = recipe_keys(self.data, kind.name)
        return kind.config_class().build(out=str(folder), **fields, **recipe_wide, **options)

    def _run_steps(self, kind: StageKind, steps: list[Step]) -> None:
        """The steps of one stage that run; a stage whose sources share something costly (generate: one engine)
        checks every source before it starts."""
        sources = {source["name"]: source for source in self.recipe.sources}
        plans = [self._planned(kind, sources.get(s.source), s.config) for s in steps] if kind.session else None
        with frame.shared(kind, [s.config for s in steps], self.out, self.verbose) as resources:
            for index, step in enumerate(steps):
                manifest = frame.run(kind, step.config, plans[index] if plans else None, **resources)
                self.say(f"{step.label}: {kind.summarise(manifest['counts'], step.folder)}")

    def _planned(self, kind: StageKind, source: dict | None, config):
        """A source's check, before the shared resource starts; errors name the recipe's source."""
        try:
            return kind.plan(config)
        except UsageError as err:
            if source is None:
                raise
            index = self.recipe.sources.index(source)
            raise UsageError(f"{self.recipe.path}: sources.{index} ({source['name']}): {err}") from None

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
