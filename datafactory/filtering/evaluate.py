"""Evaluate one row: parse the trace, run the verifier, run the rules. Runs inside worker processes.

Why a plain function of a picklable spec: the worker pool builds one Evaluator per process and feeds it small
task dicts, so the parent never pays for sympy and the timeouts of math-verify run on a worker's main thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import xxhash

from datafactory.reasons import FORMAT_REASONS
from datafactory.rules import RuleConfig
from datafactory.rules.checks import RULES
from datafactory.trace import parse_trace
from datafactory.verifiers.base import Verdict, verifier_class

ALWAYS = ("empty_response",)
PENDING = Verdict(True, None, None, 0.0, "for the judge")  # a row the filter's judge pass decides (decided_later)
TASK_FIELDS = ("completion", "finish_reason", "completion_tokens", "prompt_id")


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
        "gold": row.get(gold_field),
        **{name: row.get(name) for name in extra},
    }


def completion_hash(text: str) -> int:
    """Identity of a completion up to whitespace, used to collapse identical samples of a prompt."""
    return xxhash.xxh64_intdigest(" ".join(text.split()).encode())


def result_for(verdict: str, detail: str, verifier: str) -> dict:
    """A result for a row the evaluator could not finish (timeout, crashed worker)."""
    return {
        "reasoning": None, "response": None, "extracted_answer": None, "verdict": verdict, "reasons": [verdict],
        "score": 0.0, "verifier": verifier, "verifier_detail": detail, "_verifier_ok": False, "_completion_hash": 0,
    }  # fmt: skip


class Evaluator:
    def __init__(self, spec: EvalSpec):
        self.spec = spec
        self.verifier = verifier_class(spec.verifier)(spec.verifier_options)
        self.context = {"verifier": spec.verifier}

    def evaluate(self, task: dict) -> dict:
        completion = task.get("completion") or ""
        trace = parse_trace(completion)
        try:
            verdict = (
                PENDING if self.verifier.decided_later else self.verifier.verify(trace.response, task.get("gold"), task)
            )
        except Exception as err:  # a verifier bug must cost one row, not the run
            return {**result_for("verifier_error", f"{type(err).__name__}: {err}"[:500], self.spec.verifier),
                    "reasoning": trace.reasoning, "response": trace.response}  # fmt: skip
        config = self.spec.rule_config
        names = [*ALWAYS, *(n for n in self.spec.rules if n not in ALWAYS)]
        failing = [r for name in names if (r := RULES[name](trace, task, config, self.context))]
        reasons = [r for r in failing if r in FORMAT_REASONS]
        if not verdict.ok:
            reasons.append(verdict.reason)
        reasons += [r for r in failing if r not in FORMAT_REASONS]
        return {
            "reasoning": trace.reasoning,
            "response": trace.response,
            "extracted_answer": verdict.extracted,
            "verdict": reasons[0] if reasons else "pass",
            "reasons": reasons,
            "score": verdict.score,
            "verifier": self.spec.verifier,
            "verifier_detail": verdict.detail or (trace.problem if "bad_format" in reasons else None),
            "_verifier_ok": verdict.ok,
            "_completion_hash": completion_hash(completion),
        }
