"""Generation streamed over engine replicas on a local Ray (scale/ray_generate.py), with real toy-model replicas
(transformers, 2 CPUs): the samples equal one local engine's, fixed and adaptive; a replica killed mid-run (its
actor, or its process) loses and repeats nothing; a replica that cannot start fails the run before any prompt."""

from __future__ import annotations

import json
import os
import signal

import pytest

from tests.conftest import kill_9_after_shards, run_cli, write_jsonl
from tests.test_ray import rows_of

pytest.importorskip("ray", reason="Ray is the optional extra datafactory[ray]")
pytestmark = [pytest.mark.ray, pytest.mark.engine]

OPTIONS = {"model": "toy", "dtype": "float32", "concurrency": 4}


def _prompts(count: int):
    from datafactory.prompts import Prompt

    return [Prompt(f"q{i}", [{"role": "user", "content": f"What is {i} + 3?"}], {}) for i in range(count)]


def _draw(engine, prompts, on_prompt=None, target=None) -> dict:
    """Every prompt's samples, as the sample loop decides and writes them (in input order). With a target, the
    samples are checked with the math verifier against the sum, in this process."""
    from datafactory.checks.evaluate import EvalSpec, task_of_row
    from datafactory.engines.base import Sampling
    from datafactory.generate.sample_loop import SampleLoop
    from tests.test_adaptive_logic import InlineChecks

    written: dict = {}

    def write(draws, kept):
        written[draws.prompt.prompt_id] = [draws.completions[i].text for i in range(kept)]

    def task_of(draws, index):
        gold = str(int(draws.prompt.prompt_id[1:]) + 3)
        return task_of_row({"completion": draws.completions[index].text, "gold": gold}, "gold")

    checks = InlineChecks(EvalSpec("math")) if target else None
    sampling = Sampling(n=4 if target else 3, temperature=0.9, max_tokens=40 if target else 32, seed=7)
    SampleLoop(engine, sampling, 24, target, write, checks, task_of, on_prompt=on_prompt).run(iter(prompts))
    assert list(written) == [p.prompt_id for p in prompts]  # input order
    return written


@pytest.fixture(scope="module")
def local_samples() -> dict:
    from datafactory.engines.base import EngineOptions, engine_class

    engine = engine_class("transformers")(EngineOptions(**OPTIONS), seed=0)
    try:
        return _draw(engine, _prompts(24))
    finally:
        engine.close()


def _replicas(count: int = 2):
    from datafactory.engines.base import EngineOptions
    from datafactory.scale.ray_generate import RayReplicaEngine

    return RayReplicaEngine("transformers", EngineOptions(**OPTIONS), 0, count, None)


def test_samples_streamed_over_two_replicas_equal_one_local_engine(local_samples):
    engine = _replicas()
    try:
        assert _draw(engine, _prompts(24)) == local_samples
        assert engine.stream_capacity() == 2 * OPTIONS["concurrency"]
    finally:
        engine.close()


def test_adaptive_over_replicas_with_idle_slots_filled_equals_one_local_engine(monkeypatch):
    """As on GPU replicas (Engine.idle_slots_free, forced here: the toy replicas run on CPU): at the end of the input
    the idle slots draw undecided prompts' next samples ahead of time. The prompts keep the samples one local
    engine keeps; the samples drawn ahead and not needed are cancelled across the replicas."""
    from datafactory.engines.base import EngineOptions, engine_class
    from datafactory.generate.sample_loop import SampleLoop

    local = engine_class("transformers")(EngineOptions(**OPTIONS), seed=0)
    try:
        expected = _draw(local, _prompts(12), target=1)
    finally:
        local.close()
    ahead, fill = [], SampleLoop._fill_idle

    def counted_fill(loop, tickets):
        before = sum(t.count for t in tickets)
        fill(loop, tickets)
        ahead.append(sum(t.count for t in tickets) - before)

    monkeypatch.setattr(SampleLoop, "_fill_idle", counted_fill)
    engine = _replicas()
    engine.idle_slots_free = True
    try:
        assert _draw(engine, _prompts(12), target=1) == expected
    finally:
        engine.close()
    assert sum(len(samples) for samples in expected.values()) < 12 * 4  # some prompts stopped early
    assert sum(ahead) > 0  # samples were drawn ahead


@pytest.mark.parametrize("how", ["actor", "process", "gone"])
def test_a_replica_killed_mid_run_loses_and_repeats_nothing(local_samples, how):
    import ray

    engine = _replicas()
    killed = []

    def kill_one(tally) -> None:
        if tally.prompts_done == 4 and not killed:
            victim = engine.replicas[0]
            if how == "actor":  # Ray restarts it (max_restarts); its samples are drawn again elsewhere
                ray.kill(victim.actor, no_restart=False)
            elif how == "gone":  # it never comes back: the run ends on the other replica
                ray.kill(victim.actor, no_restart=True)
            else:
                os.kill(ray.get(victim.actor.__ray_call__.remote(lambda _: os.getpid())), signal.SIGKILL)
            killed.append(victim)

    try:
        assert _draw(engine, _prompts(24), on_prompt=kill_one) == local_samples
        assert killed and engine.restarts >= 1
        assert len(engine.replicas) == (1 if how == "gone" else 2)
    finally:
        engine.close()


def test_a_replica_that_cannot_start_fails_before_any_prompt(tmp_path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": "q0", "prompt": "What is 1 + 1?"}])
    args = ["generate", prompts, "-o", tmp_path / "o", "-m", broken, "--engine", "transformers"]
    result = run_cli(*args, "--executor", "ray", "--replicas", "2", timeout=600)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "could not start" in line]
    assert lines and lines[0].startswith("error: engine replica 1 of 2 could not start"), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "o").glob("part-*.parquet"))


BASE = ["-m", "toy", "--engine", "transformers", "--max-tokens", "40", "--dtype", "float32"]
MODES = {"fixed": ["-n", "3"], "adaptive": ["-n", "4", "--target", "1", "--verifier", "math", "--workers", "1"]}
CLUSTER = ["--executor", "ray", "--replicas", "2"]
KEEP = ("prompt_id", "sample_index", "completion", "finish_reason", "completion_tokens")


@pytest.fixture(scope="module")
def prompt_file(tmp_path_factory):
    rows = [{"id": f"q{i}", "prompt": f"What is {i} + 3?", "answer": str(i + 3)} for i in range(16)]
    return write_jsonl(tmp_path_factory.mktemp("prompts") / "p.jsonl", rows)


@pytest.fixture(scope="module")
def local_runs(prompt_file, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("local")
    for mode, extra in MODES.items():
        result = run_cli("generate", prompt_file, *BASE, *extra, "-o", folder / mode, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
    return {mode: [[r[k] for k in KEEP] for r in rows_of(folder / mode)] for mode in MODES}


@pytest.mark.parametrize("mode", list(MODES))
def test_generate_on_two_replicas_equals_local(prompt_file, local_runs, mode, tmp_path):
    """The CLI end to end: rows of a cluster run (2 replicas; with --target, the checks on Ray actors) equal the
    local run's, fixed -n and adaptive."""
    result = run_cli("generate", prompt_file, *BASE, *MODES[mode], *CLUSTER, "-o", tmp_path / "o", timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [[r[k] for k in KEEP] for r in rows_of(tmp_path / "o")] == local_runs[mode] and local_runs[mode]
    if mode == "adaptive":
        manifest = json.loads((tmp_path / "o" / ".datafactory/manifest.json").read_text())
        assert len(local_runs[mode]) < 16 * 4 and manifest["counts"]["adaptive_now"]["prompts_reaching_target"]


def test_driver_killed_then_the_same_command_ends_with_the_local_rows(prompt_file, local_runs, tmp_path):
    out = tmp_path / "o"
    args = ["generate", str(prompt_file), *BASE, *MODES["adaptive"], *CLUSTER, "--shard-rows", "4", "-o", str(out)]
    kill_9_after_shards(args, out)
    result = run_cli(*args, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [[r[k] for k in KEEP] for r in rows_of(out)] == local_runs["adaptive"]
