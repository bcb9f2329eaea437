"""The text a row is compared on, and its normalisations.

Why two: exact duplicates are judged on NFKC + case + whitespace (so punctuation still counts), while near
duplicates and contamination compare word sequences, which also forgives LaTeX spacing (`x^{2}+1` vs `x^{2} + 1`).
"""

from __future__ import annotations

import re
import unicodedata

from datafactory.errors import BadInput, UsageError
from datafactory.shapes import PROMPT_COLUMNS, prompt_text

ON_CHOICES = ("prompt", "completion", "messages")
WORD = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


ASCII_NON_WORD = str.maketrans({c: " " for c in map(chr, range(128)) if not (c.isalnum() or c == "_")})


def words(text: str) -> list[str]:
    """Word tokens (`\\w+`) after NFKC and case folding; plain ASCII takes a faster, equivalent route."""
    if text.isascii():
        return text.lower().translate(ASCII_NON_WORD).split()
    return WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def _contents(messages, roles: set[str] | None) -> str:
    return "\n".join(m["content"] or "" for m in messages if roles is None or m.get("role") in roles)


def text_of(row: dict, on: str, path, number) -> str:
    """The compared text: the prompt (non-assistant messages, else a prompt column), the completion (else the
    assistant messages), or the whole conversation."""
    if on not in ON_CHOICES:
        raise UsageError(f"--on {on!r}: choose one of {', '.join(ON_CHOICES)}")
    messages = row.get("messages") or row.get("conversations")
    if isinstance(messages, list) and messages and "from" in messages[0]:  # ShareGPT
        messages = [
            {"role": {"human": "user", "gpt": "assistant"}.get(m.get("from"), m.get("from")), "content": m.get("value")}
            for m in messages
        ]
    if on == "completion":
        if isinstance(row.get("completion"), str):
            return row["completion"]
        if isinstance(row.get("response"), str):
            return row["response"]
        if isinstance(messages, list):
            return _contents(messages, {"assistant"})
        raise BadInput(
            "no completion to compare (need 'completion', 'response' or 'messages')", path, number, "completion"
        )
    if isinstance(messages, list):
        return _contents(messages, None if on == "messages" else {"system", "user"})
    for name in PROMPT_COLUMNS:
        if isinstance(row.get(name), str):
            return prompt_text(row, name)
    raise BadInput(
        f"no text to compare (need 'messages' or one of {', '.join(PROMPT_COLUMNS)})", path, number, "messages"
    )


def row_id(row: dict, path, number: int) -> str:
    """How a removed row names the row it matched: prompt_id[#sample_index], else file:row."""
    if row.get("prompt_id") is not None:
        return (
            f"{row['prompt_id']}#{row['sample_index']}"
            if row.get("sample_index") is not None
            else str(row["prompt_id"])
        )
    return f"{getattr(path, 'name', path)}:{number}"
