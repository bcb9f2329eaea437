"""Turn rows of any common shape into SFT conversations, and validate them.

Why here: `mix` takes filter/dedupe outputs (reasoning + response), raw samples (completion), and SFT data from
anywhere (`messages`, `prompt`/`response`, ShareGPT `conversations`); trainers need one shape, checked before
it is written.
"""

from __future__ import annotations

import pyarrow as pa

from datafactory.errors import BadInput
from datafactory.io.schema import MESSAGES
from datafactory.shapes import (
    PROMPT_COLUMNS,
    SHAREGPT_ROLES,
    prompt_text,
    reasoning_of,
    uses_thought_markers,
    with_reasoning,
)

TO_SHAREGPT = {"user": "human", "assistant": "gpt", "system": "system"}
RESPONSE_COLUMNS = ("response", "completion", "output", "content", "answer_text")

SFT_SCHEMA = pa.schema(
    [
        pa.field("messages", MESSAGES),
        pa.field("category", pa.string()),
        pa.field("source", pa.string()),
        pa.field("prompt_id", pa.string()),
        pa.field("model", pa.string()),
        pa.field("verifier", pa.string()),
        pa.field("pass_rate", pa.float64()),
        pa.field("completion_tokens", pa.int32()),
    ]
)
SHAREGPT_SCHEMA = pa.schema(
    [pa.field("conversations", pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())])))]
    + [f for f in SFT_SCHEMA if f.name != "messages"]
)


def assistant_text(row: dict) -> str | None:
    """`<think>\\n{reasoning}\\n</think>\\n\\n{response}` for rows with reasoning; the response alone otherwise.
    A completion written with OpenThoughts' markers is taken as written (the filter's --to-think-tags rewrites
    it)."""
    if uses_thought_markers(row.get("completion")):
        return row["completion"]
    reasoning, response = row.get("reasoning"), row.get("response")
    if isinstance(response, str):
        if isinstance(reasoning, str) and reasoning.strip():
            return f"<think>\n{reasoning}\n</think>\n\n{response}"
        return response
    return None


def turn(message: dict) -> dict:
    """One turn as {role, content}: OpenAI-style role/content or ShareGPT-style from/value keys (the first that is
    set); content given as a list of text parts (OpenAI's `[{"type": "text", "text": …}]`) is joined."""
    role = message.get("role")
    if role is None and message.get("from") is not None:
        role = SHAREGPT_ROLES.get(message["from"], message["from"])
    content = message.get("content") if message.get("content") is not None else message.get("value")
    if isinstance(content, list) and content and all(_text_part(part) for part in content):
        content = "".join(part["text"] for part in content)
    if role == "assistant" and reasoning_of(message) is not None:
        content = with_reasoning(reasoning_of(message), content)
    return {"role": role, "content": content}


def _text_part(part) -> bool:
    return isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)


def conversation(row: dict, path, number: int) -> list[dict]:
    """The row as a list of {role, content}: prompt messages plus the assistant turn."""
    if row.get("generations") is not None:
        raise BadInput(
            "several generations in one row: filter it first (datafactory filter) to choose among them",
            path,
            number,
            "generations",
        )
    messages = row.get("messages")
    conversations = row.get("conversations")
    if isinstance(conversations, list) and not isinstance(messages, list):
        messages = conversations
    if isinstance(messages, list):
        messages = [turn(m) for m in messages if isinstance(m, dict)]
        if messages and messages[-1]["role"] == "assistant":
            return messages
        answer = assistant_text(row) or (row.get("completion") if isinstance(row.get("completion"), str) else None)
        if answer is None:
            raise BadInput(
                "no assistant turn: need reasoning/response, completion, or messages ending with the assistant",
                path,
                number,
                "messages",
            )
        return [*messages, {"role": "assistant", "content": answer}]
    prompt = next((prompt_text(row, c) for c in PROMPT_COLUMNS if isinstance(row.get(c), str)), None)
    answer = assistant_text(row) or _answer(row)
    if prompt is None or answer is None:
        raise BadInput("unknown row shape: need messages, conversations, or prompt + response/completion", path, number)
    system = row.get("system")
    head = [{"role": "system", "content": system}] if isinstance(system, str) and system.strip() else []
    return [*head, {"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]


def _answer(row: dict) -> str | None:
    """The first response column, with reasoning kept apart from it (`reasoning_content`, `reasoning`) in front."""
    column = next((c for c in RESPONSE_COLUMNS if isinstance(row.get(c), str)), None)
    if column is None:
        return None
    reasoning = reasoning_of(row)
    return with_reasoning(reasoning, row[column]) if reasoning is not None else row[column]


def validate(messages: list[dict], path, number: int) -> None:
    """Roles alternate user/assistant after an optional system message, the assistant speaks last, nothing is empty."""
    field = "messages"
    body = messages[1:] if messages and messages[0]["role"] == "system" else messages
    if not body:
        raise BadInput("no user/assistant turns", path, number, field)
    for position, message in enumerate(messages, start=1):
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            kind = type(content).__name__
            raise BadInput(f"message {position} ({message.get('role')}) is not text but a {kind}", path, number, field)
        if content is None or not content.strip():
            raise BadInput(f"message {position} ({message.get('role')}) is empty", path, number, field)
    for position, message in enumerate(body):
        expected = "user" if position % 2 == 0 else "assistant"
        if message["role"] != expected:
            raise BadInput(
                f"roles must alternate user/assistant; turn {position + 1} is {message['role']!r}", path, number, field
            )
    if body[-1]["role"] != "assistant":
        raise BadInput("the last message must be the assistant's", path, number, field)


def sft_row(row: dict, category: str, source: str, path, number: int, sharegpt: bool = False) -> dict:
    messages = conversation(row, path, number)
    validate(messages, path, number)
    tokens = row.get("completion_tokens")
    out = {
        "category": category,
        "source": source,
        "prompt_id": None if row.get("prompt_id") is None else str(row["prompt_id"]),
        "model": row.get("model") if isinstance(row.get("model"), str) else None,
        "verifier": row.get("verifier") if isinstance(row.get("verifier"), str) else None,
        "pass_rate": float(row["pass_rate"]) if isinstance(row.get("pass_rate"), int | float) else None,
        "completion_tokens": int(tokens) if isinstance(tokens, int) else None,
    }
    if sharegpt:
        out["conversations"] = [{"from": TO_SHAREGPT[m["role"]], "value": m["content"]} for m in messages]
    else:
        out["messages"] = messages
    return out
