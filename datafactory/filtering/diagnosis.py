"""Why a filter kept nothing, or why one reason rejected nearly every row, named from the data.

Why: "0 kept" with no cause sends people to read shards; most such runs are a shape read wrong (the reasoning in
a column of its own) or a model that solves nothing, and the counts already tell which.
"""

from __future__ import annotations

from datafactory.reasons import SELECTION_REASONS

MOST = 0.9  # one reason behind this share of the rows is worth a word
REASONING_HINTS = ("reason", "think", "thought", "cot", "rationale", "scratchpad", "trace")


def notes(counts: dict, columns: list[str]) -> list[str]:
    """Lines to add to the summary: nothing when the run kept rows and no reason rejected most of them."""
    rows, kept = counts["rows_in"], counts["rows_kept"]
    if not rows:
        return ["the input holds no rows"]
    reasons = {r: n for r, n in counts.get("reasons", {}).items() if r not in SELECTION_REASONS}
    top, count = max(reasons.items(), key=lambda item: item[1], default=(None, 0))
    if kept and count < MOST * rows:
        return []
    prefix = "0 rows kept: " if not kept else ""
    if top is None:
        return [f"{prefix}every passing sample was set aside by selection ({', '.join(counts.get('verdicts', {}))})"]
    share = f"all {rows}" if count == rows else f"{count} of {rows}"
    if top == "bad_format" and counts.get("rows_without_think_block", 0) >= MOST * rows:
        missing = counts["rows_without_think_block"]
        lack = f"{f'all {rows}' if missing == rows else f'{missing} of {rows}'} rows lack a <think> block"
        guess = next((c for c in columns if any(h in c.lower() for h in REASONING_HINTS)), None)
        if guess:
            return [f"{prefix}{lack}; the reasoning may be in '{guess}' (read it with --reasoning-field {guess})"]
        return [f"{prefix}{lack}; for answers without reasoning traces, leave bad_format out of --rules"]
    if top == "wrong_answer" and not counts.get("prompts_with_a_pass"):
        return [f"{prefix}the model answered none of {counts['prompts']} prompts right (wrong_answer {count})"]
    if top == "no_answer":
        return [f"{prefix}no final answer found in {share} rows (the math verifier reads the last \\boxed{{}})"]
    return [f"{prefix}{top} rejects {share} rows"]
