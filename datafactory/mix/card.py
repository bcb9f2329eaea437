"""What trainers and people read beside the shards: a dataset card and LLaMA-Factory's dataset_info.json.

Why a YAML header: `datasets.load_dataset(OUT)` reads `configs`/`data_files` from README.md and then loads only
the shards in `data/`, and the Hugging Face Hub shows the card: uploading OUT is all it takes to publish the mix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datafactory.io.writer import atomic_write_bytes
from datafactory.percentiles import percentiles


def _token_stats(folder: Path) -> dict:
    """Completion-token percentiles per category, in the order the categories first appear."""
    columns = ["category", "completion_tokens"]
    shards = sorted(folder.glob("data/part-*.parquet"))
    if not shards:
        return {}
    table = pa.concat_tables(pq.read_table(shard, columns=columns) for shard in shards)
    table = table.filter(pc.and_(table.column("completion_tokens").is_valid(), table.column("category").is_valid()))
    categories = table.column("category").combine_chunks().dictionary_encode()  # codes in order of appearance
    codes = categories.indices.to_numpy(zero_copy_only=False)
    tokens = table.column("completion_tokens").to_numpy(zero_copy_only=False)
    return {name: percentiles(tokens[codes == code]) for code, name in enumerate(categories.dictionary.to_pylist())}


def write_card(out: Path, config, counts: dict, sharegpt: bool) -> None:
    column = "conversations" if sharegpt else "messages"
    sources = "\n".join(
        f"| {name} | {info['category']} | {info['available']:,} | {info['taken']:,} | {info['weight'] if info['weight'] is not None else 'by size'} |"
        for name, info in counts["per_source"].items()
    )
    tokens = "\n".join(
        f"| {category} | " + " | ".join(f"{stats.get(p, '-')}" for p in ("p50", "p90", "p99", "p100")) + " |"
        for category, stats in _token_stats(out).items()
    )
    per_category = counts["per_category"]
    text = f"""---
configs:
- config_name: default
  data_files:
  - split: train
    path: "data/part-*.parquet"
tags:
- datafactory
- sft
- reasoning
---

# {config.name}

A supervised-fine-tuning mix built by `datafactory mix`: reasoning and general conversations at
{config.ratio} (seed {config.seed}), one row per conversation in the `{column}` column, with `category`, `source`,
`prompt_id` and provenance (`model`, `verifier`, `pass_rate`, `completion_tokens`).

- rows: {counts["rows_out"]:,} (reasoning {per_category["reasoning"]["taken"]:,}, general {per_category["general"]["taken"]:,})
- sampling: {"with" if config.replacement else "without"} replacement

| source | category | available | taken | weight |
| --- | --- | --- | --- | --- |
{sources}

Completion tokens (where the source recorded them):

| category | p50 | p90 | p99 | max |
| --- | --- | --- | --- | --- |
{tokens}

Load it with `datasets.load_dataset("{out.name}")` pointed at this folder (or its Hub repository once uploaded),
pandas or polars on `data/`, TRL's `SFTTrainer` (conversational format), axolotl (`type: chat_template`), or
LLaMA-Factory through `dataset_info.json`.
"""
    atomic_write_bytes(out / "README.md", text.encode())


def write_llamafactory_info(out: Path, name: str, sharegpt: bool) -> None:
    """One dataset entry for the `data/` folder (LLaMA-Factory reads a folder that holds only data files). Tags
    follow its OpenAI-style `messages` format (or ShareGPT's)."""
    if sharegpt:
        columns = {"messages": "conversations"}
        tags = {
            "role_tag": "from",
            "content_tag": "value",
            "user_tag": "human",
            "assistant_tag": "gpt",
            "system_tag": "system",
        }
    else:
        columns = {"messages": "messages"}
        tags = {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
            "system_tag": "system",
        }
    entries = {name: {"file_name": "data", "formatting": "sharegpt", "columns": columns, "tags": tags}}
    atomic_write_bytes(out / "dataset_info.json", (json.dumps(entries, indent=2) + "\n").encode())
