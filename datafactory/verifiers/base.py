"""The verifier interface and registry.

Why small: a verifier is one class with `verify(response, gold, row) -> Verdict`, registered by name, so new
ones (code, judge) plug in without touching the filter stage. Verifiers run inside worker processes, which
bound their time from outside; they need not guard against hangs themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from datafactory.errors import UsageError
from datafactory.registry import load


@dataclass(frozen=True)
class Verdict:
    """`ok` True/False; `reason` a stable code when not ok (wrong_answer, no_answer, no_gold, …)."""

    ok: bool
    reason: str | None = None
    extracted: str | None = None
    score: float = 0.0
    detail: str | None = None


def passed(extracted: str | None = None, score: float = 1.0) -> Verdict:
    return Verdict(True, None, extracted, score)


def failed(reason: str, extracted: str | None = None, detail: str | None = None) -> Verdict:
    return Verdict(False, reason, extracted, 0.0, detail)


class Verifier:
    name = "base"
    needs_gold = True
    row_fields: tuple[str, ...] = ()  # extra columns the verifier reads from the row (tests, entry points, …)
    decided_later = False  # True: a later pass of the filter decides its rows (the judge), the workers do not
    # Its options, declared as a dataclass (typed; `CHOICES` and `validate()` for what a type cannot say), and the
    # name errors give them; None: it takes none. They arrive as {name: value} (flags, recipe `verifier_options`).
    Options: type | None = None
    options_flag = ""

    def __init__(self, options: dict | None = None):
        self.options = options or {}

    @classmethod
    def parse_options(cls, values: dict | list[str]):
        """Its options object from NAME=VALUE values (None if it takes none); a bad name or value is a usage error
        naming the option and what is allowed."""
        if cls.Options is None:
            if values:
                names = ", ".join(values if isinstance(values, dict) else [str(v) for v in values])
                raise UsageError(f"--verifier {cls.name} takes no options (got {names})")
            return None
        from datafactory.typed_options import build

        return build(cls.Options, values, cls.options_flag or f"{cls.name} verifier option")

    def verify(self, response: str, gold, row: dict) -> Verdict:
        raise NotImplementedError


VERIFIERS = {
    "math": "datafactory.verifiers.math:MathVerifier",
    "choice": "datafactory.verifiers.simple:ChoiceVerifier",
    "exact": "datafactory.verifiers.simple:ExactVerifier",
    "none": "datafactory.verifiers.simple:NoVerifier",
    "code": "datafactory.verifiers.code:CodeVerifier",
    "judge": "datafactory.judge.verdicts:JudgeVerifier",
}


def verifier_class(name: str) -> type[Verifier]:
    return load(VERIFIERS, name, "verifier")
