"""The cost forecast (generate/forecast.py): its interval holds the real total as often as it says, and
`generate --forecast` samples a first slice, says what the run will cost, and leaves a folder the run resumes."""

from __future__ import annotations

import json
import random
import re

import pytest

from datafactory.generate.forecast import Forecast, slice_size
from tests.conftest import run_cli, write_jsonl


def test_the_interval_after_five_percent_holds_the_total_about_95_times_in_100():
    """Long-tailed prompt costs (lognormal, as reasoning lengths are), in a random order each time."""
    rng = random.Random(3)
    population = [int(rng.lognormvariate(6, 1.0)) for _ in range(2000)]
    truth = sum(population)
    held, errors = 0, []
    for _ in range(300):
        order = population[:]
        rng.shuffle(order)
        forecast = Forecast(len(order))
        for cost in order[: slice_size(len(order))]:
            forecast.add(cost)
        estimate = forecast.at_slice
        held += estimate["low"] <= truth <= estimate["high"]
        errors.append(abs(estimate["completion_tokens"] - truth) / truth)
    assert 0.88 <= held / 300 <= 0.99
    assert sorted(errors)[len(errors) // 2] < 0.1  # the median error after 5% of the prompts


def test_the_forecast_says_money_only_with_a_price_and_narrows_to_the_truth():
    forecast = Forecast(10, price=2.5)
    for cost in [100] * 10:
        forecast.add(cost)
    estimate = forecast.estimate()
    assert estimate["completion_tokens"] == estimate["low"] == estimate["high"] == 1000 and estimate["cost"] == 0.0
    assert "about 0.00 at 2.5 per million" in forecast.line()
    assert Forecast(10).line() == "forecast: not enough prompts done yet"
    unpriced = Forecast(10)
    for cost in (100, 200, 300):
        unpriced.add(cost)
    assert "cost" not in unpriced.estimate() and "per million" not in unpriced.line()


@pytest.mark.engine
def test_generate_forecast_samples_a_slice_says_the_cost_and_the_run_resumes(tmp_path):
    prompts = write_jsonl(
        tmp_path / "p.jsonl", [{"prompt": f"Calculate {i} + {i}.", "answer": str(2 * i)} for i in range(40)]
    )
    out = tmp_path / "samples"
    common = ["-m", "toy", "--engine", "transformers", "-n", "2", "--max-tokens", "48", "--dtype", "float32"]
    first = run_cli("generate", prompts, "-o", out, *common, "--forecast", "--price-per-million", "3")
    assert first.returncode == 0, first.stderr
    line = first.stderr.strip().splitlines()[-1]
    assert re.match(r"forecast after 20 of 40 prompts: [\d.,k]+ completion tokens \(", line), line
    assert "at 3 per million" in line and "without --forecast goes on" in line
    assert not (out / ".datafactory/SUCCESS").exists() and list(out.glob("part-*.parquet"))
    rest = run_cli("generate", prompts, "-o", out, *common, "--price-per-million", "3")
    assert rest.returncode == 0, rest.stderr
    counts = json.loads((out / ".datafactory/manifest.json").read_text())["counts"]
    assert counts["prompts_already_done"] == 20 and counts["rows_out"] == 80
    assert counts["forecast"]["actual_completion_tokens"] == counts["completion_tokens_now"]
    assert "cost forecast against what happened" in run_cli("stats", out).stdout


@pytest.mark.engine
def test_a_token_budget_stops_the_run_and_the_manifest_says_how_it_went(tmp_path):
    prompts = write_jsonl(
        tmp_path / "p.jsonl", [{"prompt": f"Calculate {i} + {i}.", "answer": str(2 * i)} for i in range(40)]
    )
    out = tmp_path / "samples"
    common = ["-m", "toy", "--engine", "transformers", "-n", "4", "--max-tokens", "48", "--dtype", "float32"]
    result = run_cli(
        "generate", prompts, "-o", out, *common, "--target", "1", "--verifier", "math", "--budget-tokens", "600"
    )
    assert result.returncode == 0, result.stderr
    counts = json.loads((out / ".datafactory/manifest.json").read_text())["counts"]
    budget = counts["budget"]
    assert budget["tokens"] == 600 and budget["spent"] <= 600 + 48  # at most one sample over, before any came back
    assert budget["prompts_not_started"] > 0 and counts["prompts"] - budget["prompts_not_started"] == len(
        {r for r in _prompt_ids(out)}
    )
    assert (out / ".datafactory/SUCCESS").is_file()
    shown = run_cli("stats", out)
    assert "budget (completion tokens)" in shown.stdout and "prompts not started" in shown.stdout


def _prompt_ids(folder) -> list[str]:
    import pyarrow.parquet as pq

    return [r["prompt_id"] for f in sorted(folder.glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]
