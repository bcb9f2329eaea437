"""docs/options.md, written from the options' declarations: every stage's flags and recipe keys by help panel.

Run `python -m datafactory.cli.reference > docs/options.md` after changing an option; a test fails until then.
"""

from __future__ import annotations

from dataclasses import MISSING

from datafactory.cli.flags import stage_flags
from datafactory.stages import ORDER, STAGES

HEADER = """# Options

Every option of every stage: its flag, its recipe key (the option's name in the stage's section of a recipe), its
default and what it does. Written from the options' declarations (`datafactory/options.py`) by
`python -m datafactory.cli.reference`; `datafactory COMMAND --help` shows the same, grouped the same way.
"""


def _default(value) -> str:
    if value is MISSING:
        return "required"
    if value in (None, [], {}):
        return ""
    return f"`{value}`"


def reference() -> str:
    parts = [HEADER]
    for stage in ORDER:
        parts.append(f"\n## {stage}\n")
        panel = None
        for flag in stage_flags(STAGES[stage].config_class()):
            if flag.panel != panel:
                panel = flag.panel
                parts.append(f"\n**{panel}**\n\n| flag | recipe key | default | |\n| --- | --- | --- | --- |\n")
            text = flag.info.help.replace("|", "\\|")
            shown = flag.info.show_default
            default = shown if isinstance(shown, str) else _default(flag.default)
            parts.append(f"| `{flag.spelling}` | `{flag.key}` | {default} | {text} |\n")
    return "".join(parts)


if __name__ == "__main__":
    print(reference(), end="")
