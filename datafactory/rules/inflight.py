"""Rules a sample's text can fail for good before it is finished, checked while it streams, so the engine can
stop it instead of generating to the length limit.

Why only these: a sample may be stopped only when it is certain to be rejected. Each check below is monotone:
once the text so far fails it, every continuation fails the same rule of rules/checks.py (a line already
repeated N times stays repeated; a second `</think>` stays; the token count only grows). A looping model is
stopped at its sixth identical line, not at `--max-tokens`. Each costs O(new text) per step: no check rereads the
text so far.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from datafactory.rules import RuleConfig

CLOSE = "</think>"
REASONING_ENDS = ("</think>", "<|end_of_thought|>")
FENCE = "```"
TAIL = max(len(CLOSE), *map(len, REASONING_ENDS), len(FENCE)) - 1
LINE_END = re.compile(r"[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")  # what str.splitlines splits on
MIN_LINE = 20  # rules/checks.repetition counts lines of at least this many characters


@dataclass
class Prefix:
    """What the checks know of one sample's text so far."""

    lines: Counter = field(default_factory=Counter)  # complete lines (stripped, >= MIN_LINE characters)
    partial: list[str] = field(default_factory=list)  # the line being written, in pieces
    tail: str = ""  # the last few characters, for tags split across two steps
    closes: int = 0  # `</think>` seen
    in_reasoning: bool = True  # no end of reasoning seen yet


class InflightChecks:
    """`feed(key, new_text, tokens)` → the reason a sample already fails for good, or None. Built for the rules a
    stage applies; None from `for_rules` when none of them can be decided early."""

    def __init__(self, rules: list[str], config: RuleConfig):
        self.rules, self.config = set(rules), config
        self.samples: dict = {}

    @classmethod
    def for_rules(cls, rules: list[str], config: RuleConfig) -> InflightChecks | None:
        early = {"repetition", "bad_format"} | ({"too_long"} if config.max_tokens is not None else set())
        return cls(rules, config) if early & set(rules) else None

    def feed(self, key, text: str, tokens: int) -> str | None:
        state = self.samples.setdefault(key, Prefix())
        if "too_long" in self.rules and self.config.max_tokens is not None and tokens > self.config.max_tokens:
            return "too_long"
        window = state.tail + text
        if "bad_format" in self.rules:
            state.closes += _new(window, CLOSE, len(state.tail))
            if state.closes >= 2:  # several think blocks, whatever follows
                return "bad_format"
            if "code_block_in_reasoning" in self.rules and state.in_reasoning and self._fence_in_reasoning(window):
                return "code_block_in_reasoning"  # it stays in the reasoning, or no reasoning end comes (bad_format)
        if state.in_reasoning and any(end in window for end in REASONING_ENDS):
            state.in_reasoning = False
        state.tail = window[-TAIL:]
        if "repetition" in self.rules and self._repeats(state, text):
            return "repetition"
        return None

    @staticmethod
    def _fence_in_reasoning(window: str) -> bool:
        fence = window.find(FENCE)
        if fence < 0:
            return False
        ends = [at for end in REASONING_ENDS if (at := window.find(end)) >= 0]
        return not ends or fence + len(FENCE) <= min(ends)

    def _repeats(self, state: Prefix, text: str) -> bool:
        """A complete line written repetition_max_line_repeats times (only lines that are finished count: the one
        being written may still grow into another line)."""
        if not LINE_END.search(text):
            state.partial.append(text)
            return False
        complete = ("".join(state.partial) + text).splitlines(keepends=True)
        state.partial = [] if LINE_END.match(complete[-1][-1]) else [complete.pop()]
        limit = self.config.repetition_max_line_repeats
        for line in complete:
            stripped = line.strip()
            if len(stripped) >= MIN_LINE:
                state.lines[stripped] += 1
                if state.lines[stripped] >= limit:
                    return True
        return False

    def drop(self, key) -> None:
        """Forget a sample that finished, was stopped or was cancelled."""
        self.samples.pop(key, None)


def _new(window: str, needle: str, seen: int) -> int:
    """Occurrences of `needle` in `window` that end after its first `seen` characters (those were counted
    when they arrived)."""
    count, at = 0, window.find(needle)
    while at >= 0:
        count += at + len(needle) > seen
        at = window.find(needle, at + 1)
    return count
