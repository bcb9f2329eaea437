"""Read a judge model's reply as a verdict, and the judge's stand-in inside the filter workers.

Why strict about parsing: a judge reply that cannot be read must never count as a pass. A reply is read as JSON
first (also inside a ```json fence, or after the judge's own reasoning: the last object that has a verdict
key wins), then by the documented fallback (a `"correctness": "…"` or `"helpfulness": N` pair in broken JSON,
or a last line that is just `correct`/`incorrect`); anything else is `judge_error`, with the raw text kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from datafactory.errors import UsageError
from datafactory.verifiers.base import Verdict, Verifier

FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)
THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
PAIR = re.compile(r'"?(correctness|helpfulness|harmlessness|score)"?\s*[:=]\s*"?([A-Za-z]+|\d+(?:\.\d+)?)', re.I)
SCORE_KEYS = ("helpfulness", "harmlessness", "score")


@dataclass(frozen=True)
class JudgeResult:
    """`ok` True/False, or None when the reply could not be read (`verdict` is then "error")."""

    ok: bool | None
    verdict: str
    analysis: str | None = None


class JudgeVerifier(Verifier):
    """A judge cannot decide one row inside a worker (a model cannot run in every worker): the workers leave its
    rows to the filter stage's judge pass (`decided_later`), which judges every row no rule rejected, in batches
    through an engine. Asked row by row anywhere else, it refuses rather than pass anything."""

    name = "judge"
    needs_gold = False
    decided_later = True

    def verify(self, response: str, gold, row: dict) -> Verdict:
        raise UsageError("the judge verifier decides in the filter stage's judge pass (filter --verifier judge), "
                         "not row by row")  # fmt: skip


def parse_verdict(text: str, threshold: float) -> JudgeResult:
    """The verdict in a judge reply: `correctness` correct/incorrect, or every score (helpfulness, harmlessness,
    score) at least `threshold`."""
    body = THINK.sub("", text or "")
    for candidate in reversed(_json_objects(body)):
        result = _from_mapping(candidate, threshold)
        if result is not None:
            return result
    pairs = {key.lower(): value for key, value in PAIR.findall(body)}
    if pairs:
        result = _from_mapping(pairs, threshold)
        if result is not None:
            return result
    last = body.strip().splitlines()[-1].strip(" .*`\"'").lower() if body.strip() else ""
    if last in ("correct", "incorrect"):
        return JudgeResult(last == "correct", last)
    return JudgeResult(None, "error")


def _from_mapping(mapping: dict, threshold: float) -> JudgeResult | None:
    analysis = mapping.get("analysis")
    analysis = analysis if isinstance(analysis, str) else None
    correctness = mapping.get("correctness")
    if isinstance(correctness, str) and correctness.strip().lower() in ("correct", "incorrect"):
        label = correctness.strip().lower()
        return JudgeResult(label == "correct", label, analysis)
    scores = {key: mapping[key] for key in SCORE_KEYS if key in mapping}
    if scores:
        try:
            values = {key: float(value) for key, value in scores.items()}
        except (TypeError, ValueError):
            return None
        ok = all(value >= threshold for value in values.values())
        label = ", ".join(f"{key} {value:g}" for key, value in values.items())
        return JudgeResult(ok, label, analysis)
    return None


def _json_objects(text: str) -> list[dict]:
    """Every JSON object in the text that parses (fenced ones and bare balanced braces), in order."""
    found = []
    for match in FENCE.finditer(text):
        found.append((match.start(), match.group(1)))
    depth, start = 0, None
    for position, char in enumerate(text):
        if char == "{":
            if depth == 0:
                start = position
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0 and start is not None:
                found.append((start, text[start : position + 1]))
    objects = []
    for _, raw in sorted(found):
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict):
            objects.append(value)
    return objects
