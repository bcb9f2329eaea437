"""The shapes reasoning datasets come in, read the same way by every stage.

Why one place: a prompt is the instruction *and* Alpaca's `input`; a completion may be split into reasoning and
content (DeepSeek's API, vLLM's reasoning parser) or written with OpenThoughts' `<|begin_of_thought|>` markers.
Reading one of these differently in generate, filter, dedupe or mix would keep wrong rows without a word.
"""

from __future__ import annotations

PROMPT_COLUMNS = ("prompt", "problem", "question", "instruction")
ALPACA_INPUT = "input"  # joined to the instruction: 128 problems may share one instruction
REASONING_FIELDS = ("reasoning_content", "reasoning")  # DeepSeek API, SGLang, older vLLM; vLLM >= 0.10
ANSWER_COLUMNS = ("response", "output", "content")  # a reasoning column beside one of these is its trace
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}

THINK = ("<think>", "</think>")
THOUGHT = ("<|begin_of_thought|>", "<|end_of_thought|>")  # OpenThoughts, Bespoke-Stratos, Sky-T1
SOLUTION = ("<|begin_of_solution|>", "<|end_of_solution|>")


def prompt_text(row: dict, column: str) -> str | None:
    """The prompt of a row read from `column`: Alpaca's non-empty `input` follows its `instruction` after a blank
    line, as Alpaca's own template joins them. None when the column holds no text."""
    value = row.get(column)
    if not isinstance(value, str):
        return None
    extra = row.get(ALPACA_INPUT) if column == "instruction" else None
    if isinstance(extra, str) and extra.strip():
        return f"{value}\n\n{extra}"
    return value


def first_prompt_column(names) -> str | None:
    return next((c for c in PROMPT_COLUMNS if c in names), None)


def with_reasoning(reasoning, content) -> str:
    """A completion rebuilt as R1 writes it, `<think>\\n{reasoning}\\n</think>\\n\\n{content}`; when thinking never
    closed (content is null) the think block stays open, as in the raw text, so `truncated`/`bad_format` see it."""
    if not isinstance(reasoning, str) or not reasoning:
        return content if isinstance(content, str) else ""
    reasoning = reasoning.strip("\n")
    if content is None:
        return f"<think>\n{reasoning}"
    return f"{THINK[0]}\n{reasoning}\n{THINK[1]}\n\n{content.lstrip()}"


def reasoning_of(message: dict):
    """The reasoning a message or row holds apart from its content (`reasoning_content`, `reasoning`), or None."""
    return next((message[f] for f in REASONING_FIELDS if isinstance(message.get(f), str) and message[f]), None)


def uses_thought_markers(text) -> bool:
    return isinstance(text, str) and (THOUGHT[0] in text or THOUGHT[1] in text)


def unwrap_solution(text: str) -> str:
    """The solution inside `<|begin_of_solution|>…<|end_of_solution|>`, or the text as it is."""
    start, end = SOLUTION
    if start in text:
        text = text.split(start, 1)[1]
    if end in text:
        text = text.rsplit(end, 1)[0]
    return text.strip()


def to_think_tags(text: str) -> str:
    """An OpenThoughts-style completion as `<think>\\n{thought}\\n</think>\\n\\n{solution}`; other text unchanged."""
    if not uses_thought_markers(text):
        return text
    head, closed, tail = text.partition(THOUGHT[1])
    thought = head.split(THOUGHT[0], 1)[1] if THOUGHT[0] in head else head
    if not closed:
        return f"{THINK[0]}\n{thought.strip()}"
    return f"{THINK[0]}\n{thought.strip()}\n{THINK[1]}\n\n{unwrap_solution(tail)}"
