"""What makes a sample pass: the verifier, its options, the gold column and the readability rules.

Why apart from the filter's config: `filter` and adaptive `generate --target` apply the same checks with the same
names, defaults and meaning, so both configs inherit them from here (each declared once: options.py).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from datafactory.checks.evaluate import EvalSpec
from datafactory.checks.gold_votes import (
    FLAG_SHARE,
    MIN_SHARE,
    MIN_VOTES,
    MODES,
    POLICIES,
    VOTING_VERIFIERS,
    GoldOptions,
)
from datafactory.errors import OptionError, about
from datafactory.options import cpu_count, option
from datafactory.rules import RuleConfig, resolve_rules
from datafactory.verifiers.base import verifier_class


@dataclass(kw_only=True)
class CheckOptions:
    verifier: str = option(
        "math",
        help="How an answer is checked; or a rule-based verifier then the judge: math,judge.",
        panel="Checks",
        metavar="[math|code|choice|exact|judge|none]",
        resume=True,
    )
    gold_field: str = option("answer", help="Column holding the gold answer.", panel="Checks", resume=True)
    rules: str = option(
        "default",
        help="Readability rules: a set (default, r1, none) or a comma list of rules and sets.",
        panel="Checks",
        resume=True,
    )
    language: str = option(
        "en", help="Target language of the reasoning, for language_mixed (ISO 639-1).", panel="Checks", resume=True
    )
    rule_options: list[str] = option(
        factory=list,
        help="Override a rule threshold, NAME=VALUE (repeatable).",
        panel="Checks",
        flags=("--rule-option",),
        metavar="NAME=VALUE",
        resume=True,
    )
    verifier_options: dict = option(
        factory=dict,
        help="Each verifier's own options: {math: {...}, code: {...}}.",
        panel="Checks",
        verifier_flags=("code", "math"),
        resume=True,
    )
    workers: int = option(
        factory=cpu_count,
        help="Verifier worker processes.",
        panel="Checks",
        shown_default="the CPU count",
        output=False,
    )
    timeout: float = option(
        20.0, help="Hard time limit per row in seconds (then verifier_timeout).", panel="Checks", resume=True
    )
    gold: str = option(
        "given",
        help="given: check against --gold-field (suspect golds are flagged, verdicts unchanged); "
        "majority: where a prompt has no gold, its samples' majority answer becomes it (math verifier).",
        panel="Gold answers",
        choices=MODES,
        resume=True,
    )
    gold_policy: str = option(
        "keep",
        help="keep: only flag suspect golds; replace-suspect: check flagged prompts against the majority.",
        panel="Gold answers",
        choices=POLICIES,
        resume=True,
    )
    gold_min_votes: int = option(
        MIN_VOTES, help="Samples that must agree on an answer for a consensus.", panel="Gold answers", resume=True
    )
    gold_min_share: float = option(
        MIN_SHARE,
        help="Share of the answered samples that must agree to vote a gold (ties never count).",
        panel="Gold answers",
        resume=True,
    )
    gold_flag_share: float = option(
        FLAG_SHARE,
        help="Share of the answered samples that must agree on another answer to flag a gold.",
        panel="Gold answers",
        resume=True,
    )

    @property
    def chain(self) -> list[str]:
        """`math,judge` → ["math", "judge"]: the rule-based verifier runs in the workers, the judge after it."""
        return [name.strip() for name in self.verifier.split(",") if name.strip()]

    @property
    def worker_verifier(self) -> str:
        return self.chain[0]

    @property
    def judged(self) -> bool:
        return "judge" in self.chain

    @property
    def gold_options(self) -> GoldOptions:
        return GoldOptions(self.gold, self.gold_policy, self.gold_min_votes, self.gold_min_share, self.gold_flag_share)

    @property
    def audits_gold(self) -> bool:
        """Whether samples vote on golds (flagging suspects, and voting where asked): the math verifier only."""
        return self.worker_verifier in VOTING_VERIFIERS

    def options_for(self, name: str) -> dict:
        return dict(self.verifier_options.get(name) or {})

    def validate_checks(self) -> None:
        chain = self.chain
        if not chain or len(chain) > 2 or (len(chain) == 2 and (chain[1] != "judge" or chain[0] == "judge")):
            raise OptionError(
                "verifier", f"--verifier {self.verifier!r}: one verifier, or a rule-based one then judge (math,judge)"
            )
        with about("verifier"):
            for name in chain:
                verifier_class(name)
        with about("verifier_options"):
            # every verifier's options, by the types it declares; options of one not in the chain check too
            # (recipe-wide options) but are not used
            for name, values in self.verifier_options.items():
                verifier_class(name).parse_options(values or {})
            if self.worker_verifier == "code":
                from datafactory.verifiers.code import prepare

                prepare(self.options_for("code"))
        self.gold_options.validate(self.worker_verifier)
        if self.timeout <= 0:
            raise OptionError("timeout", "--timeout must be positive")
        if self.workers < 1:
            raise OptionError("workers", "--workers must be at least 1")
        with about("rules"):
            resolve_rules(self.rules)
        RuleConfig(language=self.language).validate()
        with about("rule_options"):
            self.spec()  # unknown rule options fail here

    def spec(self) -> EvalSpec:
        config = RuleConfig(language=self.language).override(self.rule_options)
        verifier = self.worker_verifier
        return EvalSpec(verifier, self.options_for(verifier), resolve_rules(self.rules), config)


# The check options a resume compares and a recipe decides from its filter section (workers is a resource, not a
# check): declared with `resume` above.
CHECK_KEYS = [spec.name for spec in fields(CheckOptions) if spec.metadata.get("resume")]
