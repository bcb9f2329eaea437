"""Split a completion into reasoning (inside <think>…</think>) and response, and find boxed answers.

Why lenient about the opening tag: many chat templates (R1-distilled Qwen among them) put `<think>` in the
prompt, so the completion starts inside the reasoning and only `</think>` appears. OpenThoughts-style traces
(`<|begin_of_thought|>…<|end_of_thought|>` then `<|begin_of_solution|>…<|end_of_solution|>`) are read the same
way: the thought is the reasoning, the solution the response.
"""

from __future__ import annotations

from dataclasses import dataclass

from datafactory.shapes import THINK, THOUGHT, unwrap_solution, uses_thought_markers


@dataclass(frozen=True)
class Trace:
    reasoning: str
    response: str
    well_formed: bool
    problem: str | None  # why it is not well formed


def parse_trace(completion: str) -> Trace:
    thought = THINK[1] not in completion and uses_thought_markers(completion)
    start, end = THOUGHT if thought else THINK
    opens, closes = completion.count(start), completion.count(end)
    if closes == 0:
        problem = f"no {end}" if opens else "no think block"
        return Trace("", completion.strip(), False, problem)
    head, _, response = completion.rpartition(end)
    if thought:
        response = unwrap_solution(response)
    before_open, _, reasoning = head.partition(start) if opens else ("", "", head)
    problem = None
    if opens > 1 or closes > 1:
        problem = "several think blocks"
    elif before_open.strip():
        problem = f"text before {start}"
    elif not reasoning.strip():
        problem = "empty reasoning"
    elif not response.strip():
        problem = f"no response after {end}"
    return Trace(reasoning.strip(), response.strip(), problem is None, problem)


def boxed_spans(text: str, command: str = "\\boxed") -> list[tuple[int, int, str]]:
    """(start, end, content) of every `\\boxed{…}` (and `\\fbox{…}`) with balanced braces, in order."""
    found = []
    for name in (command, "\\fbox"):
        start = 0
        while (at := text.find(name, start)) != -1:
            position = at + len(name)
            while position < len(text) and text[position] == " ":
                position += 1
            if position < len(text) and text[position] == "{":
                depth, end = 0, position
                while end < len(text):
                    if text[end] == "{":
                        depth += 1
                    elif text[end] == "}":
                        depth -= 1
                        if depth == 0:
                            break
                    end += 1
                if depth == 0:
                    found.append((at, end + 1, text[position + 1 : end]))
                start = end + 1
            else:
                start = position
    return sorted(found)


def boxed_contents(text: str, command: str = "\\boxed") -> list[str]:
    """Contents of every `\\boxed{…}` (and `\\fbox{…}`) with balanced braces, in order of appearance."""
    return [content for _, _, content in boxed_spans(text, command)]


def last_boxed(text: str) -> str | None:
    boxes = boxed_contents(text)
    return boxes[-1] if boxes else None
