"""In-flight checks (rules/inflight.py) stop a sample only when it is certain to be rejected: whatever a doomed
prefix is continued with, the finished text fails the same rule in rules/checks.py. Fuzzed over texts that loop,
close their reasoning twice, open code blocks and split their tags across steps."""

from __future__ import annotations

import random

import pytest

from datafactory.rules import RuleConfig
from datafactory.rules.checks import RULES
from datafactory.rules.inflight import InflightChecks
from datafactory.trace import parse_trace

PIECES = [
    "<think>\n", "</think>\n\n", "<|begin_of_thought|>", "<|end_of_thought|>", "```python\n", "```", "\n", "\r\n",
    "\r", "\n\n", "Let me double check: 11 minus 11 is 1.\n", "Let me double check: 11 minus 12 is 1.\n", "so ",
    "the answer is \\boxed{2}", "12 + 15 = 27. ", "  ", "x" * 25, "Let me double check: 11 minus 11 is 1.",
]  # fmt: skip
RULESETS = [
    ["repetition"], ["bad_format"], ["bad_format", "code_block_in_reasoning"], ["code_block_in_reasoning"],
    ["truncated", "bad_format", "repetition", "too_long", "too_short"],
    ["bad_format", "repetition", "language_mixed", "long_paragraph", "code_block_in_reasoning"],
]  # fmt: skip


def _failing(text: str, rules: list[str], config: RuleConfig, tokens: int) -> set[str]:
    row = {"completion": text, "finish_reason": "stop", "completion_tokens": tokens}
    trace = parse_trace(text)
    return {reason for name in rules if (reason := RULES[name](trace, row, config, {"verifier": "none"}))}


def _stream(text: str, rng: random.Random) -> list[str]:
    """The text cut into the pieces an engine would hand over, step by step (tags may be cut in two)."""
    cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(1, 40)))) if len(text) > 1 else []
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


@pytest.mark.parametrize("rules", RULESETS, ids=[",".join(r) for r in RULESETS])
def test_a_stopped_prefix_fails_the_same_rule_whatever_follows(rules):
    rng = random.Random(7)
    config = RuleConfig(max_tokens=60, repetition_max_line_repeats=3)
    stopped = 0
    for _ in range(1500):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 30)))
        checks = InflightChecks(rules, config)
        written, tokens = "", 0
        for piece in _stream(text, rng):
            written += piece
            tokens += max(1, len(piece) // 4)
            reason = checks.feed("s", piece, tokens)
            if reason is None:
                continue
            stopped += 1
            for _ in range(5):  # any continuation, at any length
                rest = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 12)))
                final = _failing(written + rest, rules, config, tokens + len(rest))
                assert reason in final or (reason == "code_block_in_reasoning" and "bad_format" in final), (
                    written + rest,
                    reason,
                )
            break
    if InflightChecks.for_rules(rules, config) is None:
        assert stopped == 0  # nothing these rules decide can be known early (a code block alone: see the module)
    else:
        assert stopped > 50  # the fuzz reaches the checks


def test_the_checks_see_only_what_the_rules_can_decide_early():
    config = RuleConfig()
    assert InflightChecks.for_rules(["truncated", "language_mixed", "long_paragraph"], config) is None
    assert InflightChecks.for_rules(["too_long"], config) is None  # no limit set
    assert InflightChecks.for_rules(["too_long"], RuleConfig(max_tokens=10)) is not None
    assert InflightChecks.for_rules(["repetition"], config) is not None


def test_a_loop_is_stopped_at_its_repeated_line_not_at_the_length_limit():
    checks = InflightChecks(["repetition"], RuleConfig())
    line = "Let me double check: 11 minus 11 is 1.\n"
    fed = [checks.feed("s", line[:10], 1) or checks.feed("s", line[10:], 2) for _ in range(6)]
    assert fed == [None] * 5 + ["repetition"]
    checks.drop("s")
    assert checks.samples == {}


def test_a_line_still_being_written_does_not_count():
    checks = InflightChecks(["repetition"], RuleConfig(repetition_max_line_repeats=2))
    line = "Let me double check: 11 minus 11 is 1."
    assert checks.feed("s", line + "\n" + line, 5) is None  # the second may yet become a longer line
    assert checks.feed("s", " And more.\n", 6) is None
    assert checks.feed("s", line + "\n", 7) == "repetition"


def test_filter_honours_a_stop_only_where_generate_recorded_one():
    """A dataset of one's own with a column that happens to be named abort_reason is judged as written: only a
    row generate stopped (finish_reason abort) is rejected for the recorded reason without being checked."""
    from datafactory.checks.evaluate import EvalSpec, Evaluator, task_of_row

    evaluator = Evaluator(EvalSpec("none", rules=["bad_format"]))
    good = "<think>\nShort.\n</think>\n\nHello."
    theirs = task_of_row({"completion": good, "finish_reason": "stop", "abort_reason": "repetition"}, "answer")
    ours = task_of_row({"completion": good[:12], "finish_reason": "abort", "abort_reason": "repetition",
                        "completion_tokens": 4}, "answer")  # fmt: skip
    assert evaluator.evaluate(theirs)["verdict"] == "pass"
    stopped = evaluator.evaluate(ours)
    assert stopped["verdict"] == "repetition" and "at 4 tokens" in stopped["verifier_detail"]


def test_shards_written_before_in_flight_checks_existed_are_still_counted(tmp_path):
    """A stopped run of an older version resumes: its shards have no abort_reason column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from datafactory.generate.stage import shard_counts
    from datafactory.io.outdir import OutputDir

    pq.write_table(pa.table({"prompt_id": ["a", "a"], "completion_tokens": [3, 4]}), tmp_path / "part-00000.parquet")
    counts, tokens, aborted = shard_counts(OutputDir(tmp_path, "generate"))
    assert counts == {"a": 2} and tokens == 7 and not aborted


@pytest.mark.parametrize("seed", range(20))
def test_a_streamed_sample_only_grows_and_ends_as_the_row_holds_it(seed):
    """The openai engine's stream: reasoning deltas (a server's reasoning parser), then answer deltas, joined as
    the final row will hold them; each text the watch sees extends the one before, so a stop stays a prefix."""
    from datafactory.engines.openai_engine import _Stream
    from datafactory.shapes import with_reasoning

    rng = random.Random(seed)
    alphabet = ["a", "b", " ", "\n", "\n\n", "</think>", "ok."]
    reasoning = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
    content = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
    field = rng.choice(["reasoning", "reasoning_content"])
    stream, seen = _Stream(), ""
    pieces = [{field: reasoning[i : i + 3]} for i in range(0, len(reasoning), 3)]
    pieces += [{"content": content[i : i + 2]} for i in range(0, len(content), 2)]
    for delta in pieces:
        stream.add({"choices": [{"delta": delta, "finish_reason": None}]})
        text = stream.text()
        assert text.startswith(seen)
        seen = text
    stream.add({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 99}})
    assert stream.text() == with_reasoning(reasoning, content)
    assert stream.tokens == len(pieces)  # no finish reason came: the chunks counted, not the usage
