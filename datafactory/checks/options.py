"""What makes a sample pass: the verifier, its options, the gold column and the readability rules.

Why apart from the filter's config: `filter` and adaptive `generate --target` apply the same checks with the same
names, defaults and meaning, so both configs inherit them from here (and the CLI declares their flags once, in
`cli/options.py`, with these defaults).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from datafactory.checks.evaluate import EvalSpec
from datafactory.checks.gold_votes import FLAG_SHARE, MIN_SHARE, MIN_VOTES, VOTING_VERIFIERS, GoldOptions
from datafactory.errors import OptionError, about
from datafactory.rules import RuleConfig, resolve_rules
from datafactory.verifiers.base import verifier_class

CHECK_KEYS = [
    "verifier", "gold_field", "rules", "language", "rule_options", "timeout", "verifier_options",
    "gold", "gold_policy", "gold_min_votes", "gold_min_share", "gold_flag_share",
]  # fmt: skip


@dataclass(kw_only=True)
class CheckOptions:
    verifier: str = "math"
    gold_field: str = "answer"
    rules: str = "default"
    language: str = "en"
    rule_options: list[str] = field(default_factory=list)
    verifier_options: dict = field(default_factory=dict)  # per verifier name: {"math": {...}, "code": {...}}
    workers: int = max(1, os.cpu_count() or 1)
    timeout: float = 20.0
    gold: str = "given"  # given, or majority: vote a gold where a prompt has none (checks/gold_votes.py)
    gold_policy: str = "keep"  # keep: flag suspect golds only; replace-suspect: check them against the vote
    gold_min_votes: int = MIN_VOTES
    gold_min_share: float = MIN_SHARE
    gold_flag_share: float = FLAG_SHARE

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
