"""Inputs named by a Hugging Face dataset id: `hf:NAME[:CONFIG[:SPLIT]]`, e.g. `hf:openai/gsm8k:main:test`.

Why through `datasets.load_dataset`: it downloads (or finds in its cache, or reads a local dataset folder) and
leaves the split as Arrow files on disk, which every stage then streams like a saved dataset folder; nothing is
held in memory. Offline, set HF_DATASETS_OFFLINE=1 and it reads its cache.
"""

from __future__ import annotations

from pathlib import Path

from datafactory.errors import UsageError

PREFIX = "hf:"


def is_hub_spec(text: str) -> bool:
    return text.startswith(PREFIX)


def parse_hub_spec(text: str) -> tuple[str, str | None, str]:
    """(name, config or None, split); the split defaults to train."""
    parts = text[len(PREFIX) :].split(":")
    if not parts[0] or len(parts) > 3:
        raise UsageError(f"{text}: expected hf:NAME[:CONFIG[:SPLIT]], e.g. hf:openai/gsm8k:main:test")
    name, config, split = (parts + [None, None])[:3]
    return name, config or None, split or "train"


def hub_files(text: str) -> list[Path]:
    """The Arrow files of the dataset split, loaded (or found in the cache) by `datasets`."""
    name, config, split = parse_hub_spec(text)
    try:
        import datasets
    except ImportError:  # pragma: no cover - a dependency of the package
        raise UsageError(f"{text}: needs the datasets package (pip install datasets)") from None
    try:
        dataset = datasets.load_dataset(name, config, split=split)
    except (ValueError, KeyError) as err:
        raise UsageError(f"{text}: {type(err).__name__}: {str(err).splitlines()[0][:300]}") from None
    except Exception as err:  # noqa: BLE001 - hub, network and file errors all mean: cannot load it
        raise UsageError(
            f"{text}: cannot load ({type(err).__name__}: {str(err).splitlines()[0][:200]}); online? "
            "offline, datasets reads its cache with HF_DATASETS_OFFLINE=1"
        ) from None
    files = [Path(entry["filename"]) for entry in dataset.cache_files]
    if not files:
        raise UsageError(
            f"{text}: datasets kept this split in memory only; save it with save_to_disk and pass the folder"
        )
    return files
