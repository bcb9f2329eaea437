"""Each option declared once (options.py): the flags, their defaults, choices and help panels, the recipe keys and
docs/options.md all come from the config fields, and `--help` is readable at 80 columns."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import MISSING
from pathlib import Path

import pytest

from datafactory.cli.flags import config_values, stage_flags
from datafactory.cli.reference import reference
from datafactory.errors import OptionError
from datafactory.options import PANELS, default_of
from datafactory.stages import ORDER, STAGES

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = {"generate": {"inputs": ["p.jsonl"], "out": "o", "model": "toy"}, "filter": {"inputs": ["s"], "out": "o"},
            "dedupe": {"inputs": ["s"], "out": "o"}, "mix": {"out": "o", "reasoning": ["k"]}}  # fmt: skip


def _config(stage: str):
    return STAGES[stage].config_class()


@pytest.mark.parametrize("stage", ORDER)
def test_every_option_of_every_stage_is_declared_with_help_and_a_panel(stage):
    for name, spec in _config(stage).option_fields().items():
        assert spec.metadata.get("help"), f"{stage}.{name} has no help"
        assert spec.metadata["panel"] in PANELS, name


@pytest.mark.parametrize("stage", ORDER)
def test_the_command_line_defaults_build_the_configs_own_defaults(stage):
    """Parsing nothing but the required options gives the config its declared defaults, option by option."""
    config_class = _config(stage)
    values = {flag.name: flag.default for flag in stage_flags(config_class) if flag.default is not MISSING}
    values.update(REQUIRED[stage])
    from_cli = config_class.build(**config_values(config_class, values))
    assert from_cli.arguments() == config_class.build(**REQUIRED[stage]).arguments()


@pytest.mark.parametrize("stage", ORDER)
def test_every_declared_option_has_exactly_one_flag(stage):
    config_class = _config(stage)
    names = [flag.name for flag in stage_flags(config_class)]
    assert len(names) == len(set(names))
    spellings = [s for flag in stage_flags(config_class) for s in flag.spelling.split(", ")]
    assert len(spellings) == len(set(spellings))
    declared = {n for n, s in config_class.option_fields().items() if s.metadata["cli"]}
    expanded = {n for n, s in config_class.option_fields().items() if s.metadata["verifier_flags"]}
    assert declared - expanded <= set(names)


CHOICES = [
    (stage, name, spec.metadata["choices"])
    for stage in ORDER
    for name, spec in _config(stage).option_fields().items()
    if spec.metadata["choices"]
]


@pytest.mark.parametrize(("stage", "name", "choices"), CHOICES, ids=[f"{s}.{n}" for s, n, _ in CHOICES])
def test_a_value_outside_the_declared_choices_is_refused_naming_the_option(stage, name, choices):
    config = _config(stage).build(**REQUIRED[stage], **{name: "no-such-choice"})
    with pytest.raises(OptionError, match=f"--{name.replace('_', '-')} 'no-such-choice': choose one of") as raised:
        config.validate()
    assert raised.value.option == name and all(str(c) in str(raised.value) for c in choices)


def test_choices_are_declared_where_the_issue_found_them_missing():
    assert {("dedupe", "on"), ("filter", "select"), ("generate", "engine"), ("mix", "format")} <= {
        (s, n) for s, n, _ in CHOICES
    }


def test_docs_options_md_is_written_from_the_declarations():
    written = (ROOT / "docs/options.md").read_text()
    assert written == reference(), "run: python -m datafactory.cli.reference > docs/options.md"
    assert "`--gold-min-share` | `gold_min_share` | `0.75`" in written


def _help(*command: str) -> str:
    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "datafactory", *command, "--help"], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout


@pytest.mark.parametrize("stage", ORDER)
def test_help_groups_options_in_panels_lists_choices_and_fits_80_columns(stage):
    from datafactory.cli import _register, app

    _register()
    text = _help(stage)
    assert not re.search(r"<(str|bool|int|float|list)", text), "a type shown where a metavar or nothing belongs"
    assert max(len(line) for line in text.splitlines()) <= 80
    panels = [m for m in re.findall(r"╭─ ([A-Za-z ]+?) ─", text) if m not in ("Arguments", "Help")]
    assert panels == sorted(panels, key=PANELS.index) and len(panels) >= 3
    for _, name, choices in (c for c in CHOICES if c[0] == stage):
        flat = " ".join(text.split())
        assert all(str(choice) in flat for choice in choices), name
    epilog = next(c for c in app.registered_commands if c.name == stage).epilog
    examples = [line.strip() for line in epilog.splitlines() if line.startswith("    datafactory")]
    assert examples
    for line in examples:  # each example's first line, unwrapped
        assert any(out.strip() == line for out in text.splitlines()), line


def test_help_of_every_other_command_fits_80_columns_and_shows_no_types():
    for command in (["run"], ["report"], ["stats"], ["toy", "prompts"], ["toy", "train"], []):
        text = _help(*command)
        assert max(len(line) for line in text.splitlines()) <= 80, command
        assert not re.search(r"<(str|bool|int|float|list)", text), command


def test_resume_keys_are_the_options_declared_to_decide_a_resume():
    generate, filter_ = _config("generate"), _config("filter")
    unchecked = generate.build(**REQUIRED["generate"], stop_doomed=False).resume_keys()
    adaptive = generate.build(**REQUIRED["generate"], target=1, stop_doomed=False).resume_keys()
    watched = generate.build(**REQUIRED["generate"]).resume_keys()  # --stop-doomed: the rules decide which stop
    assert "model" in unchecked and "temperature" in unchecked and "gold_min_share" not in unchecked
    assert "gold_min_share" in adaptive and "workers" not in adaptive
    assert "rules" in watched and "forecast" not in watched
    assert {"judge_model", "completion_field", "verifier"} <= set(filter_.build(**REQUIRED["filter"]).resume_keys())
    assert default_of(generate.option_fields()["n"]) == 4
