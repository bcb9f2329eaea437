"""Find a response's final answer and clean it into LaTeX that math-verify parses.

Why not just the last box: real outputs box each root separately (`x = \\boxed{2}` or `\\boxed{3}`), ramble on
into an empty box after the real one, write unicode math (`2√2`, `x²`, `−3`), shorthand LaTeX (`\\frac2\\pi`),
prose inside the box ("The area of triangle ABC is …"), chat-template box tokens (`<|begin_of_box|>`), or no box
at all ("the answer is 3 + 2√2"). Each of those made math-verify misjudge a trace; each is handled here.
"""

from __future__ import annotations

import re
import unicodedata

from datafactory.trace import boxed_spans

ANSWER_PHRASE = re.compile(r"(?:final answer|the answer)\s*(?:is|:|=)\s*:?\s*(.+)", re.IGNORECASE)
TEMPLATE_BOX = re.compile(r"<\|begin_of_box\|>(.*?)<\|end_of_box\|>", re.DOTALL)
TEMPLATE_TOKEN = re.compile(r"<\|[a-z_]+\|>")
THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
# Text allowed between boxes of one final-answer block: spacing, math delimiters, commas, "and"/"or", "x =".
CONNECTIVE = re.compile(
    r"(?:\s|[$,;.&]|\\[()\[\]]|\\q?quad|\\\\|\\text\{\s*(?:and|or|,)?\s*\}|\band\b|\bor\b"
    r"|\\text\{[^{}]{0,30}\b(?:and|or)\s*\}"
    r"|[A-Za-z](?:_\{?\w+\}?)?\s*=)*"
)
PROSE_LEAD = re.compile(
    r"^\s*(?:\\(?:text|mathrm|textbf)\{)?\s*(?:(?:[A-Za-z][\w']*|\$[^$]{1,30}\$)\s+){2,12}(?:is|are|equals|was)\s*:?"
    r"\s*\}?\s*(?=\S)"
    r"|^\s*(?:final\s+)?answer\s*:\s*",
)
UNIT_TAIL = re.compile(r"^([-+]?(?:\d[\d,]*(?:\.\d+)?|\.\d+))\s*(?:[A-Za-z]{2,}(?:\s+[A-Za-z]{2,}){0,2})\.?$")
WRAPPER = re.compile(r"\\(?:text|mathrm|textbf|mbox|operatorname)\{([^{}]*)\}")
UNICODE = {
    "−": "-", "–": "-", "×": "\\times ", "·": "\\cdot ", "÷": "\\div ", "π": "\\pi ", "∞": "\\infty ",
    "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ", "°": "^\\circ ", "θ": "\\theta ", "…": "\\ldots ",
    "½": "\\frac{1}{2}", "⅓": "\\frac{1}{3}", "¼": "\\frac{1}{4}", "¾": "\\frac{3}{4}", "⅔": "\\frac{2}{3}",
    "\u00a0": " ", "\u200b": "",
}  # fmt: skip
SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
SUPERSCRIPT_RUN = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+")
ROOT = re.compile(r"([√∛∜])\s*(\d+(?:\.\d+)?|[A-Za-z]|\\[A-Za-z]+|\([^()]*\)|\{[^{}]*\})")
ELLIPSIS = re.compile(r"\\[lc]?dots\b|\.\.\.")
MATH_ALPHANUMERIC = re.compile("[\U0001d400-\U0001d7ff\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")


def plain_letters(text: str) -> str:
    """Mathematical alphanumeric symbols (`𝟓`, `𝐱`: above U+FFFF, so the box looked empty) and full-width digits
    and letters as the plain characters they stand for."""
    return MATH_ALPHANUMERIC.sub(lambda match: unicodedata.normalize("NFKC", match.group(0)), text)


def final_answer(response: str, units: bool = True) -> str | None:
    """The final-answer block's boxes joined as a list (`2, 3`), junk boxes skipped; else the text after the last
    "the answer is"; None when there is neither."""
    response = TEMPLATE_BOX.sub(lambda m: f"\\boxed{{{m.group(1)}}}", plain_letters(response))
    response = TEMPLATE_TOKEN.sub("", response)
    boxes = [(start, end, content) for start, end, content in boxed_spans(response) if _meaningful(content)]
    phrases = list(ANSWER_PHRASE.finditer(response))
    if phrases and (not boxes or phrases[-1].start() > boxes[-1][1]):  # "the final answer is" after every box
        return clean(_phrase_answer(phrases[-1].group(1).splitlines()[0]), units) or None
    if boxes:
        block = [boxes[-1]]
        for box in reversed(boxes[:-1]):
            if not CONNECTIVE.fullmatch(response[box[1] : block[0][0]]):
                break
            block.insert(0, box)
        contents = list(dict.fromkeys(clean(content, units) for _, _, content in block))
        return ", ".join(c for c in contents if c) or None
    return None


LEADING_MATH = re.compile(r"^\s*(?:\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\])", re.DOTALL)
SENTENCE_END = re.compile(r"\.\s+(?=[A-Z])|\.\s*$")


def _phrase_answer(text: str) -> str:
    """What follows "the answer is": the math that opens it (`$14{,}916$. I hope it is correct.`), else its
    first sentence."""
    if match := LEADING_MATH.match(text):
        return next(group for group in match.groups() if group is not None)
    return SENTENCE_END.split(text, maxsplit=1)[0]


def _meaningful(content: str) -> bool:
    """False for an empty or junk box (`\\boxed{}`, `\\boxed{?}`, `\\boxed{\\text{}}`)."""
    text = WRAPPER.sub(r"\1", content)
    return bool(re.search(r"[0-9A-Za-z\u0080-\uffff]", text.replace("\\", "")))


def clean(text: str, units: bool = True) -> str:
    """One answer as LaTeX math-verify parses: no delimiters, no unicode math, no shorthand, no leading prose;
    with `units`, a plain number followed by a word or two ("12 apples") loses the words."""
    text = text.strip().strip("$").strip()
    for old, new in UNICODE.items():
        text = text.replace(old, new)
    text = SUPERSCRIPT_RUN.sub(lambda m: "^{" + m.group(0).translate(SUPERSCRIPT) + "}", text)
    text = ROOT.sub(_root, text)
    text = expand_shorthand(text)
    text = PROSE_LEAD.sub("", text)
    text = re.sub(r"(?<=\d)(?:\{,\}|,\\!)\s*(?=\d{3})", ",", text)  # 11,\! 111 and 14{,}916: thousands
    text = re.sub(r"(?<!\\)\\[!, ]", lambda m: " " if m.group(0) == "\\ " else "", text.replace("{,}", ""))
    text = re.sub(r"\\[dt]frac", r"\\frac", text)
    text = text.strip().strip("$").rstrip(".").strip()
    if THOUSANDS.match(text):
        text = text.replace(",", "")
    if units and (match := UNIT_TAIL.match(text)):
        text = match.group(1)
        if THOUSANDS.match(text):
            text = text.replace(",", "")
    return text


def _root(match: re.Match) -> str:
    sign, radicand = match.group(1), match.group(2)
    if radicand[0] in "({" and radicand[-1] in ")}":
        radicand = radicand[1:-1]
    index = {"√": "", "∛": "[3]", "∜": "[4]"}[sign]
    return f"\\sqrt{index}{{{radicand}}}"


def expand_shorthand(text: str) -> str:
    """`\\frac2\\pi` → `\\frac{2}{\\pi}`, `\\sqrt3x` → `\\sqrt{3}x`: braces around single-token arguments."""
    out, position = [], 0
    pattern = re.compile(r"\\(d?frac|tfrac|sqrt)(?![A-Za-z])")
    while match := pattern.search(text, position):
        out.append(text[position : match.end()])
        position = match.end()
        count = 1 if match.group(1) == "sqrt" else 2
        if match.group(1) == "sqrt" and text[position : position + 1] == "[":
            close = text.find("]", position)
            if close == -1:
                break
            out.append(text[position : close + 1])
            position = close + 1
        for _ in range(count):
            argument, position = _argument(text, position)
            if argument is None:
                break
            out.append("{" + expand_shorthand(argument) + "}")
    out.append(text[position:])
    return "".join(out)


def _argument(text: str, position: int) -> tuple[str | None, int]:
    """One macro argument at `position`: a braced group, a `\\command`, or a single character."""
    while position < len(text) and text[position] == " ":
        position += 1
    if position >= len(text):
        return None, position
    if text[position] == "{":
        depth = 0
        for end in range(position, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                return text[position + 1 : end], end + 1
        return None, position
    if text[position] == "\\":
        match = re.match(r"\\[A-Za-z]+", text[position:])
        if match:
            return match.group(0), position + match.end()
    return text[position], position + 1


def top_level_items(text: str) -> list[str]:
    """A comma list split at depth zero (`1, (2, 3), \\{4\\}` → three items)."""
    items, depth, current = [], 0, []
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    items.append("".join(current).strip())
    return items


def is_ellipsis(item: str) -> bool:
    return bool(ELLIPSIS.fullmatch(item.strip()))


def has_ellipsis(text: str) -> bool:
    return bool(ELLIPSIS.search(text))
