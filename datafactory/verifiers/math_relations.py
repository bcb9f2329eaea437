"""An equation is not an answer: what a final answer that holds `=` or an arrow states.

Why: math-verify takes the right-hand side of any relation, so against gold 5 `\\boxed{6 = 5}`, `\\boxed{2+2=5}`,
`\\boxed{x = 6 = 5}` and `\\boxed{6 \\Rightarrow 5}` all passed. A model under RL learns to write both candidates
around a relation. Here an answer's top-level relations are read first:
- `x = 5`, `f(x) = 5`, `a_1 = 5` (names on the left) state 5; so does a chain whose sides all have one value
  (`\\frac{10}{2} = 5`, `x = 5 = 5`);
- a chain of values that differ (`6 = 5`, `2+2=5`, `x = 6 = 5`), a relation with an empty side (`\\boxed{6}
  \\boxed{=5}` joins into `6 =5`) and an arrow between anything (`6 \\to 5`, `6 \\Rightarrow 5`) state no answer;
- an equation with variables on both sides (`x^2 + y^2 = 25`, `y = 2x + 1`) is left whole for math-verify: it
  may be the answer itself.
Inequalities (`<`, `\\le`, `\\ne`) are not touched: intervals and sets are compared as such.
"""

from __future__ import annotations

import re
from collections.abc import Callable

EQUALS = re.compile(r":=|\\coloneqq|\\equiv|(?<![<>!:=])==?(?!=)")
ARROWS = re.compile(
    r"\\(?:to|rightarrow|Rightarrow|longrightarrow|Longrightarrow|implies|mapsto|longmapsto|iff|Leftrightarrow"
    r"|leftrightarrow|leftarrow|Leftarrow|longleftarrow|Longleftarrow|impliedby)(?![A-Za-z])|[→⇒⟶⟹↦⇔↔←⇐]|->|=>"
)
NAME = re.compile(  # a variable or function on the left of `=`: x, f(x), a_1, y', \theta, \text{area}
    r"\s*(?!\\(?:pi|infty)\b)(?:[A-Za-z]|\\[A-Za-z]+|\\text\{[A-Za-z ]+\}|[A-Za-z]{2,})(?:_\{?[A-Za-z0-9]+\}?)?'*"
    r"(?:\s*(?:\\left)?\((?:[^()]*)(?:\\right)?\))?\s*"
)
LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
COMMA = re.compile(",")


def top_level_split(text: str, pattern: re.Pattern) -> tuple[list[str], list[str]]:
    """`text` cut at the matches of `pattern` outside braces, brackets and parentheses: (sides, separators)."""
    sides, separators, depth, start, position = [], [], 0, 0, 0
    while position < len(text):
        char = text[position]
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
        elif depth == 0 and (match := pattern.match(text, position)):
            sides.append(text[start:position])
            separators.append(match.group(0))
            position = start = match.end()
            continue
        position += 1
    sides.append(text[start:])
    return sides, separators


def stated_answer(answer: str, equal: Callable[[str, str], bool | None]) -> tuple[str, str | None]:
    """(the answer the text states, why it states none or None). `equal(a, b)` compares two values as math."""
    if not (EQUALS.search(answer) or ARROWS.search(answer)):
        return answer, None  # the common case: no relation, the text untouched
    items = [item.strip() for item in top_level_split(answer, COMMA)[0]]
    stated, problems = [], []
    for item in items:
        value, problem = _one(item, equal)
        stated.append(value)
        if problem:
            problems.append(problem)
    return (answer if stated == items else ", ".join(stated)), (problems[0] if problems else None)


def _one(item: str, equal) -> tuple[str, str | None]:
    if top_level_split(item, ARROWS)[1]:
        return item, f"an arrow is not an answer ({item[:80]})"
    sides, separators = top_level_split(item, EQUALS)
    if not separators:
        return item, None
    sides = [side.strip() for side in sides]
    if any(not side for side in sides):
        return item, f"a relation with an empty side is not an answer ({item[:80]})"
    values = list(sides)
    while len(values) > 1 and NAME.fullmatch(values[0]):
        values = values[1:]  # x = …, f(x) = …
    if not all(_constant(side) for side in values):
        return item, None  # an equation in its variables (y = 2x + 1): it may be the answer itself
    if any(equal(side, values[-1]) is False for side in values[:-1]):
        return item, f"a relation between different values is not an answer ({item[:80]})"
    return values[-1], None


def _constant(side: str) -> bool:
    """No variable in it: no letter outside LaTeX commands (`\\frac`, `\\sqrt`, `\\pi`)."""
    return not re.search(r"[A-Za-z]", LATEX_COMMAND.sub(" ", side))
