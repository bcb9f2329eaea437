"""Judge prompt templates: plain Jinja files a user can copy and edit.

Why files: what a judge is asked decides what it rewards, so the prompt must be visible and editable, not buried
in code. Built-in names resolve to `datafactory/judge/templates/NAME.jinja`; anything else is a path.

Variables a template may use (all strings; missing ones render empty):
  problem     the prompt the sample answered (its last user message)
  gold        the gold answer (empty when the row has none)
  response    the final answer part of the completion (after `</think>`; the whole completion without one)
  reasoning   the text inside `<think>…</think>`
  completion  the whole completion as generated
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from datafactory.errors import UsageError

BUILTIN_DIR = Path(__file__).with_name("templates")
VARIABLES = ("problem", "gold", "response", "reasoning", "completion")


def builtin_templates() -> list[str]:
    return sorted(path.stem for path in BUILTIN_DIR.glob("*.jinja"))


@lru_cache(maxsize=16)
def load_template(name_or_path: str):
    """A compiled template from a built-in name or a file path; a clear error for anything else."""
    import jinja2

    path = BUILTIN_DIR / f"{name_or_path}.jinja"
    if not path.is_file():
        path = Path(name_or_path)
    if not path.is_file():
        raise UsageError(
            f"--judge-template: {name_or_path!r} is neither a built-in template "
            f"({', '.join(builtin_templates())}) nor a file"
        )
    source = path.read_text(encoding="utf-8")
    environment = jinja2.Environment(undefined=jinja2.ChainableUndefined, keep_trailing_newline=False)
    try:
        return environment.from_string(source)
    except jinja2.TemplateSyntaxError as error:
        raise UsageError(f"{path}: line {error.lineno}: judge template syntax error: {error.message}") from None


def template_variables(name_or_path: str) -> set[str]:
    """The variables a template reads (to know, say, whether it needs a gold answer)."""
    import jinja2
    from jinja2 import meta

    return meta.find_undeclared_variables(jinja2.Environment().parse(template_text(name_or_path)))


def template_text(name_or_path: str) -> str:
    path = BUILTIN_DIR / f"{name_or_path}.jinja"
    return (path if path.is_file() else Path(name_or_path)).read_text(encoding="utf-8")


def render(name_or_path: str, **variables: str) -> str:
    """The judge prompt for one row."""
    values = {key: "" if variables.get(key) is None else str(variables[key]) for key in VARIABLES}
    return load_template(name_or_path).render(**values).strip()
