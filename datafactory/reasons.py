"""Every reason a sample can fail for, once: its code (what rows carry in `verdict` and `reasons`) and its kind.

Why one home: the evaluator orders reasons by kind, the judge settles the open ones, the gold vote re-checks the
gold-dependent ones, and `stats` tells rules from verdicts; each reads the kinds here instead of keeping its own
list of strings. docs/verifiers.md documents each code (a test holds the two together).
"""

from __future__ import annotations

FORMAT = "format"  # the trace itself is unusable: reported before the verifier's verdict
ANSWER = "answer"  # the verifier compared the answer (math, choice, exact, code)
OPEN = "open"  # the verifier could not decide: a judge may (`--verifier math,judge`)
GOLD = "gold"  # nothing to check against
RULE = "rule"  # readability, after the verifier's verdict
JUDGE = "judge"
LIMIT = "limit"  # the evaluation itself failed: a timeout or a crash
SELECTION = "selection"  # passed every check, not kept

KIND = {
    "empty_response": FORMAT,
    "truncated": FORMAT,
    "bad_format": FORMAT,
    "wrong_answer": ANSWER,
    "tests_failed": ANSWER,
    "runtime_error": ANSWER,
    "timeout": ANSWER,
    "memory_limit": ANSWER,
    "output_limit": ANSWER,
    "syntax_error": ANSWER,
    "tests_not_run": ANSWER,
    "no_code": ANSWER,
    "undecided": OPEN,
    "no_answer": OPEN,
    "no_gold": GOLD,
    "no_consensus": GOLD,
    "repetition": RULE,
    "language_mixed": RULE,
    "long_paragraph": RULE,
    "code_block_in_reasoning": RULE,
    "too_long": RULE,
    "too_short": RULE,
    "judge_rejected": JUDGE,
    "judge_error": JUDGE,
    "verifier_timeout": LIMIT,
    "verifier_error": LIMIT,
    "not_selected": SELECTION,
    "pass_rate_out_of_range": SELECTION,
}


def of_kind(*kinds: str) -> tuple[str, ...]:
    return tuple(code for code, kind in KIND.items() if kind in kinds)


FORMAT_REASONS = of_kind(FORMAT)
OPEN_REASONS = of_kind(OPEN)  # what a judge after a rule-based verifier is asked to settle
SELECTION_REASONS = of_kind(SELECTION)
GOLD_DEPENDENT = ("no_gold", "wrong_answer", "undecided")  # a math verdict that a voted gold re-decides
