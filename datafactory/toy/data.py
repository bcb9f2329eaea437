"""Synthetic data for the toy reasoner and the demo: arithmetic with R1-style traces, small talk, judge verdicts.

Why synthetic: the demo must run anywhere without downloads, and the toy model must make realistic mistakes
for every filter rule to catch. A fixed share of the training traces is deliberately flawed (malformed think
blocks, a step drifting into Chinese or French, a looping step), so the model reproduces those flaws now and then.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

NAMES = ["Sam", "Mia", "Leo", "Ava", "Noah", "Zoe", "Omar", "Lena", "Ravi", "Ines"]
ITEMS = ["apples", "marbles", "stickers", "books", "coins", "cards", "shells", "pencils"]
GREETINGS = [
    ("Hello!", "Hello! How can I help you today?"),
    ("Hi there", "Hi! What would you like to talk about?"),
    ("Good morning!", "Good morning! I hope your day is going well."),
    ("How are you?", "I am doing well, thank you for asking. How can I help?"),
    ("Thanks!", "You are welcome!"),
    ("Who are you?", "I am a small toy assistant made for demos."),
]
CAPITALS = {
    "France": "Paris", "Japan": "Tokyo", "Italy": "Rome", "Spain": "Madrid", "Germany": "Berlin",
    "Egypt": "Cairo", "Canada": "Ottawa", "Kenya": "Nairobi", "Peru": "Lima", "Norway": "Oslo",
}  # fmt: skip
FACTS = {
    "cats": "Cats sleep for about two thirds of the day.",
    "the sun": "The sun is a star at the center of our solar system.",
    "water": "Water boils at 100 degrees Celsius at sea level.",
    "bees": "Bees communicate by dancing.",
    "the moon": "The moon has no air and no weather.",
}
OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}
OP_WORDS = {"+": "plus", "-": "minus", "*": "times"}
DRIFT = {
    "zh": {"+": "然后 {a} 加 {b} 等于 {c}。", "-": "然后 {a} 减 {b} 等于 {c}。", "*": "然后 {a} 乘以 {b} 等于 {c}。"},
    "fr": {
        "+": "Ensuite {a} plus {b} font {c}.",
        "-": "Ensuite {a} moins {b} font {c}.",
        "*": "Ensuite {a} fois {b} font {c}.",
    },
}


@dataclass
class Problem:
    text: str
    answer: int
    steps: list[tuple[int, str, int, int]]  # (a, op, b, result)


def arithmetic_problem(rng: random.Random) -> Problem:
    """One to three operations on small numbers, as an expression or a word problem."""
    count = rng.choices([1, 2, 3], weights=[5, 4, 1])[0]
    value = rng.randint(2, 25)
    steps, terms = [], [str(value)]
    for _ in range(count):
        op = rng.choice(["+", "+", "-", "*"] if value <= 12 else ["+", "-", "-"]) if value >= 3 else "+"
        if op == "*":
            other = rng.randint(2, 4)
        elif op == "-":
            other = rng.randint(1, value - 1)
        else:
            other = rng.randint(2, 25)
        result = OPS[op](value, other)
        steps.append((value, op, other, result))
        terms.append(f"{op} {other}")
        value = result
    if rng.random() < 0.6 or any(op == "*" for _, op, _, _ in steps[1:]):
        expression = " ".join(terms).replace("*", "×")
        text = rng.choice(["What is {e}?", "Compute {e}.", "Calculate {e}."]).format(e=expression)
        if count > 1:
            text += " Work from left to right."
        return Problem(text, value, steps)
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    sentences = [f"{name} has {steps[0][0]} {item}."]
    for _, op, other, _ in steps:
        sentences.append(
            {
                "+": f"{name} gets {other} more.",
                "-": f"{name} gives away {other}.",
                "*": f"Then the pile grows {other} times.",
            }[op]
        )
    sentences.append(f"How many {item} does {name} have now?")
    return Problem(" ".join(sentences), value, steps)


def trace(problem: Problem, rng: random.Random, flaw: str | None = None) -> str:
    """`<think>` steps `</think>` then a boxed answer; `flaw` plants what a filter rule should catch."""
    lines = [f"We start with {problem.steps[0][0]}."]
    for a, op, b, c in problem.steps:
        lines.append(f"{a} {OP_WORDS[op]} {b} is {c}.")
    if flaw in DRIFT:
        a, op, b, c = problem.steps[-1]
        lines[-1] = DRIFT[flaw][op].format(a=a, b=b, c=c)
    if flaw == "repetition":  # a line long enough for the repetition rule, looped past its limit
        lines += [f"Let me double check: {lines[-1]}"] * 9
    lines.append(f"So the answer is {problem.answer}.")
    reasoning = "\n".join(lines)
    answer = f"The answer is \\boxed{{{problem.answer}}}."
    if flaw == "no_close":
        return f"<think>\n{reasoning}\n\n{answer}"
    if flaw == "no_box":
        return f"<think>\n{reasoning}\n</think>\n\nThe answer is {problem.answer}."
    return f"<think>\n{reasoning}\n</think>\n\n{answer}"


def general_prompt(rng: random.Random) -> tuple[str, str]:
    kind = rng.random()
    if kind < 0.4:
        return rng.choice(GREETINGS)
    if kind < 0.75:
        country = rng.choice(list(CAPITALS))
        return f"What is the capital of {country}?", f"The capital of {country} is {CAPITALS[country]}."
    topic = rng.choice(list(FACTS))
    return f"Tell me a fun fact about {topic}.", FACTS[topic]


OPENERS = ["", "Quick question: ", "Hey! ", "Please answer briefly: ", "I was wondering: ", "Can you help? "]


def demo_general_prompt(rng: random.Random) -> str:
    """A general prompt for the demo sets: the training phrasings behind varied openers, so a few hundred of them
    stay mostly distinct (the training data itself never sees the openers)."""
    prompt, _ = general_prompt(rng)
    opener = rng.choice(OPENERS)
    return opener + (prompt[0].lower() + prompt[1:] if opener else prompt)


def judge_prompt(problem: Problem, candidate: int, boxed: bool = True) -> str:
    """The built-in `correctness` judge template, filled in the way the judge verifier fills it."""
    from datafactory.judge.templates import render

    response = f"The answer is \\boxed{{{candidate}}}." if boxed else f"The answer is {candidate}."
    return render("correctness", problem=problem.text, gold=str(problem.answer), response=response)


def judge_verdict(problem: Problem, candidate: int) -> str:
    """Digit pairs before the verdict: a model this small cannot compare two numbers at a glance, but it can copy
    them side by side and compare one pair of digits at a time."""
    gold, given = str(problem.answer), str(candidate)
    if len(gold) != len(given):
        analysis = f"Candidate {given}, gold {gold}: the lengths differ."
    else:
        pairs = " ".join(f"{a}{'=' if a == b else '≠'}{b}" for a, b in zip(given, gold, strict=True))
        analysis = f"Candidate {given}, gold {gold}: {pairs}."
    same = candidate == problem.answer
    return json.dumps({"analysis": analysis, "correctness": "correct" if same else "incorrect"}, ensure_ascii=False)


def judge_candidate(problem: Problem, rng: random.Random) -> int:
    """Half right; the wrong half near the gold answer, as a model's slips are."""
    if rng.random() < 0.5:
        return problem.answer
    wrong = problem.answer + rng.choice([-10, -2, -1, 1, 2, 10, rng.randint(3, 30), -rng.randint(3, 30)])
    return wrong if wrong != problem.answer else problem.answer + 1


FLAWS = [(None, 0.75), ("no_close", 0.04), ("no_box", 0.05), ("zh", 0.03), ("fr", 0.03), ("repetition", 0.10)]


def training_conversations(count: int, seed: int) -> list[list[dict]]:
    """The toy reasoner's training set: 65% arithmetic traces (with planted flaws), 13% small talk, 22% judging."""
    rng = random.Random(seed)
    flaws, weights = zip(*FLAWS, strict=True)
    out = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.65:
            problem = arithmetic_problem(rng)
            flaw = rng.choices(flaws, weights)[0]
            out.append(
                [{"role": "user", "content": problem.text}, {"role": "assistant", "content": trace(problem, rng, flaw)}]
            )
        elif kind < 0.78:
            prompt, answer = general_prompt(rng)
            out.append([{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}])
        else:
            problem = arithmetic_problem(rng)
            candidate = judge_candidate(problem, rng)
            prompt = judge_prompt(problem, candidate, boxed=rng.random() < 0.9)
            out.append([{"role": "user", "content": prompt},
                        {"role": "assistant", "content": judge_verdict(problem, candidate)}])  # fmt: skip
    return out


def demo_prompts(reasoning: int, general: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Prompt sets for the demo, drawn from a stream the training set never uses."""
    rng = random.Random(f"prompts-{seed}")
    arithmetic = []
    for index in range(reasoning):
        problem = arithmetic_problem(rng)
        arithmetic.append(
            {
                "id": f"arith-{seed}-{index}",
                "problem": problem.text,
                "answer": str(problem.answer),
                "source": "toy-arithmetic",
            }
        )
    chat = []
    for index in range(general):
        chat.append({"id": f"chat-{seed}-{index}", "prompt": demo_general_prompt(rng), "source": "toy-general"})
    return arithmetic, chat


def write_prompt_set(folder, options: dict) -> str:
    """The `toy` prompt set of recipes (`prompts: {toy: {reasoning, general, seed}}`); what it wrote, in words."""
    sizes = (int(options.get("reasoning", 500)), int(options.get("general", 200)), int(options.get("seed", 0)))
    reasoning, general = write_demo_prompts(folder, *sizes)
    return f"{reasoning} reasoning + {general} general"


PROMPT_SET_OPTIONS = {"reasoning", "general", "seed"}


def write_demo_prompts(folder, reasoning: int, general: int, seed: int) -> tuple[int, int]:
    """Write `reasoning.jsonl` (with gold answers) and `general.jsonl` into `folder`, atomically."""
    from pathlib import Path

    from datafactory.io.writer import atomic_write_bytes

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arithmetic, chat = demo_prompts(reasoning, general, seed)
    for name, rows in (("reasoning.jsonl", arithmetic), ("general.jsonl", chat)):
        atomic_write_bytes(folder / name, "".join(json.dumps(r) + "\n" for r in rows).encode())
    return len(arithmetic), len(chat)
