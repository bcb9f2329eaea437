"""The rule functions. Each takes the parsed trace, the row and the config, and returns a reason or None."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from datafactory.rules import RuleConfig
from datafactory.rules.language import is_mixed
from datafactory.trace import Trace, boxed_contents


def loops_at_end(text: str, repeats: int = 5, max_period: int = 200) -> bool:
    """True when the text ends in one span (8 to `max_period` characters) repeated `repeats` times: a model stuck
    in a loop until max_tokens. String comparisons only, so it stays cheap on long traces."""
    tail = text.rstrip()
    for period in range(8, max_period + 1):
        span = period * repeats
        if span > len(tail):
            break
        if tail[-span:] == tail[-period:] * repeats:
            return True
    return False


def repeated_share(words: list[str], size: int) -> float:
    """Share of the word n-grams that repeat an earlier one. Each n-gram is a polynomial hash of its words'
    hashes (NumPy, wrapping at 2**64), so long traces cost a few array passes instead of a tuple per position."""
    codes = np.fromiter(map(hash, words), dtype=np.int64, count=len(words)).view(np.uint64)
    count = len(words) - size + 1
    grams = codes[:count].copy()
    for offset in range(1, size):
        grams = grams * np.uint64(0x100000001B3) + codes[offset : offset + count]
    return 1 - len(np.unique(grams)) / count


def truncated(trace: Trace, row: dict, config: RuleConfig, context: dict) -> str | None:
    return "truncated" if row.get("finish_reason") == "length" else None


def bad_format(trace: Trace, row: dict, config: RuleConfig, context: dict) -> str | None:
    if not trace.well_formed:
        return "bad_format"
    if context.get("verifier") == "math" and config.require_boxed and not boxed_contents(trace.response):
        return "bad_format"
    return None


def repetition(trace: Trace, row: dict, config: RuleConfig, context: dict) -> str | None:
    text = row.get("completion") or ""
    lines = [line.strip() for line in text.splitlines() if len(line.strip()) >= 20]
    if lines and Counter(lines).most_common(1)[0][1] >= config.repetition_max_line_repeats:
        return "repetition"
    words = text.split()
    size = config.repetition_ngram
    if len(words) >= 4 * size and repeated_share(words, size) > config.repetition_max_share:
        return "repetition"
    if loops_at_end(text):
        return "repetition"
    return None


def language_mixed(trace: Trace, row: dict, config: RuleConfig, context: dict) -> str | None:
    return "language_mixed" if is_mixed(trace.reasoning or trace.response, config.language) else None


def long_paragraph(trace: Trace, row: dict, config: RuleConfig, context: dict) -> str | None:
    paragraphs = re.split(r"\n\s*\n", trace.reasoning)
    return "long_paragraph" if any(len(p) > config.long_paragraph_chars for p in paragraphs) else None


def code_block_in_reasoning(trace: Trace, row: dict, config: RuleConfig, context: dict) -> str | None:
    return "code_block_in_reasoning" if "```" in trace.reasoning else None


def too_long(trace: Trace, row: dict, config: RuleConfig, context: dict) -> str | None:
    tokens = row.get("completion_tokens")
    return "too_long" if config.max_tokens is not None and tokens is not None and tokens > config.max_tokens else None


def too_short(trace: Trace, row: dict, config: RuleConfig, context: dict) -> str | None:
    tokens = row.get("completion_tokens")
    return "too_short" if config.min_tokens is not None and tokens is not None and tokens < config.min_tokens else None


def empty_response(trace: Trace, row: dict, config: RuleConfig, context: dict) -> str | None:
    """Always on: an empty answer is never training data (and `mix` would refuse it)."""
    return "empty_response" if not trace.response.strip() else None


RULES = {
    "empty_response": empty_response,
    "truncated": truncated,
    "bad_format": bad_format,
    "repetition": repetition,
    "language_mixed": language_mixed,
    "long_paragraph": long_paragraph,
    "code_block_in_reasoning": code_block_in_reasoning,
    "too_long": too_long,
    "too_short": too_short,
}
