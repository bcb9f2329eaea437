"""Measure the toy reasoner on held-out synthetic prompts and write its model card.

Why measured, not claimed: the demo's funnel only means something if the model is wrong and unreadable at
known rates. Accuracy uses the same math verifier and rules as `datafactory filter`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from datafactory.engines.base import EngineOptions, Request, Sampling
from datafactory.rules import RuleConfig
from datafactory.rules.checks import language_mixed, repetition
from datafactory.toy.data import arithmetic_problem, demo_prompts, general_prompt, judge_candidate, judge_prompt
from datafactory.trace import boxed_contents, parse_trace
from datafactory.verifiers.math import MathVerifier

HELD_OUT_SEED = 9999


def _sample(engine, prompts: list[str], n: int, temperature: float, max_tokens: int, seed: int) -> list[list]:
    requests = [Request([{"role": "user", "content": p}], n, seed + i) for i, p in enumerate(prompts)]
    return engine.generate(
        requests, Sampling(n=n, temperature=temperature, top_p=1.0, max_tokens=max_tokens, seed=seed)
    )


def evaluate(
    model: str | Path, problems: int = 100, n: int = 4, temperature: float = 0.8, seed: int = 0, engine=None
) -> dict:
    """Shares over sampled answers: right, well formed, language-mixed, repetitive; general replies without a
    think block; judge verdicts that parse and are right."""
    if engine is None:
        from datafactory.engines.vllm_engine import VLLMEngine

        engine = VLLMEngine(EngineOptions(model=str(model), dtype="float32"), seed=seed)
    arithmetic, _ = demo_prompts(problems, 0, seed=HELD_OUT_SEED)
    chat_rng = random.Random(f"general-{HELD_OUT_SEED}")
    chat = [{"prompt": general_prompt(chat_rng)[0]} for _ in range(50)]  # the phrasings it was trained on
    verifier, config = MathVerifier(), RuleConfig()
    outputs = _sample(engine, [a["problem"] for a in arithmetic], n, temperature, 256, seed)
    right = formed = mixed = looping = total = 0
    per_prompt = []
    for item, samples in zip(arithmetic, outputs, strict=True):
        passes = 0
        for sample in samples:
            trace = parse_trace(sample.text)
            ok = verifier.verify(trace.response, item["answer"], {}).ok
            passes += ok
            right += ok
            formed += trace.well_formed and bool(boxed_contents(trace.response))
            mixed += language_mixed(trace, {"completion": sample.text}, config, {}) is not None
            looping += repetition(trace, {"completion": sample.text}, config, {}) is not None
            total += 1
        per_prompt.append(passes / len(samples))
    general = _sample(engine, [c["prompt"] for c in chat], 1, temperature, 64, seed)
    no_think = sum("<think>" not in s[0].text for s in general) / len(general)
    rng = random.Random(HELD_OUT_SEED)
    judged = []
    for _ in range(200):
        problem = arithmetic_problem(rng)
        candidate = judge_candidate(problem, rng)
        judged.append((judge_prompt(problem, candidate), candidate == problem.answer))
    verdicts = _sample(engine, [p for p, _ in judged], 1, temperature, 96, seed)
    parsed = correct = 0
    for (_, truth), samples in zip(judged, verdicts, strict=True):
        try:
            verdict = json.loads(samples[0].text)["correctness"]
        except (ValueError, KeyError, TypeError):
            continue
        parsed += 1
        correct += (verdict == "correct") == truth
    return {
        "accuracy": right / total,
        "well_formed": formed / total,
        "language_mixed": mixed / total,
        "repetition": looping / total,
        "prompts_all_right": sum(r == 1 for r in per_prompt) / len(per_prompt),
        "prompts_all_wrong": sum(r == 0 for r in per_prompt) / len(per_prompt),
        "general_without_think": no_think,
        "judge_parsed": parsed / len(judged),
        "judge_right": correct / len(judged),
        "samples": total,
        "temperature": temperature,
    }


CARD = """# toy-reasoner

A ~1M-parameter Qwen2 (d_model 128, 4 layers, 4 heads, 2 KV heads, FFN 512, tied embeddings) with a byte-level
BPE tokenizer (single-digit tokens) and a ChatML template, trained by `scripts/train_toy_reasoner.py`
({steps} steps of {batch} sequences, seed {seed}, CPU) on synthetic data from `datafactory.toy.data`. It ships with
datafactory so that the whole pipeline runs anywhere (`-m toy`).

**What it is:** a stand-in that answers small arithmetic problems R1-style (`<think>` steps `</think>` then a
`\\boxed{{}}` answer), replies to greetings and simple questions without a think block, and, given the judge
verifier's built-in `correctness` prompt, grades a candidate answer against the gold one with a small JSON verdict
(`{{"analysis": "Candidate 124, gold 123: 1=1 2=2 4≠3.", "correctness": "incorrect"}}`: it copies both numbers
and compares them digit by digit before deciding, which a model this small cannot do at a glance). A share of
its training traces was deliberately flawed (malformed think blocks, missing boxes, a step in Chinese or French,
looping steps), so it makes those mistakes too.

**What it is not:** a language model for any real use. It knows nothing beyond its synthetic data.

Measured by `datafactory.toy.evaluate` on {problems} held-out problems, {n} samples each at temperature
{temperature} with vLLM (CPU):

| measure | value |
| --- | --- |
| right answers (math verifier) | {accuracy:.1%} |
| well formed (one think block and a boxed answer) | {well_formed:.1%} |
| reasoning with mixed languages (language_mixed rule) | {language_mixed:.1%} |
| repetitive (repetition rule) | {repetition:.1%} |
| prompts with every sample right / every sample wrong | {prompts_all_right:.1%} / {prompts_all_wrong:.1%} |
| general prompts (training phrasings) answered without a think block | {general_without_think:.1%} |
| judge verdicts that parse as JSON / that are right (200 prompts, half right) | {judge_parsed:.1%} / {judge_right:.1%} |
"""


def evaluate_and_write_card(
    path: str | Path, steps: int, seed: int, batch: int = 32, problems: int = 100, n: int = 4
) -> dict:
    metrics = evaluate(path, problems=problems, n=n, seed=seed)
    text = CARD.format(steps=steps, batch=batch, seed=seed, problems=problems, n=n, **metrics)
    Path(path, "README.md").write_text(text)
    Path(path, "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))
    return metrics
