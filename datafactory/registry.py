"""Name → class lookups for pluggable parts (engines, verifiers), imported only when chosen.

Why lazy: `--engine openai` must not import torch, and `--verifier exact` must not import sympy.
"""

from __future__ import annotations

import importlib

from datafactory.errors import UsageError


def load(registry: dict[str, str], name: str, kind: str):
    """The class registered as `name` ("module:Class"), or a usage error listing the choices."""
    if name not in registry:
        raise UsageError(f"unknown {kind} {name!r}; choose one of: {', '.join(registry)}")
    module, _, attribute = registry[name].partition(":")
    return getattr(importlib.import_module(module), attribute)
