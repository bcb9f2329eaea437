"""Which columns of an input the filter reads: generate's samples as they are, and reasoning data people already have.

Why: sets of traces come as ShareGPT `conversations`, `messages` with an assistant turn, or `prompt`/`response`
columns; renaming them one error at a time is not a way to start. The completion is `--completion-field`, else
`completion`, `response` or `output`, else the last assistant turn of `messages`/`conversations` (the turns before
it become the row's prompt `messages`). The prompt id is `--id-field`, else `prompt_id`, else a hash of the prompt
(as generate makes it), so samples of one prompt still group for pass rates and `--keep`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from datafactory.errors import BadInput
from datafactory.prompts import prompt_hash

COMPLETION_COLUMNS = ("completion", "response", "output")
CONVERSATION_COLUMNS = ("messages", "conversations")
PROMPT_COLUMNS = ("prompt", "problem", "question", "instruction")
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
MESSAGES_TYPE = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


@dataclass(frozen=True)
class InputShape:
    completion: str | None  # the column holding the completion; None: the last assistant turn of `conversation`
    conversation: str | None
    prompt: str | None  # a text column to hash into ids when there is neither an id column nor a conversation
    ids: str | None  # the id column; None: hashed from the prompt

    def rows_schema(self, schema: pa.Schema) -> pa.Schema:
        """The rows' schema once `apply` ran: prompt_id as text (an input's whole-number ids are written as text),
        and the columns the rows gain."""
        own = [pa.field("prompt_id", pa.string()) if f.name == "prompt_id" else f for f in schema]
        return pa.schema(own + self.added_fields(schema))

    def added_fields(self, schema: pa.Schema) -> list[pa.Field]:
        """Columns the rows gain: prompt_id and completion where the input has none, prompt messages for chats."""
        fields = []
        if "prompt_id" not in schema.names:
            fields.append(pa.field("prompt_id", pa.string()))
        if "completion" not in schema.names:
            fields.append(pa.field("completion", pa.string()))
        if self.completion is None and "messages" not in schema.names:
            fields.append(pa.field("messages", MESSAGES_TYPE))
        return fields

    def apply(self, row: dict, path, number: int) -> dict:
        """The row with `prompt_id` and `completion` (and, for chats, the prompt `messages`) filled in."""
        prompt_messages = None
        if self.completion is None:
            prompt_messages, completion = _split_chat(row.get(self.conversation), path, number, self.conversation)
            row["messages"] = prompt_messages
        else:
            completion = row.get(self.completion)
            if row.get("messages") is not None:
                _check_turns(row["messages"], path, number, "messages")
        row["completion"] = completion
        if self.ids is not None:
            row["prompt_id"] = _identifier(row.get(self.ids), path, number, self.ids)
        else:
            if prompt_messages is None:
                prompt_messages = [{"role": "user", "content": _text(row.get(self.prompt))}]
            row["prompt_id"] = prompt_hash(prompt_messages)
        index = row.get("sample_index")
        if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
            raise BadInput(f"expected a whole number from 0, got {index!r:.40}", path, number, "sample_index")
        return row


def plan_input(
    path, schema: pa.Schema, completion_field=None, prompt_field=None, id_field=None, gold_field=None
) -> InputShape:
    """Where the completion, the id and the gold come from; every missing column named in one error."""
    names = set(schema.names)
    missing = []
    conversation = next((c for c in CONVERSATION_COLUMNS if c in names), None)
    if completion_field:
        completion = completion_field if completion_field in names else None
        if completion is None:
            missing.append(f"'{completion_field}' (--completion-field)")
    else:
        completion = next((c for c in COMPLETION_COLUMNS if c in names), None)
        if completion is None and conversation is None:
            missing.append(
                f"a completion ({', '.join(COMPLETION_COLUMNS + CONVERSATION_COLUMNS)}, or --completion-field)"
            )
    ids = id_field or ("prompt_id" if "prompt_id" in names else None)
    if id_field and id_field not in names:
        missing.append(f"'{id_field}' (--id-field)")
    prompt = prompt_field or next((c for c in PROMPT_COLUMNS if c in names), None)
    if prompt_field and prompt_field not in names:
        missing.append(f"'{prompt_field}' (--prompt-field)")
    if ids is None and prompt is None and (completion is not None or conversation is None):
        missing.append(f"a prompt_id or a prompt to hash one from ({', '.join(PROMPT_COLUMNS)}, or --prompt-field)")
    if gold_field and gold_field not in names:
        missing.append(f"the gold '{gold_field}' (--gold-field)")
    if missing:
        raise BadInput(f"missing {'; '.join(missing)}; columns: {', '.join(schema.names)}", path)
    return InputShape(completion, conversation if completion is None else None, prompt, ids)


def _text(value) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _identifier(value, path, number: int, column: str) -> str:
    """A prompt id: text, or a whole number written as text (ids are text downstream); anything else (null, a list)
    is bad input."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise BadInput(f"expected a prompt id (text or a whole number), got {value!r:.40}", path, number, column)
    return value


ROLES = ("system", "user", "assistant", "tool", "function", "developer")


def _check_turns(turns, path, number: int, column: str) -> list[dict]:
    """The turns of a messages or ShareGPT conversation as {role, content}: a list of objects with a known role
    and text (or null) content; anything else is bad input, not a prompt read wrong."""
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
        messages.append({"role": role, "content": _text(content)})
    return messages


def _split_chat(turns, path, number: int, column: str) -> tuple[list[dict], str]:
    """(prompt messages, last assistant content) of a messages or ShareGPT conversation."""
    messages = _check_turns(turns, path, number, column)
    if messages[-1]["role"] != "assistant":
        raise BadInput("the last turn is not the assistant's: nothing to filter", path, number, column)
    return messages[:-1], messages[-1]["content"]
