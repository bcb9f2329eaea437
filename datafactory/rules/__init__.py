"""Readability rules (R1's SFT filters): each looks at a parsed trace and returns a reason code or None.

Why functions in a registry: a rule is a few lines with its thresholds; rule sets are just lists of names.
Thresholds live in `RuleConfig` and can be overridden with `--rule-option name=value`.
"""

from __future__ import annotations

from dataclasses import dataclass

from datafactory.errors import OptionError, UsageError


@dataclass
class RuleConfig:
    language: str = "en"
    language_min_share: float = 0.98  # unused since language_mixed decides per sentence; kept so old recipes load
    long_paragraph_chars: int = 3000
    repetition_ngram: int = 8
    repetition_max_share: float = 0.35  # share of repeated word n-grams
    repetition_max_line_repeats: int = 6
    require_boxed: bool = True  # bad_format also needs a \boxed{} answer (math verifier only)
    max_tokens: int | None = None  # too_long above this many completion tokens
    min_tokens: int | None = None  # too_short below this many

    def override(self, assignments: list[str]) -> RuleConfig:
        """`--rule-option NAME=VALUE` items applied, each checked by its declared type (typed_options.py)."""
        from datafactory.typed_options import parse

        for name, value in parse(RuleConfig, assignments, "--rule-option").items():
            setattr(self, name, value)
        self.validate()
        return self

    def validate(self) -> None:
        """What the types cannot say: a known language, thresholds in range (a negative length disables a rule)."""
        from datafactory.rules.language import LANGID_LANGUAGES

        if self.language not in LANGID_LANGUAGES:
            raise OptionError(
                "language", f"--language {self.language}: language_mixed knows {', '.join(LANGID_LANGUAGES)}"
            )
        at_least_one = ("long_paragraph_chars", "repetition_ngram", "repetition_max_line_repeats")
        for name in at_least_one + ("max_tokens", "min_tokens"):
            value = getattr(self, name)
            if value is not None and value < (1 if name in at_least_one else 0):
                raise UsageError(f"--rule-option {name}={value}: must be at least {1 if name in at_least_one else 0}")
        for name in ("repetition_max_share", "language_min_share"):
            if not 0 < getattr(self, name) <= 1:
                raise UsageError(f"--rule-option {name}={getattr(self, name)}: must be above 0 and at most 1")


RULE_ORDER = [
    "truncated",
    "bad_format",
    "repetition",
    "language_mixed",
    "long_paragraph",
    "code_block_in_reasoning",
    "too_long",
    "too_short",
]
RULE_SETS = {
    "default": ["truncated", "bad_format", "repetition", "too_long", "too_short"],
    "r1": RULE_ORDER,
    "none": [],
}


def resolve_rules(spec: str) -> list[str]:
    """`default`, `r1`, `none`, or a comma list of rule names (sets may be mixed in: `default,language_mixed`)."""
    chosen: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        names = RULE_SETS.get(part, [part])
        for name in names:
            if name not in RULE_ORDER:
                raise UsageError(
                    f"--rules: unknown rule {name!r}; rules: {', '.join(RULE_ORDER)}; sets: {', '.join(RULE_SETS)}"
                )
            if name not in chosen:
                chosen.append(name)
    return [name for name in RULE_ORDER if name in chosen]
