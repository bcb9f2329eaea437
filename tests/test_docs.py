"""The README documents every command, and every command and option it mentions exists."""

import re

import click
import typer

from datafactory.cli import _register, app

README = (__import__("pathlib").Path(__file__).resolve().parent.parent / "README.md").read_text()


def _commands() -> dict[str, click.Command]:
    _register()
    group = typer.main.get_command(app)
    return dict(group.commands)


def test_every_command_is_documented():
    for name in _commands():
        assert f"datafactory {name}" in README, f"README does not show `datafactory {name}`"


def test_every_documented_command_and_option_exists():
    commands = _commands()
    for line in re.findall(r"^\s*datafactory .*$", README, flags=re.MULTILINE):
        name = line.split()[1]
        assert name in commands, f"README uses unknown command: {line.strip()}"
        options = {
            opt for param in commands[name].params for opt in [*param.opts, *getattr(param, "secondary_opts", [])]
        }
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", line):
            assert option in options, f"README uses unknown option {option} of `datafactory {name}`"
