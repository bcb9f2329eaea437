"""Inputs and outputs on an object store (io/remote.py), against a real S3-compatible server (moto's server mode)
on 127.0.0.1 reached through s3fs, as a user's `s3://` URLs are: the same rows as local folders; `SUCCESS`
last; a finished output refused without --overwrite and replaced whole with it; an unfinished input refused; the
lock; report over the store's folders; a stopped run resumed from the store by another machine (another cache);
a generate whose machine was lost (kill -9) resumed from the shards it published while it ran; a store that
stops answering mid-run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import free_port, run_cli, write_jsonl

BUCKET = "datafactory-test"


@pytest.fixture
def store(s3_server, tmp_path):
    """A fresh prefix of the bucket, the environment to reach it (with a cache of this test's own), and s3fs."""
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=s3_server["AWS_ENDPOINT_URL"], key="testing", secret="testing")
    env = {**s3_server, "DATAFACTORY_CACHE": str(tmp_path / "cache")}
    return f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}", env, fs


def samples(path, prompts: int = 40) -> list[dict]:
    rows = []
    for p in range(prompts):
        for s in range(2):
            answer = p if s == 0 else p + 1
            rows.append({"prompt_id": f"p{p}", "sample_index": s, "messages": [{"role": "user", "content": f"{p}?"}],
                         "completion": f"<think>\nCount.\n</think>\n\nThe answer is $\\boxed{{{answer}}}$.",
                         "finish_reason": "stop", "completion_tokens": 20, "answer": str(p)})  # fmt: skip
    write_jsonl(path, rows)
    return rows


def shards_in(fs, url: str) -> list[str]:
    """The shards of a folder on the store, not those of its hidden sub-folders."""
    fs.invalidate_cache()
    root = url.split("://", 1)[1]
    return sorted(f for f in fs.find(url) if f.rsplit("/", 1)[-1].startswith("part-") and "/." not in f[len(root) :])


def rows_in(fs, url: str) -> list[dict]:
    tables = [pq.read_table(fs.open(f, "rb")) for f in shards_in(fs, url)]
    return pa.concat_tables(tables).to_pylist() if tables else []


def local_rows(folder) -> list[dict]:
    return pa.concat_tables([pq.read_table(p) for p in sorted(folder.glob("part-*.parquet"))]).to_pylist()


FILTER = ["--verifier", "math", "--rules", "default", "--workers", "1"]


def test_filter_dedupe_mix_read_and_write_the_store_as_folders(store, tmp_path, monkeypatch):
    base, env, fs = store
    samples(tmp_path / "s.jsonl")
    fs.put_file(str(tmp_path / "s.jsonl"), f"{base}/in/s.jsonl")
    steps = [
        ("filter", [f"{base}/in/s.jsonl"], [tmp_path / "s.jsonl"], FILTER),
        ("dedupe", [f"{base}/kept"], [tmp_path / "kept"], []),
        (
            "mix",
            ["--reasoning", f"{base}/deduped", "--general", f"{base}/in/s.jsonl"],
            ["--reasoning", tmp_path / "deduped", "--general", tmp_path / "s.jsonl"],
            ["--ratio", "1:1"],
        ),
    ]
    outs = {"filter": "kept", "dedupe": "deduped", "mix": "sft"}
    for stage, remote_in, local_in, extra in steps:
        result = run_cli(stage, *remote_in, "-o", f"{base}/{outs[stage]}", *extra, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert run_cli(stage, *local_in, "-o", tmp_path / outs[stage], *extra).returncode == 0
        manifest = json.loads(fs.cat(f"{base}/{outs[stage]}/.datafactory/manifest.json"))
        assert manifest["complete"] and fs.exists(f"{base}/{outs[stage]}/.datafactory/SUCCESS")
        assert not fs.exists(f"{base}/{outs[stage]}/.datafactory/lock")
        assert all(entry["path"].startswith(f"{base}/") for entry in manifest["inputs"])  # named as the user did
    assert rows_in(fs, f"{base}/kept") == local_rows(tmp_path / "kept") and local_rows(tmp_path / "kept")
    assert rows_in(fs, f"{base}/kept/.rejected") == local_rows(tmp_path / "kept" / ".rejected")
    assert rows_in(fs, f"{base}/sft/data") == local_rows(tmp_path / "sft" / "data")

    # report reads the store's stage folders (found below the prefix, as below a run folder) as it reads local ones
    result = run_cli("report", base, "-o", tmp_path / "report.html", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{base}/kept" in (tmp_path / "report.html").read_text()
    result = run_cli("report", f"{base}/in", "-o", tmp_path / "none.html", env=env)
    assert result.returncode == 2 and result.stderr.strip() == (
        f"error: {base}/in: no stage output here (no .datafactory/manifest.json in it or below it)"
    )
    from datafactory.report.collect import collect

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    remote_views = collect([base])
    local_views = collect([tmp_path / "kept", tmp_path / "deduped", tmp_path / "sft"])

    def seen(view):
        return view.stage, view.label.split("/")[-1], view.funnel, view.reasons, view.pass_rates, view.group_counts

    assert [seen(v) for v in remote_views] == [seen(v) for v in local_views] and len(local_views) == 3

    # A stage reading the folder a report mirrored leaves the report's hidden files alone (nothing fetched twice).
    from datafactory.io.remote import fetch_input

    mirror = fetch_input(f"{base}/kept", hidden=True)
    hidden = {p: p.stat().st_mtime_ns for p in (mirror / ".rejected").glob("part-*.parquet")}
    assert hidden and fetch_input(f"{base}/kept") == mirror
    assert {p: p.stat().st_mtime_ns for p in (mirror / ".rejected").glob("part-*.parquet")} == hidden


def test_a_finished_output_is_refused_then_replaced_whole_with_overwrite(store, tmp_path):
    base, env, fs = store
    samples(tmp_path / "s.jsonl")
    out = f"{base}/kept"
    assert run_cli("filter", tmp_path / "s.jsonl", "-o", out, *FILTER, "--shard-rows", "10", env=env).returncode == 0
    fs.invalidate_cache()
    fs.pipe(f"{out}/NOTES.md", b"a user's file in the folder")
    fs.pipe(f"{out}/.git/HEAD", b"ref: refs/heads/main")  # a hidden folder of the user's, not the stage's
    fs.invalidate_cache()
    before = sorted(fs.find(out))
    again = run_cli("filter", tmp_path / "s.jsonl", "-o", out, *FILTER, env=env)
    assert again.returncode == 2 and f"{out}: holds a finished filter run" in again.stderr
    assert sorted(fs.find(out)) == before and "Traceback" not in again.stderr
    result = run_cli("filter", tmp_path / "s.jsonl", "-o", out, *FILTER, "--overwrite", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(shards_in(fs, out)) == 1  # the ten-row shards of the first run are gone
    assert len(rows_in(fs, out)) == 40 and fs.exists(f"{out}/.datafactory/SUCCESS")
    assert fs.cat(f"{out}/NOTES.md") == b"a user's file in the folder" and fs.exists(f"{out}/.git/HEAD")


def test_an_unfinished_input_on_the_store_is_refused(store, tmp_path):
    base, env, fs = store
    samples(tmp_path / "s.jsonl")
    assert run_cli("filter", tmp_path / "s.jsonl", "-o", f"{base}/kept", *FILTER, env=env).returncode == 0
    fs.rm_file(f"{base}/kept/.datafactory/SUCCESS")
    result = run_cli("dedupe", f"{base}/kept", "-o", tmp_path / "d", env=env)
    assert result.returncode == 2 and f"{base}/kept: an unfinished filter run" in result.stderr
    assert run_cli("dedupe", f"{base}/kept", "-o", tmp_path / "d", "--allow-unfinished", env=env).returncode == 0


def test_the_lock_refuses_a_live_holder_and_is_taken_from_a_dead_one(store, tmp_path):
    base, env, fs = store
    samples(tmp_path / "s.jsonl")
    out = f"{base}/kept"
    lock = {"pid": 1, "host": "gpu-node-7", "stage": "filter", "since": "2026-12-07T06:00:00+00:00"}
    fs.pipe(f"{out}/.datafactory/lock", json.dumps(lock).encode())
    result = run_cli("filter", tmp_path / "s.jsonl", "-o", out, *FILTER, env=env)
    assert result.returncode == 2 and "in use by pid 1 on gpu-node-7" in result.stderr
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    fs.pipe(f"{out}/.datafactory/lock", json.dumps({**lock, "pid": dead.pid, "host": socket.gethostname()}).encode())
    result = run_cli("filter", tmp_path / "s.jsonl", "-o", out, *FILTER, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not fs.exists(f"{out}/.datafactory/lock")


@pytest.mark.engine
def test_a_stopped_generate_is_resumed_from_the_store_by_another_machine(store, tmp_path):
    """Ctrl-C publishes the finished shards and the manifest, not SUCCESS; a second machine (another cache)
    pulls them and resumes; the rows equal an uninterrupted local run's."""
    base, env, fs = store
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": f"q{i}", "prompt": f"What is {i} + 3?"} for i in range(24)])
    args = ["generate", str(prompts), "-m", "toy", "--engine", "transformers", "-n", "2", "--max-tokens", "32",
            "--dtype", "float32", "--shard-rows", "4"]  # fmt: skip
    assert run_cli(*args, "-o", tmp_path / "whole").returncode == 0
    out = f"{base}/samples"
    process = subprocess.Popen([sys.executable, "-m", "datafactory", *args, "-o", out], env={**os.environ, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    working = tmp_path / "cache" / "outputs"
    deadline = time.monotonic() + 300
    while len(list(working.glob("*/samples/part-*.parquet"))) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be stopped"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) != 0
    assert shards_in(fs, out) and not fs.exists(f"{out}/.datafactory/SUCCESS")
    assert not fs.exists(f"{out}/.datafactory/lock")

    elsewhere = {**env, "DATAFACTORY_CACHE": str(tmp_path / "other-machine")}
    result = run_cli(*args, "-o", out, env=elsewhere)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads(fs.cat(f"{out}/.datafactory/manifest.json"))
    assert manifest["resumed"] and manifest["counts"]["prompts_already_done"] > 0
    key = lambda r: (r["prompt_id"], r["sample_index"])  # noqa: E731
    assert sorted((key(r), r["completion"]) for r in rows_in(fs, out)) == sorted(
        (key(r), r["completion"]) for r in local_rows(tmp_path / "whole")
    )


@pytest.mark.engine
def test_a_generate_whose_machine_is_lost_resumes_from_the_shards_published_while_it_ran(store, tmp_path):
    """kill -9 (the machine gone: no chance to publish at the end): the shards published while the run went on
    are on the store; another machine's run resumes from them (the dead holder's lock is taken over here only
    because it was a process of this machine) and the rows equal an uninterrupted local run's."""
    base, env, fs = store
    rows = [{"id": f"q{i}", "prompt": f"What is {i} + 3?"} for i in range(120)]
    prompts = write_jsonl(tmp_path / "p.jsonl", rows)
    args = ["generate", str(prompts), "-m", "toy", "--engine", "transformers", "-n", "2", "--max-tokens", "32",
            "--dtype", "float32", "--shard-rows", "8"]  # fmt: skip
    assert run_cli(*args, "-o", tmp_path / "whole").returncode == 0
    out = f"{base}/samples"
    process = subprocess.Popen([sys.executable, "-m", "datafactory", *args, "-o", out], env={**os.environ, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    working = tmp_path / "cache" / "outputs"
    while len(shards_in(fs, out)) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be stopped"
        time.sleep(0.2)
    written = len(list(working.glob("*/samples/part-*.parquet")))
    os.killpg(process.pid, signal.SIGKILL)
    assert written < 30, "the shards reached the store only once the run had written them all"
    process.wait()
    published = shards_in(fs, out)
    assert len(published) >= 2 and len(published) < 30 and fs.exists(f"{out}/.datafactory/manifest.json")
    assert not fs.exists(f"{out}/.datafactory/SUCCESS")

    elsewhere = {**env, "DATAFACTORY_CACHE": str(tmp_path / "other-machine")}
    result = run_cli(*args, "-o", out, env=elsewhere)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads(fs.cat(f"{out}/.datafactory/manifest.json"))
    assert manifest["resumed"] and manifest["counts"]["prompts_already_done"] >= 8
    key = lambda r: (r["prompt_id"], r["sample_index"], r["completion"])  # noqa: E731
    assert sorted(map(key, rows_in(fs, out))) == sorted(map(key, local_rows(tmp_path / "whole")))


class Gate:
    """A TCP forwarder in front of the S3 server: `close()` makes the store stop answering (connections refused,
    those open cut), `open()` brings it back with what it holds unchanged (an outage, not a loss)."""

    def __init__(self, endpoint: str):
        self.target = int(endpoint.rsplit(":", 1)[1])
        self.port, self.connections = free_port(), []
        self.url = f"http://127.0.0.1:{self.port}"
        self.open()

    def open(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 16):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept; a close alone may leave it listening
        self.listener.close()
        for end in self.connections:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        self.connections = []


@pytest.mark.engine
def test_a_store_that_stops_answering_mid_run_costs_nothing(store, tmp_path):
    """The store goes away while generate runs: one warning, generation goes on; the end's publication fails in one
    line naming the working copy, which holds every shard; once the store is back, the same command publishes
    them and finishes, without drawing a sample again."""
    base, env, fs = store
    gate = Gate(env["AWS_ENDPOINT_URL"])
    env = {**env, "AWS_ENDPOINT_URL": gate.url, "FSSPEC_S3_ENDPOINT_URL": gate.url}
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": f"q{i}", "prompt": f"What is {i} + 3?"} for i in range(120)])
    args = ["generate", str(prompts), "-m", "toy", "--engine", "transformers", "-n", "2", "--max-tokens", "32",
            "--dtype", "float32", "--shard-rows", "8", "-o", f"{base}/samples"]  # fmt: skip
    err = tmp_path / "stderr.txt"
    with open(err, "w") as handle:
        process = subprocess.Popen([sys.executable, "-m", "datafactory", *args], env={**os.environ, **env},
                                   stdout=subprocess.DEVNULL, stderr=handle)  # fmt: skip
    deadline = time.monotonic() + 300
    while not shards_in(fs, f"{base}/samples") and time.monotonic() < deadline:
        assert process.poll() is None, err.read_text()[-3000:]
        time.sleep(0.2)
    gate.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", gate.port), timeout=5)
    assert process.wait(timeout=600) == 2
    lines = err.read_text().strip().splitlines()
    warnings = [line for line in lines if line.startswith("warning:")]
    assert len(warnings) == 1 and "could not publish shards yet" in warnings[0], lines
    assert lines[-1].startswith(f"error: {base}/samples: could not publish the output (it is whole in "), lines[-1]
    assert "Traceback" not in err.read_text()
    working = next((tmp_path / "cache" / "outputs").glob("*/samples"))
    assert len(list(working.glob("part-*.parquet"))) == 30
    assert len(shards_in(fs, f"{base}/samples")) < 30 and not fs.exists(f"{base}/samples/.datafactory/SUCCESS")

    result = run_cli(*args, env=env)  # still away: refused in one line before anything starts, nothing touched
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith(f"error: {base}/samples: could not read or write there (EndpointConnectionError")
    assert len(list(working.glob("part-*.parquet"))) == 30

    gate.open()
    result = run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    fs.invalidate_cache()
    manifest = json.loads(fs.cat(f"{base}/samples/.datafactory/manifest.json"))
    assert manifest["counts"]["prompts_already_done"] == 120 and fs.exists(f"{base}/samples/.datafactory/SUCCESS")
    assert rows_in(fs, f"{base}/samples") == local_rows(working) and len(local_rows(working)) == 240


def test_a_recipe_run_folder_on_a_store_is_refused_in_one_line(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: r\nout: s3://bucket/run\nmodel: toy\nsources:\n  - name: a\n    inputs: [p.jsonl]\n")
    result = run_cli("run", recipe, "--dry-run", cwd=tmp_path)
    assert result.returncode == 2 and "out: a recipe's run folder must be local" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "s3:").exists()


def test_url_patterns_are_inputs_and_an_output_that_holds_an_input_is_refused(store, tmp_path):
    base, env, fs = store
    rows = samples(tmp_path / "a.jsonl", prompts=20)
    write_jsonl(tmp_path / "b.jsonl", [{**row, "prompt_id": "b" + row["prompt_id"]} for row in rows])
    for part in ("a", "b"):
        fs.put_file(str(tmp_path / f"{part}.jsonl"), f"{base}/in/{part}.jsonl")
    fs.pipe(f"{base}/in/notes.txt", b"not data")
    result = run_cli("filter", f"{base}/in/*.jsonl", "-o", tmp_path / "kept", *FILTER, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / "kept" / ".datafactory/manifest.json").read_text())
    assert [entry["path"] for entry in manifest["inputs"]] == [f"{base}/in/a.jsonl", f"{base}/in/b.jsonl"]
    none = run_cli("filter", f"{base}/in/*.parquet", "-o", tmp_path / "k2", *FILTER, env=env)
    assert none.returncode == 2 and f"{base}/in/*.parquet: the pattern matches no file" in none.stderr
    inside = run_cli("filter", f"{base}/in/a.jsonl", "-o", f"{base}/in", *FILTER, env=env)
    assert inside.returncode == 2 and f"{base}/in: the output holds input {base}/in/a.jsonl" in inside.stderr
    assert not fs.exists(f"{base}/in/.datafactory")
