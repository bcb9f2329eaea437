"""The bundled toy reasoner: loads in transformers and vLLM, is right in the promised band, and the demo recipe
runs end to end through `datafactory run` on real vLLM (CPU)."""

import json

import pyarrow.parquet as pq
import pytest

from datafactory.engines.local_model import TOY_MODEL
from datafactory.toy.data import demo_prompts, training_conversations
from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def toy_vllm():
    from datafactory.engines.base import EngineOptions
    from datafactory.engines.vllm_engine import VLLMEngine

    engine = VLLMEngine(EngineOptions(model="toy", dtype="float32"), seed=0)
    yield engine
    engine.close()


def test_vllm_engine_reports_each_finished_prompt(toy_vllm):
    """Progress advances per finished request, not per chunk: vLLM's step loop calls back for each one."""
    from datafactory.engines.base import Request, Sampling

    finished = []
    toy_vllm.on_prompt_done = lambda: finished.append(len(finished))
    requests = [Request([{"role": "user", "content": f"What is {i} + 1?"}], 2, i) for i in range(12)]
    results = toy_vllm.generate(requests, Sampling(2, 0.8, 1.0, 32, 0))
    toy_vllm.on_prompt_done = None
    assert len(results) == 12 and len(finished) == 12


def test_toy_model_is_small_and_documented():
    weights = TOY_MODEL / "model.safetensors"
    assert weights.is_file() and weights.stat().st_size <= 10 * 2**20
    card = (TOY_MODEL / "README.md").read_text()
    assert "What it is not" in card and "right answers" in card


def test_toy_model_reloads_in_transformers_and_answers_r1_style():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(TOY_MODEL)
    model = AutoModelForCausalLM.from_pretrained(TOY_MODEL)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 12 + 7?"}], add_generation_prompt=True, tokenize=False
    )
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        output = model.generate(**ids, max_new_tokens=80, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    text = tokenizer.decode(output[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert text.startswith("<think>") and "</think>" in text and "\\boxed{" in text


def test_accuracy_on_held_out_problems_is_in_the_promised_band(toy_vllm):
    from datafactory.toy.evaluate import evaluate

    metrics = evaluate(TOY_MODEL, problems=100, n=4, temperature=0.8, seed=0, engine=toy_vllm)
    assert 0.30 <= metrics["accuracy"] <= 0.80, metrics
    assert metrics["prompts_all_right"] < 0.9 and metrics["prompts_all_wrong"] < 0.9, metrics
    assert metrics["well_formed"] >= 0.7 and metrics["general_without_think"] >= 0.8, metrics
    assert metrics["judge_parsed"] >= 0.8, metrics


def test_toy_prompts_are_seeded_and_drawn_apart_from_training():
    first, second = demo_prompts(50, 10, seed=3), demo_prompts(50, 10, seed=3)
    assert first == second and demo_prompts(50, 10, seed=4) != first
    trained = {c[0]["content"] for c in training_conversations(20_000, seed=1000)}
    overlap = sum(p["problem"] in trained for p in first[0])
    assert overlap < 25  # small problems can coincide by chance, but most demo prompts are new to the model


def test_toy_prompts_command(tmp_path):
    result = run_cli("toy", "prompts", "-o", tmp_path, "--reasoning", "5", "--general", "3")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (tmp_path / "reasoning.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and all(r["answer"].lstrip("-").isdigit() for r in rows)
    assert len((tmp_path / "general.jsonl").read_text().splitlines()) == 3


def test_demo_recipe_end_to_end_on_vllm(tmp_path):
    import datasets

    out = tmp_path / "run"
    overrides = [
        f"out={out}", "prompts.toy.reasoning=60", "prompts.toy.general=30", "generate.n=2", "generate.max_tokens=160",
    ]  # fmt: skip
    args = [arg for o in overrides for arg in ("--set", o)]
    result = run_cli("run", REPO / "recipes" / "demo.yaml", *args, env={"COLUMNS": "120"}, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SFT shards:" in result.stdout and "mix: reasoning" in result.stdout
    assert (
        f"report: {out / 'report.html'}" in result.stdout and 'data-chart="funnel"' in (out / "report.html").read_text()
    )
    mix = datasets.load_dataset(str(out / "sft"), split="train")
    categories = [row["category"] for row in mix]
    reasoning, general = categories.count("reasoning"), categories.count("general")
    assert general > 0 and reasoning == 3 * general
    shards = sorted((out / "arithmetic" / "filtered").glob("part-*.parquet"))
    kept = [row for shard in shards for row in pq.read_table(shard).to_pylist()]
    assert kept
    assert all(r["verdict"] == "pass" for r in kept)
    manifest = json.loads((out / "arithmetic" / "filtered" / ".datafactory/manifest.json").read_text())
    assert manifest["counts"]["verdicts"].get("wrong_answer", 0) > 0  # the toy model makes mistakes
    again = run_cli("run", REPO / "recipes" / "demo.yaml", *args, timeout=300)
    assert again.returncode == 0 and again.stderr.count("reuse (unchanged)") == 7, again.stderr
