"""Gold answers checked by the samples' votes: suspect golds, voted golds, no guesses (checks/gold_votes.py).

The vote's logic is tested directly; the filter, stats, report and recipes through the real CLI on Parquet and
JSONL the tests write; adaptive generate's vote through the sample loop with a scripted engine (the real-engine
check is benchmarks/gold_audit.py and tests/test_adaptive_engine.py's stream tests)."""

from __future__ import annotations

import json
import random
import re

import pyarrow.parquet as pq
import pytest

from datafactory.checks.evaluate import EvalSpec, task_of_row
from datafactory.checks.gold_votes import (
    GIVEN,
    MAJORITY,
    NO_CONSENSUS,
    NO_GOLD,
    SUSPECT,
    GoldOptions,
    MathEquality,
    PrefixVote,
    audit,
    regraded,
    suspicion,
    tally,
)
from datafactory.checks.pool import WorkerPool
from datafactory.engines.base import Sampling
from datafactory.generate.sample_loop import SampleLoop
from datafactory.prompts import Prompt
from tests.conftest import run_cli, write_jsonl
from tests.test_adaptive_logic import GpuLikeEngine, ShuffledEngine

EQUAL = MathEquality()


def _tally(answers):
    return tally(enumerate(answers), EQUAL.same)


def _audit(gold, answers, options=GoldOptions(), passes=None):
    counted = _tally(answers)
    if passes is None:
        passes = sum(a is not None and gold is not None and EQUAL.same(gold, a) for a in answers)
    differs = gold is not None and counted.top is not None and EQUAL.differs(gold, counted.top)
    return audit(gold, passes, counted, options, differs)


# --- the vote ----------------------------------------------------------------------------------------------------
def test_equivalent_forms_vote_together():
    counted = _tally(["\\frac{1}{2}", "0.5", "1/2", "\\dfrac{1}{2}", "3", None])
    assert counted.votes == 4 and counted.answered == 5 and counted.runner_up == 1
    assert counted.members == frozenset({0, 1, 2, 3})
    assert counted.agrees(GoldOptions()) and counted.votes / counted.answered == pytest.approx(0.8)


@pytest.mark.parametrize(
    "answers",
    [["1", "1", "1", "2", "2", "2"], ["0.5", "1/2", "7", "\\frac{14}{2}"]],
    ids=["three-three", "two-two-across-forms"],
)
def test_a_tie_is_no_consensus_even_at_a_low_share(answers):
    assert not _tally(answers).agrees(GoldOptions(min_share=0.1, min_votes=1))
    assert _audit(None, answers, GoldOptions("majority", min_share=0.1, min_votes=1)).status == NO_CONSENSUS


@pytest.mark.parametrize(
    ("answers", "options"),
    [
        (["9", "9"], GoldOptions("majority")),  # two votes, three needed
        (["9", "9", None, None, None, None], GoldOptions("majority")),  # unanswered samples do not vote
        (["4", "4", "4", "5", "6"], GoldOptions("majority")),  # 3 of 5 is under the 0.75 share
        ([None, None], GoldOptions("majority", min_votes=1)),  # nothing answered
    ],
    ids=["two-votes", "two-answered", "share", "none-answered"],
)
def test_small_or_split_samples_give_no_consensus_not_a_guess(answers, options):
    result = _audit(None, answers, options)
    assert result.status == NO_CONSENSUS and result.source is None


def test_a_clear_majority_labels_a_prompt_without_gold():
    result = _audit(None, ["12", "12.0", "12", "12", "13"], GoldOptions("majority"))
    assert (result.status, result.source, result.tally.votes) == (MAJORITY, "majority", 4)
    assert _audit(None, ["12"] * 5).status == NO_GOLD  # without --gold majority nothing is voted


def test_a_wrong_gold_with_a_clear_majority_elsewhere_is_flagged_and_by_default_kept():
    flagged = _audit("7", ["12"] * 6 + ["13", "11"])
    assert (flagged.status, flagged.source, flagged.gold, flagged.tally.top) == (SUSPECT, "given", "7", "12")
    replaced = _audit("7", ["12"] * 6 + ["13", "11"], GoldOptions(policy="replace-suspect"))
    assert (replaced.status, replaced.source) == (SUSPECT, "majority")


@pytest.mark.parametrize(
    "answers",
    [
        ["5", "4", "6", "8", "9", "2", "3", "1"],  # one sample right, the wrong ones scattered
        ["4", "6", "8", "9", "2", "3", "1", "0"],  # none right, and the wrong ones disagree with each other
        ["4", "4", "6", "8", "9", "2", "3", "1"],  # none right, the most common wrong answer has two votes
    ],
    ids=["one-right", "none-right-scattered", "none-right-small-plurality"],
)
def test_a_correct_gold_the_model_mostly_misses_is_not_flagged(answers):
    assert _audit("5", answers).status == GIVEN


def test_a_weaker_majority_is_flagged_for_review_but_not_voted_into_the_gold():
    answers = ["12"] * 5 + ["13", "11", "10"]  # 5 of 8: over the 0.6 flag share, under the 0.75 label share
    replaced = _audit("7", answers, GoldOptions(policy="replace-suspect"))
    assert (replaced.status, replaced.source) == (SUSPECT, "given")
    assert _audit("7", answers, GoldOptions(flag_share=0.75)).status == GIVEN
    assert _audit("7", answers, GoldOptions(policy="replace-suspect", min_share=0.6)).source == "majority"


@pytest.mark.parametrize(
    ("answers", "suspect"),
    [
        (["12"] * 7 + ["7"], True),  # one sample makes the gold's mistake: it no longer vetoes the flag
        (["12"] * 6 + ["7", "7"], False),  # two of eight is support
        (["12"] * 5 + ["7", "7", "7"], False),  # the gold has real support: no flag
        (["12"] * 4 + ["7"] * 4, False),  # a tie is never evidence
        (["12"] * 6 + ["7", "9"], True),
        (["12"] * 5 + ["7", "9", "3"], False),  # 5 against 1: under six to one
    ],
)
def test_a_gold_is_weighed_against_the_consensus_not_vetoed_by_one_sample(answers, suspect):
    result = _audit("7", answers)
    assert (result.status == SUSPECT) is suspect, result
    assert (result.confidence is not None) is suspect


def test_suspicion_grows_with_the_margin_and_the_prompts_accuracy():
    assert suspicion(7, 1, 8) > suspicion(6, 2, 8) > suspicion(5, 3, 8)
    assert suspicion(7, 1, 8) > suspicion(7, 1, 16)  # the same margin on a prompt the model gets right less often
    assert suspicion(3, 3, 8) == suspicion(2, 5, 8) == 0.0
    assert 0.0 < suspicion(8, 0, 8) <= 1.0


def test_a_majority_that_cannot_be_compared_with_the_gold_is_not_evidence():
    # a sentence against the gold 12: only the problem could settle it, so the majority does not accuse the gold
    result = _audit("12", ["twelve apples in the basket"] * 6, passes=0)
    assert result.status == GIVEN


def test_a_judge_that_sides_with_the_gold_keeps_it():
    counted = _tally(["12"] * 6)
    options = GoldOptions(policy="replace-suspect")
    kept = audit("7", 0, counted, options, EQUAL.differs("7", counted.top), confirmed=False)
    assert (kept.status, kept.source) == (SUSPECT, "given")
    replaced = audit("7", 0, counted, options, EQUAL.differs("7", counted.top), confirmed=True)
    assert replaced.source == "majority"


@pytest.mark.parametrize(
    ("reasons", "in_majority", "answered", "expected"),
    [
        (["no_gold"], True, True, []),
        (["no_gold"], False, True, ["wrong_answer"]),
        (["wrong_answer"], True, True, []),
        (["undecided"], False, True, ["wrong_answer"]),
        (["no_answer"], False, False, ["no_answer"]),
        (["no_gold"], False, False, ["no_answer"]),  # no gold and no answer: never a pass
        (["bad_format", "wrong_answer", "language_mixed"], True, True, ["bad_format", "language_mixed"]),
        (["truncated", "no_gold", "repetition"], False, True, ["truncated", "wrong_answer", "repetition"]),
    ],
)
def test_rows_are_regraded_against_the_voted_gold_keeping_the_rules_verdicts(reasons, in_majority, answered, expected):
    assert regraded(reasons, in_majority, answered) == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (GoldOptions("majority"), "--gold majority needs --verifier math"),
        (GoldOptions(policy="replace-suspect"), "--gold-policy replace-suspect needs --verifier math"),
        (GoldOptions(min_votes=0), "--gold-min-votes must be at least 1"),
        (GoldOptions(min_share=0), "--gold-min-share must be above 0"),
    ],
)
def test_bad_gold_options_name_the_option(options, message):
    from datafactory.errors import UsageError

    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        options.validate("code" if "needs" in message else "math")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"gold": "vote"}, "--gold 'vote': choose one of given, majority"),
        ({"gold_policy": "replace"}, "--gold-policy 'replace': choose one of keep, replace-suspect"),
    ],
)
def test_gold_options_outside_their_declared_choices_are_refused_by_filter_and_generate(options, message):
    from datafactory.errors import OptionError
    from datafactory.filtering.config import FilterConfig
    from datafactory.generate.config import GenerateConfig

    for config in (
        FilterConfig(inputs=["x"], out="o", **options),
        GenerateConfig(inputs=["x"], out="o", model="toy", target=1, **options),
    ):
        with pytest.raises(OptionError, match=message) as raised:
            config.validate()
        assert raised.value.option == next(iter(options))


# --- voting while sampling (adaptive generate) -------------------------------------------------------------------
def test_a_prefix_vote_stops_once_the_rest_of_the_budget_cannot_change_the_label():
    vote = PrefixVote(GoldOptions("majority"), EQUAL.same, target=1, budget=8)
    assert vote(["3", "4", "3"]) is None  # two votes
    assert vote(["3", "3.0", "3", "3", "3"]) is None  # 5 of 8 would be under the 0.75 share if the rest disagreed
    assert vote(["3", "3.0", "3", "3", "3", "3"]) == 6  # 6 of 8 stands whatever the last two say
    assert vote(["3"] * 5 + ["4", "3", "9"]) == 7
    assert vote(["1", "2"] * 4) is None  # a tie throughout
    assert PrefixVote(GoldOptions("majority", min_share=0.5), EQUAL.same, target=4, budget=8)(["3"] * 5) == 5


@pytest.mark.parametrize("seed", range(4))
def test_voting_while_sampling_labels_exactly_as_a_vote_on_the_whole_budget(seed):
    rng = random.Random(seed)
    options = GoldOptions("majority", min_share=rng.choice([0.5, 0.6, 0.75]))
    for _ in range(150):
        budget = rng.randint(3, 10)
        answers = [rng.choice(["1", "1", "1", "1.0", "2", "3", None]) for _ in range(budget)]
        kept = PrefixVote(options, EQUAL.same, 1, budget)(answers)
        whole = _tally(answers)
        if not whole.agrees(options):
            assert kept is None  # undecided until the end, and then no consensus either
            continue
        assert kept is not None
        early = _tally(answers[:kept])
        assert early.agrees(options) and EQUAL.same(early.top, whole.top), (answers, kept)


def _vote_stream(answers: dict, prompts: list[Prompt], order_seed: int, pool: WorkerPool, engine_class):
    engine = engine_class(answers, order_seed)
    written = []
    vote = PrefixVote(GoldOptions("majority"), EQUAL.same, 1, 8)

    def task_of(draws, index):
        gold = draws.prompt.row.get("answer")
        return task_of_row({"completion": f"\\boxed{{{draws.completions[index].text}}}", "answer": gold}, "answer")

    def settle_of(prompt):
        return vote if prompt.row.get("answer") is None else None

    loop = SampleLoop(engine, Sampling(n=8, seed=0), 6, 1, lambda d, k: written.append((d.prompt.prompt_id, k)),
                      pool, task_of, settle_of=settle_of)  # fmt: skip
    tally_ = loop.run(iter(prompts))
    return written, tally_


@pytest.mark.parametrize("engine_class", [ShuffledEngine, GpuLikeEngine], ids=["shrinking-end", "idle-slots-filled"])
def test_prompts_without_gold_sample_until_their_answers_agree_whatever_the_completion_order(engine_class):
    """Also where the end's idle slots draw samples ahead (GpuLikeEngine): a vote still keeps its prefix."""
    rng = random.Random(3)
    prompts = [Prompt(f"p{i}", [{"role": "user", "content": f"q{i}"}], {"answer": "7" if i % 2 else None})
               for i in range(10)]  # fmt: skip
    answers = {(p.prompt_id, i): rng.choice(["7", "7", "7", "7.0", "7", "8"]) for p in prompts for i in range(8)}
    expected, reached = [], 0
    vote = PrefixVote(GoldOptions("majority"), EQUAL.same, 1, 8)
    for p in prompts:
        drawn = [answers[(p.prompt_id, i)] for i in range(8)]
        if p.row["answer"] is None:
            expected.append((p.prompt_id, vote(drawn) or 8))
            reached += vote(drawn) is not None
        else:
            expected.append((p.prompt_id, next((i + 1 for i, a in enumerate(drawn) if float(a) == 7), 8)))
            reached += any(float(a) == 7 for a in drawn)
    with WorkerPool(EvalSpec("math"), workers=1, timeout=20) as pool:
        runs = [_vote_stream(answers, prompts, seed, pool, engine_class) for seed in range(3)]
    for written, counted in runs:
        assert written == expected
        assert counted.prompts_reaching_target == reached  # a voted prompt reaches its target with a consensus
    voted = [count for pid, count in expected if int(pid[1:]) % 2 == 0]
    assert min(voted) < 8 and max(voted) > min(voted)  # stopped early where the vote was decided, not elsewhere


# --- the filter, stats, report and recipes through the CLI -------------------------------------------------------
def _samples(tmp_path, with_gold_column=True):
    rows = []

    def add(pid, gold, answers):
        for i, answer in enumerate(answers):
            text = (
                f"<think>adding up</think>The answer is \\boxed{{{answer}}}." if answer else "<think>hm</think>no idea"
            )
            row = {"prompt_id": pid, "sample_index": i, "messages": [{"role": "user", "content": f"Problem {pid}?"}],
                   "completion": text, "finish_reason": "stop", "completion_tokens": 10}  # fmt: skip
            if with_gold_column:
                row["answer"] = gold
            rows.append(row)

    add("wrong-gold", "7", ["12"] * 6 + ["13", "11"])
    add("right-gold", "5", ["5"] * 3 + ["4", "6", "8", "9", "2"])
    add("hard", "5", ["4", "6", "8", "9", "2", "3", "1", "0"])
    add("halves", None, ["\\frac{1}{2}", "0.5", "1/2", "0.5", "0.50", "3", None, None])
    add("tie", None, ["1", "1", "1", "2", "2", "2"])
    return write_jsonl(tmp_path / "samples.jsonl", rows)


def _rates(folder):
    return {r["prompt_id"]: r for r in pq.read_table(folder / ".pass_rates/pass_rates.parquet").to_pylist()}


def _rows(folder):
    return pq.read_table(folder / "part-00000.parquet").to_pylist() + pq.read_table(folder / ".rejected").to_pylist()


def test_filter_flags_a_suspect_gold_without_changing_any_verdict(tmp_path):
    samples, out, plain = _samples(tmp_path), tmp_path / "out", tmp_path / "plain"
    result = run_cli("filter", samples, "-o", out, "--verifier", "math", "--rules", "none", "--workers", "1")
    assert result.returncode == 0, result.stderr
    rates = _rates(out)
    assert [pid for pid, r in rates.items() if r["gold_status"] == SUSPECT] == ["wrong-gold"]
    suspect = rates["wrong-gold"]
    assert (suspect["gold"], suspect["majority_answer"], suspect["majority_votes"], suspect["answered"]) == (
        "7", "12", 6, 8
    )  # fmt: skip
    assert (rates["right-gold"]["gold_status"], rates["hard"]["gold_status"]) == (GIVEN, GIVEN)
    assert (rates["halves"]["gold_status"], rates["halves"]["majority_votes"]) == (NO_GOLD, 5)
    gold = json.loads((out / ".datafactory/manifest.json").read_text())["counts"]["gold"]
    assert gold["suspect_gold"] == 1 and gold["prompts"] == {NO_GOLD: 2, GIVEN: 2, SUSPECT: 1}
    verdicts = {(r["prompt_id"], r["sample_index"]): r["verdict"] for r in _rows(out)}
    assert all(verdicts[("wrong-gold", i)] == "wrong_answer" for i in range(8))  # flagging changes no verdict
    # the same rows as a filter that never audits: only the new columns differ
    run_cli(
        "filter",
        samples,
        "-o",
        plain,
        "--verifier",
        "math",
        "--rules",
        "none",
        "--workers",
        "1",
        "--gold-min-votes",
        "99",
    )
    assert verdicts == {(r["prompt_id"], r["sample_index"]): r["verdict"] for r in _rows(plain)}

    shown = run_cli("stats", out)
    assert shown.returncode == 0 and "suspect golds" in shown.stdout and "wrong-gold" in shown.stdout, shown.stdout
    report = run_cli("report", out, "-o", tmp_path / "r.html")
    assert report.returncode == 0, report.stderr
    assert 'data-suspect="wrong-gold"' in (tmp_path / "r.html").read_text()


def test_gold_majority_votes_where_there_is_none_and_replaces_suspects_when_asked(tmp_path):
    samples, out = _samples(tmp_path), tmp_path / "out"
    rl = tmp_path / "rl.jsonl"
    result = run_cli("filter", samples, "-o", out, "--verifier", "math", "--rules", "none", "--workers", "1",
                     "--gold", "majority", "--gold-policy", "replace-suspect", "--rl-prompts", rl)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rates = _rates(out)
    assert (rates["wrong-gold"]["gold_status"], rates["wrong-gold"]["gold_source"]) == (SUSPECT, "majority")
    assert (rates["halves"]["gold_status"], rates["halves"]["n_pass"]) == (MAJORITY, 5)
    assert (rates["tie"]["gold_status"], rates["tie"]["gold_source"]) == (NO_CONSENSUS, None)
    rows = {(r["prompt_id"], r["sample_index"]): r for r in _rows(out)}
    assert rows[("wrong-gold", 0)]["gold_source"] == "majority" and rows[("wrong-gold", 0)]["reasons"] in (
        [], ["not_selected"]
    )  # fmt: skip
    assert rows[("wrong-gold", 6)]["verdict"] == "wrong_answer"  # 13: not the majority's answer
    assert rows[("halves", 5)]["verdict"] == "wrong_answer" and rows[("halves", 6)]["verdict"] == "no_answer"
    assert {rows[("halves", i)]["verdict"] for i in range(5)} <= {"pass", "not_selected"}
    assert {rows[("tie", i)]["verdict"] for i in range(6)} == {NO_CONSENSUS}
    assert rows[("right-gold", 0)]["gold_source"] == "given"
    assert rows[("right-gold", 3)]["verdict"] == "wrong_answer"  # a sound gold is never overruled
    exported = {json.loads(line)["prompt_id"]: json.loads(line) for line in rl.read_text().splitlines()}
    assert exported["wrong-gold"]["answer"] == "12" and exported["wrong-gold"]["given_gold"] == "7"
    assert exported["halves"]["gold_source"] == "majority" and exported["right-gold"]["answer"] == "5"


def test_gold_majority_needs_no_gold_column(tmp_path):
    samples, out = _samples(tmp_path, with_gold_column=False), tmp_path / "out"
    missing = run_cli("filter", samples, "-o", tmp_path / "refused", "--verifier", "math", "--workers", "1")
    assert missing.returncode == 2 and "--gold-field" in missing.stderr
    result = run_cli("filter", samples, "-o", out, "--verifier", "math", "--rules", "none", "--workers", "1",
                     "--gold", "majority")  # fmt: skip
    assert result.returncode == 0, result.stderr
    statuses = {pid: r["gold_status"] for pid, r in _rates(out).items()}
    assert statuses == {"wrong-gold": MAJORITY, "right-gold": NO_CONSENSUS, "hard": NO_CONSENSUS,
                        "halves": MAJORITY, "tie": NO_CONSENSUS}  # fmt: skip


@pytest.mark.parametrize(
    ("command", "extra", "expected"),
    [
        ("filter", ["--gold", "majority", "--verifier", "code"], "--gold majority needs --verifier math"),
        ("filter", ["--gold-policy", "replace-suspect", "--verifier", "exact"], "--gold-policy replace-suspect needs"),
        ("filter", ["--gold", "vote"], "--gold 'vote': choose one of given, majority"),
        ("filter", ["--gold-min-share", "1.5"], "--gold-min-share must be above 0 and at most 1"),
        ("generate", ["--target", "1", "--gold", "majority", "--verifier", "exact"], "--gold majority needs"),
    ],
    ids=["code", "exact-policy", "unknown-mode", "share", "generate"],
)
def test_bad_gold_usage_is_one_line_exit_2_and_writes_nothing(tmp_path, command, extra, expected):
    source = _samples(tmp_path) if command == "filter" else write_jsonl(tmp_path / "p.jsonl", [{"problem": "1+1?"}])
    out = tmp_path / "out"
    more = ["-m", "toy", "-n", "4"] if command == "generate" else []
    result = run_cli(command, source, "-o", out, *more, *extra, timeout=120)
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line and expected in line, line
    assert not out.exists()


def test_a_recipe_source_votes_with_gold_majority_and_a_bad_one_names_the_key(tmp_path):
    from datafactory.errors import UsageError
    from datafactory.recipes import load_recipe, stage_options

    text = """
name: t
out: {out}
model: toy
sources:
  - {{name: maths, category: reasoning, inputs: [p.jsonl], gold: majority{extra}}}
generate: {{n: 4, target: 1}}
"""
    path = tmp_path / "r.yaml"
    path.write_text(text.format(out=tmp_path / "run", extra=""))
    recipe = load_recipe(path)
    source = recipe.sources[0]
    assert stage_options(recipe.data, "filter", source)["gold"] == "majority"
    assert stage_options(recipe.data, "generate", source)["gold"] == "majority"
    path.write_text(text.format(out=tmp_path / "run", extra=", verifier: exact"))
    with pytest.raises(UsageError, match=r"sources\.0\.gold: --gold majority needs --verifier math"):
        load_recipe(path)


class SolvingJudge:
    """FAKE judge at the HTTP boundary (a model that can solve the problems cannot run in tests): an
    OpenAI-compatible server on 127.0.0.1 that records every prompt and answers `correct` when the candidate equals
    the value it reads after "=" in the problem (the tests' problems carry their true answer)."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.prompts: list[str] = []
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._reply({"data": [{"id": "judge"}]})

            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = request["messages"][-1]["content"]
                judge.prompts.append(prompt)
                truth = re.search(r"= (\S+)\?", prompt).group(1)
                candidate = re.search(r"Candidate answer: (\S+)", prompt).group(1)
                verdict = "correct" if candidate == truth else "incorrect"
                content = json.dumps({"analysis": f"solved: {truth}", "correctness": verdict})
                self._reply({"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 10, "completion_tokens": 10}})  # fmt: skip

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"


def test_the_judge_sees_each_suspects_problem_gold_and_majority_and_only_confirmed_ones_are_replaced(tmp_path):
    rows = []
    for pid, truth, gold, answers in [
        ("gold-wrong", "12", "7", ["12"] * 6 + ["13", "11"]),  # the samples are right: the judge confirms
        ("model-wrong", "7", "7", ["9"] * 7 + ["8"]),  # the model is consistently wrong: the judge keeps the gold
        ("fine", "5", "5", ["5"] * 8),
    ]:
        for i, answer in enumerate(answers):
            rows.append({"prompt_id": pid, "sample_index": i, "answer": gold, "finish_reason": "stop",
                         "messages": [{"role": "user", "content": f"What is x = {truth}?"}],
                         "completion": f"<think>so</think>\\boxed{{{answer}}}"})  # fmt: skip
    samples = write_jsonl(tmp_path / "samples.jsonl", rows)
    judge, out = SolvingJudge(), tmp_path / "out"
    result = run_cli("filter", samples, "-o", out, "--verifier", "math,judge", "--rules", "none", "--workers", "1",
                     "--judge-engine", "openai", "--judge-base-url", judge.url, "--judge-model", "judge",
                     "--judge-cache", tmp_path / "cache.sqlite", "--gold-policy", "replace-suspect")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(judge.prompts) == 2  # one request per suspect, none for the sound gold
    asked = {re.search(r"x = (\S+)\?", p).group(1): p for p in judge.prompts}
    assert "Reference answer (may be wrong): 7" in asked["12"] and "Candidate answer: 12" in asked["12"]
    assert "Candidate answer: 9" in asked["7"]
    rates = _rates(out)
    assert (rates["gold-wrong"]["gold_status"], rates["gold-wrong"]["gold_source"]) == (SUSPECT, "majority")
    assert (rates["model-wrong"]["gold_status"], rates["model-wrong"]["gold_source"]) == (SUSPECT, "given")
    assert rates["model-wrong"]["n_pass"] == 0 and rates["gold-wrong"]["n_pass"] == 6
    counts = json.loads((out / ".datafactory/manifest.json").read_text())["counts"]
    assert counts["gold"]["suspects_judged"] == {"majority_right": 1, "gold_right": 1, "unreadable": 0}
    assert counts["judge_requests"] == 2


def test_answers_math_could_not_compare_never_become_the_gold(tmp_path):
    """A model under sampling can agree on junk: the same 6,000-character box in every sample (truncated to the same
    200 characters in `extracted_answer`), or the same sentence. Such answers are `undecided`, and must neither
    accuse a gold nor replace it."""
    junk = "1" + "+1" * 3000
    rows = [{"prompt_id": pid, "sample_index": i, "answer": "7", "finish_reason": "stop",
             "messages": [{"role": "user", "content": "q"}], "completion": f"<think>so</think>\\boxed{{{box}}}"}
            for pid, box in (("junk", junk), ("prose", "the number of apples she has left")) for i in range(6)]  # fmt: skip
    out = tmp_path / "out"
    result = run_cli("filter", write_jsonl(tmp_path / "s.jsonl", rows), "-o", out, "--verifier", "math",
                     "--rules", "none", "--workers", "1", "--gold-policy", "replace-suspect")  # fmt: skip
    assert result.returncode == 0, result.stderr
    rates = _rates(out)
    for pid in ("junk", "prose"):
        assert (rates[pid]["gold_status"], rates[pid]["gold_source"]) == (GIVEN, "given"), rates[pid]
    assert {r["verdict"] for r in pq.read_table(out / ".rejected").to_pylist()} == {"undecided"}

    for row in rows:  # the same answers with no gold to compare against: no vote may make them one
        row["answer"] = None
    voted = tmp_path / "voted"
    result = run_cli("filter", write_jsonl(tmp_path / "n.jsonl", rows), "-o", voted, "--verifier", "math",
                     "--rules", "none", "--workers", "1", "--gold", "majority")  # fmt: skip
    assert result.returncode == 0, result.stderr
    rates = _rates(voted)
    assert {pid: r["gold_status"] for pid, r in rates.items()} == {"junk": NO_CONSENSUS, "prose": NO_CONSENSUS}
    assert not (voted / "part-00000.parquet").exists() or pq.read_table(voted / "part-00000.parquet").num_rows == 0
