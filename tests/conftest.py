"""Shared fixtures: a real tiny model built on the spot, a real `vllm serve` on 127.0.0.1, and CLI helpers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real benchmark data not found at {SHARED_DATA} (a user's clone has no ../shared/data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from datafactory.toy.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


ISOLATED_MARKERS = {"engine", "ray"}  # tests whose CLI runs start engines or clusters: always a real process
_current = {"isolated": True}


@pytest.fixture(autouse=True)
def _cli_isolation(request):
    """Whether this test's `run_cli` calls may run in-process (see run_cli)."""
    _current["isolated"] = any(request.node.get_closest_marker(m) for m in ISOLATED_MARKERS)
    yield
    _current["isolated"] = True


def as_from_a_terminal() -> None:
    """A child's signal state as a terminal's shell starts it (a `preexec_fn`): a suite run in the background
    (`make test &`, nohup) has SIGINT ignored, which children inherit and Python honours; a terminal blocks nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def run_cli(*args: str | Path, timeout: float = 600, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run the real `datafactory` entry point in a subprocess; in the fast lane (DATAFACTORY_TEST_IN_PROCESS=1,
    `make test-fast`) in this process instead (`datafactory.cli.main`, exit status, stdout and stderr captured)
    where the test starts no engine or cluster and needs no environment of its own: a subprocess costs a second
    of imports, and the suite makes hundreds of calls. `make test` runs every call as a real process."""
    in_process = os.environ.get("DATAFACTORY_TEST_IN_PROCESS") == "1"
    if in_process and not (_current["isolated"] or env or kwargs):
        return _run_in_process([str(a) for a in args])
    return subprocess.run(
        [sys.executable, "-m", "datafactory", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


def kill_9_after_shards(args: list[str], out: Path, shards: int = 2, timeout: float = 600) -> None:
    """Start `datafactory ARGS` in its own session and kill -9 it (and all it started) once OUT holds `shards`
    shards: a run stopped half way, with no SUCCESS and something to resume."""
    process = subprocess.Popen([sys.executable, "-m", "datafactory", *map(str, args)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + timeout
    while len(list(out.glob("part-*.parquet"))) < shards and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / ".datafactory/SUCCESS").exists() and list(out.glob("part-*.parquet"))


def _run_in_process(args: list[str]) -> subprocess.CompletedProcess:
    import contextlib
    import io
    import traceback

    from datafactory import interrupts
    from datafactory.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_sigterm = sys.argv, signal.getsignal(signal.SIGTERM)
    sys.argv = ["datafactory", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            except Exception:  # what the interpreter would print for an uncaught error, and its status
                traceback.print_exc()
                code = 1
    finally:
        sys.argv = saved_argv
        signal.signal(signal.SIGTERM, saved_sigterm)
        interrupts.reset()
        _allow_huge_pages()  # mix and dedupe turn them off for their process; children would inherit it
    return subprocess.CompletedProcess(["datafactory", *args], code, out.getvalue(), err.getvalue())


def _allow_huge_pages() -> None:
    import ctypes

    from datafactory.memory import PR_SET_THP_DISABLE

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0)


def stage_rows(folder: Path, sft: bool = False) -> list[dict]:
    """A finished stage's rows, read as a user would: pyarrow on the folder (on data/ for the mix, laid out as a
    dataset repository)."""
    import pyarrow.parquet as pq

    return pq.read_table(folder / "data" if sft else folder).to_pylist()


def set_aside_rows(folder: Path) -> list[dict]:
    """The rows a filter rejected or a dedupe removed, with their reasons."""
    import pyarrow.parquet as pq

    shards = sorted([*folder.glob(".rejected/part-*.parquet"), *folder.glob(".removed/part-*.parquet")])
    return [row for shard in shards for row in pq.read_table(shard).to_pylist()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def vllm_server(tiny_model, tmp_path_factory):
    """A real OpenAI-compatible `vllm serve` (CPU) of the tiny model, once per test session."""
    yield from serve(tiny_model, "tiny", tmp_path_factory, *SERVE_OPTIONS)


@pytest.fixture(scope="module")
def vllm_reasoning_server(tmp_path_factory):
    """`vllm serve` of the toy reasoner started as R1 users start it, with `--reasoning-parser deepseek_r1`: the
    server returns the trace in `message.reasoning`, apart from `content`."""
    from datafactory.engines.local_model import TOY_MODEL

    yield from serve(TOY_MODEL, "toy", tmp_path_factory, *readme_serve_options())


@pytest.fixture(scope="module")
def vllm_raw_server(tmp_path_factory):
    """`vllm serve` of the toy reasoner as the README starts it but without a reasoning parser: the completion
    comes back as the model wrote it, streamed or not (vLLM's streamed R1 parser drops a `<think>` written inside
    the reasoning, which its plain parser keeps, so only a raw server can be compared sample by sample)."""
    from datafactory.engines.local_model import TOY_MODEL

    options = readme_serve_options()
    at = options.index("--reasoning-parser")
    yield from serve(TOY_MODEL, "toy", tmp_path_factory, *options[:at], *options[at + 2 :])


def readme_serve_options() -> list[str]:
    """The options of the README's `vllm serve` command for the toy reasoner on CPU, less --model, --host, --port
    and --served-model-name (set here)."""
    import shlex

    text = (REPO / "README.md").read_text()
    line = next(line for line in text.splitlines() if "vllm.entrypoints.openai.api_server --model" in line)
    words = shlex.split(line)[3:]
    options, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in ("--model", "--host", "--port", "--served-model-name"):
            skip = True
        else:
            options.append(word)
    assert "--kv-cache-memory-bytes" in options and "--reasoning-parser" in options, options
    return options


SERVE_OPTIONS = ("--dtype", "float32", "--max-model-len", "1024", "--kv-cache-memory-bytes", str(1 << 30))


def serve(model: Path, name: str, tmp_path_factory, *options: str):
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "vllm-serve.log"
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
        "--host", "127.0.0.1", "--port", str(port), "--served-model-name", name, *options,
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with running(command, log, lambda: httpx.get(f"{base}/health", timeout=2).status_code == 200, "vllm serve", 300):
        yield f"{base}/v1"


@contextlib.contextmanager
def running(command: list[str], log: Path, ready, what: str, timeout: float):
    """A real server started for the tests, in its own session (stopped with everything it started), once
    `ready()` says so; its log shown if it exits or never gets ready."""
    with open(log, "w") as handle:
        server = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"{what} exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if ready():
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not get ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3-compatible server (moto's server mode) on 127.0.0.1, and the environment that points boto and
    fsspec's s3fs at it, with one bucket, `datafactory-test`."""
    pytest.importorskip("s3fs", reason="object storage needs s3fs (the datafactory[s3] extra)")
    pytest.importorskip("moto.server", reason="the S3 test server is moto[server] (a dev dependency)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    log = tmp_path_factory.mktemp("s3") / "moto.log"
    with running(command, log, lambda: httpx.get(url, timeout=2) is not None, "moto server", 60):
        httpx.put(f"{url}/datafactory-test", timeout=10).raise_for_status()
        yield {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ENDPOINT_URL": url, "FSSPEC_S3_ENDPOINT_URL": url}  # fmt: skip
