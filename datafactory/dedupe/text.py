"""The text a row is compared on, and its normalisations.

Why two: exact duplicates are judged on NFKC + case + whitespace (so punctuation still counts), while near
duplicates and contamination compare token sequences, which also forgives LaTeX spacing (`x^{2}+1` vs
`x^{2} + 1`). Operators, relations and signs are tokens: "Solve 3x + 5 = 20" and "Solve 3x - 5 = 20" are
different problems.
"""

from __future__ import annotations

import re
import unicodedata

from datafactory.errors import BadInput, UsageError
from datafactory.shapes import PROMPT_COLUMNS, SHAREGPT_ROLES, prompt_text

ON_CHOICES = ("prompt", "completion", "messages")
WORD = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


MATH_ASCII = "+-*/=<>^!%|()[]"  # operators, relations, signs, exponents, grouping: content, not punctuation
ASCII_TOKENS = str.maketrans(
    {c: (f" {c} " if c in MATH_ASCII else " ") for c in map(chr, range(128)) if not (c.isalnum() or c == "_")}
)
TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def _math_symbol(token: str) -> bool:
    return len(token) == 1 and (token in MATH_ASCII or unicodedata.category(token) == "Sm")


def words(text: str) -> list[str]:
    """Tokens after NFKC and case folding: words (`\\w+`, LaTeX commands among them) and mathematical symbols
    (`+ - * / = < > ^` and every Unicode math symbol: `≤ × √ ∑`), so that "24 + 8" and "24 - 8" differ; other
    punctuation is dropped. Plain ASCII takes a faster, equivalent route."""
    if text.isascii():
        return text.lower().translate(ASCII_TOKENS).split()
    tokens = TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())
    return [t for t in tokens if t[0].isalnum() or t[0] == "_" or _math_symbol(t)]


def is_math_token(token: str) -> bool:
    """A number (a token that starts with a digit: 24, 3x, 2nd) or a mathematical symbol."""
    return token[0].isdigit() or (len(token) == 1 and not token.isalnum() and token != "_")


def math_signature(tokens: list[str]) -> int:
    """The problem's mathematics in order (its numbers and symbols): two texts with different signatures state
    different problems, however alike their words."""
    return hash(tuple(t for t in tokens if is_math_token(t)))


def _contents(messages, roles: set[str] | None) -> str:
    return "\n".join(m["content"] or "" for m in messages if roles is None or m.get("role") in roles)


def text_of(row: dict, on: str, path, number) -> str:
    """The compared text: the prompt (non-assistant messages, else a prompt column), the completion (else the
    assistant messages), or the whole conversation."""
    if on not in ON_CHOICES:
        raise UsageError(f"--on {on!r}: choose one of {', '.join(ON_CHOICES)}")
    messages = row.get("messages") or row.get("conversations")
    if isinstance(messages, list) and messages and "from" in messages[0]:  # ShareGPT
        messages = [
            {"role": SHAREGPT_ROLES.get(m.get("from"), m.get("from")), "content": m.get("value")} for m in messages
        ]
    if on == "completion":
        if isinstance(row.get("completion"), str):
            return row["completion"]
        if isinstance(row.get("response"), str):
            return row["response"]
        if isinstance(messages, list):
            return _contents(messages, {"assistant"})
        raise BadInput(
            "no completion to compare (need 'completion', 'response' or 'messages')", path, number, "completion"
        )
    if isinstance(messages, list):
        return _contents(messages, None if on == "messages" else {"system", "user"})
    for name in PROMPT_COLUMNS:
        if isinstance(row.get(name), str):
            return prompt_text(row, name)
    raise BadInput(
        f"no text to compare (need 'messages' or one of {', '.join(PROMPT_COLUMNS)})", path, number, "messages"
    )


def row_id(row: dict, path, number: int) -> str:
    """How a removed row names the row it matched: prompt_id[#sample_index], else file:row."""
    if row.get("prompt_id") is not None:
        return (
            f"{row['prompt_id']}#{row['sample_index']}"
            if row.get("sample_index") is not None
            else str(row["prompt_id"])
        )
    return f"{getattr(path, 'name', path)}:{number}"
