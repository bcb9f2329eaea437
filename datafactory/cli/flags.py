"""A stage's command built from its config's declared options (options.py): one flag per option, in its help panel,
with its choices, default and help; the values go back into the config by name.

Why derived: the flags, the recipe keys and the manifest then cannot disagree, and a new option is one field.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import typing
from collections.abc import Callable
from dataclasses import MISSING, Field, fields
from typing import Annotated

import typer

from datafactory.cli import Command
from datafactory.errors import UsageError
from datafactory.options import PANELS, default_of
from datafactory.typed_options import split

METAVARS = {int: "N", float: "X", str: "TEXT"}
MAX_METAVAR = 16  # longer lists of choices go in the help text, where they wrap


class Flag(typing.NamedTuple):
    """One command-line parameter: its Python name, annotation (with its typer declaration) and default, its help
    panel, and the recipe key it sets."""

    name: str
    annotation: object
    default: object
    panel: str
    key: str

    @property
    def info(self):
        return self.annotation.__metadata__[0]

    @property
    def spelling(self) -> str:
        """How it is written on the command line: `-o, --out`; an argument by its metavar."""
        if isinstance(self.info, typer.models.ArgumentInfo):
            return f"{self.info.metavar}..."
        # in Annotated, typer keeps the first spelling as `default`
        first = [self.info.default] if isinstance(self.info.default, str) and self.info.default.startswith("-") else []
        return ", ".join([*first, *self.info.param_decls]) or "--" + self.name.replace("_", "-")


def _kind(hint) -> tuple[type, bool, bool]:
    """(the value type, optional, a list) of a declared type such as `int | None` or `list[str]`."""
    args = typing.get_args(hint) if isinstance(hint, typing.types.UnionType) else (hint,)
    optional = type(None) in args
    kind = next(a for a in args if a is not type(None))
    if typing.get_origin(kind) is list:
        return typing.get_args(kind)[0], optional, True
    return kind, optional, False


def _metavar(spec: Field, kind: type) -> str:
    meta = spec.metadata
    if meta.get("metavar"):
        return meta["metavar"]
    shown = "[" + "|".join(map(str, meta.get("choices") or ())) + "]"
    if meta.get("choices"):
        return shown if len(shown) <= MAX_METAVAR else "CHOICE"
    return METAVARS.get(kind, "TEXT")


def _help(spec: Field) -> str:
    """The help text, ending with the choices where neither it nor the metavar lists them."""
    meta, text = spec.metadata, spec.metadata["help"]
    choices = [str(c) for c in meta.get("choices") or ()]
    if choices and _metavar(spec, str) == "CHOICE" and not all(c in text for c in choices):
        text += f" One of: {', '.join(choices)}."
    return text


def _flag(name: str, spec: Field, hint, key: str | None = None) -> Flag:
    """The parameter of one declared option (`key`: its recipe key, when not its name)."""
    key = key or name
    meta = spec.metadata
    kind, optional, many = _kind(hint)
    default = default_of(spec)
    decls = meta["flags"] or ("--" + name.replace("_", "-"),)
    panel = meta["panel"]
    if meta["argument"]:
        info = typer.Argument(help=_help(spec), show_default=False, metavar="INPUT")
        return Flag(name, Annotated[list[str], info], MISSING, panel, key)
    if kind is bool:
        decls = (f"{decls[0]}/--no-{decls[0][2:]}",) if default is True else decls
        info = typer.Option(*decls, help=_help(spec), metavar="", rich_help_panel=panel, show_default=False)
        return Flag(name, Annotated[bool, info], default, panel, key)
    if meta["assignments"] or many:
        info = typer.Option(*decls, help=_help(spec), metavar=_metavar(spec, str), rich_help_panel=panel)
        return Flag(name, Annotated[list[str] | None, info], None, panel, key)
    info = typer.Option(
        *decls,
        help=_help(spec),
        metavar=_metavar(spec, kind),
        rich_help_panel=panel,
        envvar=meta["envvar"],
        show_default=meta["shown_default"] or (default is not None and default is not MISSING),
    )
    annotation = kind | None if optional else kind
    return Flag(name, Annotated[annotation, info], default, panel, key)


def _verifier_flags(names: tuple[str, ...]) -> list[Flag]:
    """The named verifiers' own options as flags: one per field of its options (the code verifier), or one
    repeatable NAME=VALUE flag where the verifier names one (`--math-option`)."""
    from datafactory.verifiers.base import verifier_class

    out = []
    for name in names:
        verifier = verifier_class(name)
        if verifier.options_flag.startswith("--"):
            choices = ", ".join(f.name for f in fields(verifier.Options))
            info = typer.Option(
                verifier.options_flag,
                help=f"{name} verifier policy, NAME=VALUE (repeatable): {choices}.",
                metavar="NAME=VALUE",
                rich_help_panel="Checks",
            )
            key = f"verifier_options.{name}"
            out.append(Flag(f"{name}_option", Annotated[list[str] | None, info], None, "Checks", key))
            continue
        hints = typing.get_type_hints(verifier.Options)
        for spec in fields(verifier.Options):
            out.append(_flag(spec.name, spec, hints[spec.name], f"verifier_options.{name}.{spec.name}"))
    return out


def stage_flags(config_class) -> list[Flag]:
    """Every option of a stage's config as a parameter, arguments first, then by help panel."""
    hints = typing.get_type_hints(config_class)
    flags = []
    for name, spec in config_class.option_fields().items():
        if not spec.metadata.get("cli", False):
            continue
        if spec.metadata["verifier_flags"]:
            flags.extend(_verifier_flags(spec.metadata["verifier_flags"]))
            continue
        hint = hints.get(name) or typing.get_type_hints(_owner(config_class, name))[_inner(config_class, name)]
        flags.append(_flag(name, spec, hint))
    # arguments first, then panel by panel in PANELS' order, a panel's required options first
    return sorted(flags, key=lambda f: (not _is_argument(f), PANELS.index(f.panel), f.default is not MISSING))


def _is_argument(flag: Flag) -> bool:
    return any(isinstance(a, typer.models.ArgumentInfo) for a in typing.get_args(flag.annotation))


def _owner(config_class, name: str) -> type:
    """The options class of a nested option (the judge's): its fields are typed there."""
    for spec in fields(config_class):
        prefix = spec.metadata.get("prefix")
        if prefix is not None and name.startswith(prefix):
            return spec.default_factory
    raise KeyError(name)


def _inner(config_class, name: str) -> str:
    for spec in fields(config_class):
        prefix = spec.metadata.get("prefix")
        if prefix is not None and name.startswith(prefix):
            return name[len(prefix) :]
    raise KeyError(name)


def config_values(config_class, values: dict) -> dict:
    """The command line's values as the config's options: lists given none are the field's default, NAME=VALUE
    flags become dicts, and the verifiers' own flags go into `verifier_options`."""
    specs = config_class.option_fields()
    out: dict = {}
    for name, spec in specs.items():
        meta = spec.metadata
        if not meta.get("cli", False):
            continue
        if meta["verifier_flags"]:
            out[name] = _verifier_options(values, meta["verifier_flags"])
        elif meta["assignments"]:
            out[name] = _assignments(values.get(name), meta["flags"][0])
        elif name in values:
            value = values[name]
            out[name] = default_of(spec) if value is None and spec.default_factory is not MISSING else value
    return out


def _verifier_options(values: dict, names: tuple[str, ...]) -> dict:
    """{verifier: its options} for the verifiers in the chain; a verifier's flag given for another is refused."""
    from datafactory.verifiers.base import verifier_class

    chain = str(values.get("verifier", "")).split(",")
    options: dict = {}
    for name in names:
        verifier = verifier_class(name)
        if verifier.options_flag.startswith("--"):
            given = values.get(f"{name}_option")
            if given and name not in chain:
                raise UsageError(f"{verifier.options_flag} needs --verifier {name}")
            if given:
                options[name] = split(given, verifier.options_flag)
        elif name in chain:
            options[name] = {spec.name: values[spec.name] for spec in fields(verifier.Options)}
    return options


def _assignments(items: list[str] | None, flag: str) -> dict:
    """NAME=VALUE items whose types nobody here declares (an engine's own arguments): values read as JSON where
    they are (64, 0.9, true), else kept as text; the engine checks the names."""
    out: dict = {}
    for name, value in split(items or [], flag).items():
        with contextlib.suppress(ValueError):
            value = json.loads(value)
        out[name] = value
    return out


def stage_command(app: typer.Typer, stage: str, *, help: str, epilog: str, report: Callable[[dict, str], None]):
    """Register `datafactory STAGE`: its flags from the stage's config, then run_stage, then `report(counts, out)`."""
    from datafactory.stages import STAGES

    config_class = STAGES[stage].config_class()
    flags = stage_flags(config_class)

    def command(**values) -> None:
        from datafactory.frame import run_stage

        config = config_class.build(**config_values(config_class, values))
        report(run_stage(stage, config)["counts"], config.out)

    parameters = [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=f.annotation,
            default=inspect.Parameter.empty if f.default is MISSING else f.default,
        )
        for f in flags
    ]
    command.__signature__ = inspect.Signature(parameters)
    command.__annotations__ = {f.name: f.annotation for f in flags}
    command.__doc__ = help
    command.__name__ = stage
    app.command(stage, epilog=epilog, help=help, cls=Command)(command)
