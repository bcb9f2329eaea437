"""The openai engine's retries and key handling, against a scripted HTTP server on 127.0.0.1.

The scripted server is a stand-in for a flaky hosted API (rate limits, 5xx, dropped connections), which a real
`vllm serve` cannot be made to produce on demand. It speaks the same wire format over real sockets.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli, write_jsonl

SECRET = "sk-test-do-not-log-1234"


class FlakyAPI(BaseHTTPRequestHandler):
    attempts: dict = {}
    auth: set = set()
    fail_with: int | None = None
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def _send(self, status, payload, headers=None):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, text: str, cut: bool):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        pieces = [text[i : i + 2] for i in range(0, len(text), 2)]
        for piece in pieces[:1] if cut else pieces:
            chunk = {"choices": [{"delta": {"content": piece}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        if not cut:
            end = {"choices": [{"delta": {}, "finish_reason": "stop"}]}
            usage = {"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 3}}
            self.wfile.write(f"data: {json.dumps(end)}\n\ndata: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
        self.wfile.flush()
        self.close_connection = True

    def do_GET(self):
        self.auth.add(self.headers.get("Authorization"))
        self._send(200, {"data": [{"id": "flaky"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.auth.add(self.headers.get("Authorization"))
        if self.fail_with:
            return self._send(self.fail_with, {"error": {"message": "bad request from test"}})
        key = (body["messages"][-1]["content"], body["seed"])
        with self.lock:
            attempt = self.attempts[key] = self.attempts.get(key, 0) + 1
        if attempt == 1:
            return self._send(429, {"error": "slow down"}, {"Retry-After": "0"})
        if attempt == 2:
            return self._send(503, {"error": "overloaded"})
        if attempt == 3:
            self.connection.close()  # drop the connection without an answer
            return None
        if body.get("stream"):  # a watched sample: the answer streamed, cut short once, then whole
            return self._stream(f"seed {body['seed']}", cut=attempt == 4)
        self._send(
            200,
            {
                "choices": [
                    {"message": {"role": "assistant", "content": f"seed {body['seed']}"}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 3},
            },
        )


@pytest.fixture
def flaky_api():
    FlakyAPI.attempts, FlakyAPI.auth, FlakyAPI.fail_with = {}, set(), None
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


@pytest.mark.parametrize(("watched", "tries"), [("--stop-doomed", 5), ("--no-stop-doomed", 4)])
def test_retries_through_429_503_and_dropped_connections_and_never_logs_the_key(tmp_path, flaky_api, watched, tries):
    """Plain requests, and streamed ones (watched samples), whose stream is also cut short once: a cut answer is
    drawn again, never written as if finished."""
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"prompt": f"q{i}"} for i in range(3)])
    out = tmp_path / "out"
    result = run_cli(
        "generate", prompts, "-o", out, "-m", "flaky", "--engine", "openai", "--base-url", flaky_api,
        "--api-key-env", "FLAKY_KEY", "-n", "2", watched, env={"FLAKY_KEY": SECRET},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = pq.read_table(out / "part-00000.parquet").to_pylist()
    assert len(rows) == 6 and all(r["completion"] == f"seed {json.loads(r['sampling'])['request_seed']}" for r in rows)
    assert all(r["completion_tokens"] == 3 and r["prompt_tokens"] == 11 for r in rows)
    assert all(r["finish_reason"] == "stop" for r in rows)
    assert sorted(FlakyAPI.attempts.values()) == [tries] * 6
    assert FlakyAPI.auth == {f"Bearer {SECRET}"}
    for text in (result.stdout, result.stderr, (out / ".datafactory/manifest.json").read_text()):
        assert SECRET not in text


def test_a_client_error_fails_at_once_with_the_servers_message(tmp_path, flaky_api):
    FlakyAPI.fail_with = 400
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "q"}])
    result = run_cli(
        "generate", prompts, "-o", tmp_path / "out", "-m", "flaky", "--engine", "openai", "--base-url", flaky_api
    )
    assert result.returncode == 1
    assert "HTTP 400" in result.stderr and "bad request from test" in result.stderr
    assert not list((tmp_path / "out").glob("part-*"))
