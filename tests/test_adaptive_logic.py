"""Adaptive sampling without an engine: the stopping rule, the order-independence of the stream, the pass-rate
estimate against simulation, filter on adaptive rows, and every bad use of --target as a one-line error.

The stream test drives the real SampleLoop and the real verifier worker pool with `ShuffledEngine`, a scripted
engine. It is a fake at the one boundary a real engine cannot give a test: the order in which samples finish
(it returns them in a random order, different for every seed), which is what the prefix rule must not depend on.
"""

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.stats import beta

from datafactory.checks.evaluate import EvalSpec, Evaluator, task_of_row
from datafactory.checks.pass_rates import pass_rate
from datafactory.checks.pool import WorkerPool
from datafactory.engines.base import Completion, Engine, EngineOptions, Sampling
from datafactory.generate.sample_loop import PromptDraws, SampleLoop, sample_seed
from datafactory.prompts import Prompt
from datafactory.recipes import load_recipe, stage_options
from tests.conftest import run_cli, write_jsonl


# --- the stopping rule -----------------------------------------------------------------------------------------
def _draws(target, budget=4, passed=None):
    draws = PromptDraws(Prompt("p", [{"role": "user", "content": "q"}], {}), budget, target)
    draws.verdicts = {i: "pass" if ok else "wrong_answer" for i, ok in (passed or {}).items()}
    draws.issued = len(draws.verdicts)
    return draws


def test_a_prompt_keeps_the_shortest_prefix_holding_its_target():
    assert _draws(1, passed={1: True}).kept() is None  # sample 0 still unchecked: undecided
    assert _draws(1, passed={0: False, 1: True}).kept() == 2
    assert _draws(1, passed={0: True, 1: False, 2: True}).kept() == 1  # later samples never count
    assert _draws(2, passed={0: True, 1: False, 2: True}).kept() == 3
    assert _draws(1, passed=dict.fromkeys(range(4), False)).kept() == 4  # budget spent
    fixed = _draws(None)
    fixed.completions = {i: Completion("x", "stop", 1, 1) for i in range(4)}
    assert fixed.kept() == 4


def test_in_flight_per_prompt_starts_at_the_target_and_doubles_with_each_failure():
    assert _draws(2, budget=8).wanted() == 2
    draws = _draws(1, budget=8, passed={0: False})
    assert draws.wanted() == 2
    draws = _draws(1, budget=8, passed={0: False, 1: False, 2: False})
    assert draws.wanted() == 5  # 8 allowed, but only 5 left of the budget
    assert _draws(None, budget=8).wanted() == 8


def test_a_sample_has_the_same_seed_in_every_grouping():
    assert [sample_seed(3, "p", i) for i in range(3)] == [sample_seed(3, "p", 0) + i for i in range(3)]
    assert sample_seed(3, "p", 0) != sample_seed(4, "p", 0) != sample_seed(3, "q", 0)


# --- the stream: order of completion does not matter -------------------------------------------------------------
class ShuffledEngine(Engine):
    """Scripted completions ("7" passes, anything else fails, fixed per (prompt, sample)), returned one to three
    at a time in a random order; also counts the samples ever submitted."""

    name = "shuffled"

    def __init__(self, answers: dict, order_seed: int):
        super().__init__(EngineOptions(model="scripted"))
        self.answers, self.rng, self.submitted = answers, random.Random(order_seed), 0
        self.pending: list[tuple[str, int]] = []

    def submit(self, tickets, sampling):
        keys = [key for t in tickets for key in t.sample_keys()]
        self.pending.extend(keys)
        self.submitted += len(keys)

    def collect(self):
        self.rng.shuffle(self.pending)
        count = self.rng.randint(1, 3)
        done, self.pending = self.pending[:count], self.pending[count:]
        return [(key, Completion(self.answers[key], "stop", 3, 1)) for key in done]

    def cancel(self, keys):
        dropped = set(keys)
        self.pending = [key for key in self.pending if key not in dropped]

    @property
    def in_flight(self) -> int:
        return len(self.pending)


def _run_stream(answers: dict, prompts: list[Prompt], order_seed: int, pool: WorkerPool):
    engine = ShuffledEngine(answers, order_seed)
    written = []

    def task_of(draws, index):
        return task_of_row({"completion": draws.completions[index].text, "gold": "7"}, "gold")

    loop = SampleLoop(engine, Sampling(n=6, seed=0), 5, 1, lambda d, k: written.append((d.prompt.prompt_id, k)),
                      pool, task_of)  # fmt: skip
    loop.run(iter(prompts))
    return written, engine.submitted


def test_the_stream_keeps_the_same_prefix_whatever_order_samples_finish_in():
    rng = random.Random(1)
    prompts = [Prompt(f"p{i}", [{"role": "user", "content": f"q{i}"}], {}) for i in range(12)]
    answers = {(p.prompt_id, i): rng.choice(["7", "8", "9"]) for p in prompts for i in range(6)}
    expected = []
    for p in prompts:
        first = next((i for i in range(6) if answers[(p.prompt_id, i)] == "7"), 5)
        expected.append((p.prompt_id, first + 1))
    with WorkerPool(EvalSpec("exact"), workers=1, timeout=20) as pool:
        runs = [_run_stream(answers, prompts, seed, pool) for seed in range(4)]
    for written, submitted in runs:
        assert written == expected  # the same prefix, written in input order
        assert submitted >= sum(k for _, k in expected)  # late samples may be drawn, never written


def _checked_against_7(draws, index):
    return task_of_row({"completion": draws.completions[index].text, "gold": "7"}, "gold")


class GpuLikeEngine(ShuffledEngine):
    """ShuffledEngine with 8 slots whose idle ones cost nothing (Engine.idle_slots_free, a GPU's batch); also
    records the size of each submission."""

    idle_slots_free = True

    def __init__(self, answers: dict, order_seed: int):
        super().__init__(answers, order_seed)
        self.submissions: list[int] = []

    def stream_capacity(self) -> int:
        return 8

    def submit(self, tickets, sampling):
        self.submissions.append(sum(t.count for t in tickets))
        super().submit(tickets, sampling)


def test_idle_slots_at_the_end_are_filled_with_next_samples_and_rows_stay_the_same():
    rng = random.Random(2)
    prompts = [Prompt(f"p{i}", [{"role": "user", "content": f"q{i}"}], {}) for i in range(12)]
    answers = {(p.prompt_id, i): rng.choice(["7", "8", "9"]) for p in prompts for i in range(6)}
    pool = InlineChecks(EvalSpec("exact"))

    def run(engine_class, order_seed, target=1, budget=None):
        engine, written = engine_class(answers, order_seed), []
        loop = SampleLoop(engine, Sampling(n=6, seed=0), 5, target, lambda d, k: written.append((d.prompt.prompt_id, k)),
                          pool if target else None, _checked_against_7, budget=budget)  # fmt: skip
        loop.run(iter(prompts))
        return written, engine

    drawn = {ShuffledEngine: 0, GpuLikeEngine: 0}
    for seed in range(6):
        plain, plain_engine = run(ShuffledEngine, seed)
        filled, filled_engine = run(GpuLikeEngine, seed)
        assert filled == plain  # the same prefixes, in input order
        drawn[ShuffledEngine] += plain_engine.submitted
        drawn[GpuLikeEngine] += filled_engine.submitted
    assert drawn[GpuLikeEngine] > drawn[ShuffledEngine]  # the idle slots drew next samples
    assert run(GpuLikeEngine, 0, target=None)[1].submitted == 12 * 6  # a fixed run draws its n, no more
    # Under --budget-tokens nothing is drawn on speculation (the same run as an engine without free slots).
    assert run(GpuLikeEngine, 0, budget=30)[1].submitted == run(ShuffledEngine, 0, budget=30)[1].submitted

    # One prompt that never passes: with no other prompt to start, its whole budget goes in at once, not in
    # rounds of 1, 2 and 3 samples.
    lone = Prompt("p0", [{"role": "user", "content": "q0"}], {})
    engine = GpuLikeEngine({("p0", i): "8" for i in range(6)}, 0)
    SampleLoop(engine, Sampling(n=6, seed=0), 5, 1, lambda d, k: None, pool, _checked_against_7).run(iter([lone]))
    assert engine.submissions == [6]


def _budgeted(answers: dict, prompts: list[Prompt], budget: int | None, pool, seed: int = 0):
    engine = ShuffledEngine(answers, seed)
    written = []

    def task_of(draws, index):
        return task_of_row({"completion": draws.completions[index].text, "gold": "7"}, "gold")

    def write(draws, kept):
        written.append((draws.prompt.prompt_id, kept, draws.passes(kept)))

    loop = SampleLoop(engine, Sampling(n=6, seed=0), 4, 1, write, pool, task_of, budget=budget)
    return loop.run(iter(prompts)), written, engine.submitted


class InlineChecks:
    """The worker pool's interface (submit, poll, size), evaluating at once in this process: the budget's
    scheduling is then tested free of how fast the workers answer on a loaded machine."""

    size = 1

    def __init__(self, spec):
        self.evaluator, self.ready = Evaluator(spec), []

    def submit(self, tasks, keys):
        self.ready.append((keys, [self.evaluator.evaluate(task) for task in tasks]))

    def poll(self, timeout):
        ready, self.ready = self.ready, []
        return ready


def test_a_budget_is_never_overspent_and_goes_to_prompts_that_can_reach_their_target():
    """Each sample costs one token. Half the prompts can never pass (their answers are all wrong), interleaved
    with ones that pass at their second sample: a budget of 36 tokens cannot pay for every prompt's six tries."""
    prompts = [Prompt(f"p{i}", [{"role": "user", "content": f"q{i}"}], {}) for i in range(12)]
    answers = {(p.prompt_id, i): ("7" if i == 1 and int(p.prompt_id[1:]) % 2 == 0 else "8") for p in prompts
               for i in range(6)}  # fmt: skip
    pool = InlineChecks(EvalSpec("exact"))
    free, _, _ = _budgeted(answers, prompts, None, pool)
    for seed in range(3):
        tally, written, submitted = _budgeted(answers, prompts, 36, pool, seed)
        assert tally.tokens_spent <= 36 < free.tokens_spent  # samples cancelled unfinished cost nothing here
        reached = {pid for pid, _, passes in written if passes}
        assert reached == {f"p{i}" for i in range(0, 12, 2)}  # every prompt that can, does
        assert [pid for pid, _, _ in written] == sorted((pid for pid, _, _ in written), key=lambda x: int(x[1:]))
        assert all(kept >= 1 for _, kept, _ in written)
        assert tally.prompts_cut_short + len([w for w in written if w[2]]) >= len(reached)


# --- the estimate ------------------------------------------------------------------------------------------------
def _simulate(p: float, target: int, budget: int, rng: random.Random) -> tuple[int, int]:
    drawn = passed = 0
    while drawn < budget and passed < target:
        drawn += 1
        passed += rng.random() < p
    return drawn, passed


@pytest.mark.parametrize("p", [0.1, 0.4, 0.8])
@pytest.mark.parametrize("target", [1, 2])
def test_the_estimate_is_unbiased_under_early_stopping_and_its_interval_covers(p, target):
    rng = random.Random(f"{p}-{target}")
    runs = [_simulate(p, target, 8, rng) for _ in range(20_000)]
    rates = [pass_rate(drawn, passed, target) for drawn, passed in runs]
    mean = sum(r.estimate for r in rates) / len(rates)
    naive = sum(passed / drawn for drawn, passed in runs) / len(runs)
    coverage = sum(r.low <= p <= r.high for r in rates) / len(rates)
    assert abs(mean - p) < 0.012, (mean, p)
    assert coverage >= 0.95
    if p <= 0.4:  # stopping on a pass inflates passed/drawn; the estimate must not share that bias
        assert naive - p > 0.02, naive


def test_without_a_target_the_estimate_is_the_share_with_a_clopper_pearson_interval():
    rate = pass_rate(10, 3)
    assert rate.estimate == 0.3
    assert rate.low == pytest.approx(beta.ppf(0.025, 3, 8)) and rate.high == pytest.approx(beta.ppf(0.975, 4, 7))
    assert pass_rate(1, 1, 1).estimate == 1.0 and pass_rate(3, 1, 1).estimate == 0.0


# --- filter on adaptive rows -------------------------------------------------------------------------------------
def _adaptive_shard(folder: Path) -> Path:
    """What `generate -n 4 --target 1` writes: a passes first, b on its third draw, c never."""
    plan = {"a": ["7"], "b": ["1", "2", "7"], "c": ["1", "2", "3", "4"]}
    rows = []
    for prompt_id, answers in plan.items():
        for index, answer in enumerate(answers):
            sampling = {"n": 4, "target": 1, "seed": 0, "temperature": 0.6, "top_p": 1.0, "max_tokens": 64}
            rows.append({
                "prompt_id": prompt_id, "sample_index": index, "messages": [{"role": "user", "content": "q"}],
                "completion": f"<think>\nwork\n</think>\n\n{answer}", "finish_reason": "stop",
                "completion_tokens": 10 + index, "sampling": json.dumps(sampling), "answer": "7",
            })  # fmt: skip
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-00000.parquet")
    return folder


def test_filter_uses_the_unbiased_estimate_on_adaptive_rows(tmp_path):
    samples = _adaptive_shard(tmp_path / "samples")
    rl = tmp_path / "rl.jsonl"
    out = tmp_path / "kept"
    result = run_cli("filter", samples, "-o", out, "--verifier", "exact", "--rules", "none", "--rl-prompts", rl)
    assert result.returncode == 0, result.stderr
    rates = {r["prompt_id"]: r for r in pq.read_table(out / ".pass_rates/pass_rates.parquet").to_pylist()}
    assert {k: (r["n"], r["passed_all_checks"], r["target"]) for k, r in rates.items()} == {
        "a": (1, 1, 1), "b": (3, 1, 1), "c": (4, 0, 1)
    }  # fmt: skip
    assert [rates[k]["pass_rate_estimate"] for k in "abc"] == [1.0, 0.0, 0.0]
    assert rates["b"]["pass_rate"] == pytest.approx(1 / 3)  # the naive share, still recorded
    assert rates["b"]["pass_rate_high"] == pytest.approx(beta.ppf(0.975, 1, 2))
    assert [json.loads(line)["prompt_id"] for line in rl.read_text().splitlines()] == ["b"]  # both outcomes seen
    manifest = json.loads((out / ".datafactory/manifest.json").read_text())["counts"]
    assert manifest["prompts_sampled_adaptively"] == 3
    assert manifest["completion_tokens_by_verdict"] == {"wrong_answer": 10 + 11 + 10 + 11 + 12 + 13, "kept": 22}

    ranged = run_cli("filter", samples, "-o", tmp_path / "ranged", "--verifier", "exact", "--rules", "none",
                     "--min-pass-rate", "0.5")  # fmt: skip
    assert ranged.returncode == 0, ranged.stderr
    shards = sorted((tmp_path / "ranged").glob("part-*.parquet"))
    kept = pq.read_table(shards, columns=["prompt_id"]).column("prompt_id").to_pylist()
    assert kept == ["a"]  # b's naive 1/3 is not what decides


# --- bad use -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra,expected",
    [
        (["--target", "0"], "--target must be between 1 and -n (4)"),
        (["--target", "5"], "--target must be between 1 and -n (4)"),
        (["--target", "1", "--verifier", "math,judge"], "the judge cannot check samples inside generate"),
        (["--target", "1", "--verifier", "judge"], "the judge cannot check samples inside generate"),
        (["--target", "1", "--verifier", "none", "--rules", "none"], "--target needs checks that can reject"),
        (["--target", "1", "--gold-field", "solution"], "--gold-field solution: no such column in the prompts"),
        (["--target", "1", "--rules", "r2"], "r2"),
        (["--engine-option", "max_num_seqz=3"], "--engine-option max_num_seqz: not an argument of vllm.LLM"),
        (["--engine-option", "max_num_seqs"], "--engine-option 'max_num_seqs': expected NAME=VALUE"),
        (["--math-option", "percent=either", "--verifier", "code", "--target", "1"], "--math-option needs"),
    ],
    ids=[
        "zero",
        "above-n",
        "math-judge",
        "judge",
        "nothing-decides",
        "no-gold",
        "bad-rules",
        "engine-option",
        "engine-option-form",
        "math-option",
    ],  # fmt: skip
)
def test_bad_adaptive_usage_is_one_line_exit_2_and_writes_nothing(tmp_path, extra, expected):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "problem": "1+1?", "answer": "2"}])
    out = tmp_path / "out"
    result = run_cli("generate", prompts, "-o", out, "-m", "toy", "-n", "4", *extra, timeout=120)
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line and expected in line, line
    assert not out.exists()


# --- recipes -----------------------------------------------------------------------------------------------------
RECIPE = """
name: t
out: {out}
model: toy
sources:
  - {{name: maths, category: reasoning, inputs: [p.jsonl], verifier: exact, rules: truncated, gold_field: sol}}
  - {{name: chat, category: general, inputs: [g.jsonl]}}
generate: {{n: 4, target: 1}}
filter: {{keep: 1}}
"""


def _recipe(tmp_path, text: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(text.format(out=tmp_path / "out"))
    return path


def test_a_recipe_gives_generate_the_same_checks_as_filter(tmp_path):
    recipe = load_recipe(_recipe(tmp_path, RECIPE.replace("keep: 1", "keep: 1, timeout: 5")))
    for source in recipe.sources:
        generate = stage_options(recipe.data, "generate", source)
        filtered = stage_options(recipe.data, "filter", source)
        checks = ("verifier", "rules", "gold_field", "timeout")
        assert {k: generate.get(k) for k in checks} == {k: filtered.get(k) for k in checks}
    maths = stage_options(recipe.data, "generate", recipe.sources[0])
    assert (maths["verifier"], maths["rules"], maths["gold_field"], maths["target"]) == ("exact", "truncated", "sol", 1)


@pytest.mark.parametrize(
    "change,expected",
    [
        (("keep: 1", "keep: 0"), "filter.keep: --keep must be at least 1"),
        (("keep: 1", "keep: 1, select: shortst"), "filter.select: --select 'shortst'"),
        (("target: 1", "target: 9"), "generate.target: --target must be between 1 and -n (4)"),
        (("target: 1", "target: 1, verifier: exact"), "generate.verifier: unknown key"),
        (("keep: 1", "keep: 1"), None),
    ],
    ids=["keep-0", "select-typo", "target-above-n", "verifier-in-generate", "valid"],
)
def test_recipes_are_validated_whole_at_load_naming_the_key(tmp_path, change, expected):
    path = _recipe(tmp_path, RECIPE.replace(*change))
    if expected is None:
        load_recipe(path)
        return
    result = run_cli("run", path, timeout=60)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "\n" not in result.stderr.strip(), result.stderr
    assert not (tmp_path / "out").exists()
