"""The README documents every command, and every command and option it mentions exists; docs/verifiers.md
documents every reason code."""

import re

import click
import typer

from datafactory.cli import _register, app

REPO = __import__("pathlib").Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


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


def test_every_reason_code_is_registered_with_a_kind_and_documented():
    from datafactory.reasons import FORMAT, KIND, RULE
    from datafactory.rules.checks import RULES

    doc = (REPO / "docs" / "verifiers.md").read_text()
    section = doc.split("## Reason codes", 1)[1].split("\n## ", 1)[0]
    table = set(re.findall(r"^\| `([a-z_]+)`(?: / `([a-z_]+)`)? \|", section, re.M))
    in_table = {code for pair in table for code in pair if code}
    assert in_table <= set(KIND), in_table - set(KIND)
    missing = [code for code in KIND if f"`{code}`" not in doc]
    assert not missing, f"reason codes not in docs/verifiers.md: {missing}"
    assert all(KIND[name] in (FORMAT, RULE) for name in RULES)  # a rule's name is its reason code


def test_every_cli_default_is_the_configs_default():
    """The flags and the configs (which recipes build) must not drift apart: one home per default."""
    from dataclasses import MISSING

    from datafactory.stages import STAGES

    commands = _commands()
    compared = 0
    for name, kind in STAGES.items():
        declared = kind.config_class().option_fields()  # the judge's under judge_*
        for param in commands[name].params:
            field = declared.get(param.name)
            if field is None or param.default is None or field.default is MISSING:
                continue
            config_default = field.default
            cli_default = param.default
            if isinstance(config_default, list | tuple):
                continue
            assert cli_default == config_default, (
                f"{name} --{param.name}: CLI {cli_default!r}, config {config_default!r}"
            )
            compared += 1
    assert compared >= 40


def test_every_reason_a_verifier_or_the_sandbox_can_give_is_registered():
    """Verifiers name their reasons as literals (`failed("wrong_answer", …)`, the sandbox's statuses): each must
    be in reasons.py, so its kind (and the docs, by the test above) cover it."""
    from datafactory.reasons import KIND

    sources = [*(REPO / "datafactory" / "verifiers").glob("*.py"), REPO / "datafactory" / "judge" / "stage.py"]
    given = {code for path in sources for code in re.findall(r'failed\(\s*"([a-z_]+)"', path.read_text())}
    statuses = set(re.findall(r'return "([a-z_]+)"', (REPO / "datafactory" / "verifiers/sandbox.py").read_text())) - {
        "ok"
    }
    assert given and statuses
    assert not (given | statuses) - set(KIND), (given | statuses) - set(KIND)
