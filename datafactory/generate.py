"""The generate stage: prompts in, n sampled completions per prompt out, as resumable sample shards.

Why two passes over the input: the first validates every row (so bad input writes nothing) and fixes the
pass-through schema; the second streams prompts to the engine chunk by chunk. A prompt's samples always land in
the same shard, so after a crash the finished prompts are exactly those found in complete shards.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path

import pyarrow.parquet as pq

from datafactory.engine_logs import engine_output, say
from datafactory.engines.base import Engine, EngineOptions, Request, Sampling, engine_class
from datafactory.engines.local_model import resolve_model
from datafactory.errors import DataFactoryError, UsageError
from datafactory.interrupts import check as check_stop
from datafactory.interrupts import stop_requested
from datafactory.io.outdir import OutputDir
from datafactory.io.readers import expand_inputs, iter_chunks
from datafactory.io.writer import ShardWriter
from datafactory.progress import StageProgress
from datafactory.prompts import Prompt, PromptBuilder, check_field_names
from datafactory.scale.runtime import check_executor
from datafactory.schema import PassthroughTypes, samples_schema
from datafactory.seeds import derive_seed

RESUME_KEYS = [
    "inputs", "model", "engine", "n", "temperature", "top_p", "max_tokens", "seed", "system",
    "prompt_field", "id_field",
]  # fmt: skip
LOCAL_ENGINES = {"vllm", "transformers"}


@dataclass
class GenerateConfig:
    inputs: list[str]
    out: str
    model: str
    engine: str = "vllm"
    n: int = 4
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 4096
    seed: int = 0
    system: str | None = None
    prompt_field: str | None = None
    id_field: str | None = None
    limit: int | None = None
    shard_rows: int = 10_000
    chunk_prompts: int | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    concurrency: int = 16
    overwrite: bool = False
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float | None = None
    max_model_len: int | None = None
    kv_cache_gb: float | None = None
    dtype: str = "auto"
    engine_extra: dict = field(default_factory=dict)
    executor: str = "local"
    ray_address: str | None = None
    replicas: int = 1
    verbose: bool = False  # the engine's own output on the terminal instead of OUT/engine.log

    def sampling(self) -> Sampling:
        return Sampling(self.n, self.temperature, self.top_p, self.max_tokens, self.seed)

    def engine_options(self) -> EngineOptions:
        return EngineOptions(
            model=self.model,
            base_url=self.base_url,
            api_key_env=self.api_key_env,
            concurrency=self.concurrency,
            tensor_parallel_size=self.tensor_parallel_size,
            gpu_memory_utilization=self.gpu_memory_utilization,
            max_model_len=self.max_model_len,
            kv_cache_gb=self.kv_cache_gb,
            dtype=self.dtype,
            extra=self.engine_extra,
        )

    def validate(self) -> None:
        checks = [
            (self.n >= 1, "-n must be at least 1"),
            (self.temperature >= 0, "--temperature must be >= 0"),
            (0 < self.top_p <= 1, "--top-p must be in (0, 1]"),
            (self.max_tokens >= 1, "--max-tokens must be at least 1"),
            (self.shard_rows >= 1, "--shard-rows must be at least 1"),
            (self.limit is None or self.limit >= 1, "--limit must be at least 1"),
            (self.concurrency >= 1, "--concurrency must be at least 1"),
            (self.chunk_prompts is None or self.chunk_prompts >= 1, "--chunk-prompts must be at least 1"),
            (self.replicas >= 1, "--replicas must be at least 1"),
            (self.replicas == 1 or self.executor == "ray", "--replicas above 1 needs --executor ray"),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(message)
        check_field_names(self.prompt_field, self.id_field)
        check_executor(self.executor)


@dataclass
class PromptScan:
    prompts: int
    rows: int
    duplicates: int
    passthrough: PassthroughTypes


def _builder(config: GenerateConfig) -> PromptBuilder:
    return PromptBuilder(config.prompt_field, config.id_field, config.system)


def iter_prompts(files: list[Path], config: GenerateConfig, builder: PromptBuilder) -> Iterator[Prompt]:
    """Unique prompts in input order, up to --limit."""
    produced = 0
    for chunk in iter_chunks(files):
        for row in chunk.rows:
            prompt = builder.build(row, chunk.path)
            if prompt is None:
                continue
            yield prompt
            produced += 1
            if config.limit is not None and produced >= config.limit:
                return


def scan_prompts(files: list[Path], config: GenerateConfig) -> PromptScan:
    """Validate every row that will be used and infer the pass-through column types."""
    builder = _builder(config)
    passthrough = PassthroughTypes()
    prompts = rows = 0
    pending: list[dict] = []
    for prompt in iter_prompts(files, config, builder):
        prompts += 1
        pending.append(prompt.row)
        if len(pending) >= 1000:
            passthrough.observe(pending, skip=builder.consumed_fields(pending[0]))
            pending = []
    if pending:
        passthrough.observe(pending, skip=builder.consumed_fields(pending[0]))
    rows = prompts + builder.duplicates
    return PromptScan(prompts, rows, builder.duplicates, passthrough)


def finished_prompts(outdir: OutputDir, n: int) -> set[str]:
    """prompt_ids whose n samples are all in complete shards."""
    counts: dict[str, int] = {}
    for shard in outdir.shards():
        table = pq.read_table(shard, columns=["prompt_id"])
        for prompt_id in table.column("prompt_id").to_pylist():
            counts[prompt_id] = counts.get(prompt_id, 0) + 1
    partial = [pid for pid, count in counts.items() if count != n]
    if partial:
        raise DataFactoryError(f"{outdir.path}: prompt {partial[0]!r} has {counts[partial[0]]} samples, expected {n}")
    return set(counts)


def _next_shard_index(outdir: OutputDir) -> int:
    shards = outdir.shards()
    return int(shards[-1].stem.split("-")[1]) + 1 if shards else 0


def sample_rows(
    prompt: Prompt, completions, engine, sampling_json: dict, passthrough: PassthroughTypes, seed: int
) -> list[dict]:
    extra = passthrough.values(prompt.row)
    sampling_text = json.dumps({**sampling_json, "request_seed": seed}, sort_keys=True)
    return [
        {
            "prompt_id": prompt.prompt_id,
            "sample_index": index,
            "messages": prompt.messages,
            "completion": completion.text,
            "finish_reason": completion.finish_reason,
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "model": engine.model_name,
            "engine": engine.name,
            "sampling": sampling_text,
            **extra,
        }
        for index, completion in enumerate(completions)
    ]


def _sample_all(config, files, scan, done: set[str], todo: int, engine: Engine, outdir: OutputDir) -> tuple[int, int]:
    """Send the prompts not yet done to the engine chunk by chunk; shards as prompts finish. (samples, tokens)"""
    sampling = config.sampling()
    schema = samples_schema(scan.passthrough)
    writer = ShardWriter(outdir.path, schema, config.shard_rows, _next_shard_index(outdir))
    chunk_size = config.chunk_prompts or max(1, config.shard_rows // config.n)
    pending = (p for p in iter_prompts(files, config, _builder(config)) if p.prompt_id not in done)
    started = time.monotonic()
    written = tokens = 0
    with StageProgress("generate", todo, unit="prompts") as progress:
        finished = [0]

        def one_prompt_done() -> None:  # the engine's own signal, per finished request
            finished[0] += 1
            progress.advance(1)
            check_stop()

        engine.on_prompt_done = one_prompt_done
        while chunk := list(islice(pending, chunk_size)):
            check_stop()
            finished[0] = 0
            seeds = [derive_seed(config.seed, p.prompt_id) for p in chunk]
            requests = [Request(p.messages, config.n, s) for p, s in zip(chunk, seeds, strict=True)]
            results = engine.generate(requests, sampling)
            for prompt, completions, seed in zip(chunk, results, seeds, strict=True):
                rows = sample_rows(prompt, completions, engine, sampling.to_dict(), scan.passthrough, seed)
                writer.add_group(rows)
                written += len(rows)
                tokens += sum(c.completion_tokens for c in completions)
            rate = tokens / max(1e-9, time.monotonic() - started)
            progress.advance(max(0, len(chunk) - finished[0]), samples=str(written), tok_s=f"{rate:,.0f}")
        engine.on_prompt_done = None
    writer.close()
    return written, tokens


def _arguments(config: GenerateConfig) -> dict:
    arguments = asdict(config)
    arguments["inputs"] = [str(p) for p in config.inputs]
    return arguments


def start_engine(config: GenerateConfig, log: Path | None = None) -> Engine:
    """The configured engine, or `--replicas` of it on Ray (`--executor ray`), saying what it starts and when it
    is ready (its own output goes to `log` when given)."""
    where = f" (its output: {log})" if log else ""
    say(f"starting {config.engine} for {config.model}{where} ...")
    started = time.monotonic()
    if config.executor == "ray":
        from datafactory.scale.ray_generate import RayReplicaEngine

        engine = RayReplicaEngine(
            config.engine, config.engine_options(), config.seed, config.replicas, config.ray_address
        )
    else:
        engine = engine_class(config.engine)(config.engine_options(), seed=config.seed)
    if stop_requested():  # a signal during start-up that the engine's own code swallowed
        engine.close()
        check_stop()
    say(f"{config.engine} ready on {engine.describe()} in {time.monotonic() - started:.0f} s")
    return engine


def check_generate(config: GenerateConfig) -> tuple[list[Path], PromptScan]:
    """Everything that can fail before an engine starts: options, inputs, every row, the engine and model names."""
    config.validate()
    files = expand_inputs(config.inputs)
    engine_class(config.engine)  # an unknown engine fails before any work
    if config.engine in LOCAL_ENGINES:
        resolve_model(config.model)
    return files, scan_prompts(files, config)


def run_generate(
    config: GenerateConfig, engine: Engine | None = None, checked: tuple[list[Path], PromptScan] | None = None
) -> dict:
    """Run the stage and return its manifest. A started `engine` may be passed in (and is then left open), with
    the `check_generate` result it was started after."""
    files, scan = checked or check_generate(config)
    outdir = OutputDir(config.out, "generate")
    arguments = _arguments(config)
    outdir.check(arguments, config.overwrite, files, RESUME_KEYS)
    done = set() if config.overwrite else finished_prompts(outdir, config.n)
    todo = scan.prompts - len(done)
    written = tokens = 0
    owned = engine is None and todo > 0
    noisy = owned and config.engine in LOCAL_ENGINES  # a server's client prints nothing of its own
    with engine_output(config.out if noisy else None, config.verbose) as log:
        if owned:
            engine = start_engine(config, log)
        outdir.prepare(arguments)
        if todo > 0:
            try:
                written, tokens = _sample_all(config, files, scan, done, todo, engine, outdir)
            finally:
                if owned:
                    engine.close()
    total_rows = sum(pq.ParquetFile(s).metadata.num_rows for s in outdir.shards())
    counts = {
        "rows_in": scan.rows,
        "prompts": scan.prompts,
        "duplicate_prompts_skipped": scan.duplicates,
        "prompts_already_done": len(done),
        "samples_written_now": written,
        "completion_tokens_now": tokens,
        "rows_out": total_rows,
    }
    return outdir.finish(arguments, files, counts, passthrough=scan.passthrough.to_json())
