"""Command-line options several commands share, declared once so their names and help never drift apart."""

from __future__ import annotations

import contextlib
import json
from typing import Annotated

import typer

from datafactory.errors import UsageError

Executor = Annotated[
    str, typer.Option(help="local (this machine), or ray to run on a Ray cluster (pip install 'datafactory[ray]').")
]
RayAddress = Annotated[
    str | None, typer.Option(help="--executor ray: cluster address, or `auto`; default: start a local Ray.")
]
Overwrite = Annotated[
    bool, typer.Option("--overwrite", metavar="", help="Replace a finished output instead of refusing.")
]
AllowUnfinished = Annotated[
    bool,
    typer.Option(
        "--allow-unfinished", metavar="", help="Read a stage output that never finished (a stopped run) as it is."
    ),
]

# The checks a sample must pass, shared by `filter` and `generate --target` (defaults: checks/options.py).
Verifier = Annotated[
    str, typer.Option(help="math, code (sandboxed tests), choice, exact, judge, none (rules only), or math,judge.")
]
GoldField = Annotated[str, typer.Option(help="Column holding the gold answer.")]
Gold = Annotated[
    str,
    typer.Option(
        help="given: check against --gold-field (suspect golds are flagged, verdicts unchanged); majority: where a "
        "prompt has no gold, its samples' majority answer becomes it (math verifier)."
    ),
]
GoldPolicy = Annotated[
    str,
    typer.Option(help="keep: only flag suspect golds; replace-suspect: check flagged prompts against the majority."),
]
GoldMinVotes = Annotated[int, typer.Option(help="Samples that must agree on an answer for a consensus.")]
GoldMinShare = Annotated[
    float, typer.Option(help="Share of the answered samples that must agree to vote a gold (ties never count).")
]
GoldFlagShare = Annotated[
    float, typer.Option(help="Share of the answered samples that must agree on another answer to flag a gold.")
]
Rules = Annotated[str, typer.Option(help="Rule set (default, r1, none) or a comma list of rules and sets.")]
Language = Annotated[str, typer.Option(help="Target language of the reasoning, for language_mixed (ISO 639-1).")]
RuleOption = Annotated[list[str] | None, typer.Option(help="Override a rule threshold, NAME=VALUE (repeatable).")]
Workers = Annotated[int, typer.Option(help="Verifier worker processes.")]
Timeout = Annotated[float, typer.Option(help="Hard time limit per row in seconds (then verifier_timeout).")]
TestFormat = Annotated[str, typer.Option(help="code verifier: auto, humaneval, mbpp or stdio.")]
TestTimeout = Annotated[float, typer.Option(help="code verifier: wall-clock seconds per program run.")]
MemoryMb = Annotated[int, typer.Option(help="code verifier: address-space limit per program, in MB.")]
UnsafeNoSandbox = Annotated[
    bool,
    typer.Option(
        "--unsafe-no-sandbox", metavar="", help="code verifier: run programs without bubblewrap (limits only)."
    ),
]
MathOption = Annotated[
    list[str] | None,
    typer.Option(
        help="math verifier policy, NAME=VALUE (repeatable): percent, approx_rel_tol, lists, units, intervals."
    ),
]


def verifier_options(verifier: str, math_options: list[str] | None, code_options: dict) -> dict:
    """The per-verifier option dict of CheckOptions from the flags (`--math-option` needs the math verifier)."""
    options: dict = {}
    names = verifier.split(",")
    if "code" in names:
        options["code"] = code_options
    if math_options:
        if "math" not in names:
            raise UsageError("--math-option needs --verifier math")
        from datafactory.typed_options import split

        options["math"] = split(math_options, "--math-option")
    return options


def parse_assignments(items: list[str] | None, flag: str) -> dict:
    """NAME=VALUE items whose types nobody here declares (an engine's own arguments): values read as JSON where
    they are (64, 0.9, true), else kept as text; the engine checks the names."""
    from datafactory.typed_options import split

    out: dict = {}
    for name, value in split(items or [], flag).items():
        with contextlib.suppress(ValueError):
            value = json.loads(value)
        out[name] = value
    return out
