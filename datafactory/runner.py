"""Run a recipe's stages in order, per source, into one folder; finished stages are skipped, so a stopped run
resumes where it stopped.

Layout: OUT/prompts/ (built-in prompt sets), OUT/SOURCE/{samples,filtered,deduped}/, OUT/sft/ (the mix).
One inference engine is started for all sources that still need sampling.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from datafactory.dedupe.stage import DedupeConfig, run_dedupe
from datafactory.engine_logs import engine_output
from datafactory.errors import UsageError
from datafactory.filtering.config import FilterConfig
from datafactory.filtering.stage import run_filter
from datafactory.generate import LOCAL_ENGINES, GenerateConfig, check_generate, run_generate, start_engine
from datafactory.io.outdir import MANIFEST
from datafactory.io.readers import expand_inputs
from datafactory.memory import use_small_pages
from datafactory.mix.stage import MixConfig, run_mix
from datafactory.recipes import PROMPT_SETS, Recipe, stage_options
from datafactory.registry import load
from datafactory.stages import StageOutput


def _done(folder: Path) -> bool:
    return (folder / "_SUCCESS").exists()


def _manifest(folder: Path) -> dict:
    """A stage output's manifest as the read-side view gives it; {} where the stage has not run."""
    return StageOutput.read(folder).manifest if (folder / MANIFEST).is_file() else {}


class RecipeRun:
    def __init__(self, recipe: Recipe, stages: list[str], redo: bool = False, say=print, verbose: bool = False):
        self.recipe, self.stages, self.redo, self.say, self.verbose = recipe, stages, redo, say, verbose
        self.out = recipe.out
        self.data = recipe.data

    def folder(self, source: dict, stage: str) -> Path:
        return self.out / source["name"] / {"generate": "samples", "filter": "filtered", "dedupe": "deduped"}[stage]

    def _inputs(self, source: dict) -> list[str]:
        inputs = source["inputs"] if isinstance(source["inputs"], list) else [source["inputs"]]
        return [str(i).format(out=self.out, prompts=self.out / "prompts") for i in inputs]

    def _options(self, stage: str, source: dict | None = None) -> dict:
        return stage_options(self.data, stage, source)

    def _skip(self, folder: Path, label: str) -> bool:
        if _done(folder) and not self.redo:
            self.say(f"{label}: already done ({folder})")
            return True
        return False

    def run(self) -> dict:
        self.preflight()
        for stage in self.stages:
            getattr(self, f"_{stage}")()
        summary = self.summary()
        summary["report"] = self._report()
        return summary

    def _report(self) -> Path | None:
        """The HTML report of every stage output of the run, rewritten at the end of each run."""
        from datafactory.report.build import build_report

        if not any(self.out.glob("*/*/_manifest.json")) and not any(self.out.glob("*/_manifest.json")):
            return None
        return build_report([str(self.out)], str(self.out / "report.html"), title=f"datafactory run: {self.out}")

    def _prompts(self) -> None:
        """Prompt sets the recipe generates (registered in recipes.PROMPT_SETS), into OUT/prompts/."""
        folder = self.out / "prompts"
        for name, spec in (self.data.get("prompts") or {}).items():
            wrote = load(PROMPT_SETS, name, "prompt set")(folder, spec or {})
            self.say(f"prompts: {wrote} in {folder}")

    def _generate(self) -> None:
        todo = [s for s in self.recipe.sources if not self._skip(self.folder(s, "generate"), f"generate {s['name']}")]
        if not todo:
            return
        configs = [
            GenerateConfig(
                inputs=self._inputs(s),
                out=str(self.folder(s, "generate")),
                model=str(self.data["model"]),
                engine=self.data.get("engine", "vllm"),
                overwrite=self.redo,
                **self._options("generate", s),
            )  # fmt: skip
            for s in todo
        ]
        checked = [self._checked(source, config) for source, config in zip(todo, configs, strict=True)]
        first = configs[0]
        with engine_output(self.out if first.engine in LOCAL_ENGINES else None, self.verbose) as log:
            engine = start_engine(first, log)
            try:
                for source, config, check in zip(todo, configs, checked, strict=True):
                    counts = run_generate(config, engine=engine, checked=check)["counts"]
                    self.say(f"generate {source['name']}: {counts['prompts']} prompts -> {counts['rows_out']} samples")
            finally:
                engine.close()

    def _checked(self, source: dict, config: GenerateConfig):
        """Every input file and row of a source, checked before the engine starts; errors name the recipe key."""
        try:
            return check_generate(config)
        except UsageError as err:
            index = self.recipe.sources.index(source)
            raise UsageError(f"{self.recipe.path}: sources.{index} ({source['name']}): {err}") from None

    def preflight(self) -> None:
        """What can be checked before any stage runs: every source's inputs that exist before the run (not the
        prompt sets the run writes), so a missing file fails in a second, not after the engine starts."""
        for index, source in enumerate(self.recipe.sources):
            for spec in self._inputs(source):
                if "generate" not in self.stages or (self.out / "prompts") in Path(spec).parents:
                    continue
                try:
                    expand_inputs([spec])
                except UsageError as err:
                    raise UsageError(
                        f"{self.recipe.path}: sources.{index}.inputs: {err} "
                        f"(pass your own: --set sources.{index}.inputs='[your.jsonl]')"
                    ) from None

    def _filter(self) -> None:
        for source in self.recipe.sources:
            folder = self.folder(source, "filter")
            if self._skip(folder, f"filter {source['name']}"):
                continue
            config = FilterConfig(
                inputs=[str(self.folder(source, "generate"))],
                out=str(folder),
                overwrite=self.redo,
                **self._options("filter", source),
            )
            counts = run_filter(config)["counts"]
            suspects = (counts.get("gold") or {}).get("suspect_gold", 0)
            review = (
                f"; {suspects} suspect golds to review (report, or `datafactory stats {folder}`)" if suspects else ""
            )
            self.say(f"filter {source['name']}: {counts['rows_in']} rows -> {counts['rows_kept']} kept{review}")

    def _dedupe(self) -> None:
        use_small_pages()  # as `datafactory dedupe` and `mix` do; generation and the judge are over by now
        for source in self.recipe.sources:
            folder = self.folder(source, "dedupe")
            if self._skip(folder, f"dedupe {source['name']}"):
                continue
            config = DedupeConfig(
                inputs=[str(self.folder(source, "filter"))],
                out=str(folder),
                overwrite=self.redo,
                **self._options("dedupe", source),
            )
            counts = run_dedupe(config)["counts"]
            self.say(f"dedupe {source['name']}: {counts['rows_in']} rows -> {counts['rows_kept']} kept")

    def _mix(self) -> None:
        folder = self.out / "sft"
        if self._skip(folder, "mix"):
            return
        specs: dict[str, list[str]] = {"reasoning": [], "general": []}
        for source in self.recipe.sources:
            weight = f":{source['weight']}" if source.get("weight") else ""
            specs[source["category"]].append(f"{self.folder(source, 'dedupe')}{weight}@{source['name']}")
        config = MixConfig(
            reasoning=specs["reasoning"],
            general=specs["general"],
            out=str(folder),
            overwrite=self.redo,
            **self._options("mix"),
        )
        use_small_pages()
        counts = run_mix(config)["counts"]
        self.say(f"mix: {counts['rows_out']} rows in {folder}")

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
        mixed = _manifest(self.out / "sft").get("counts", {})
        if mixed:
            result["mix"] = {c: v["taken"] for c, v in mixed.get("per_category", {}).items()}
            result["out"] = str(self.out / "sft")
        return result
