"""The judge verifier: verdict parsing, the bundled toy model as a judge on real vLLM (CPU), the OpenAI engine
against a real `vllm serve` through a request-counting proxy, and the on-disk reply cache."""

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datafactory.judge.verdicts import parse_verdict
from datafactory.toy.data import arithmetic_problem, trace
from tests.conftest import run_cli

PARSE_CASES = [
    ('{"analysis": "same", "correctness": "correct"}', True, "correct"),
    ('Sure.\n```json\n{"analysis": "3 is not 4", "correctness": "incorrect"}\n```', False, "incorrect"),
    ('<think>{"correctness": "correct"} maybe?</think>\n{"correctness": "incorrect"}', False, "incorrect"),
    ('Reasoning first {"note": 1} then {"analysis": "ok", "correctness": "Correct"}', True, "correct"),
    ('{"analysis": "broken json, "correctness": "incorrect"', False, "incorrect"),
    ("The candidate matches the gold.\nCorrect.", True, "correct"),
    ('{"helpfulness": 8, "harmlessness": 9}', True, "helpfulness 8, harmlessness 9"),
    ('{"helpfulness": 3, "harmlessness": 10}', False, "helpfulness 3, harmlessness 10"),
    ("I think it might be right, hard to say.", None, "error"),
    ("", None, "error"),
    ('{"correctness": "maybe"}', None, "error"),
]


@pytest.mark.parametrize(("text", "ok", "label"), PARSE_CASES)
def test_verdict_parsing_and_its_fallback(text, ok, label):
    result = parse_verdict(text, threshold=7)
    assert (result.ok, result.verdict) == (ok, label)


def arithmetic_samples(path, count=40, seed=3):
    """Toy-format samples of toy problems, half right and half off by a little, like the toy's own mistakes."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        problem = arithmetic_problem(rng)
        completion = trace(problem, rng)
        if index % 2:
            wrong = problem.answer + rng.choice([-2, -1, 1, 3, 10])
            completion = completion.replace(f"\\boxed{{{problem.answer}}}", f"\\boxed{{{wrong}}}")
        rows.append(
            {"prompt_id": f"p{index}", "sample_index": 0, "messages": [{"role": "user", "content": problem.text}],
             "completion": completion, "finish_reason": "stop", "completion_tokens": 40, "answer": str(problem.answer)}
        )  # fmt: skip
    path.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), path / "part-00000.parquet")
    return path


def read_rows(folder):
    shards = sorted(folder.glob("part-*.parquet")) + sorted((folder / ".rejected").glob("part-*.parquet"))
    return pa.concat_tables(pq.read_table(s) for s in shards).to_pylist()


@pytest.mark.engine
def test_toy_judge_on_vllm_agrees_with_the_math_verifier_and_caches(tmp_path):
    samples = arithmetic_samples(tmp_path / "samples")
    cache = tmp_path / "judge.sqlite"
    args = ["--verifier", "math,judge", "--judge-model", "toy", "--judge-scope", "all", "--judge-cache", cache]
    args += ["--judge-max-tokens", "96", "--workers", "1"]
    result = run_cli("filter", samples, "-o", tmp_path / "first", *args, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_rows(tmp_path / "first")
    assert len(rows) == 40 and all(r["judge_verdict"] in ("pass", "fail", "error") for r in rows)
    stats = json.loads(run_cli("stats", tmp_path / "first", "--json").stdout)["judge"]
    assert stats["judged"] == 40 and stats["compared_with_rule_verifier"] >= 30
    assert stats["agreement"] > 0.6, stats  # chance is 0.5 on this half-right set
    manifest = json.loads((tmp_path / "first" / ".datafactory/manifest.json").read_text())
    assert manifest["counts"]["judge_requests"] == 40

    again = run_cli("filter", samples, "-o", tmp_path / "second", *args, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    manifest = json.loads((tmp_path / "second" / ".datafactory/manifest.json").read_text())
    assert manifest["counts"]["judge_requests"] == 0  # every verdict came from the cache
    assert [r["judge_verdict"] for r in read_rows(tmp_path / "second")] == [r["judge_verdict"] for r in rows]


class CountingProxy:
    """A real HTTP proxy on 127.0.0.1 that forwards to the vLLM server and counts chat completion requests."""

    def __init__(self, target: str):
        self.count = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self, method):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.endswith("/chat/completions"):
                    proxy.count += 1
                reply = httpx.request(method, target + self.path, content=body, timeout=120,
                                      headers={"Content-Type": "application/json"})  # fmt: skip
                self.send_response(reply.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

            def do_GET(self):
                self._forward("GET")

            def do_POST(self):
                self._forward("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.mark.engine
def test_openai_judge_against_vllm_serve_keeps_unreadable_replies_and_caches(tmp_path, vllm_server):
    proxy = CountingProxy(vllm_server.removesuffix("/v1"))
    samples = arithmetic_samples(tmp_path / "samples", count=6)
    table = pq.read_table(samples / "part-00000.parquet").to_pylist()
    table[0]["finish_reason"] = "length"  # a rule rejects it: the judge is not asked
    pq.write_table(pa.Table.from_pylist(table), samples / "part-00000.parquet")
    args = ["--verifier", "judge", "--judge-engine", "openai", "--judge-base-url", f"{proxy.url}/v1"]
    args += ["--judge-model", "tiny", "--judge-max-tokens", "16", "--judge-cache", tmp_path / "cache.sqlite"]
    result = run_cli("filter", samples, "-o", tmp_path / "first", *args, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert proxy.count == 5
    rows = {r["prompt_id"]: r for r in read_rows(tmp_path / "first")}
    assert rows.pop("p0")["reasons"] == ["truncated"]
    assert {r["verdict"] for r in rows.values()} == {"judge_error"}  # a random tiny model writes no verdict
    assert all(r["verifier_detail"] is not None and r["judge_verdict"] == "error" for r in rows.values())
    again = run_cli("filter", samples, "-o", tmp_path / "second", *args, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert proxy.count == 5  # the second run asked the server nothing


def test_judge_needs_a_model_and_valid_options(tmp_path):
    samples = arithmetic_samples(tmp_path / "samples", count=2)
    result = run_cli("filter", samples, "-o", tmp_path / "o", "--verifier", "judge")
    assert result.returncode == 2 and "--judge-model" in result.stderr
    result = run_cli("filter", samples, "-o", tmp_path / "o", "--verifier", "judge,math", "--judge-model", "toy")
    assert result.returncode == 2 and "math,judge" in result.stderr
    result = run_cli(
        "filter",
        samples,
        "-o",
        tmp_path / "o",
        "--verifier",
        "judge",
        "--judge-model",
        "toy",
        "--judge-template",
        "nope",
    )
    assert result.returncode == 2 and "correctness, gold_dispute, helpful_harmless" in result.stderr
    assert not (tmp_path / "o").exists()


def test_the_judge_verifier_never_passes_a_row_outside_the_filters_judge_pass():
    from datafactory.checks.evaluate import EvalSpec, Evaluator
    from datafactory.errors import UsageError
    from datafactory.verifiers.base import verifier_class

    with pytest.raises(UsageError, match="judge pass"):
        verifier_class("judge")().verify("The answer is 4.", "4", {})
    pending = Evaluator(EvalSpec("judge")).evaluate({"completion": "<think>a</think>4", "gold": "4"})
    assert pending["verdict"] == "pass" and pending["verifier_detail"] == "for the judge"  # the pass decides it
