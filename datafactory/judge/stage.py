"""The judge pass of `filter`: rows the workers left `undecided` are judged in batches through an engine.

Why a pass after the workers: a judge is a model, started once and fed large batches, not a function each worker
process can call. It runs over each evaluated input file in `OUT/.work/`, replaces the file atomically and
leaves a marker, so a resumed run neither loses nor repeats judgements (the reply cache covers the rest).

Which rows are judged: with `--verifier judge`, every row no rule rejected; with `--verifier math,judge`, the
rows the first verifier could not decide (`undecided`, `no_answer`), or with `--judge-scope all` every row no
rule rejected, the first verifier's verdict standing where it decided (the judge's is kept beside it, for the
agreement `stats` reports).
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from datafactory.engines.base import EngineOptions, Request, Sampling, engine_class
from datafactory.judge.cache import JudgeCache, cache_key
from datafactory.judge.templates import render, template_text, template_variables
from datafactory.judge.verdicts import parse_verdict
from datafactory.progress import StageProgress
from datafactory.reasons import OPEN_REASONS
from datafactory.rules.checks import RULES

BATCH = 256


def template_needs_gold(config) -> bool:
    """Whether the chosen template reads `gold` (the default template is chosen by whether there is one)."""
    return bool(config.judge.template) and "gold" in template_variables(config.judge.template)


def resolve_template(config, has_gold: bool) -> str:
    return config.judge.template or ("correctness" if has_gold else "helpful_harmless")


def problem_of(messages) -> str:
    """The last user message of the prompt the sample answered."""
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


class JudgePass:
    """Judges evaluated files in place; the engine starts only when a reply is missing from the cache."""

    def __init__(self, config, template: str, engine=None):
        self.config, self.template = config, template
        self.template_text = template_text(template)
        self.cache = JudgeCache(config.judge.cache)
        self.engine, self.owned = engine, engine is None
        self.requests_sent = 0

    def _engine(self):
        if self.engine is None:
            from datafactory.engines.local_model import resolve_model

            config = self.config
            model = resolve_model(config.judge.model) if config.judge.engine != "openai" else config.judge.model
            options = EngineOptions(model=model, base_url=config.judge.base_url, api_key_env=config.judge.api_key_env)
            self.engine = engine_class(config.judge.engine)(options, seed=0)
        return self.engine

    def close(self) -> None:
        if self.owned and self.engine is not None:
            self.engine.close()
        self.cache.close()

    def judge_file(self, path: Path) -> None:
        marker = path.with_name(path.name + ".judged")
        if marker.exists():
            return
        table = pq.read_table(path)
        rows = table.to_pylist()
        chosen = [i for i, row in enumerate(rows) if self._to_judge(row)]
        replies = self.replies([self._prompt(rows[i]) for i in chosen])
        for index, reply in zip(chosen, replies, strict=True):
            self._apply(rows[index], reply)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), tmp, compression="zstd")
        os.replace(tmp, path)
        marker.touch()

    def _to_judge(self, row: dict) -> bool:
        reasons = row["reasons"] or []
        if any(reason in RULES for reason in reasons):
            return False  # a rule already rejected it: no judgement can keep it
        if self.config.judge.scope == "all" or self.config.worker_verifier == "judge":
            return True
        return any(reason in OPEN_REASONS for reason in reasons)

    def _prompt(self, row: dict) -> str:
        gold = row.get(self.config.gold_field)
        if self.config.worker_verifier == "math":  # the answer math compared against (a GSM8K gold's #### part)
            from datafactory.verifiers.math import normalise_gold

            gold = normalise_gold(gold)
        return render(
            self.template,
            problem=problem_of(row.get("messages")),
            gold=None if gold is None else str(gold),
            response=row.get("response"),
            reasoning=row.get("reasoning"),
            completion=row.get("completion"),
        )

    def replies(self, prompts: list[str], label: str = "filter: judge", template: str | None = None) -> list[str]:
        """The judge's reply to each prompt, from the cache or the engine (started on the first miss); `template`:
        the text of the template the prompts were rendered from, when not the pass's own (the cache key holds it)."""
        config = self.config
        text = template or self.template_text
        keys = [cache_key(config.judge.model, text, p, config.judge.max_tokens) for p in prompts]
        known = self.cache.get_many(keys)
        missing = list(dict.fromkeys(k for k in keys if k not in known))
        prompt_of = dict(zip(keys, prompts, strict=True))
        sampling = Sampling(n=1, temperature=0.0, top_p=1.0, max_tokens=config.judge.max_tokens, seed=0)
        with StageProgress(label, len(missing), unit="verdicts") as progress:
            for start in range(0, len(missing), BATCH):
                batch = missing[start : start + BATCH]
                requests = [Request([{"role": "user", "content": prompt_of[k]}], 1, 0) for k in batch]
                outputs = self._engine().generate(requests, sampling)
                self.requests_sent += len(requests)
                fresh = {key: samples[0].text for key, samples in zip(batch, outputs, strict=True)}
                self.cache.put_many(fresh)
                known.update(fresh)
                progress.advance(len(batch))
        return [known[k] for k in keys]

    def _apply(self, row: dict, reply: str) -> None:
        result = parse_verdict(reply, self.config.judge.threshold)
        row["judge_verdict"] = {True: "pass", False: "fail", None: "error"}[result.ok]
        scored = result.verdict not in ("correct", "incorrect", "error")
        row["judge_analysis"] = f"[{result.verdict}] {result.analysis or ''}".strip() if scored else result.analysis
        reasons = list(row["reasons"] or [])
        open_reasons = [r for r in reasons if r in OPEN_REASONS]
        if not open_reasons and self.config.worker_verifier != "judge":
            return  # the first verifier decided; the judge's verdict is kept beside it
        if result.ok is None:
            replacement, row["verifier_detail"] = "judge_error", (reply or "")[:2000]
        else:
            replacement = None if result.ok else "judge_rejected"
        if open_reasons:  # the judge settles what the first verifier left open, in its place among the reasons
            reasons = [replacement if r == open_reasons[0] else r for r in reasons if r not in open_reasons[1:]]
        else:  # the judge is the only verifier
            reasons.append(replacement)
        row["reasons"] = [r for r in reasons if r is not None]
        row["verdict"] = row["reasons"][0] if row["reasons"] else "pass"
        row["verifier"] = "judge"
        row["_verifier_ok"] = bool(result.ok)
        row["score"] = 1.0 if result.ok else 0.0
