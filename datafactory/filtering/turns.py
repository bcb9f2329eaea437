"""The turns of a `messages` or ShareGPT `conversations` cell, checked, and what the filter takes from them.

Why apart: a conversation is the prompt, the completion, or both, and a malformed one (a turn without a role,
content that is not text) is bad input to name, not a prompt to read wrong.
"""

from __future__ import annotations

from datafactory.errors import BadInput
from datafactory.shapes import SHAREGPT_ROLES, reasoning_of, with_reasoning

ROLES = ("system", "user", "assistant", "tool", "function", "developer")


def check_turns(turns, path, number: int, column: str) -> list[dict]:
    """The turns as {role, content}: a list of objects with a known role and text (or null) content."""
    if not isinstance(turns, list) or not turns:
        raise BadInput("expected a list of turns", path, number, column)
    messages = []
    for turn in turns:
        if not isinstance(turn, dict):
            raise BadInput("a turn is not an object", path, number, column)
        role = turn.get("role", SHAREGPT_ROLES.get(turn.get("from")))
        content = turn.get("content", turn.get("value"))
        if role not in ROLES:
            raise BadInput(f"a turn with role {role!r:.30}: expected one of {', '.join(ROLES)}", path, number, column)
        if content is not None and not isinstance(content, str):
            raise BadInput(f"a {role} turn whose content is not text", path, number, column)
        messages.append({"role": role, "content": content if isinstance(content, str) else ""})
    return messages


def assistant_completion(turns, path, number: int, column: str) -> tuple[list[dict], str]:
    """(prompt turns, completion): the completion is the last turn, the assistant's, with the reasoning it holds
    apart (`reasoning_content`, `reasoning`) in front of its content, as R1 writes it."""
    messages = check_turns(turns, path, number, column)
    if messages[-1]["role"] != "assistant":
        raise BadInput("the last turn is not the assistant's: nothing to filter", path, number, column)
    last = turns[-1]
    reasoning = reasoning_of(last)
    if reasoning is not None:
        return messages[:-1], with_reasoning(reasoning, last.get("content", last.get("value")))
    return messages[:-1], messages[-1]["content"]


def prompt_turns(turns, path, number: int, column: str) -> list[dict]:
    """The prompt a conversation holds when the completion comes from another column: its turns, less a last
    assistant turn (one of the completions, as OpenR1-Math's `messages` holds one of its generations)."""
    messages = check_turns(turns, path, number, column)
    if messages[-1]["role"] == "assistant":
        messages = messages[:-1]
    if not messages:
        raise BadInput("holds no prompt turn", path, number, column)
    return messages
