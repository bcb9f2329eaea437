"""Name → class lookups for pluggable parts (engines, verifiers), imported only when chosen.

Why lazy: `--engine openai` must not import torch, and `--verifier exact` must not import sympy.
"""

from __future__ import annotations

import importlib

from datafactory.errors import UsageError


def load(registry: dict, name: str, kind: str, part: int = 0):
    """The object registered as `name` ("module:attribute"; or the `part`-th of a tuple of them), or a usage error
    listing the choices."""
    if name not in registry:
        raise UsageError(f"unknown {kind} {name!r}; choose one of: {', '.join(registry)}")
    entry = registry[name]
    module, _, attribute = (entry[part] if isinstance(entry, tuple) else entry).partition(":")
    return getattr(importlib.import_module(module), attribute)
