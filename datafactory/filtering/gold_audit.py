"""The filter's gold audit: each prompt's answers tallied against its gold (checks/gold_votes.py) after evaluation and
before selection, so a prompt checked against a voted gold selects, counts and writes its rows by that gold.

Why here and in the parent: the vote needs every sample of a prompt, which may be spread over input files; it
reads three small columns of the evaluated files, keeps an answer per row, and compares distinct answers only
(most are plain numbers, decided without sympy).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from datafactory.checks.gold_votes import (
    NO_CONSENSUS,
    SUSPECT,
    UNCOUNTED,
    GoldAudit,
    GoldOptions,
    Tally,
    audit,
    could_be_flagged,
    regraded,
    tally,
)
from datafactory.filtering.select import RowSummary

SUSPECT_TEMPLATE = "gold_dispute"  # the judge's prompt for a suspect: the problem, the gold, the majority answer


@dataclass
class PromptAnswers:
    gold: str | None = None  # as the math verifier reads it (a GSM8K solution's #### part, no float noise)
    gold_passes: int = 0
    answers: list[tuple[tuple[int, int], str | None]] = field(default_factory=list)
    reasons: dict[tuple[int, int], list[str]] = field(default_factory=dict)  # of rows that did not pass


def collect(files: list[Path], gold_field: str) -> dict[str, PromptAnswers]:
    """Per prompt: its gold, how many samples passed against it, each sample's answer and failing reasons."""
    from datafactory.verifiers.math import normalise_gold

    prompts: dict[str, PromptAnswers] = {}
    for file_index, path in enumerate(files):
        names = pq.read_schema(path).names
        columns = ["prompt_id", "extracted_answer", "_verifier_ok", "reasons"]
        table = pq.read_table(path, columns=columns + ([gold_field] if gold_field in names else [])).to_pydict()
        golds = table.get(gold_field) or [None] * len(table["prompt_id"])
        for row, prompt_id in enumerate(table["prompt_id"]):
            entry = prompts.get(prompt_id)
            if entry is None:
                entry = prompts[prompt_id] = PromptAnswers(gold=normalise_gold(golds[row]))
            key = (file_index, row)
            entry.answers.append((key, table["extracted_answer"][row]))
            entry.gold_passes += bool(table["_verifier_ok"][row])
            if table["reasons"][row]:
                entry.reasons[key] = list(table["reasons"][row])
    return prompts


VOTE_BATCH = 16  # prompts per task batch sent to the workers


def tallies(prompts: dict[str, PromptAnswers], options: GoldOptions, pool) -> dict[str, tuple[Tally, bool]]:
    """Each prompt's vote and whether its top answer definitely differs from the gold. Where the vote can matter
    (no sample passed against the gold, and enough answered to agree), the worker pool groups the answers as
    math (with the same hard time limit as a row); elsewhere identical answers are counted, or nothing."""
    out: dict[str, tuple[Tally, bool]] = {}
    needed = []
    for prompt_id, entry in prompts.items():
        answered = sum(a is not None and bool(a.strip()) for _, a in entry.answers)
        if entry.gold is not None and not could_be_flagged(entry.gold_passes, answered):
            out[prompt_id] = (UNCOUNTED, False)  # so many samples pass against the gold that no vote can flag it
        elif answered < options.min_votes:
            out[prompt_id] = (tally(entry.answers, _never), False)  # too few answers to agree: no comparisons
        else:
            needed.append(prompt_id)
    tasks = [{"vote": [a for _, a in prompts[p].answers], "gold": prompts[p].gold, "prompt_id": p} for p in needed]
    batches = (tasks[i : i + VOTE_BATCH] for i in range(0, len(tasks), VOTE_BATCH))
    results = (result for batch in pool.map(batches) for result in batch)
    for prompt_id, result in zip(needed, results, strict=True):
        if "tally" not in result:  # the vote ran out of time or its worker died: no evidence either way
            out[prompt_id] = (UNCOUNTED, False)
            continue
        top, votes, runner_up, answered, members = result["tally"]
        keys = [key for key, _ in prompts[prompt_id].answers]
        out[prompt_id] = (
            Tally(top, votes, runner_up, answered, frozenset(keys[i] for i in members)),
            result["differs"],
        )
    return out


def audit_all(
    prompts: dict[str, PromptAnswers],
    options: GoldOptions,
    counted: dict[str, tuple[Tally, bool]],
    judged: dict[str, bool] | None = None,
) -> dict[str, GoldAudit]:
    """Every prompt's gold status from its vote; `judged` holds a judge's word on suspects (True: the majority
    answer is right), and a suspect is replaced only where the judge, if asked, agreed."""
    out = {}
    for prompt_id, entry in prompts.items():
        votes, differs = counted[prompt_id]
        confirmed = None if judged is None else judged.get(prompt_id) is True  # an unreadable reply confirms nothing
        out[prompt_id] = audit(entry.gold, entry.gold_passes, votes, options, differs, confirmed)
    return out


def _never(_a: str, _b: str) -> bool:
    return False


def apply_votes(
    by_prompt: dict[str, list[RowSummary]], prompts: dict[str, PromptAnswers], audits: dict[str, GoldAudit]
) -> dict[tuple[int, int], list[str]]:
    """Rows of prompts checked against a voted gold: their summaries re-marked, and their new reasons by row."""
    new_reasons: dict[tuple[int, int], list[str]] = {}
    for prompt_id, result in audits.items():
        if result.status == NO_CONSENSUS:  # asked to vote, and the samples did not agree: say so on its rows
            for key, reasons in prompts[prompt_id].reasons.items():
                new_reasons[key] = [NO_CONSENSUS if r == "no_gold" else r for r in reasons]
        if not result.voted:
            continue
        answers = dict(prompts[prompt_id].answers)
        for row in by_prompt[prompt_id]:
            in_majority = row.key in result.tally.members
            reasons = regraded(
                prompts[prompt_id].reasons.get(row.key, []), in_majority, answers.get(row.key) is not None
            )
            new_reasons[row.key] = reasons
            row.passed, row.verifier_ok = not reasons, in_majority
    return new_reasons


def counts(audits: dict[str, GoldAudit], options: GoldOptions, judged: dict[str, bool] | None) -> dict:
    """The manifest's `gold` section."""
    statuses = Counter(a.status for a in audits.values())
    section = {
        "mode": options.mode,
        "policy": options.policy,
        "min_votes": options.min_votes,
        "min_share": options.min_share,
        "flag_share": options.flag_share,
        "prompts": dict(statuses.most_common()),
        "suspect_gold": statuses.get(SUSPECT, 0),
        "checked_against_majority": sum(a.voted for a in audits.values()),
    }
    if judged is not None:
        section["suspects_judged"] = {
            "majority_right": sum(v is True for v in judged.values()),
            "gold_right": sum(v is False for v in judged.values()),
            "unreadable": sum(v is None for v in judged.values()),
        }
    return section


def judge_suspects(
    judge, audits: dict[str, GoldAudit], evaluated: list[Path], options: GoldOptions
) -> dict[str, bool | None]:
    """With `--verifier math,judge`: one judge request per suspect (the judge's cache answers repeats), showing the
    problem, the gold and the majority answer; True where the judge calls the majority answer correct, False where
    not, None for an unreadable reply."""
    from datafactory.judge.stage import problem_of
    from datafactory.judge.templates import render, template_text
    from datafactory.judge.verdicts import parse_verdict

    suspects = {pid: a for pid, a in audits.items() if a.status == SUSPECT}
    if not suspects:
        return {}
    problems: dict[str, str] = {}
    for path in evaluated:  # the suspects' rows only: the messages column is the heaviest one there is
        columns = [c for c in ("prompt_id", "messages") if c in pq.read_schema(path).names]
        wanted = [("prompt_id", "in", list(suspects))]
        for row in pq.read_table(path, columns=columns, filters=wanted).to_pylist():
            if row["prompt_id"] in suspects and row["prompt_id"] not in problems:
                problems[row["prompt_id"]] = problem_of(row.get("messages"))
    ids = list(suspects)
    prompts = []
    for pid in ids:
        answer = suspects[pid].tally.top
        prompts.append(
            render(SUSPECT_TEMPLATE, problem=problems.get(pid, ""), gold=suspects[pid].gold, response=answer)
        )
    replies = judge.replies(prompts, "filter: judge suspect golds", template_text(SUSPECT_TEMPLATE))
    threshold = judge.config.judge.threshold
    return {pid: parse_verdict(reply, threshold).ok for pid, reply in zip(ids, replies, strict=True)}


@dataclass
class GoldResults:
    """The audit as the stage uses it: each prompt's status, the rows re-checked against a voted gold and the
    manifest section (None: no audit, the verifier is not math)."""

    audits: dict[str, GoldAudit] = field(default_factory=dict)
    regraded: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    counts: dict | None = None
    options: GoldOptions = field(default_factory=GoldOptions)

    def detail(self, prompt_id: str) -> str:
        result = self.audits[prompt_id]
        counted = result.tally
        if not result.voted:
            top = (
                f": the most common answer, {counted.top}, has {counted.votes} of {counted.answered}"
                if counted.top
                else ""
            )
            return (
                f"no consensus among the samples (at least {self.options.min_votes} votes and a share of "
                f"{self.options.min_share} needed){top}"
            )
        return f"checked against the majority answer {counted.top} ({counted.votes} of {counted.answered} answers)"

    def columns(self, prompt_ids: list[str]) -> dict[str, pa.Array]:
        """.pass_rates/'s gold columns: status, the gold checked against, the given gold, the top answer."""
        audits = [self.audits.get(pid) for pid in prompt_ids]
        tallies = [a.tally if a else None for a in audits]
        return {
            "gold_status": pa.array([a.status if a else None for a in audits], pa.string()),
            "gold_source": pa.array([a.source if a else None for a in audits], pa.string()),
            "gold": pa.array([a.gold if a else None for a in audits], pa.string()),
            "majority_answer": pa.array([t.top if t else None for t in tallies], pa.string()),
            "majority_votes": pa.array([t.votes if t and t.answered else None for t in tallies], pa.int32()),
            "answered": pa.array([t.answered if t and t.answered else None for t in tallies], pa.int32()),
            "majority_share": pa.array(
                [round(t.votes / t.answered, 4) if t and t.answered else None for t in tallies], pa.float64()
            ),
            "gold_confidence": pa.array([a.confidence if a else None for a in audits], pa.float64()),
        }


def audit_golds(config, evaluated: list[Path], by_prompt: dict[str, list[RowSummary]], pool, judge=None) -> GoldResults:
    """The whole audit for the filter stage, its votes tallied by the stage's worker `pool`, with the filter's
    judge if it has one; nothing when the verifier is not math (no equality to vote with)."""
    if not config.audits_gold:
        return GoldResults()
    options = config.gold_options
    answers = collect(evaluated, config.gold_field)
    counted = tallies(answers, options, pool)
    audits = audit_all(answers, options, counted)
    judged = None
    if judge is not None:
        judged = judge_suspects(judge, audits, evaluated, options)
        audits.update(audit_all({pid: answers[pid] for pid in judged}, options, counted, judged))
    regrades = apply_votes(by_prompt, answers, audits)
    return GoldResults(audits, regrades, counts(audits, options, judged), options)
