"""Each option declared once, on its config's dataclass field: its type and default (the field's), its help, the
help panel it shows in, its allowed values and its flag. The command line (cli/flags.py), the recipe keys
(recipes.py), the manifest's arguments (stages.StageOptions) and docs/options.md are all read from here.

Why: the same option used to be spelled in up to eight places (a flag, a default, a help text per command, a
hand-written check of its values); they drifted apart.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, Field, field

# The help panels, in the order `--help` shows them.
PANELS = (
    "Input",
    "Output",
    "Sampling",
    "Engine",
    "Cost",
    "Checks",
    "Code verifier",
    "Gold answers",
    "Judge",
    "Selection",
    "Duplicates",
    "Decontamination",
    "Mix",
    "Scale",
)


def option(
    default=MISSING,
    *,
    help: str,
    panel: str,
    choices: tuple = (),
    flags: tuple[str, ...] = (),
    factory=None,
    metavar: str | None = None,
    envvar: str | None = None,
    argument: bool = False,
    assignments: bool = False,
    verifier_flags: tuple[str, ...] = (),
    cli: bool = True,
    resume: bool = False,
    shown_default: str | None = None,
    output: bool = True,
) -> Field:
    """A config field that is an option.

    `choices`: the values allowed (checked for every stage by `StageOptions`, listed by `--help`); `flags`: the
    flag's spellings when not `--name` (`-o`, `--out`); `argument`: positional on the command line; `assignments`:
    a dict given as repeated NAME=VALUE flags (`--engine-option`); `verifier_flags`: the named verifiers' own
    options appear as flags (a dict per verifier); `cli=False`: a recipe or the runner sets it, not a flag;
    `resume`: a stopped run resumes only with the same value (else it must start over); `shown_default`: the
    default as help and docs say it, where it depends on the machine; `output=False`: a resource (where or how fast
    the work runs), not what it produces, so changing it does not make a recipe rerun the stage.
    """
    if panel not in PANELS:
        raise ValueError(f"unknown help panel {panel!r}")
    metadata = {
        "help": help,
        "panel": panel,
        "choices": tuple(choices),
        "flags": tuple(flags),
        "metavar": metavar,
        "envvar": envvar,
        "argument": argument,
        "assignments": assignments,
        "verifier_flags": tuple(verifier_flags),
        "cli": cli,
        "resume": resume,
        "shown_default": shown_default,
        "output": output,
    }
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def cpu_count() -> int:
    return max(1, os.cpu_count() or 1)


def declared(spec: Field) -> bool:
    return "help" in spec.metadata


def default_of(spec: Field):
    """The field's default value (a factory's product), or MISSING for a required option."""
    if spec.default is not MISSING:
        return spec.default
    if spec.default_factory is not MISSING:
        return spec.default_factory()
    return MISSING


def check_choices(values: dict, specs: dict[str, Field]) -> str | None:
    """The first option whose value is not one of its declared choices, as (name, message); None if all are."""
    for name, spec in specs.items():
        allowed = spec.metadata.get("choices") or ()
        value = values.get(name)
        if allowed and value is not None and value not in allowed:
            flag = "--" + name.replace("_", "-")
            return name, f"{flag} {value!r}: choose one of {', '.join(map(str, allowed))}"
    return None
