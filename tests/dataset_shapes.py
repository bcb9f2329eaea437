"""Small held-out-style sets in the shapes real reasoning datasets ship in, with their real column names and
nesting (OpenR1-Math-220k, OpenThoughts/Bespoke-Stratos, DeepSeek API dumps, Alpaca, MATH/NuminaMath-style).

Every builder returns (rows, expected): expected[i] is what a person reading input row i takes its prompt and
completion(s) to be, and whether its answer is right, so a test can account for every row.
"""

from __future__ import annotations

import random

PROBLEMS = [(a, b) for a in range(11, 31) for b in (3, 4, 7, 9, 12)]
STRATOS_SYSTEM = (
    "Your role as an assistant involves thoroughly exploring questions through a systematic long thinking process "
    "before providing the final precise and accurate solutions."
)


def _question(a: int, b: int) -> str:
    return f"What is {a} * {b}?"


def _reasoning(a: int, b: int) -> str:
    return f"Multiply {a} by {b}: {a} * {b} = {a * b}."


def _answer(value: int) -> str:
    return f"The answer is $\\boxed{{{value}}}$."


def _truth(count: int, seed: int) -> list[bool]:
    rng = random.Random(seed)
    return [rng.random() < 0.7 for _ in range(count)]


def _given(a: int, b: int, right: bool) -> int:
    return a * b if right else a * b + 1


def prompt_response(count: int = 50) -> tuple[list[dict], list[dict]]:
    """`prompt`/`response`/`answer`: a dump of an API's replies with the gold beside them."""
    rows, expected = [], []
    for (a, b), right in zip(PROBLEMS[:count], _truth(count, 1), strict=True):
        completion = f"<think>\n{_reasoning(a, b)}\n</think>\n\n{_answer(_given(a, b, right))}"
        rows.append({"prompt": _question(a, b), "response": completion, "answer": str(a * b)})
        expected.append({"prompt": _question(a, b), "completions": [completion], "right": [right]})
    return rows, expected


def question_answer_solution(count: int = 40) -> tuple[list[dict], list[dict]]:
    """`question`/`answer` with a worked `solution` (the completion to filter)."""
    rows, expected = [], []
    for (a, b), right in zip(PROBLEMS[:count], _truth(count, 2), strict=True):
        solution = f"<think>\n{_reasoning(a, b)}\n</think>\n\n{_answer(_given(a, b, right))}"
        rows.append({"question": _question(a, b), "answer": str(a * b), "solution": solution})
        expected.append({"prompt": _question(a, b), "completions": [solution], "right": [right]})
    return rows, expected


def problem_solution_answer(count: int = 40) -> tuple[list[dict], list[dict]]:
    """MATH / NuminaMath style: `problem`, `solution`, `answer`, `level`, `unique_id`."""
    rows, expected = [], []
    for index, ((a, b), right) in enumerate(zip(PROBLEMS[:count], _truth(count, 3), strict=True)):
        solution = f"<think>\n{_reasoning(a, b)}\n</think>\n\n{_answer(_given(a, b, right))}"
        rows.append({"problem": _question(a, b), "solution": solution, "answer": str(a * b), "level": 1 + index % 5,
                     "unique_id": f"test/algebra/{index}.json"})  # fmt: skip
        expected.append({"prompt": _question(a, b), "completions": [solution], "right": [right]})
    return rows, expected


def alpaca(count: int = 128) -> tuple[list[dict], list[dict]]:
    """Alpaca: one shared `instruction`, the problem in `input` (empty for a few rows), the trace in `output`."""
    rows, expected = [], []
    for index, (a, b) in enumerate((PROBLEMS * 2)[:count]):
        a += 100 * (index // len(PROBLEMS))
        own = index % 16 == 15  # the instruction alone is the problem, input empty
        instruction = _question(a, b) if own else "Solve the following problem."
        given = "" if own else _question(a, b)
        output = f"<think>\n{_reasoning(a, b)}\n</think>\n\n{_answer(a * b)}"
        rows.append({"instruction": instruction, "input": given, "output": output, "answer": str(a * b)})
        prompt = instruction if own else f"{instruction}\n\n{given}"
        expected.append({"prompt": prompt, "completions": [output], "right": [True]})
    return rows, expected


def deepseek_api(count: int = 30, nested: bool = False, key: str = "reasoning_content") -> tuple[list, list]:
    """A DeepSeek-API dump: the reasoning in `reasoning_content` (or `reasoning`) beside `content`, at the top
    level or inside the assistant turn of `messages`."""
    rows, expected = [], []
    for (a, b), right in zip(PROBLEMS[:count], _truth(count, 4), strict=True):
        reasoning, content = _reasoning(a, b), _answer(_given(a, b, right))
        if nested:
            assistant = {"role": "assistant", "content": content, key: reasoning}
            rows.append({"messages": [{"role": "user", "content": _question(a, b)}, assistant], "answer": str(a * b)})
        else:
            rows.append({"prompt": _question(a, b), key: reasoning, "content": content, "answer": str(a * b)})
        completion = f"<think>\n{reasoning}\n</think>\n\n{content}"
        expected.append({"prompt": _question(a, b), "completions": [completion], "right": [right]})
    return rows, expected


def openr1_math(count: int = 30) -> tuple[list[dict], list[dict]]:
    """OpenR1-Math-220k: 2-4 `generations` per problem with per-generation `correctness_math_verify`,
    `correctness_llama` (null where unused), `finish_reasons`, `is_reasoning_complete`; `messages` holds the
    problem and one of the generations."""
    rng = random.Random(5)
    rows, expected = [], []
    for index, (a, b) in enumerate(PROBLEMS[:count]):
        n = 2 + index % 3
        right = [rng.random() < 0.6 for _ in range(n)]
        generations = [
            f"<think>\n{_reasoning(a, b)} Check {k}.\n</think>\n\n{_answer(_given(a, b, r))}"
            for k, r in enumerate(right)
        ]
        problem = f"{_question(a, b)} Please reason step by step, and put your final answer within \\boxed{{}}."
        shown = next((k for k, r in enumerate(right) if r), 0)
        rows.append({
            "problem": problem, "solution": f"{a} * {b} = {a * b}", "answer": str(a * b),
            "problem_type": "Algebra", "question_type": "math-word-problem", "source": "olympiads",
            "uuid": f"{index:08x}-0000-5000-8000-000000000000", "is_reasoning_complete": [True] * n,
            "generations": generations, "correctness_math_verify": right,
            "correctness_llama": None if index % 2 else [not r for r in right],
            "finish_reasons": None if index % 3 else ["stop"] * n, "correctness_count": sum(right),
            "messages": [{"content": problem, "role": "user"}, {"content": generations[shown], "role": "assistant"}],
        })  # fmt: skip
        expected.append({"prompt": problem, "completions": generations, "right": right})
    return rows, expected


def openthoughts(count: int = 30) -> tuple[list[dict], list[dict]]:
    """OpenThoughts / Bespoke-Stratos: a `system` column and ShareGPT `conversations` whose assistant turn uses
    <|begin_of_thought|>…<|end_of_thought|> and <|begin_of_solution|>…<|end_of_solution|>."""
    rows, expected = [], []
    for (a, b), right in zip(PROBLEMS[:count], _truth(count, 6), strict=True):
        value = (
            f"<|begin_of_thought|>\n\n{_reasoning(a, b)}\n\n<|end_of_thought|>\n\n"
            f"<|begin_of_solution|>\n\n{_answer(_given(a, b, right))}\n\n<|end_of_solution|>"
        )
        rows.append({"system": STRATOS_SYSTEM, "answer": str(a * b),
                     "conversations": [{"from": "user", "value": _question(a, b)}, {"from": "assistant", "value": value}]})  # fmt: skip
        expected.append({"prompt": _question(a, b), "system": STRATOS_SYSTEM, "completions": [value], "right": [right],
                         "reasoning": _reasoning(a, b), "response": _answer(_given(a, b, right))})  # fmt: skip
    return rows, expected
