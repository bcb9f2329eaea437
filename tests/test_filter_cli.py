"""`datafactory filter` end to end through the real entry point, on sample shards the tests write."""

import json
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli, write_jsonl

REASONING = "First add the numbers carefully. Then check the sum once more to be sure it is right."


def sample(prompt_id, index, answer, gold, tokens=20, finish="stop", reasoning=REASONING, box=True):
    final = f"\\boxed{{{answer}}}" if box else str(answer)
    return {
        "prompt_id": prompt_id, "sample_index": index,
        "messages": [{"role": "user", "content": f"Question {prompt_id}?"}],
        "completion": f"<think>\n{reasoning}\n</think>\n\nThe answer is {final}.",
        "finish_reason": finish, "completion_tokens": tokens, "answer": gold,
    }  # fmt: skip


def write_samples(folder, rows, per_shard=None):
    folder.mkdir(parents=True, exist_ok=True)
    per_shard = per_shard or len(rows)
    for shard, start in enumerate(range(0, len(rows), per_shard)):
        pq.write_table(pa.Table.from_pylist(rows[start : start + per_shard]), folder / f"part-{shard:05d}.parquet")
    return folder


def read(folder):
    shards = sorted(folder.glob("part-*.parquet"))
    return pa.concat_tables(pq.read_table(s) for s in shards).to_pylist() if shards else []


@pytest.fixture
def samples(tmp_path):
    rows = [
        # p1: 3 of 4 right; two right answers are identical completions, one longer
        sample("p1", 0, "4", "4", tokens=30), sample("p1", 1, "4", "4", tokens=30),
        sample("p1", 2, "4", "4", tokens=50, reasoning=REASONING + " Indeed."), sample("p1", 3, "5", "4"),
        # p2: all wrong
        sample("p2", 0, "1", "7"), sample("p2", 1, "2", "7"),
        # p3: right but truncated, right but no box, right with Chinese mixed in, right and clean
        sample("p3", 0, "9", "9", finish="length"), sample("p3", 1, "9", "9", box=False),
        sample("p3", 2, "9", "9", reasoning=REASONING + " 然后我们检查结果是否正确无误。 " + REASONING),
        sample("p3", 3, "9", "9"),
    ]  # fmt: skip
    return write_samples(tmp_path / "samples", rows, per_shard=4)


def test_filter_keeps_best_k_and_records_every_reason(tmp_path, samples):
    out = tmp_path / "kept"
    result = run_cli(
        "filter", samples, "-o", out, "--rules", "r1", "--keep", "1", "--rl-prompts", tmp_path / "rl.jsonl"
    )
    assert result.returncode == 0, result.stderr
    kept, rejected = read(out), read(out / ".rejected")
    assert len(kept) + len(rejected) == 10
    assert sorted((r["prompt_id"], r["sample_index"]) for r in kept) == [("p1", 0), ("p3", 3)]
    assert all(r["verdict"] == "pass" and r["selected"] and r["reasons"] == [] for r in kept)
    by_key = {(r["prompt_id"], r["sample_index"]): r for r in rejected}
    assert by_key[("p1", 1)]["verdict"] == "not_selected"  # identical to p1/0, collapsed
    assert by_key[("p1", 2)]["verdict"] == "not_selected"  # longer than p1/0
    assert by_key[("p1", 3)]["reasons"] == ["wrong_answer"] and by_key[("p1", 3)]["extracted_answer"] == "5"
    assert by_key[("p3", 0)]["reasons"] == ["truncated"]
    assert by_key[("p3", 1)]["reasons"] == ["bad_format"]
    assert by_key[("p3", 2)]["reasons"] == ["language_mixed"]
    assert kept[0]["reasoning"] == REASONING and kept[0]["response"] == "The answer is \\boxed{4}."
    rates = {r["prompt_id"]: r for r in pq.read_table(out / ".pass_rates/pass_rates.parquet").to_pylist()}
    plain = {k: rates["p1"][k] for k in ("prompt_id", "n", "n_pass", "pass_rate", "target", "pass_rate_estimate")}
    assert plain == {
        "prompt_id": "p1",
        "n": 4,
        "n_pass": 3,
        "pass_rate": 0.75,
        "target": None,
        "pass_rate_estimate": 0.75,
    }
    assert rates["p1"]["pass_rate_low"] < 0.75 < rates["p1"]["pass_rate_high"]  # fixed -n: Clopper-Pearson
    assert rates["p2"]["pass_rate"] == 0.0 and rates["p3"]["pass_rate"] == 1.0
    assert {r["pass_rate"] for r in kept + rejected if r["prompt_id"] == "p1"} == {0.75}
    rl = [json.loads(line) for line in (tmp_path / "rl.jsonl").read_text().splitlines()]
    assert [r["prompt_id"] for r in rl] == ["p1"] and rl[0]["answer"] == "4"
    manifest = json.loads((out / ".datafactory/manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["rows_in"] == 10 and counts["rows_kept"] == 2 and counts["rows_rejected"] == 8
    assert counts["reasons"]["wrong_answer"] == 3 and counts["verdicts"]["not_selected"] == 2
    assert "language_mixed" in manifest["rules"] and not (out / ".work").exists()


def test_pass_rate_window_and_select_longest(tmp_path, samples):
    out = tmp_path / "kept"
    result = run_cli("filter", samples, "-o", out, "--max-pass-rate", "0.9", "--keep", "1", "--select", "longest")
    assert result.returncode == 0, result.stderr
    kept = read(out)
    assert [(r["prompt_id"], r["sample_index"]) for r in kept] == [("p1", 2)]
    p3 = [r for r in read(out / ".rejected") if r["prompt_id"] == "p3" and r["reasons"] == ["pass_rate_out_of_range"]]
    assert sorted(r["sample_index"] for r in p3) == [2, 3]  # default rules: no language_mixed


def test_choice_and_exact_verifiers(tmp_path):
    rows = [
        {"prompt_id": "c1", "completion": "<think>Option B fits best here.</think>\nThe answer is (B).", "answer": "B"},
        {"prompt_id": "c2", "completion": "<think>It is A for sure.</think>\n**A**", "answer": "C"},
        {"prompt_id": "c3", "completion": "<think>Hmm.</think>\nI cannot tell.", "answer": "D"},
    ]
    write_jsonl(tmp_path / "choice.jsonl", rows)
    assert run_cli("filter", tmp_path / "choice.jsonl", "-o", tmp_path / "c", "--verifier", "choice").returncode == 0
    verdicts = {r["prompt_id"]: r["verdict"] for r in read(tmp_path / "c") + read(tmp_path / "c" / ".rejected")}
    assert verdicts == {"c1": "pass", "c2": "wrong_answer", "c3": "no_answer"}
    exact = [{"prompt_id": "e1", "completion": "<think>Recall.</think>\n\\boxed{Paris}", "answer": "paris"}]
    write_jsonl(tmp_path / "exact.jsonl", exact)
    assert run_cli("filter", tmp_path / "exact.jsonl", "-o", tmp_path / "e", "--verifier", "exact").returncode == 0
    assert read(tmp_path / "e")[0]["extracted_answer"] == "paris"


def test_pathological_answers_end_in_time_and_the_run_finishes(tmp_path):
    rows = [
        sample("slow", 0, "10^{10^{10^{10}}}", "5"),
        sample("huge", 0, "1" * 100_000, "5"),
        sample("deep", 0, "{" * 400 + "1" + "}" * 400, "5"),
        sample("fine", 0, "5", "5"),
    ]
    folder = write_samples(tmp_path / "s", rows)
    out = tmp_path / "o"
    started = time.monotonic()
    result = run_cli("filter", folder, "-o", out, "--timeout", "2", "--workers", "2", timeout=120)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30  # guards decide them before any parser runs: no timeout needed
    rows = {r["prompt_id"]: r for r in read(out) + read(out / ".rejected")}
    assert rows["fine"]["verdict"] == "pass"
    for name in ("slow", "huge", "deep"):
        assert rows[name]["verdict"] in {"undecided", "wrong_answer"}, (name, rows[name]["verdict"])
        assert rows[name]["verifier_detail"], name  # with the reason


def test_huge_integers_are_compared_exactly_or_not_at_all():
    from datafactory.verifiers.math import MathVerifier

    verifier = MathVerifier({})
    for answer, gold in [("10^{50}+1", "10^{50}"), ("2^{200}+1", "2^{200}"), ("10^{50}+\\sqrt{2}", "10^{50}+\\sqrt{3}"),
                         ("10^{10^{10}}+1", "10^{10^{10}}"), ("99999!", "99998!")]:  # fmt: skip
        verdict = verifier.verify(f"\\boxed{{{answer}}}", gold, {})
        assert not verdict.ok and verdict.reason in {"wrong_answer", "undecided"}, (answer, verdict)
    assert verifier.verify("\\boxed{2^{200}}", str(2**200), {}).ok
    assert verifier.verify("\\boxed{\\frac{10^{60}+2}{2}}", str(10**60 // 2 + 1), {}).ok


def test_missing_gold_column_is_exit_2_and_writes_nothing(tmp_path):
    rows = [{"prompt_id": "a", "completion": "<think>x</think> \\boxed{1}"}]
    write_jsonl(tmp_path / "s.jsonl", rows)
    result = run_cli("filter", tmp_path / "s.jsonl", "-o", tmp_path / "o")
    assert result.returncode == 2 and "the gold 'answer' (--gold-field)" in result.stderr
    assert not (tmp_path / "o").exists()
    result = run_cli("filter", tmp_path / "s.jsonl", "-o", tmp_path / "o", "--verifier", "nope")
    assert result.returncode == 2 and "unknown verifier" in result.stderr


def test_resume_skips_evaluated_inputs_and_refuses_changed_options(tmp_path, samples):
    out = tmp_path / "kept"
    first = run_cli("filter", samples, "-o", out)
    assert first.returncode == 0
    expected = read(out)
    (out / ".datafactory/SUCCESS").unlink()  # as if stopped before the end
    assert run_cli("filter", samples, "-o", out, "--verifier", "exact").returncode == 2
    again = run_cli("filter", samples, "-o", out)
    assert again.returncode == 0, again.stderr
    assert read(out) == expected


def test_stats_shows_the_filter_funnel_and_pass_rates(tmp_path, samples):
    out = tmp_path / "kept"
    assert run_cli("filter", samples, "-o", out, "--rules", "r1", "--keep", "1").returncode == 0
    result = run_cli("stats", out, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["stage"] == "filter" and summary["rows"] == 2
    funnel = dict(summary["funnel"])
    assert funnel["rows in"] == 10 and funnel["kept"] == 2 and funnel["wrong_answer"] == -3
    assert summary["pass_rate_histogram"] == {
        "0": 1,
        "(0, 0.25]": 0,
        "(0.25, 0.5]": 0,
        "(0.5, 0.75]": 1,
        "(0.75, 1)": 0,
        "1": 1,
    }
    table = run_cli("stats", out, env={"COLUMNS": "150"})
    assert "funnel" in table.stdout and "language_mixed" in table.stdout


def test_jsonl_gold_of_mixed_types_is_verified_and_kept_as_text(tmp_path):
    rows = [
        {"prompt_id": "amc", "completion": "<think>Add them up.</think>\nSo \\boxed{27}.", "answer": 27.0},
        {"prompt_id": "aime", "completion": "<think>Count them.</think>\nSo \\boxed{25}.", "answer": "025"},
    ]
    write_jsonl(tmp_path / "mixed.jsonl", rows)
    result = run_cli("filter", tmp_path / "mixed.jsonl", "-o", tmp_path / "o")
    assert result.returncode == 0, result.stderr
    kept = {r["prompt_id"]: r["answer"] for r in read(tmp_path / "o")}
    assert kept == {"amc": "27.0", "aime": "025"}


def test_stats_of_a_filter_that_kept_nothing_reads_no_side_files(tmp_path):
    folder = write_samples(tmp_path / "s", [sample("p", 0, "1", "2"), sample("p", 1, "3", "2")])
    out = tmp_path / "o"
    assert run_cli("filter", folder, "-o", out).returncode == 0
    summary = json.loads(run_cli("stats", out, "--json").stdout)
    assert summary["rows"] == 0 and dict(summary["funnel"])["wrong_answer"] == -2
    again = run_cli("filter", out, "-o", tmp_path / "o2")  # an output with no rows reads as zero rows
    assert again.returncode == 0 and "0 rows -> 0 kept" in again.stderr


def test_empty_answers_are_rejected_whatever_the_rules(tmp_path):
    rows = [
        {"prompt_id": "g1", "sample_index": 0, "completion": "Hello! How can I help?", "finish_reason": "stop"},
        {"prompt_id": "g2", "sample_index": 0, "completion": "", "finish_reason": "stop"},
        {"prompt_id": "g3", "sample_index": 0, "completion": "<think>Greet back.</think>\n  ", "finish_reason": "stop"},
    ]
    folder = write_samples(tmp_path / "s", rows)
    result = run_cli("filter", folder, "-o", tmp_path / "o", "--verifier", "none", "--rules", "none")
    assert result.returncode == 0, result.stderr
    verdicts = {r["prompt_id"]: r["verdict"] for r in read(tmp_path / "o") + read(tmp_path / "o" / ".rejected")}
    assert verdicts == {"g1": "pass", "g2": "empty_response", "g3": "empty_response"}
