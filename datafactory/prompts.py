"""Turn an input row into the chat messages sent to the model and a stable prompt id.

Why: `prompt_id` ties every later stage together (pass rates, best-k, dedupe), so it must be the input's own
id where there is one, else a hash of exactly what the model was sent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from datafactory.errors import BadInput, OptionError
from datafactory.shapes import PROMPT_COLUMNS, prompt_text

PROMPT_FIELDS = ("messages", *PROMPT_COLUMNS)
ID_FIELDS = ("prompt_id", "id", "task_id", "unique_id")
ROLES = {"system", "user", "assistant"}


@dataclass
class Prompt:
    prompt_id: str
    messages: list[dict]
    row: dict = field(repr=False)


def prompt_hash(messages: list[dict]) -> str:
    canonical = json.dumps(
        [{"role": m["role"], "content": m["content"]} for m in messages],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def choose_field(row: dict, wanted: str | None, candidates: tuple[str, ...], path: Path, kind: str) -> str | None:
    if wanted:
        return wanted
    for name in candidates:
        if name in row:
            return name
    if kind == "prompt":
        raise BadInput(
            f"no prompt field: none of {', '.join(candidates)} is present (choose one with --prompt-field)",
            path,
            row.get("__row__"),
        )
    return None


def _messages_from(value, path: Path, number: int, name: str) -> list[dict]:
    if isinstance(value, str):
        if not value.strip():
            raise BadInput("empty prompt", path, number, name)
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise BadInput("expected a non-empty string or a list of {role, content} messages", path, number, name)
    messages = []
    for position, message in enumerate(value, start=1):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise BadInput(f"message {position} needs a string 'content'", path, number, name)
        if message.get("role") not in ROLES:
            raise BadInput(
                f"message {position} has role {message.get('role')!r}; expected {sorted(ROLES)}", path, number, name
            )
        messages.append({"role": message["role"], "content": message["content"]})
    if messages[-1]["role"] != "user":
        raise BadInput("the last message must be the user's", path, number, name)
    if not messages[-1]["content"].strip():
        raise BadInput("empty prompt", path, number, name)
    return messages


class PromptBuilder:
    """Builds `Prompt`s from rows; remembers ids to catch conflicting ids and to skip repeated prompts."""

    def __init__(self, prompt_field: str | None = None, id_field: str | None = None, system: str | None = None):
        self.prompt_field = prompt_field
        self.id_field = id_field
        self.system = system
        self.seen: dict[str, tuple[str, str]] = {}
        self.duplicates = 0

    def build(self, row: dict, path: Path) -> Prompt | None:
        """Return the prompt, or None for an exact repeat of an earlier prompt (counted in `duplicates`)."""
        number = row.get("__row__")
        name = choose_field(row, self.prompt_field, PROMPT_FIELDS, path, "prompt")
        if name not in row:
            raise BadInput("missing prompt field", path, number, name)
        if row[name] is None:
            raise BadInput("prompt is null", path, number, name)
        value = prompt_text(row, name) if isinstance(row[name], str) else row[name]  # Alpaca's input joined
        messages = _messages_from(value, path, number, name)
        if self.system and messages[0]["role"] != "system":
            messages = [{"role": "system", "content": self.system}, *messages]
        digest = prompt_hash(messages)
        id_name = choose_field(row, self.id_field, ID_FIELDS, path, "id")
        if id_name is None:
            prompt_id = digest
        else:
            if row.get(id_name) is None or str(row[id_name]).strip() == "":
                raise BadInput("missing or empty id", path, number, id_name)
            prompt_id = str(row[id_name])
        earlier = self.seen.get(prompt_id)
        if earlier is not None:
            if earlier[0] != digest:
                raise BadInput(
                    f"duplicate id {prompt_id!r} (first at {earlier[1]}) with a different prompt", path, number, id_name
                )
            self.duplicates += 1
            return None
        self.seen[prompt_id] = (digest, f"{path} row {number}")
        return Prompt(prompt_id, messages, row)

    def consumed_fields(self, row: dict) -> set[str]:
        """Input columns represented by the output `messages` rather than passed through."""
        name = self.prompt_field or next((f for f in PROMPT_FIELDS if f in row), None)
        return {"messages"} if name == "messages" else set()


def check_field_names(prompt_field: str | None, id_field: str | None) -> None:
    for option, value in (("prompt_field", prompt_field), ("id_field", id_field)):
        if value is not None and not value.strip():
            raise OptionError(option, f"--{option.replace('_', '-')} must not be empty")
