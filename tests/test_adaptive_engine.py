"""Adaptive sampling on real engines: vLLM on the bundled toy reasoner through the real CLI, and the
OpenAI-compatible engine against a real `vllm serve`.

An adaptive run keeps exactly the first samples of a fixed run; it stops early on prompts the model solves and
spends the whole budget on impossible ones (a wrong gold); kill -9 and the same command again end with the rows
of an uninterrupted run.
"""

import json
from collections import Counter

import pyarrow.parquet as pq
import pytest

from datafactory.toy.data import demo_prompts
from tests.conftest import kill_9_after_shards, run_cli, write_jsonl

pytestmark = pytest.mark.engine

N = 4
SAMPLING = ["-m", "toy", "--max-tokens", "160", "--temperature", "0.8", "--top-p", "1.0", "--dtype", "float32"]
CHECKS = ["--verifier", "math", "--rules", "r1"]
IMPOSSIBLE = {"arith-0-3", "arith-0-11", "arith-0-20"}  # their golds are made wrong


@pytest.fixture(scope="module")
def prompts(tmp_path_factory):
    rows, _ = demo_prompts(30, 0, 0)
    for row in rows:
        if row["id"] in IMPOSSIBLE:
            row["answer"] = "-987654"
    return write_jsonl(tmp_path_factory.mktemp("prompts") / "p.jsonl", rows)


def _rows(folder) -> list[dict]:
    shards = sorted(folder.glob("part-*.parquet"))
    return pq.read_table(shards, columns=["prompt_id", "sample_index", "completion", "sampling"]).to_pylist()


@pytest.fixture(scope="module")
def fixed(prompts, tmp_path_factory):
    out = tmp_path_factory.mktemp("fixed") / "out"
    result = run_cli("generate", prompts, "-o", out, "-n", str(N), *SAMPLING, "--engine-option", "max_num_seqs=16")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def adaptive(prompts, tmp_path_factory):
    out = tmp_path_factory.mktemp("adaptive") / "out"
    result = run_cli("generate", prompts, "-o", out, "-n", str(N), "--target", "1", *CHECKS, *SAMPLING)
    assert result.returncode == 0, result.stderr
    assert "reached --target 1" in result.stderr
    return out


def test_adaptive_samples_are_the_first_samples_of_the_fixed_run(fixed, adaptive):
    drawn = {(r["prompt_id"], r["sample_index"]): r["completion"] for r in _rows(fixed)}
    kept = _rows(adaptive)
    assert len(drawn) == 30 * N and len(kept) < len(drawn)
    for row in kept:
        assert row["completion"] == drawn[(row["prompt_id"], row["sample_index"])], row["prompt_id"]
    per_prompt = Counter(r["prompt_id"] for r in kept)
    for prompt_id, count in per_prompt.items():  # a prefix 0..m-1 of each prompt's samples
        assert sorted(r["sample_index"] for r in kept if r["prompt_id"] == prompt_id) == list(range(count))
    assert all(json.loads(r["sampling"])["target"] == 1 for r in kept)


def test_target_stops_early_on_solved_prompts_and_spends_the_budget_on_impossible_ones(adaptive, tmp_path):
    per_prompt = Counter(r["prompt_id"] for r in _rows(adaptive))
    assert all(per_prompt[p] == N for p in IMPOSSIBLE)
    assert sum(count == 1 for count in per_prompt.values()) >= 15  # the toy model solves most at the first try
    manifest = json.loads((adaptive / ".datafactory/manifest.json").read_text())["counts"]
    assert manifest["samples_per_prompt"] == {str(k): v for k, v in sorted(Counter(per_prompt.values()).items())}
    assert manifest["sample_budget"] == 30 * N and manifest["rows_out"] == sum(per_prompt.values())

    # the same checks in filter: each prompt's last sample passes exactly when the prompt reached the target
    result = run_cli("filter", adaptive, "-o", tmp_path / "kept", *CHECKS, "--keep", "1")
    assert result.returncode == 0, result.stderr
    reached = manifest["adaptive_now"]["prompts_reaching_target"]
    kept = pq.read_table(sorted((tmp_path / "kept").glob("part-*.parquet")), columns=["prompt_id", "sample_index"])
    kept = kept.to_pylist()
    assert len(kept) == reached and all(r["sample_index"] == per_prompt[r["prompt_id"]] - 1 for r in kept)
    assert not IMPOSSIBLE & {r["prompt_id"] for r in kept}


def test_kill_9_then_the_same_command_ends_with_the_rows_of_an_uninterrupted_run(prompts, adaptive, tmp_path):
    out = tmp_path / "out"
    args = ["generate", prompts, "-o", out, "-n", str(N), "--target", "1", *CHECKS, *SAMPLING, "--shard-rows", "4"]
    kill_9_after_shards(args, out, timeout=300)

    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    resumed = sorted((r["prompt_id"], r["sample_index"], r["completion"]) for r in _rows(out))
    whole = sorted((r["prompt_id"], r["sample_index"], r["completion"]) for r in _rows(adaptive))
    assert resumed == whole


def test_openai_engine_against_vllm_serve_samples_adaptively_too(vllm_reasoning_server, prompts, tmp_path):
    served = ["--engine", "openai", "--base-url", vllm_reasoning_server, "-m", "toy", "--concurrency", "4"]
    sampling = ["--max-tokens", "160", "--temperature", "0.8", "--top-p", "1.0"]
    fixed = run_cli("generate", prompts, "-o", tmp_path / "fixed", "-n", str(N), *served, *sampling)
    assert fixed.returncode == 0, fixed.stderr
    adaptive = run_cli("generate", prompts, "-o", tmp_path / "adaptive", "-n", str(N), "--target", "1", *CHECKS,
                       *served, *sampling)  # fmt: skip
    assert adaptive.returncode == 0, adaptive.stderr
    drawn = {(r["prompt_id"], r["sample_index"]): r["completion"] for r in _rows(tmp_path / "fixed")}
    kept = _rows(tmp_path / "adaptive")
    per_prompt = Counter(r["prompt_id"] for r in kept)
    assert all(per_prompt[p] == N for p in IMPOSSIBLE) and len(kept) < len(drawn)
    same = sum(row["completion"] == drawn[(row["prompt_id"], row["sample_index"])] for row in kept)
    assert same == len(kept)  # the server honours per-sample seeds: the same first samples


# --- gold answers (checks/gold_votes.py) on the same runs ------------------------------------------------------------
def _gold_rates(folder) -> dict:
    return {r["prompt_id"]: r for r in pq.read_table(folder / ".pass_rates/pass_rates.parquet").to_pylist()}


def test_wrong_golds_are_flagged_alike_after_fixed_and_adaptive_sampling(fixed, adaptive, tmp_path):
    truth = {row["id"]: row["answer"] for row in demo_prompts(30, 0, 0)[0]}
    rates = {}
    for name, folder in (("fixed", fixed), ("adaptive", adaptive)):
        result = run_cli("filter", folder, "-o", tmp_path / name, *CHECKS, "--workers", "1")
        assert result.returncode == 0, result.stderr
        rates[name] = _gold_rates(tmp_path / name)
    for prompt_id in IMPOSSIBLE:  # adaptive drew their whole budget, so it holds the same evidence as fixed
        fixed_rate, adaptive_rate = rates["fixed"][prompt_id], rates["adaptive"][prompt_id]
        assert fixed_rate["gold_status"] == adaptive_rate["gold_status"]
        assert fixed_rate["gold"] == "-987654"
        if fixed_rate["majority_votes"] >= 3 and fixed_rate["majority_answer"] == truth[prompt_id]:
            assert fixed_rate["gold_status"] == "suspect_gold"  # the samples agree on the true answer
    flagged = [p for p, r in rates["fixed"].items() if r["gold_status"] == "suspect_gold"]
    assert flagged and all(rates["fixed"][p]["n_pass"] == 0 for p in flagged)


def test_voting_while_sampling_on_vllm_labels_as_a_vote_on_the_whole_budget(prompts, fixed, tmp_path):
    unlabelled = [
        {k: v for k, v in json.loads(line).items() if k != "answer"} for line in prompts.read_text().splitlines()
    ]
    source = write_jsonl(tmp_path / "unlabelled.jsonl", unlabelled)
    voting = ["--verifier", "math", "--rules", "r1", "--gold", "majority", "--gold-field", "answer"]
    out = tmp_path / "voted-samples"
    result = run_cli("generate", source, "-o", out, "-n", str(N), "--target", "1", *voting, *SAMPLING)
    assert result.returncode == 0, result.stderr
    drawn = {(r["prompt_id"], r["sample_index"]): r["completion"] for r in _rows(fixed)}
    kept = _rows(out)
    assert len(kept) < len(drawn)  # some votes were decided before the budget ran out
    assert all(row["completion"] == drawn[(row["prompt_id"], row["sample_index"])] for row in kept)
    labels = {}
    for name, folder in (("whole budget", fixed), ("while sampling", out)):
        options = ["--gold-field", "no_such_column"] if name == "whole budget" else []  # hide the fixed run's golds
        done = run_cli("filter", folder, "-o", tmp_path / name, *voting, *options, "--workers", "1")
        assert done.returncode == 0, done.stderr
        rates = _gold_rates(tmp_path / name)
        labels[name] = {p: r["majority_answer"] if r["gold_source"] else None for p, r in rates.items()}
    assert labels["while sampling"] == labels["whole budget"]
    assert sum(label is not None for label in labels["whole budget"].values()) >= 10
