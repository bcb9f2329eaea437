"""Gold answers checked against the samples: a prompt's answers grouped by mathematical equality, a gold that no
sample agrees with flagged when most samples agree on something else, and a voted gold where a prompt has none.

Why votes: a prompt's samples are independent attempts. When a clear majority agree with each other and none with
the gold, the gold is the likelier mistake (scraped math sets carry a few percent of wrong golds, and every
correct trace of such a prompt is thrown away); where there is no gold, the same majority is the label
self-consistency and test-time RL use. Votes are counted among the samples that gave an answer.

The thresholds (`GoldOptions`): a consensus needs at least `min_votes` samples on one answer, a share of the
answered samples, and strictly more votes than any other answer (a tie is no consensus, never a guess). A gold is
`suspect_gold` when there is a consensus at `flag_share`, the consensus answer is definitely not equal to the gold
(an answer that cannot be compared with it is not evidence), and the consensus outvotes the gold's own support
SUPPORT_RATIO to one: a sample that happens to make the gold's mistake no longer vetoes the flag (one did), while a
gold with real support is not flagged. Each suspect carries a confidence (`suspicion`) the report sorts by.
Flagging changes no verdict. A gold is voted, and rows are checked against it (`gold_source`: majority), only at the stricter
`min_share`: for prompts without one with `mode="majority"`, and for flagged ones with `policy="replace-suspect"`.
Figures for both thresholds: benchmarks/gold_audit.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from datafactory.errors import OptionError
from datafactory.reasons import GOLD_DEPENDENT

MODES = ("given", "majority")
POLICIES = ("keep", "replace-suspect")
MIN_VOTES = 3
MIN_SHARE = 0.75  # a label changes data: at 0.6 the toy reasoner's majority labels were 97.6% right, at 0.75 98.8%
FLAG_SHARE = 0.6  # a flag asks for a look: at 0.6 it found 93% of wrong golds (95% precise), at 0.75 81%
VOTING_VERIFIERS = ("math",)  # answers need an equality that knows 1/2 = 0.5; the math verifier's own
PRIOR_WRONG_GOLD = 0.05  # scraped math sets carry a few percent of wrong golds
ERROR_CONCENTRATION = 0.5  # at most this share of a prompt's wrong samples land on one same wrong answer
# The consensus must outvote the samples that agree with the gold this many to one. Chosen on benchmarks/gold_audit.py
# (500 toy prompts, 5% of golds wrong by ±1, +7, +100 or 9g+3): against "no sample may agree" it found more wrong
# golds at the same or better precision, at n = 8 and n = 16; 2 to 5 and a likelihood-ratio threshold cost precision.
SUPPORT_RATIO = 6


def could_be_flagged(gold_support: int, answered: int) -> bool:
    """Whether any vote among `answered` samples could flag a gold `gold_support` of them agree with."""
    return gold_support * SUPPORT_RATIO <= answered - gold_support


# A prompt's gold status, in .pass_rates/ and the manifest.
GIVEN, SUSPECT, MAJORITY, NO_CONSENSUS, NO_GOLD = "given", "suspect_gold", "majority", "no_consensus", "no_gold"


@dataclass(frozen=True)
class GoldOptions:
    mode: str = "given"  # given: check against the gold column; majority: vote where there is none
    policy: str = "keep"  # keep: flag suspects only; replace-suspect: check flagged prompts against the vote
    min_votes: int = MIN_VOTES
    min_share: float = MIN_SHARE  # to vote a gold
    flag_share: float = FLAG_SHARE  # to flag a gold as suspect

    def validate(self, verifier: str) -> None:
        """What a declaration cannot say (its choices are checked with every option's: options.py)."""
        if self.min_votes < 1:
            raise OptionError("gold_min_votes", "--gold-min-votes must be at least 1")
        if not 0 < self.min_share <= 1:
            raise OptionError("gold_min_share", "--gold-min-share must be above 0 and at most 1")
        if not 0 < self.flag_share <= 1:
            raise OptionError("gold_flag_share", "--gold-flag-share must be above 0 and at most 1")
        voting = self.mode == "majority" or self.policy == "replace-suspect"
        if voting and verifier not in VOTING_VERIFIERS:
            flag = "--gold majority" if self.mode == "majority" else "--gold-policy replace-suspect"
            raise OptionError(
                "gold" if self.mode == "majority" else "gold_policy",
                f"{flag} needs --verifier math (answers are grouped by mathematical equality); got --verifier {verifier}",
            )

    @property
    def votes_without_gold(self) -> bool:
        return self.mode == "majority"

    @property
    def replaces_suspects(self) -> bool:
        return self.policy == "replace-suspect"


@dataclass(frozen=True)
class Tally:
    """One prompt's answers grouped: the largest group and the runner-up, whether or not they make a consensus."""

    top: str | None
    votes: int
    runner_up: int
    answered: int
    members: frozenset

    def agrees(self, options: GoldOptions, share: float | None = None) -> bool:
        """Whether the top answer is a consensus: `min_votes`, a `share` (default: `min_share`), and no tie."""
        if self.top is None or self.votes <= self.runner_up or self.votes < options.min_votes:
            return False
        return self.votes >= (options.min_share if share is None else share) * self.answered - 1e-9


UNCOUNTED = Tally(None, 0, 0, 0, frozenset())  # no votes: nobody answered, or the vote was not needed


def tally(answers: Iterable[tuple[Hashable, str | None]], same: Callable[[str, str], bool]) -> Tally:
    """Group (key, answer) pairs: identical texts first, then each distinct text joins the first group whose
    answer it equals (`same`), else starts its own. Keys with no answer do not vote."""
    by_text: dict[str, list] = {}
    for key, answer in answers:
        if answer is not None and answer.strip():
            by_text.setdefault(answer.strip(), []).append(key)
    groups: list[tuple[str, list]] = []
    for text, keys in sorted(by_text.items(), key=lambda item: -len(item[1])):  # big groups lead: fewer comparisons
        for representative, members in groups:
            if same(representative, text):
                members.extend(keys)
                break
        else:
            groups.append((text, list(keys)))
    answered = sum(len(keys) for keys in by_text.values())
    if not groups:
        return UNCOUNTED
    groups.sort(key=lambda group: -len(group[1]))
    runner_up = len(groups[1][1]) if len(groups) > 1 else 0
    return Tally(groups[0][0], len(groups[0][1]), runner_up, answered, frozenset(groups[0][1]))


@dataclass(frozen=True)
class GoldAudit:
    """What one prompt's samples say about its gold, and which gold its rows are checked against."""

    status: str  # given | suspect_gold | majority | no_consensus | no_gold
    gold: str | None  # the given gold (as the verifier reads it)
    tally: Tally
    source: str | None  # given | majority | None (no gold to check against)
    confidence: float | None = None  # a suspect's: how likely its gold is wrong (suspicion)

    @property
    def voted(self) -> bool:
        return self.source == "majority"


def suspicion(consensus: int, gold_support: int, answered: int) -> float:
    """How likely the gold is wrong and the consensus right, from their support among the answered samples (the
    confidence a suspect is listed with).

    A sample is right with the prompt's accuracy p (estimated by the larger side's share) and, when wrong, gives
    one particular wrong answer with probability at most q = ERROR_CONCENTRATION. Either side may be the right
    one; the other's votes are then that many samples making the same mistake, so the likelihood ratio of
    "consensus right" to "gold right" is (p / ((1 - p) q)) ** (consensus - gold_support), against a prior of
    PRIOR_WRONG_GOLD. One stray sample matching a wrong gold then costs one vote of the margin, not the flag."""
    if answered <= 0 or consensus <= gold_support:
        return 0.0
    accuracy = min(max(consensus, gold_support) / answered, 0.999)
    per_vote = math.log(accuracy / ((1 - accuracy) * ERROR_CONCENTRATION))
    log_odds = math.log(PRIOR_WRONG_GOLD / (1 - PRIOR_WRONG_GOLD)) + (consensus - gold_support) * per_vote
    return 1 / (1 + math.exp(-max(-50.0, min(50.0, log_odds))))


def audit(
    gold: str | None,
    gold_passes: int,
    counted: Tally,
    options: GoldOptions,
    top_differs: bool,
    confirmed: bool | None = None,
) -> GoldAudit:
    """The prompt's gold status. `gold_passes`: samples the verifier passed against the given gold; `top_differs`:
    the top answer is definitely not the gold (math said unequal); `confirmed`: a judge's word that the top answer
    is right (None: no judge asked), needed before a suspect gold is replaced."""
    agreed = counted.agrees(options)
    if gold is None:
        if not options.votes_without_gold:
            return GoldAudit(NO_GOLD, None, counted, None)
        return GoldAudit(MAJORITY if agreed else NO_CONSENSUS, None, counted, "majority" if agreed else None)
    if not counted.agrees(options, options.flag_share) or not top_differs:
        return GoldAudit(GIVEN, gold, counted, "given")
    if gold_passes * SUPPORT_RATIO > counted.votes:
        return GoldAudit(GIVEN, gold, counted, "given")
    confidence = round(suspicion(counted.votes, gold_passes, counted.answered), 4)
    replace = options.replaces_suspects and agreed and confirmed is not False
    return GoldAudit(SUSPECT, gold, counted, "majority" if replace else "given", confidence)


def regraded(reasons: list[str], in_majority: bool, answered: bool) -> list[str]:
    """A row's reasons once checked against a voted gold: the verifier's gold-dependent reason goes when its answer
    is the majority's, and becomes `wrong_answer` when it gave another answer or `no_answer` when it gave none
    (the verifier says `no_gold` before it looks for an answer); other reasons (rules) stand, in their places."""
    out, replaced = [], False
    for reason in reasons:
        if reason in GOLD_DEPENDENT:
            if not in_majority and not replaced:
                out.append("wrong_answer" if answered else "no_answer")
                replaced = True
            continue
        out.append(reason)
    return out


class PrefixVote:
    """A prompt voted on while it is sampled (adaptive generate, no gold). Called with its answers so far, in
    sample order, it gives the shortest prefix whose vote is already decided: a consensus of at least `target`
    votes that would stand even if every sample still left in the budget answered something else. So the vote on
    the kept prefix (which the filter takes) always labels as a vote on all `budget` samples would, and only the
    samples that could not change the label are saved. None while undecided."""

    def __init__(self, options: GoldOptions, same: Callable[[str, str], bool], target: int, budget: int):
        self.options, self.same, self.target, self.budget = options, same, target, budget
        self.needed = max(options.min_votes, target)

    def __call__(self, answers: list[str | None]) -> int | None:
        for length in range(self.needed, len(answers) + 1):
            counted = tally(enumerate(answers[:length]), self.same)
            left = self.budget - length  # worst case: each answers, all for the runner-up
            worst = Tally(
                counted.top, counted.votes, counted.runner_up + left, counted.answered + left, counted.members
            )
            if counted.votes >= self.target and worst.agrees(self.options):
                return length
        return None

    def votes(self, answers: list[str | None]) -> int:
        """The consensus's votes among these answers; 0 without a consensus."""
        counted = tally(enumerate(answers), self.same)
        return counted.votes if counted.agrees(self.options) else 0


def vote_task(task: dict, verifier) -> dict:
    """A worker's half of the filter's gold audit: tally one prompt's answers (`task["vote"]`, in sample order)
    with the worker's math verifier, and say whether the top answer definitely differs from the gold."""
    equality = MathEquality(verifier=verifier)
    counted = tally(enumerate(task["vote"]), equality.same)
    gold = task.get("gold")
    differs = equality.differs(gold, counted.top) if gold is not None and counted.top is not None else False
    return {"tally": [counted.top, counted.votes, counted.runner_up, counted.answered, sorted(counted.members)],
            "differs": differs}  # fmt: skip


class MathEquality:
    """`same(a, b)` for two answers by the math verifier's own equality, cached; undecidable or pathological pairs
    count as different (votes are never merged on a guess)."""

    def __init__(self, math_options: dict | None = None, verifier=None):
        from datafactory.verifiers.math import MathVerifier

        self.verifier = verifier if verifier is not None else MathVerifier(math_options)
        self.cache: dict[tuple[str, str], bool | None] = {}

    def compare(self, a: str, b: str) -> bool | None:
        key = (a, b)
        if key not in self.cache:
            from datafactory.verifiers.math import pathological

            if len(self.cache) > 100_000:
                self.cache.clear()
            try:
                self.cache[key] = None if pathological(a) or pathological(b) else self.verifier.equal(a, b)
            except Exception:  # TooBig, a parser error: not evidence either way
                self.cache[key] = None
        return self.cache[key]

    def same(self, a: str, b: str) -> bool:
        return self.compare(a, b) is True

    def differs(self, gold: str, answer: str) -> bool:
        return self.compare(gold, answer) is False
