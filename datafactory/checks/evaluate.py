"""Evaluate one row: parse the trace, run the verifier, run the rules. Runs inside worker processes.

Why a plain function of a picklable spec: the worker pool builds one Evaluator per process and feeds it small
task dicts, so the parent never pays for sympy and the timeouts of math-verify run on a worker's main thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import pyarrow as pa
import xxhash

from datafactory.reasons import FORMAT_REASONS
from datafactory.rules import RuleConfig
from datafactory.rules.checks import RULES
from datafactory.trace import parse_trace
from datafactory.verifiers.base import Verdict, verifier_class

ALWAYS = ("empty_response",)
PENDING = Verdict(True, None, None, 0.0, "for the judge")  # a row the filter's judge pass decides (decided_later)
TASK_FIELDS = ("completion", "finish_reason", "completion_tokens", "prompt_id", "abort_reason")


@dataclass
class EvalSpec:
    verifier: str = "none"
    verifier_options: dict = field(default_factory=dict)
    rules: list[str] = field(default_factory=list)
    rule_config: RuleConfig = field(default_factory=RuleConfig)


def task_of_row(row: dict, gold_field: str, extra: tuple[str, ...] = ()) -> dict:
    """What a worker needs of a sample row: the completion, its gold and the columns the verifier reads."""
    return {
        "prompt_id": row.get("prompt_id"),
        "completion": row.get("completion") or "",
        "finish_reason": row.get("finish_reason"),
        "completion_tokens": row.get("completion_tokens"),
        "abort_reason": row.get("abort_reason"),
        "gold": row.get(gold_field),
        **{name: row.get(name) for name in extra},
    }


def completion_hash(text: str) -> int:
    """Identity of a completion up to whitespace, used to collapse identical samples of a prompt."""
    return xxhash.xxh64_intdigest(" ".join(text.split()).encode())


def _column(arrow_type, default=None):
    """A field that is also a column of this Arrow type (a list default is made fresh for each result)."""
    if isinstance(default, list):
        return field(default_factory=list, metadata={"arrow": arrow_type})
    return field(default=default, metadata={"arrow": arrow_type})


@dataclass
class Evaluation:
    """What evaluating one sample adds to its row, declared once: the columns and their Arrow types come from these
    fields (`columns()`); the last two are work columns, dropped before the filter writes its output."""

    reasoning: str | None = _column(pa.string())
    response: str | None = _column(pa.string())
    extracted_answer: str | None = _column(pa.string())
    verdict: str = _column(pa.string(), "pass")
    reasons: list[str] = _column(pa.list_(pa.string()), [])
    score: float = _column(pa.float64(), 0.0)
    verifier: str | None = _column(pa.string())
    verifier_detail: str | None = _column(pa.string())
    judge_verdict: str | None = _column(pa.string())  # set by the filter's judge pass
    judge_analysis: str | None = _column(pa.string())
    verifier_ok: bool = _column(pa.bool_(), False)  # work column `_verifier_ok`
    completion_hash: int = _column(pa.uint64(), 0)  # work column `_completion_hash`

    WORK = ("verifier_ok", "completion_hash")

    @classmethod
    def columns(cls) -> list[pa.Field]:
        return [pa.field(f.name, f.metadata["arrow"]) for f in fields(cls) if f.name not in cls.WORK]

    @classmethod
    def work_columns(cls) -> list[pa.Field]:
        return [pa.field(f"_{f.name}", f.metadata["arrow"]) for f in fields(cls) if f.name in cls.WORK]

    def as_row(self) -> dict:
        row = {name: getattr(self, name) for name in PUBLIC}
        return {**row, "_verifier_ok": self.verifier_ok, "_completion_hash": self.completion_hash}


PUBLIC = tuple(f.name for f in fields(Evaluation) if f.name not in Evaluation.WORK)


def result_for(verdict: str, detail: str, verifier: str) -> dict:
    """A result for a row the evaluator could not finish (timeout, crashed worker)."""
    return Evaluation(verdict=verdict, reasons=[verdict], verifier=verifier, verifier_detail=detail).as_row()


class Evaluator:
    def __init__(self, spec: EvalSpec):
        self.spec = spec
        self.verifier = verifier_class(spec.verifier)(spec.verifier_options)
        self.context = {"verifier": spec.verifier}

    def evaluate(self, task: dict) -> dict:
        if "vote" in task:  # a prompt's answers to tally (gold_audit.py), in a worker: sympy time is bounded here
            from datafactory.checks.gold_votes import vote_task

            return vote_task(task, self.verifier)
        completion = task.get("completion") or ""
        trace = parse_trace(completion)
        if task.get("abort_reason") and task.get("finish_reason") == "abort":  # stopped in flight by generate
            reason = task["abort_reason"]
            detail = f"stopped while generated, at {task.get('completion_tokens')} tokens"
            return Evaluation(trace.reasoning, trace.response, None, reason, [reason], 0.0, self.spec.verifier,
                              detail, completion_hash=completion_hash(completion)).as_row()  # fmt: skip
        try:
            verdict = (
                PENDING if self.verifier.decided_later else self.verifier.verify(trace.response, task.get("gold"), task)
            )
        except Exception as err:  # a verifier bug must cost one row, not the run
            detail = f"{type(err).__name__}: {err}"[:500]
            return Evaluation(trace.reasoning, trace.response, None, "verifier_error", ["verifier_error"], 0.0,
                              self.spec.verifier, detail).as_row()  # fmt: skip
        config = self.spec.rule_config
        names = [*ALWAYS, *(n for n in self.spec.rules if n not in ALWAYS)]
        failing = [r for name in names if (r := RULES[name](trace, task, config, self.context))]
        reasons = [r for r in failing if r in FORMAT_REASONS]
        if not verdict.ok:
            reasons.append(verdict.reason)
        reasons += [r for r in failing if r not in FORMAT_REASONS]
        return Evaluation(
            reasoning=trace.reasoning,
            response=trace.response,
            extracted_answer=verdict.extracted,
            verdict=reasons[0] if reasons else "pass",
            reasons=reasons,
            score=verdict.score,
            verifier=self.spec.verifier,
            verifier_detail=verdict.detail or (trace.problem if "bad_format" in reasons else None),
            verifier_ok=verdict.ok,
            completion_hash=completion_hash(completion),
        ).as_row()
