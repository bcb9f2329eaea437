"""Doomed samples stopped while vLLM writes them (the toy reasoner on MATH-500 problems it cannot do, greedy, to
its whole context: it loops and closes its reasoning twice), offline and through `vllm serve`, compared sample by
sample with the same run without in-flight checks: each stopped sample is the other run's sample cut short, which
fails the rule it was stopped for; every other sample is the same; the filter keeps the same samples."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli, write_jsonl

pytestmark = pytest.mark.engine

SAMPLING = ["-m", "toy", "-n", "1", "--temperature", "0", "--max-tokens", "2048", "--dtype", "float32"]
CHECKS = ["--verifier", "none", "--rules", "r1"]


def _rows(folder) -> dict:
    files = [*folder.glob("part-*.parquet"), *folder.glob(".rejected/part-*.parquet")]
    return {(r["prompt_id"], r["sample_index"]): r for f in files for r in pq.read_table(f).to_pylist()}


@pytest.fixture(scope="module", params=["vllm", "openai"])
def runs(request, shared_data, tmp_path_factory):
    """Offline vLLM, and a real `vllm serve` (the README's options, no reasoning parser: see vllm_raw_server)
    whose samples are streamed and stopped by closing the connection."""
    root = tmp_path_factory.mktemp("inflight")
    engine, count = ["--engine", "vllm"], 40
    if request.param == "openai":
        url = request.getfixturevalue("vllm_raw_server")
        engine, count = ["--engine", "openai", "--base-url", url, "--concurrency", "8"], 24
    problems = [json.loads(line) for line in (shared_data / "math500_test.jsonl").open()][:count]
    prompts = write_jsonl(root / "p.jsonl", [{"id": f"m{i}", "problem": r["problem"]} for i, r in enumerate(problems)])
    out = {}
    for name, flag in (("without", "--no-stop-doomed"), ("with", "--stop-doomed")):
        generated = run_cli("generate", prompts, "-o", root / name, *SAMPLING, *engine, *CHECKS, flag)
        assert generated.returncode == 0, generated.stderr
        filtered = run_cli("filter", root / name, "-o", root / f"{name}-kept", *CHECKS)
        assert filtered.returncode == 0, filtered.stderr
        out[name] = (root / name, _rows(root / f"{name}-kept"))
    return out


def test_stopped_samples_are_the_same_samples_cut_short_and_would_have_failed_the_same_rule(runs):
    (_, without), (folder, with_) = runs["without"], runs["with"]
    assert without.keys() == with_.keys()
    stopped = [key for key, row in with_.items() if row["abort_reason"]]
    assert stopped, "nothing was stopped: the fixture no longer loops"
    for key in stopped:
        cut, whole = with_[key], without[key]
        assert whole["completion"].startswith(cut["completion"]) and cut["finish_reason"] == "abort"
        assert cut["aborted_at_tokens"] == cut["completion_tokens"] < whole["completion_tokens"]
        assert whole["verdict"] != "pass" and cut["abort_reason"] in whole["reasons"]
        assert cut["verdict"] == cut["abort_reason"] and "stopped while generated" in cut["verifier_detail"]
    for key in with_.keys() - set(stopped):
        assert with_[key]["completion"] == without[key]["completion"]
    assert {k for k, r in with_.items() if r["verdict"] == "pass"} == {
        k for k, r in without.items() if r["verdict"] == "pass"
    }
    counts = json.loads((folder / ".datafactory/manifest.json").read_text())["counts"]
    assert sum(counts["stopped_in_flight"].values()) == len(stopped)
    assert counts["completion_tokens"] < sum(r["completion_tokens"] for r in without.values())
