"""Escape a trace for HTML and mark what tripped a rule, where that is cheap: sentences in another language,
the repeated line or span, fenced code inside the reasoning.

Why in Python: the browser only inserts ready, escaped HTML, so nothing a model wrote can run in the report.
"""

from __future__ import annotations

import html
import re
from collections import Counter

from datafactory.rules.language import foreign_spans

FENCE = re.compile(r"```.*?(?:```|$)", re.DOTALL)
MIN_REPEATED_LINE = 12


def highlight(text: str, reasons: list[str], language: str = "en") -> str:
    if "language_mixed" in reasons:
        return _mark_foreign(text, language)
    if "repetition" in reasons:
        repeated = _repeated_line(text)
        if repeated:
            escaped = html.escape(text)
            return escaped.replace(html.escape(repeated), f'<mark class="rule">{html.escape(repeated)}</mark>')
    if "code_block_in_reasoning" in reasons:
        return _mark(text, [m.span() for m in FENCE.finditer(text)])
    return html.escape(text)


def _mark(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in spans:
        out += [html.escape(text[last:start]), f'<mark class="rule">{html.escape(text[start:end])}</mark>']
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out)


def _mark_foreign(text: str, language: str) -> str:
    """Each sentence or clause the language rule found in another language is marked."""
    return _mark(text, foreign_spans(text, language))


def _repeated_line(text: str) -> str | None:
    """The most repeated line (at least 3 times) of some length, else the most repeated 8-word span."""
    lines = Counter(line.strip() for line in text.splitlines() if len(line.strip()) >= MIN_REPEATED_LINE)
    if lines:
        line, count = lines.most_common(1)[0]
        if count >= 3:
            return line
    words = text.split()
    grams = Counter(" ".join(words[i : i + 8]) for i in range(max(0, len(words) - 7)))
    if grams:
        gram, count = grams.most_common(1)[0]
        if count >= 3 and gram in text:
            return gram
    return None
