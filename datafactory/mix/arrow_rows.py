"""Column-wise conversion and validation of SFT rows, for Parquet and HF-dataset sources.

Why: converting row by row in Python costs far more than the Parquet IO around it. The shapes that matter at
scale (filter/dedupe output: prompt messages + reasoning + response; `messages` SFT data; prompt/response
columns; ShareGPT `conversations`) are converted here with Arrow kernels and NumPy on offsets. Any row this
path does not accept (a rule broken, a null where a list should be) is handed back to the row path in
`rows.py`, which converts what it can and words the error for the rest, so both paths give the same rows and
the same messages.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datafactory.io.schema import MESSAGES
from datafactory.mix.rows import (
    PROMPT_COLUMNS,
    RESPONSE_COLUMNS,
    SFT_SCHEMA,
    SHAREGPT_SCHEMA,
    TO_SHAREGPT,
)
from datafactory.shapes import ALPACA_INPUT, REASONING_FIELDS, SHAREGPT_ROLES, THOUGHT

ROLE_CODES = ["system", "user", "assistant"]
METADATA = ("prompt_id", "model", "verifier", "pass_rate", "completion_tokens")
COLUMNS = ("messages", "conversations", "reasoning", "system", *PROMPT_COLUMNS, *RESPONSE_COLUMNS, *METADATA)
# read so that batches of the shapes the row path takes go there
COLUMNS = tuple(dict.fromkeys((*COLUMNS, ALPACA_INPUT, "generations", *REASONING_FIELDS)))


def _strings(table: pa.Table, name: str) -> pa.Array | None:
    """A column as a plain string array (None when absent or not text)."""
    if name not in table.column_names:
        return None
    column = table.column(name).combine_chunks()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.cast(pa.string())
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), pa.string())
    return None


def _first_string(table: pa.Table, names: tuple[str, ...]) -> pa.Array:
    present = [a for a in (_strings(table, n) for n in names) if a is not None]
    if not present:
        return pa.nulls(table.num_rows, pa.string())
    return pc.coalesce(*present) if len(present) > 1 else present[0]


def _nonblank(strings: pa.Array) -> np.ndarray:
    """Per string: it has a character that is not whitespace (str.strip() leaves something); null is blank.
    Checked without copying the strings, which trimming them would."""
    blank = pc.or_(pc.equal(pc.binary_length(strings), 0), pc.utf8_is_space(strings))
    return ~pc.fill_null(blank, True).to_numpy(zero_copy_only=False)


def _assistant_text(table: pa.Table) -> pa.Array:
    """`<think>…</think>` + response where reasoning is non-blank; the response alone otherwise (rows.assistant_text)."""
    response = _strings(table, "response")
    if response is None:
        return pa.nulls(table.num_rows, pa.string())
    reasoning = _strings(table, "reasoning")
    if reasoning is None:
        return response
    thought = pc.binary_join_element_wise("<think>\n", reasoning, "\n</think>\n\n", response, "")
    has_reasoning = _nonblank(reasoning)
    return thought if has_reasoning.all() else pc.if_else(pa.array(has_reasoning), thought, response)


def _turns(table: pa.Table):
    """(roles, contents, offsets, usable) of the `messages` or `conversations` lists, whose turns may use
    role/content or ShareGPT's from/value keys (rows.turn); None for a list shape this path does not read (the row
    path then takes the whole batch)."""
    if "messages" in table.column_names and "conversations" in table.column_names:
        return None  # both present: the row path decides row by row
    column = table.column("messages" if "messages" in table.column_names else "conversations").combine_chunks()
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        return None
    item = column.type.value_type
    if not pa.types.is_struct(item):
        return None
    flat = column.flatten()
    keys = {name: flat.field(name) for name in ("role", "from", "content", "value") if item.get_field_index(name) >= 0}
    if not all(pa.types.is_string(a.type) or pa.types.is_large_string(a.type) for a in keys.values()):
        return None
    keys = {name: array.cast(pa.string()) for name, array in keys.items()}  # large_string (polars): offsets only
    if "from" in keys:
        keys["from"] = pc.fill_null(_map_roles(keys["from"], SHAREGPT_ROLES), keys["from"])
    role_arrays = [keys[k] for k in ("role", "from") if k in keys]
    content_arrays = [keys[k] for k in ("content", "value") if k in keys]
    if not role_arrays or not content_arrays:
        return None
    roles = pc.coalesce(*role_arrays) if len(role_arrays) > 1 else role_arrays[0]
    contents = pc.coalesce(*content_arrays) if len(content_arrays) > 1 else content_arrays[0]
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    usable = column.is_valid().to_numpy(zero_copy_only=False).copy()
    null_item = flat.is_null().to_numpy(zero_copy_only=False)
    if null_item.any():  # the row path drops null messages; leave those rows to it
        usable &= np.bincount(np.repeat(np.arange(table.num_rows), lengths)[null_item], minlength=table.num_rows) == 0
    return roles, contents, offsets, usable


def _map_roles(roles: pa.Array, mapping: dict[str, str]) -> pa.Array:
    keys = list(mapping)
    index = pc.index_in(roles, value_set=pa.array(keys))
    return pa.array([mapping[k] for k in keys], pa.string()).take(index)


def convert(table: pa.Table, category: str, source: str, sharegpt: bool) -> tuple[pa.Table, np.ndarray] | None:
    """The SFT rows of `table` and a mask of the rows converted here; rows outside the mask go to the row path.
    None when the batch's shape is not one this path knows."""
    if _row_path_shape(table):
        return None
    rows = table.num_rows
    metadata = _metadata(table, category, source)
    if metadata is None:
        return None
    if "messages" in table.column_names or "conversations" in table.column_names:
        turns = _turns(table)
        if turns is None:
            return None
        roles, contents, offsets, usable = turns
        lengths = np.diff(offsets)
        last = np.full(rows, -1, dtype=np.int64)
        nonempty = lengths > 0
        codes = pc.fill_null(pc.index_in(roles, value_set=pa.array(ROLE_CODES)), -1).to_numpy(zero_copy_only=False)
        last[nonempty] = codes[offsets[1:][nonempty] - 1]
        append = last != ROLE_CODES.index("assistant")
        completion = _strings(table, "completion")
        answer = _assistant_text(table)
        answer = pc.coalesce(answer, completion) if completion is not None else answer
    else:
        prompt = _first_string(table, PROMPT_COLUMNS)
        system = _strings(table, "system")
        has_system = np.zeros(rows, dtype=bool)
        if system is not None:
            has_system = _nonblank(system)
        roles, contents, lengths = _prompt_turns(prompt, system, has_system)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        usable = prompt.is_valid().to_numpy(zero_copy_only=False).copy()
        append = np.ones(rows, dtype=bool)
        answer = pc.coalesce(_assistant_text(table), _first_string(table, RESPONSE_COLUMNS))
    usable &= ~append | answer.is_valid().to_numpy(zero_copy_only=False)
    roles, contents, offsets = _append_answers(roles, contents, offsets, append, answer)
    usable &= _valid(roles, contents, offsets)
    name = "conversations" if sharegpt else "messages"
    out = pa.table({name: _list_of_turns(roles, contents, offsets, sharegpt), **metadata})
    schema = SHAREGPT_SCHEMA if sharegpt else SFT_SCHEMA
    return out.select(schema.names).cast(schema), usable


def _row_path_shape(table: pa.Table) -> bool:
    """Shapes the row path reads (shapes.py): Alpaca's `input`, reasoning apart from its answer (a column, or a key
    of the turns), OpenThoughts markers, several generations in a row."""
    names = set(table.column_names)
    if "generations" in names or "reasoning_content" in names or {"instruction", ALPACA_INPUT} <= names:
        return True
    if "reasoning" in names and "response" not in names:  # reasoning beside `content`/`output`
        return True
    for column in ("messages", "conversations"):
        kind = table.schema.field(column).type if column in names else None
        struct = kind is not None and pa.types.is_list(kind) and pa.types.is_struct(kind.value_type)
        if struct and any(kind.value_type.get_field_index(f) >= 0 for f in REASONING_FIELDS):
            return True
    completion = _strings(table, "completion")
    return completion is not None and any(pc.any(pc.match_substring(completion, marker)).as_py() for marker in THOUGHT)


def _prompt_turns(prompt: pa.Array, system: pa.Array | None, has_system: np.ndarray):
    """Roles and contents of [system?, user] per row, for prompt/response rows."""
    rows = len(prompt)
    lengths = 1 + has_system.astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)])[:-1]
    total = int(lengths.sum())
    take = np.empty(total, dtype=np.int64)
    take[starts + has_system] = np.arange(rows)  # the user turn: prompt[i]
    take[starts[has_system]] = rows + np.flatnonzero(has_system)  # the system turn: system[i]
    role_pool = pa.array(["user"] * rows + ["system"] * rows, pa.string())
    content_pool = pa.concat_arrays([prompt, system if system is not None else pa.nulls(rows, pa.string())])
    index = pa.array(take)
    return role_pool.take(index), content_pool.take(index), lengths


def _append_answers(roles: pa.Array, contents: pa.Array, offsets: np.ndarray, append: np.ndarray, answer: pa.Array):
    """Add an assistant turn with `answer` to the rows in `append`, keeping every list's order."""
    if not append.any():  # conversations that end with the assistant already: nothing to copy
        return roles, contents, offsets
    lengths = np.diff(offsets)
    added = append.astype(np.int64)
    new_offsets = np.concatenate([[0], np.cumsum(lengths + added)])
    shift = new_offsets[:-1] - offsets[:-1]
    take = np.empty(int(new_offsets[-1]), dtype=np.int64)
    take[np.arange(len(roles)) + np.repeat(shift, lengths)] = np.arange(len(roles))
    take[new_offsets[1:][append] - 1] = len(roles) + np.flatnonzero(append)
    index = pa.array(take)
    all_roles = pa.chunked_array([roles, pa.array(["assistant"] * len(answer), pa.string())])
    all_contents = pa.chunked_array([contents, answer], pa.string())  # taken from both without joining them first
    return all_roles.take(index).combine_chunks(), all_contents.take(index).combine_chunks(), new_offsets


def _valid(roles: pa.Array, contents: pa.Array, offsets: np.ndarray) -> np.ndarray:
    """Per row: roles alternate user/assistant after an optional system message, the assistant speaks last,
    no content is empty (rows.validate)."""
    rows = len(offsets) - 1
    lengths = np.diff(offsets)
    code = pc.fill_null(pc.index_in(roles, value_set=pa.array(ROLE_CODES)), -1).to_numpy(zero_copy_only=False)
    item_ok = _nonblank(contents)
    row_of = np.repeat(np.arange(rows), lengths)
    position = np.arange(len(code)) - offsets[:-1][row_of]
    has_system = np.zeros(rows, dtype=bool)
    nonempty = lengths > 0
    has_system[nonempty] = code[offsets[:-1][nonempty]] == 0
    body_position = position - has_system[row_of]
    expected = np.where(body_position < 0, 0, np.where(body_position % 2 == 0, 1, 2))
    item_ok &= code == expected
    bad_items = np.bincount(row_of[~item_ok], minlength=rows)
    body = lengths - has_system
    return (bad_items == 0) & (body > 0) & (body % 2 == 0)


def _list_of_turns(roles: pa.Array, contents: pa.Array, offsets: np.ndarray, sharegpt: bool) -> pa.Array:
    if sharegpt:
        fields = [_map_roles(roles, TO_SHAREGPT), contents]
        struct = pa.StructArray.from_arrays(fields, names=["from", "value"])
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), struct)
    struct = pa.StructArray.from_arrays([roles, contents], names=["role", "content"])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), struct).cast(MESSAGES)


def _metadata(table: pa.Table, category: str, source: str) -> dict[str, pa.Array] | None:
    """The provenance columns, typed as `sft_row` types them (None for a prompt_id type only the row path can word)."""
    rows = table.num_rows

    def numeric(name: str, target: pa.DataType, allow_float: bool) -> pa.Array:
        if name not in table.column_names:
            return pa.nulls(rows, target)
        column = table.column(name).combine_chunks()
        kind = column.type
        if pa.types.is_integer(kind) or pa.types.is_boolean(kind) or (allow_float and pa.types.is_floating(kind)):
            return column.cast(target)
        return pa.nulls(rows, target)

    prompt_id = pa.nulls(rows, pa.string())
    if "prompt_id" in table.column_names:
        column = table.column("prompt_id").combine_chunks()
        kind = column.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)):
            return None  # str() of other types is the row path's business
        prompt_id = column.cast(pa.string())
    return {
        "category": pa.array([category] * rows, pa.string()),
        "source": pa.array([source] * rows, pa.string()),
        "prompt_id": prompt_id,
        "model": _strings(table, "model") or pa.nulls(rows, pa.string()),
        "verifier": _strings(table, "verifier") or pa.nulls(rows, pa.string()),
        "pass_rate": numeric("pass_rate", pa.float64(), allow_float=True),
        "completion_tokens": numeric("completion_tokens", pa.int32(), allow_float=False),
    }
