"""Which columns of an input the filter reads: generate's samples as they are, and reasoning data people already have.

Why: sets of traces come in many shapes (README, "Filter data you already have"), and a shape read wrong keeps wrong
rows without a word. The completion is `--completion-field`, else the first of: `completion`; a `generations`
list (one sample per item, OpenR1-Math); `response`/`output`/`content` (with `reasoning_content`/`reasoning`
before it, as R1 writes it); the last assistant turn of `messages`/`conversations`; a worked `solution`. The
prompt is the prompt turns of the conversation, else a prompt column (Alpaca's `input` joined to its
`instruction`), with a `system` column in front. An input column named like one the filter writes is carried as
`input_<name>`, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from datafactory.errors import BadInput
from datafactory.filtering.turns import assistant_completion, check_turns, prompt_turns
from datafactory.io.schema import MESSAGES
from datafactory.prompts import prompt_hash
from datafactory.shapes import (
    ANSWER_COLUMNS,
    PROMPT_COLUMNS,
    REASONING_FIELDS,
    THINK,
    prompt_text,
    to_think_tags,
    uses_thought_markers,
    with_reasoning,
)

CONVERSATION_COLUMNS = ("messages", "conversations")
GENERATIONS = "generations"
SOLUTION = "solution"  # a worked solution (MATH, NuminaMath): the completion when nothing else is
COMPLETION_ORDER = ("completion", GENERATIONS, *ANSWER_COLUMNS)
PER_GENERATION = ("finish_reasons", "is_reasoning_complete")  # and every correctness_* list (OpenR1-Math)


def per_generation(name: str) -> bool:
    return name in PER_GENERATION or name.startswith("correctness")


@dataclass(frozen=True)
class InputShape:
    completion: str | None  # a text column (or list column: `generations`); None: the conversation's last turn
    conversation: str | None  # messages/conversations whose last assistant turn is the completion
    prompt: str | None  # a text column the prompt is read from, when no conversation holds it
    ids: str | None  # the id column; None: hashed from the prompt
    prompt_turns: str | None = None  # a conversation holding the prompt, when the completion comes from elsewhere
    reasoning: str | None = None  # a column holding the completion's reasoning apart from it
    generations: bool = False  # `completion` is a list: one sample per item
    sliced: tuple[str, ...] = ()  # per-generation lists: sample i takes item i
    system: bool = False  # a `system` column goes in front of the prompt
    renamed: dict[str, str] = field(default_factory=dict)  # input column -> the name it is carried under
    writes_messages: bool = True  # the rows' `messages` are the prompt turns this shape builds
    to_think: bool = False  # OpenThoughts markers rewritten as <think> tags

    def rows_schema(self, schema: pa.Schema) -> pa.Schema:
        """The rows' schema once `apply` ran: renamed columns, per-generation lists as their items, prompt_id as
        text (whole-number ids are written as text), and the columns the rows gain."""
        fields = []
        for f in schema:
            if self.generations and f.name == self.completion:
                continue  # each item is a sample's completion
            kind = f.type.value_type if f.name in self.sliced else f.type
            name = self.renamed.get(f.name, f.name)
            fields.append(pa.field(name, pa.string() if name == "prompt_id" else kind))
        names = {f.name for f in fields}
        gained = [("prompt_id", pa.string()), ("completion", pa.string())]
        if self.generations:
            gained.append(("sample_index", pa.int32()))
        if self.writes_messages:
            gained.append(("messages", MESSAGES))
        return pa.schema(fields + [pa.field(n, t) for n, t in gained if n not in names])

    def apply(self, row: dict, path, number: int) -> list[dict]:
        """The samples of one input row (one, or one per generation), each with `prompt_id`, `completion` and the
        prompt `messages`, its other columns carried under their output names."""
        out = {self.renamed.get(k, k): v for k, v in row.items() if not (self.generations and k == self.completion)}
        if self.conversation is not None:
            messages, completion = assistant_completion(row.get(self.conversation), path, number, self.conversation)
        else:
            messages, completion = self._prompt(row, path, number), row.get(self.completion)
        system = row.get("system") if self.system else None
        if isinstance(system, str) and system.strip() and (not messages or messages[0]["role"] != "system"):
            messages = [{"role": "system", "content": row["system"]}, *(messages or [])]
        if self.writes_messages:
            out["messages"] = messages
        out["prompt_id"] = self._prompt_id(row, messages, path, number)
        if not self.generations:
            out["completion"] = self._completion(completion, row, path, number, self.completion or self.conversation)
            _check_sample_index(out.get("sample_index"), path, number)
            return [out]
        return self._samples(out, completion, row, path, number)

    def _prompt(self, row: dict, path, number: int) -> list[dict] | None:
        if self.prompt_turns is not None and row.get(self.prompt_turns) is not None:
            if not self.writes_messages:  # generate's samples: `messages` is the prompt, kept as it is
                return _only_prompt(row[self.prompt_turns], path, number, self.prompt_turns)
            return prompt_turns(row[self.prompt_turns], path, number, self.prompt_turns)
        if self.prompt is None:
            return None
        text = prompt_text(row, self.prompt)
        if text is None or not text.strip():
            if self.ids is None:
                raise BadInput("no prompt text to tell this row's prompt from others", path, number, self.prompt)
            return None
        return [{"role": "user", "content": text}]

    def _prompt_id(self, row: dict, messages, path, number: int) -> str:
        if self.ids is not None:
            return _identifier(row.get(self.ids), path, number, self.ids)
        if not messages:
            column = self.conversation or self.prompt_turns or self.prompt
            raise BadInput("no prompt to tell this row's prompt from others", path, number, column)
        return prompt_hash(messages)

    def _completion(self, text, row: dict, path, number: int, column: str):
        if text is not None and not isinstance(text, str):
            raise BadInput(f"expected text, got {type(text).__name__}", path, number, column)
        if self.reasoning is not None and (text is None or (THINK[1] not in text and not uses_thought_markers(text))):
            reasoning = row.get(self.reasoning)
            if reasoning is not None and not isinstance(reasoning, str):
                raise BadInput(f"expected text, got {type(reasoning).__name__}", path, number, self.reasoning)
            if reasoning:
                text = with_reasoning(reasoning, text)
        return to_think_tags(text) if self.to_think and text else text

    def _samples(self, out: dict, generations, row: dict, path, number: int) -> list[dict]:
        if not isinstance(generations, list) or not generations:
            raise BadInput("expected a non-empty list of generations", path, number, self.completion)
        samples = []
        for index, text in enumerate(generations):
            sample = {**out, "sample_index": index}
            sample["completion"] = self._completion(text, row, path, number, self.completion)
            for column in self.sliced:
                items = row.get(column)
                if items is not None:
                    if not isinstance(items, list) or len(items) != len(generations):
                        count = len(items) if isinstance(items, list) else type(items).__name__
                        raise BadInput(
                            f"{count} items for {len(generations)} generations (one per generation expected)",
                            path,
                            number,
                            column,
                        )
                    sample[column] = items[index]
            samples.append(sample)
        return samples


def plan_input(
    path, schema: pa.Schema, completion_field=None, prompt_field=None, id_field=None, gold_field=None,
    own: frozenset[str] = frozenset(), to_think: bool = False, reasoning_field=None,
) -> InputShape:  # fmt: skip
    """Where the completion, the prompt, the id and the gold come from; every missing column named in one error.
    `own`: the columns the stage writes, which an input column of the same name is carried beside."""
    names = list(schema.names)
    missing = []
    conversations = [c for c in CONVERSATION_COLUMNS if c in names]
    if completion_field:
        source = completion_field if completion_field in names else None
        if source is None:
            missing.append(f"'{completion_field}' (--completion-field)")
    else:
        source = next((c for c in COMPLETION_ORDER if c in names), None)
        source = source or (conversations[0] if conversations else None) or (SOLUTION if SOLUTION in names else None)
        if source is None:
            choices = ", ".join((*COMPLETION_ORDER, *CONVERSATION_COLUMNS, SOLUTION))
            missing.append(f"a completion ({choices}, or --completion-field)")
    conversation = source if source is not None and _is_conversation(schema, source) else None
    generations = source is not None and conversation is None and _is_text_list(schema, source)
    ids = id_field or ("prompt_id" if "prompt_id" in names else None)
    if id_field and id_field not in names:
        missing.append(f"'{id_field}' (--id-field)")
    prompt_turns = None if conversation else next(iter(conversations), None)
    prompt = prompt_field or (None if conversation else _first(PROMPT_COLUMNS, names))
    if prompt_field and prompt_field not in names:
        missing.append(f"'{prompt_field}' (--prompt-field)")
    if prompt_field:
        prompt_turns = None
    if ids is None and prompt is None and conversation is None and prompt_turns is None:
        missing.append(f"a prompt_id or a prompt to hash one from ({', '.join(PROMPT_COLUMNS)}, or --prompt-field)")
    if gold_field and gold_field not in names:
        missing.append(f"the gold '{gold_field}' (--gold-field)")
    if reasoning_field and reasoning_field not in names:
        missing.append(f"'{reasoning_field}' (--reasoning-field)")
    if missing:
        raise BadInput(f"missing {'; '.join(missing)}; columns: {', '.join(names)}", path)
    reasoning = None
    if reasoning_field:
        if conversation is not None or generations:
            raise BadInput(
                f"--reasoning-field {reasoning_field}: the completion is '{source}', not a text column", path
            )
        reasoning = reasoning_field
    elif source not in (None, "completion") and conversation is None and not generations:
        reasoning = next((c for c in REASONING_FIELDS if c in names and c != source), None)
    # generate's samples keep their prompt `messages`; every other shape gets the prompt turns it was read from
    writes_messages = not (source == "completion" and "messages" in names and prompt_field is None)
    if writes_messages and prompt is None and conversation is None and prompt_turns is None:
        writes_messages = False  # nothing to build them from: ids and completions only
    sliced = tuple(n for n in names if generations and per_generation(n) and _is_list(schema, n))
    written = set(own) | {"prompt_id", "completion"} | ({"messages"} if writes_messages else set())
    if generations:
        written.add("sample_index")
    kept = {source if source in ("completion", "messages") else None, ids if ids == "prompt_id" else None}
    renamed = _renames(names, written - kept)
    return InputShape(
        completion=None if conversation else source,
        conversation=conversation,
        prompt=prompt,
        ids=ids,
        prompt_turns=prompt_turns,
        reasoning=reasoning,
        generations=generations,
        sliced=sliced,
        system="system" in names,
        renamed=renamed,
        writes_messages=writes_messages,
        to_think=to_think,
    )


def _renames(names: list[str], written: set[str]) -> dict[str, str]:
    """`input_<name>` for each input column the stage writes itself (`input_input_<name>` if that is taken too)."""
    taken = set(names) | written
    renamed = {}
    for name in names:
        if name in written:
            target = f"input_{name}"
            while target in taken:
                target = f"input_{target}"
            taken.add(target)
            renamed[name] = target
    return renamed


def _first(candidates: tuple[str, ...], names: list[str]) -> str | None:
    return next((c for c in candidates if c in names), None)


def _is_list(schema: pa.Schema, name: str) -> bool:
    kind = schema.field(name).type
    return pa.types.is_list(kind) or pa.types.is_large_list(kind)


def _is_conversation(schema: pa.Schema, name: str) -> bool:
    return _is_list(schema, name) and pa.types.is_struct(schema.field(name).type.value_type)


def _is_text_list(schema: pa.Schema, name: str) -> bool:
    if not _is_list(schema, name):
        return False
    item = schema.field(name).type.value_type
    return pa.types.is_string(item) or pa.types.is_large_string(item) or pa.types.is_null(item)


def _identifier(value, path, number: int, column: str) -> str:
    """A prompt id: text, or a whole number written as text (ids are text downstream); anything else (null, a list)
    is bad input."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise BadInput(f"expected a prompt id (text or a whole number), got {value!r:.40}", path, number, column)
    return value


def _only_prompt(turns, path, number: int, column: str) -> list[dict]:
    messages = check_turns(turns, path, number, column)
    if messages[-1]["role"] == "assistant":
        raise BadInput(
            "ends with an assistant turn beside a 'completion' column: which is the completion? "
            "(--completion-field messages reads the turn)",
            path,
            number,
            column,
        )
    return messages


def _check_sample_index(index, path, number: int) -> None:
    if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
        raise BadInput(f"expected a whole number from 0, got {index!r:.40}", path, number, "sample_index")
