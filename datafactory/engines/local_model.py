"""Resolve `-m MODEL` for engines that load weights in this process (vLLM offline, transformers).

Why: a mistyped path must fail at once with exit 2, not after an engine spends half a minute starting and
then tries to reach a model hub.
"""

from __future__ import annotations

import os
from pathlib import Path

from datafactory.errors import UsageError

TOY_MODEL = Path(__file__).resolve().parent.parent / "assets" / "toy-reasoner"
BUILTIN_MODELS: dict[str, str] = {"toy": str(TOY_MODEL)}  # shipped in the package: runs anywhere


def looks_like_path(model: str) -> bool:
    return model.startswith(("/", ".", "~")) or model.count("/") >= 2 or model.endswith("/") or os.sep + os.sep in model


def resolve_model(model: str) -> str:
    """A local model folder, a built-in name, or a hub id (left to the engine to fetch)."""
    if model in BUILTIN_MODELS:
        return BUILTIN_MODELS[model]
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UsageError(f"model {model!r}: folder has no config.json (not a Hugging Face model folder)")
        return str(path.resolve())
    if looks_like_path(model):
        raise UsageError(f"model {model!r}: no such directory")
    return model
