"""The Arrow schemas of the row contracts (README: each stage's schema, "Output directory contract"), and the typing of columns passed through from the input.

Why in one place: every stage reads what another wrote, so the column names and types must not drift.
"""

from __future__ import annotations

import json

import pyarrow as pa

from datafactory.errors import UsageError

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)

SAMPLES_FIELDS = [
    pa.field("prompt_id", pa.string()),
    pa.field("sample_index", pa.int32()),
    pa.field("messages", MESSAGES),
    pa.field("completion", pa.string()),
    pa.field("finish_reason", pa.string()),
    pa.field("prompt_tokens", pa.int32()),
    pa.field("completion_tokens", pa.int32()),
    pa.field("abort_reason", pa.string()),  # the rule a sample stopped in flight had failed for good, else null
    pa.field("aborted_at_tokens", pa.int32()),
    pa.field("model", pa.string()),
    pa.field("engine", pa.string()),
    pa.field("sampling", pa.string()),
]
SAMPLES_COLUMNS = [f.name for f in SAMPLES_FIELDS]
INTERNAL_COLUMNS = {"__row__"}


def passthrough_name(column: str) -> str:
    """Input columns keep their names, except those a stage writes itself, which get an `input_` prefix."""
    return f"input_{column}" if column in SAMPLES_COLUMNS else column


class PassthroughTypes:
    """Infers one Arrow type per input column over every chunk, so all shards of a run share one schema.

    A column whose values do not unify (say a number in one file and text in another) becomes a string
    column: text stays as it is, other values are written as JSON. Nothing is dropped.
    """

    def __init__(self, prefix_reserved: bool = True) -> None:
        self.prefix_reserved = prefix_reserved
        self.types: dict[str, pa.DataType | None] = {}
        self.as_json: set[str] = set()

    def observe(self, rows: list[dict], skip: set[str] = frozenset()) -> None:
        columns: dict[str, None] = {}
        for row in rows:
            columns.update(dict.fromkeys(row))
        for column in columns:
            if column in INTERNAL_COLUMNS or column in skip or column in self.as_json:
                continue
            try:
                found = pa.array([row.get(column) for row in rows]).type
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                self._to_json(column)
                continue
            self._merge(column, found)

    def _to_json(self, column: str) -> None:
        self.as_json.add(column)
        self.types[column] = pa.string()

    def _merge(self, column: str, found: pa.DataType) -> None:
        known = self.types.get(column)
        if known is None or pa.types.is_null(known):
            self.types[column] = found
        elif pa.types.is_null(found) or found == known:
            return
        else:
            try:
                merged = pa.unify_schemas(
                    [pa.schema([(column, known)]), pa.schema([(column, found)])], promote_options="permissive"
                )
                self.types[column] = merged.field(column).type
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                self._to_json(column)

    def _name(self, column: str) -> str:
        return passthrough_name(column) if self.prefix_reserved else column

    def fields(self) -> list[pa.Field]:
        out = []
        for column, kind in self.types.items():
            kind = pa.string() if kind is None or pa.types.is_null(kind) else kind
            out.append(pa.field(self._name(column), kind))
        return out

    def values(self, row: dict) -> dict:
        """The row's pass-through columns under their output names, JSON-encoded where the column needs it."""
        out = {}
        for column in self.types:
            value = row.get(column)
            if column in self.as_json and value is not None and not isinstance(value, str):
                value = json.dumps(value, ensure_ascii=False, default=str)
            out[self._name(column)] = value
        return out

    def to_json(self) -> dict:
        return {"columns": [str(f) for f in self.fields()], "json_encoded": sorted(self.as_json)}


def stored_row_schema(path, drop: set[str] = frozenset()) -> pa.Schema:
    """An input file's columns as Arrow types: stored for Parquet/HF folders, inferred over the file for JSONL
    (columns whose types conflict become text); internal columns and `drop` left out."""
    from datafactory.io.readers import input_schema, read_chunks

    schema = input_schema(path)
    if schema is None:
        types = PassthroughTypes(prefix_reserved=False)
        for chunk in read_chunks(path):
            types.observe(chunk.rows)
        schema = pa.schema(types.fields())
    return pa.schema([f for f in schema if f.name not in INTERNAL_COLUMNS and f.name not in drop])


def samples_schema(passthrough: PassthroughTypes) -> pa.Schema:
    return pa.schema(SAMPLES_FIELDS + passthrough.fields())


def unified_schema(schemas: list[pa.Schema], paths: list | None = None) -> pa.Schema:
    """One schema for several input files (an int column here, a float there: float), or a usage error naming the
    first file whose columns disagree with those before it."""
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        if paths:
            union = schemas[0]
            for path, schema in zip(paths[1:], schemas[1:], strict=True):
                try:
                    union = pa.unify_schemas([union, schema], promote_options="permissive")
                except (pa.ArrowInvalid, pa.ArrowTypeError) as clash:
                    raise UsageError(f"{path}: its columns' types differ from the inputs before it ({clash})") from None
        raise UsageError(f"the inputs' columns have incompatible types: {err}") from None
