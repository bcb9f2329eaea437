"""Any OpenAI-compatible chat server (`vllm serve`, SGLang, hosted APIs), with bounded concurrency and retries.

Why one request per sample: `n > 1` is not supported everywhere, and a per-sample seed keeps each
(prompt_id, sample_index) reproducible on servers that honour `seed`. generate streams samples: a bounded pool of
requests (`--concurrency`) is kept in flight on an event loop in a background thread, and a new one starts as
soon as one ends. `--engine-option NAME=VALUE` adds fields to every request body (top_k, min_p, …). Retries back off exponentially with
jitter on 429, 5xx, timeouts and dropped connections; the API key is read from the environment and never logged.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import random
import threading
from urllib.parse import urlsplit

import httpx

from datafactory.engines.base import Completion, Engine, EngineOptions, Request, Sampling, Ticket
from datafactory.errors import EngineError, OptionError, UsageError
from datafactory.shapes import reasoning_of, with_reasoning

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0


def _context_exceeded(text: str) -> bool:
    lowered = text.lower()
    return "context_length_exceeded" in lowered or "maximum context length" in lowered or "context length" in lowered


def normalise_base_url(url: str) -> str:
    url = url.rstrip("/")
    return url + "/v1" if urlsplit(url).path in ("", "/") else url


def completion_text(message: dict) -> str:
    """The completion as the model wrote it: servers started with a reasoning parser return the trace apart from
    the answer, and dropping it would lose every reasoning trace (shapes.with_reasoning rebuilds it as R1 writes it)."""
    return with_reasoning(reasoning_of(message), message.get("content"))


class OpenAIEngine(Engine):
    name = "openai"

    def __init__(self, options: EngineOptions, seed: int = 0):
        super().__init__(options)
        self.base_url, self.headers = self.connection(options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._limit: asyncio.Semaphore | None = None
        self._futures: dict[concurrent.futures.Future, tuple[str, int]] = {}

    @classmethod
    def check_options(cls, extra: dict) -> None:
        """Any name is a request-body field for the server; only the ones generate sets itself are refused."""
        taken = sorted(set(extra) & {"model", "messages", "temperature", "top_p", "max_tokens", "seed", "n"})
        if taken:
            raise UsageError(f"--engine-option {taken[0]}: generate sets it itself (use its own option)")

    @classmethod
    def check_reachable(cls, options: EngineOptions, prefix: str = "") -> None:
        cls.connection(options, prefix)

    @staticmethod
    def connection(options: EngineOptions, prefix: str = "") -> tuple[str, dict]:
        """The server's URL and request headers, once the server has answered and said it serves the model; fails
        fast, with exit 2, otherwise. Errors are about `prefix` + the option, so a recipe names its key."""
        flag = "--" + (prefix + "base_url").replace("_", "-")
        if not options.base_url:
            raise OptionError(prefix + "base_url", f"--engine openai needs {flag} (e.g. http://127.0.0.1:8000/v1)")
        base_url = normalise_base_url(options.base_url)
        headers = {"Content-Type": "application/json"}
        if options.api_key_env:
            key = os.environ.get(options.api_key_env)
            if not key:
                raise OptionError(
                    prefix + "api_key_env",
                    f"--{(prefix + 'api-key-env').replace('_', '-')} {options.api_key_env}: that environment "
                    "variable is not set",
                )
            headers["Authorization"] = f"Bearer {key}"
        try:
            response = httpx.get(f"{base_url}/models", headers=headers, timeout=httpx.Timeout(10.0, connect=3.0))
        except httpx.HTTPError as err:
            port = urlsplit(base_url).port or 8000
            raise OptionError(
                prefix + "base_url",
                f"server {base_url} does not answer ({type(err).__name__}: {err}); start it (e.g. vllm serve "
                f"{options.model} --port {port}) or give the URL of one that runs",
            ) from None
        if response.status_code in (401, 403):
            raise OptionError(
                prefix + "api_key_env", f"server {base_url} refused the credentials (HTTP {response.status_code})"
            )
        try:
            served = [m.get("id") for m in response.json().get("data", [])] if response.status_code == 200 else []
        except (ValueError, AttributeError):
            served = []  # some servers have no /models; the first request will tell
        if served and options.model not in served:
            raise OptionError(
                prefix + "model",
                f"server {base_url} does not serve model {options.model!r}; it serves: {', '.join(served)}",
            )
        return base_url, headers

    def generate(self, requests: list[Request], sampling: Sampling) -> list[list[Completion]]:
        return asyncio.run(self._generate(requests, sampling))

    # The stream of single samples: at most --concurrency requests at the server, the rest wait their turn.
    def _start_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            threading.Thread(target=self._loop.run_forever, name="openai-stream", daemon=True).start()

            async def setup() -> None:
                timeout = httpx.Timeout(self.options.request_timeout, connect=10.0)
                pool = httpx.Limits(max_connections=max(1, self.options.concurrency))
                self._client = httpx.AsyncClient(headers=self.headers, timeout=timeout, limits=pool)
                self._limit = asyncio.Semaphore(max(1, self.options.concurrency))

            asyncio.run_coroutine_threadsafe(setup(), self._loop).result()
        return self._loop

    def submit(self, tickets: list[Ticket], sampling: Sampling) -> None:
        loop = self._start_loop()
        for ticket in tickets:
            for offset, key in enumerate(ticket.sample_keys()):
                seed = ticket.seed + offset
                if self.watch is None:
                    work = self._one_sample(self._client, self._limit, ticket.messages, sampling, seed)
                else:  # streamed, so that a doomed sample is stopped by closing its connection
                    work = self._watched_sample(key, ticket.messages, sampling, seed)
                self._futures[asyncio.run_coroutine_threadsafe(work, loop)] = key

    def collect(self) -> list[tuple[tuple[str, int], Completion]]:
        if not self._futures:
            return []
        done, _ = concurrent.futures.wait(list(self._futures), timeout=0.5, return_when="FIRST_COMPLETED")
        return [(self._futures.pop(future), future.result()) for future in done]

    def cancel(self, keys: list[tuple[str, int]]) -> None:
        dropped = set(keys)
        for future, key in list(self._futures.items()):
            if key in dropped:
                future.cancel()
                del self._futures[future]

    @property
    def in_flight(self) -> int:
        return len(self._futures)

    def stream_capacity(self) -> int:
        return max(1, self.options.concurrency)

    def close(self) -> None:
        if self._loop is None:
            return
        for future in self._futures:
            future.cancel()
        if self._client is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop = None

    async def _generate(self, requests: list[Request], sampling: Sampling) -> list[list[Completion]]:
        limit = asyncio.Semaphore(max(1, self.options.concurrency))
        timeout = httpx.Timeout(self.options.request_timeout, connect=10.0)
        pool = httpx.Limits(max_connections=max(1, self.options.concurrency))
        async with httpx.AsyncClient(headers=self.headers, timeout=timeout, limits=pool) as client:
            tasks = [
                [
                    asyncio.create_task(self._sample(client, limit, request, sampling, index))
                    for index in range(request.n)
                ]
                for request in requests
            ]
            for group in tasks:  # a prompt is done when its last sample is
                remaining = [len(group)]

                def one_done(_task, remaining=remaining):
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        self._prompt_done()

                for task in group:
                    task.add_done_callback(one_done)
            try:
                return [[await task for task in group] for group in tasks]
            finally:
                for group in tasks:
                    for task in group:
                        task.cancel()

    async def _sample(self, client, limit, request: Request, sampling: Sampling, index: int) -> Completion:
        return await self._one_sample(client, limit, request.messages, sampling, request.seed + index)

    def _body(self, messages: list[dict], sampling: Sampling, seed: int) -> dict:
        return {
            **self.options.extra,
            "model": self.options.model,
            "messages": messages,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "seed": seed,
            "n": 1,
        }

    async def _one_sample(self, client, limit, messages: list[dict], sampling: Sampling, seed: int) -> Completion:
        """One sample asked for whole (the server's JSON answer, read as one chunk)."""
        stream = _Stream()
        async with limit, contextlib.aclosing(self._answers(client, self._body(messages, sampling, seed))) as chunks:
            async for chunk in chunks:
                stream.add(chunk)
        return stream.completion()

    async def _watched_sample(self, key, messages: list[dict], sampling: Sampling, seed: int) -> Completion:
        """One sample streamed (`stream: true`): the watch sees its text as it is written, and a sample it finds
        doomed is stopped by closing the connection (vLLM aborts a request whose client went away). Tokens are
        counted as the chunks that carry text (at most the tokens written) until the server's own count comes."""
        body = {
            **self._body(messages, sampling, seed),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        watch, stream = self.watch, _Stream()
        async with self._limit, contextlib.aclosing(self._answers(self._client, body)) as chunks:  # closed at once
            try:
                async for chunk in chunks:
                    if chunk.get("restart"):  # the connection broke mid-sample: it is drawn again from the start
                        watch.drop(key)
                        stream = _Stream()
                        continue
                    stream.add(chunk)
                    text = stream.text()
                    if text == stream.fed or not text.startswith(stream.fed):
                        continue
                    reason = watch.feed(key, text[len(stream.fed) :], stream.tokens)
                    stream.fed = text
                    if reason is not None:
                        return Completion(text, "abort", stream.prompt_tokens, stream.tokens, reason)
            finally:
                watch.drop(key)
        return stream.completion()

    async def _answers(self, client: httpx.AsyncClient, body: dict):
        """What the server answers one request: the chunks of a streamed answer, or a whole answer as one chunk
        (also from a server that ignores `stream: true`); `{"prompt_too_long": True}` when the prompt does not fit
        the model's context. Retried with backoff on 429, 5xx, timeouts and dropped connections; a stream broken
        after its first chunk is drawn again from the start (`{"restart": True}` first)."""
        url = f"{self.base_url}/chat/completions"
        started = False
        for attempt in range(self.options.max_retries + 1):
            last = attempt == self.options.max_retries
            try:
                if started:
                    yield {"restart": True}
                    started = False
                async with client.stream("POST", url, json=body) as response:
                    if response.status_code != 200:
                        text = (await response.aread()).decode(errors="replace")
                        if response.status_code == 400 and _context_exceeded(text):
                            yield {"prompt_too_long": True}
                            return
                        if response.status_code in RETRY_STATUS and not last:
                            await asyncio.sleep(self._backoff(attempt, response.headers.get("retry-after")))
                            continue
                        raise EngineError(
                            f"server {self.base_url} answered HTTP {response.status_code} after {attempt + 1} tries: "
                            f"{text[:300]}"
                        )
                    if response.headers.get("content-type", "").startswith("application/json"):
                        yield self._whole(json.loads(await response.aread()))
                        return
                    finished = False
                    async for line in response.aiter_lines():
                        if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
                            chunk = json.loads(line[5:])
                            if "error" in chunk:
                                raise EngineError(f"server {self.base_url} sent an error mid-answer: {chunk['error']}")
                            started = True
                            finished = finished or any(c.get("finish_reason") for c in chunk.get("choices") or [])
                            yield chunk
                    if not finished:  # a cut answer is not a finished one: draw it again
                        raise httpx.RemoteProtocolError("the stream ended before the answer did")
                    return
            except (httpx.TimeoutException, httpx.TransportError) as err:
                if last:
                    raise EngineError(
                        f"server {self.base_url}: {type(err).__name__} after {attempt + 1} tries"
                    ) from None
                await asyncio.sleep(self._backoff(attempt, None))

    def _whole(self, data) -> dict:
        """A whole answer as one chunk."""
        try:
            choice = data["choices"][0]
            return {"whole": choice["message"], "finish_reason": choice.get("finish_reason") or "stop",
                    "usage": data.get("usage") or {}}  # fmt: skip
        except (KeyError, IndexError, TypeError, AttributeError) as err:
            raise EngineError(
                f"server {self.base_url} sent an unexpected response ({err}): {str(data)[:200]}"
            ) from None

    @staticmethod
    def _backoff(attempt: int, retry_after: str | None) -> float:
        """Full-jitter exponential backoff, at least what the server's Retry-After asks for."""
        delay = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
        if retry_after:
            with contextlib.suppress(ValueError):
                delay = max(delay, min(BACKOFF_CAP, float(retry_after)))
        return delay


class _Stream:
    """A streamed sample so far: its reasoning and content deltas, the chunks that carried text, the end."""

    def __init__(self):
        self.reasoning: list[str] = []
        self.content: list[str] | None = None  # None until the answer starts (the think block is still open)
        self.tokens = self.prompt_tokens = 0
        self.finish_reason: str | None = None
        self.too_long = False
        self.fed = ""  # what the watch has seen
        self.whole: str | None = None  # an answer that came in one piece

    def add(self, chunk: dict) -> None:
        if chunk.get("prompt_too_long"):
            self.too_long = True
            return
        if "whole" in chunk:  # the answer in one piece: the server's own counts
            message, usage = chunk["whole"], chunk["usage"]
            self.whole = completion_text(message)
            self.finish_reason = chunk["finish_reason"]
            self.prompt_tokens = int(usage.get("prompt_tokens") or 0)
            self.tokens = int(usage.get("completion_tokens") or 0)
            return
        usage = chunk.get("usage") or {}
        if usage:
            self.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            piece = reasoning_of(delta)
            if piece:
                self.reasoning.append(piece)
            if isinstance(delta.get("content"), str) and delta["content"]:
                self.content = [*(self.content or []), delta["content"]]
            self.tokens += bool(piece or delta.get("content"))
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
        if usage.get("completion_tokens") is not None and self.finish_reason:
            self.tokens = int(usage["completion_tokens"])

    def completion(self) -> Completion:
        if self.too_long:
            return Completion("", "prompt_too_long", 0, 0)
        return Completion(self.text(), self.finish_reason or "stop", self.prompt_tokens, self.tokens)

    def text(self) -> str:
        """The completion as the final row will hold it (shapes.with_reasoning): each text grows the one before."""
        if self.whole is not None:
            return self.whole
        content = None if self.content is None else "".join(self.content)
        return with_reasoning("".join(self.reasoning), content)
