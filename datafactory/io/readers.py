"""Read rows from JSONL or JSON arrays (plain or gzip), Parquet and local Hugging Face dataset folders, in bounded chunks.

Why one reader: every stage takes the same kinds of INPUT (a file, a directory of shards, a glob), and every bad
row must be reported the same way, naming the file and the 1-based row.
"""

from __future__ import annotations

import glob
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from datafactory.errors import BadInput, UsageError
from datafactory.io.hub import hub_files, is_hub_spec
from datafactory.io.outdir import MANIFEST, SUCCESS
from datafactory.io.remote import expand_url, fetch_input, is_url

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
ARROW_SUFFIXES = (".arrow",)  # a dataset's Arrow stream file (what `hf:` ids resolve to)


@dataclass
class Chunk:
    """Consecutive rows of one input file; `first_row` is the 1-based row number of rows[0]."""

    path: Path
    first_row: int
    rows: list[dict]


def _is_hf_dataset_dir(path: Path) -> bool:
    return (path / "state.json").is_file() or (path / "dataset_dict.json").is_file()


def _kind(path: Path) -> str:
    name = path.name.lower()
    if path.is_dir():
        if _is_hf_dataset_dir(path):
            return "hf"
        raise UsageError(f"{path}: a directory input needs part-*.parquet shards or a saved HF dataset")
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(ARROW_SUFFIXES):
        return "hf"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    raise UsageError(
        f"{path}: unsupported input type (expected .jsonl, .jsonl.gz, .parquet, a dataset folder or hf:NAME)"
    )


def expand_inputs(specs: list[str | Path], allow_empty: bool = False) -> list[Path]:
    """Resolve INPUT arguments to readable files or HF dataset folders, in a stable order.

    A directory means its part-*.parquet shards (a stage's output; the mix's are in data/); failing that, a saved
    HF dataset; failing that, its top-level JSONL/Parquet files, or those in its data/ (a dataset repository's
    layout). Hidden sub-folders (.rejected/, .removed/) are read only when named. `hf:NAME[:CONFIG[:SPLIT]]` is a
    Hugging Face dataset, loaded with `datasets` (io/hub.py).
    """
    found: list[Path] = []
    for spec in specs:
        text = str(spec)
        if is_hub_spec(text):
            found.extend(hub_files(text))
            continue
        if _is_url_pattern(text):
            found.extend(expand_inputs(expand_url(text), allow_empty))
            continue
        path = fetch_input(text) if is_url(text) else Path(text).expanduser()
        if path.is_dir():
            shards = sorted(path.glob("part-*.parquet")) or sorted(path.glob("data/part-*.parquet"))
            if shards or (path / MANIFEST).is_file():  # a stage's output: its shards, never side files
                if not shards and not allow_empty:
                    raise UsageError(f"{path}: this stage output holds no rows (no part-*.parquet)")
                found.extend(shards)
            elif _is_hf_dataset_dir(path):
                found.append(path)
            else:
                files = _data_files(path) or (_data_files(path / "data") if (path / "data").is_dir() else [])
                if not files:
                    raise UsageError(f"{path}: directory holds no part-*.parquet, JSONL or Parquet files")
                found.extend(files)
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            if not matches:
                raise UsageError(f"{text}: the pattern matches no file")
            found.extend(expand_inputs(matches, allow_empty))
        else:
            raise UsageError(f"{text}: no such file or directory")
    for path in found:
        if _kind(path) == "parquet":
            _readable_parquet(path)
    return list(dict.fromkeys(found))


def _is_url_pattern(text: str) -> bool:
    return is_url(text) and glob.has_magic(text.split("://", 1)[1])


def _data_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name.lower().endswith(JSONL_SUFFIXES + PARQUET_SUFFIXES)
    )


def _readable_parquet(path: Path) -> None:
    """A truncated or corrupted Parquet file fails here, named, before any stage starts on it."""
    try:
        pq.read_metadata(path)
    except (pa.ArrowException, OSError) as err:
        raise BadInput(f"not a readable Parquet file ({str(err).strip()[:200]})", path) from None


def require_finished(specs: list[str | Path], allow_unfinished: bool = False) -> None:
    """Refuse a stage output that has a manifest but no `SUCCESS` (a run stopped half way): reading it would pass
    a fraction of the data on as if it were all of it."""
    if allow_unfinished:
        return
    for spec in specs:
        if _is_url_pattern(str(spec)):
            require_finished(expand_url(str(spec)))
            continue
        path = fetch_input(str(spec)) if is_url(spec) else Path(str(spec)).expanduser()
        if path.is_dir() and (path / MANIFEST).is_file() and not (path / SUCCESS).exists():
            try:
                stage = json.loads((path / MANIFEST).read_text()).get("stage", "stage")
            except (OSError, ValueError):
                stage = "stage"
            raise UsageError(
                f"{spec}: an unfinished {stage} run; run its {stage} command again to finish it, "
                "or pass --allow-unfinished to read what is there"
            )


def _opener(path: Path):
    return gzip.open if path.name.lower().endswith(".gz") else open


def is_json_array(path: Path) -> bool:
    """A `.json` file holding one array of objects (alpaca_data.json, sanitized-mbpp.json), not JSON Lines."""
    with _opener(path)(path, "rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


def _json_lines(path: Path) -> Iterator[tuple[int, object]]:
    with _opener(path)(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as err:
                raise BadInput(f"not valid UTF-8 (byte {err.start})", path, number) from None
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as err:
                raise BadInput(f"invalid JSON ({err.msg} at column {err.colno})", path, number) from None
            except RecursionError:
                raise BadInput("invalid JSON (nested too deeply to read)", path, number) from None
            except ValueError as err:  # a number of more digits than Python reads
                raise BadInput(f"invalid JSON ({err})", path, number) from None


def _json_array(path: Path) -> Iterator[tuple[int, object]]:
    """The items of a JSON array file, streamed (ijson): row N is the array's N-th item."""
    import ijson

    number = 0
    with _opener(path)(path, "rb") as handle:
        if handle.read(3) != b"\xef\xbb\xbf":  # a byte-order mark, as editors on Windows save files
            handle.seek(0)
        try:
            for number, record in enumerate(ijson.items(handle, "item", use_float=True), start=1):  # noqa: B007
                yield number, record
        except ijson.JSONError as err:
            reason = (str(err).strip().splitlines() or ["unreadable"])[0][:120]
            raise BadInput(f"invalid JSON after item {number} ({reason})", path, number + 1) from None
        except UnicodeDecodeError as err:
            raise BadInput(f"not valid UTF-8 (byte {err.start})", path, number + 1) from None


def _read_jsonl(path: Path, chunk_rows: int) -> Iterator[Chunk]:
    rows: list[dict] = []
    first = 1
    seen = 0
    records = _json_array(path) if is_json_array(path) else _json_lines(path)
    try:
        for number, record in records:
            if not isinstance(record, dict):
                raise BadInput(f"expected a JSON object, got {type(record).__name__}", path, number)
            _check_values(record, path, number)
            if not rows:
                first = number
            record["__row__"] = number
            rows.append(record)
            seen += 1
            if len(rows) >= chunk_rows:
                yield Chunk(path, first, rows)
                rows = []
    except (OSError, EOFError) as err:
        raise BadInput(f"cannot read file ({err})", path) from None
    if rows:
        yield Chunk(path, first, rows)
    if not seen:
        raise BadInput("file has no rows", path)


INT64 = 1 << 63
MAX_DEPTH = 64  # Arrow stores nesting as types: deeper is no table anyone means to write


def _check_values(record: dict, path: Path, number: int) -> None:
    """What JSON can hold and a Parquet table cannot: whole numbers beyond 64 bits, text with a lone surrogate
    (`"\\ud800"`), nesting deeper than MAX_DEPTH. One line naming the field, instead of a traceback later."""
    stack = [(key, value, 1) for key, value in record.items()]
    while stack:
        field, value, depth = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadInput("text with a lone surrogate (not encodable as UTF-8)", path, number, field) from None
        elif isinstance(value, int) and not isinstance(value, bool):
            if not -INT64 <= value < INT64:
                raise BadInput(f"a whole number of {value.bit_length()} bits (at most 64)", path, number, field)
        elif isinstance(value, list | dict):
            if depth > MAX_DEPTH:
                raise BadInput(f"nested more than {MAX_DEPTH} deep", path, number, field)
            items = value.values() if isinstance(value, dict) else value
            stack.extend((field, item, depth + 1) for item in items)
            if isinstance(value, dict):
                stack.extend((field, key, depth + 1) for key in value)


def is_stage_shard(path: Path) -> bool:
    """A shard of a stage's output, which may hold zero rows (a dedupe that removed everything)."""
    folder = path.parent.parent if path.parent.name == "data" else path.parent
    return path.name.startswith("part-") and (folder / MANIFEST).is_file()


def _batches_to_chunks(path: Path, batches: Iterator[pa.RecordBatch]) -> Iterator[Chunk]:
    next_row = 1
    seen = 0
    for batch in batches:
        rows = batch.to_pylist()
        for offset, record in enumerate(rows):
            record["__row__"] = next_row + offset
        if rows:
            yield Chunk(path, next_row, rows)
        next_row += len(rows)
        seen += len(rows)
    if not seen and not is_stage_shard(path):
        raise BadInput("file has no rows", path)


def _parquet_batches(
    path: Path, chunk_rows: int, columns: list[str] | None, max_bytes: int | None = None
) -> Iterator[pa.RecordBatch]:
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        raise BadInput(f"not a readable Parquet file ({err})", path) from None
    if columns is not None:
        columns = [c for c in columns if c in parquet.schema_arrow.names]
    if max_bytes is not None:
        chunk_rows = min(chunk_rows, _rows_within(parquet.metadata, columns, max_bytes))
    batches = parquet.iter_batches(batch_size=chunk_rows, columns=columns)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as err:  # a damaged page past an intact footer
            raise BadInput(f"cannot read file ({str(err).strip()[:200]})", path) from None
        yield batch


def _rows_within(metadata: pq.FileMetaData, columns: list[str] | None, max_bytes: int) -> int:
    """Rows that take about `max_bytes` once decoded, by the file's stored (uncompressed) column sizes; an
    estimate, low for dictionary-encoded columns."""
    stored = rows = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        rows += row_group.num_rows
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            if columns is None or chunk.path_in_schema.split(".")[0] in columns:
                stored += chunk.total_uncompressed_size
    return max(1, max_bytes * rows // stored) if stored else max(1, rows)


def _read_parquet(path: Path, chunk_rows: int, columns: list[str] | None = None) -> Iterator[Chunk]:
    yield from _batches_to_chunks(path, _parquet_batches(path, chunk_rows, columns))


def _hf_arrow_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]  # one Arrow file of a loaded dataset
    if (path / "dataset_dict.json").is_file():
        splits = json.loads((path / "dataset_dict.json").read_text()).get("splits", [])
        raise UsageError(f"{path}: a DatasetDict; name one split folder, e.g. {path / (splits or ['train'])[0]}")
    state = json.loads((path / "state.json").read_text())
    return [path / entry["filename"] for entry in state.get("_data_files", [])]


def _hf_batches(path: Path, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    for arrow_file in _hf_arrow_files(path):
        with pa.memory_map(str(arrow_file)) as source:
            for batch in pa.ipc.open_stream(source):
                for start in range(0, batch.num_rows, chunk_rows):
                    yield batch.slice(start, chunk_rows)


def _read_hf(path: Path, chunk_rows: int) -> Iterator[Chunk]:
    yield from _batches_to_chunks(path, _hf_batches(path, chunk_rows))


def read_batches(path: Path, chunk_rows: int = 10_000, columns: list[str] | None = None, max_bytes: int | None = None):
    """Arrow record batches of a Parquet file or HF dataset folder, for stages that work on columns rather than
    rows (None for JSONL, which has no columns to read). Batch rows are numbered from 1 in file order.
    `max_bytes`: Parquet batches of fewer rows where the file says rows are large (long traces)."""
    kind = _kind(path)
    if kind == "parquet":
        return _parquet_batches(path, chunk_rows, columns, max_bytes)
    if kind == "hf":
        if columns is None:
            return _hf_batches(path, chunk_rows)
        return (b.select([c for c in columns if c in b.schema.names]) for b in _hf_batches(path, chunk_rows))
    return None


def read_chunks(path: Path, chunk_rows: int = 1000, columns: list[str] | None = None) -> Iterator[Chunk]:
    """Yield the rows of one input in chunks; each row dict carries its 1-based row number under `__row__`.
    `columns` limits what Parquet inputs decode (other formats return every column)."""
    kind = _kind(path)
    if kind == "parquet":
        yield from _read_parquet(path, chunk_rows, columns)
    else:
        yield from {"jsonl": _read_jsonl, "hf": _read_hf}[kind](path, chunk_rows)


def iter_chunks(paths: list[Path], chunk_rows: int = 1000) -> Iterator[Chunk]:
    for path in paths:
        yield from read_chunks(path, chunk_rows)


def count_rows(path: Path) -> int:
    """Rows of an input without decoding them (Parquet and Arrow metadata; JSONL: its non-blank lines), so
    progress can show totals."""
    kind = _kind(path)
    if kind == "parquet":
        return pq.ParquetFile(path).metadata.num_rows
    if kind == "hf":
        total = 0
        for arrow_file in _hf_arrow_files(path):
            with pa.memory_map(str(arrow_file)) as source:
                total += sum(batch.num_rows for batch in pa.ipc.open_stream(source))
        return total
    if is_json_array(path):
        return sum(1 for _ in _json_array(path))
    with _opener(path)(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def input_schema(path: Path) -> pa.Schema | None:
    """The stored Arrow schema of a Parquet file or HF dataset folder (None for JSONL, which has none)."""
    kind = _kind(path)
    if kind == "parquet":
        return pq.read_schema(path)
    if kind == "hf":
        files = _hf_arrow_files(path)
        if files:
            with pa.memory_map(str(files[0])) as source:
                return pa.ipc.open_stream(source).schema
    return None
