"""The first hour of a new user: bad recipe inputs fail before any engine starts, bundled recipes run or say what
to pass, Hugging Face dataset ids are inputs."""

import json
import time

import pyarrow.parquet as pq

from tests.conftest import REPO, run_cli, write_jsonl


def recipe(tmp_path, inputs, out):
    path = tmp_path / "recipe.yaml"
    path.write_text(
        f"name: t\nout: {out}\nmodel: toy\nengine: vllm\n"
        f"sources:\n  - name: math\n    category: reasoning\n    inputs: {json.dumps(inputs)}\n"
        "generate:\n  n: 1\n  max_tokens: 16\n"
    )
    return path


def test_run_checks_every_input_and_row_before_the_engine_starts(tmp_path):
    missing = recipe(tmp_path, [str(tmp_path / "nope.jsonl")], tmp_path / "out")
    started = time.monotonic()
    result = run_cli("run", missing, timeout=60)
    assert result.returncode == 2 and time.monotonic() - started < 5
    assert (
        "sources.0.inputs" in result.stderr
        and "nope.jsonl" in result.stderr
        and "--set sources.0.inputs" in result.stderr
    )
    rows = [{"id": "a", "problem": "1 + 1?"}, {"id": "b", "problem": "2 + 2?"}, {"id": "c", "problem": "   "}]
    bad_row = recipe(tmp_path, [str(write_jsonl(tmp_path / "p.jsonl", rows))], tmp_path / "out2")
    started = time.monotonic()
    result = run_cli("run", bad_row, timeout=120)
    assert result.returncode == 2 and time.monotonic() - started < 5, result.stderr
    assert "p.jsonl, row 3" in result.stderr and "empty prompt" in result.stderr
    assert "starting the" not in result.stderr  # no engine was started
    assert "Traceback" not in result.stderr


def test_bundled_recipes_run_or_say_what_to_pass(tmp_path):
    env = {"HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}  # a fresh machine without the hub
    for name, machine in (("gsm8k", []), ("r1-sft", ["--set", "requires.gpus=0"])):  # GPUs: test_preflight.py
        started = time.monotonic()
        result = run_cli("run", REPO / "recipes" / f"{name}.yaml", "--set", f"out={tmp_path / name}", *machine, env=env)
        assert result.returncode == 2 and time.monotonic() - started < 5, (name, result.stderr)
        line = result.stderr.strip()
        assert "\n" not in line and "--set sources.0.inputs" in line, line


def test_hugging_face_dataset_ids_are_inputs(tmp_path):
    """`hf:NAME[:CONFIG[:SPLIT]]` goes through datasets.load_dataset; here a local dataset folder and a private
    cache stand in for the hub, which this machine cannot reach."""
    folder = tmp_path / "tiny_gsm8k"
    (folder / "data").mkdir(parents=True)
    rows = [{"question": f"What is {i} + {i}?", "answer": f"{i} + {i} = {2 * i}\n#### {2 * i}"} for i in range(30)]
    rows.append(dict(rows[3]))  # an exact copy to remove
    write_jsonl(folder / "data" / "test.jsonl", rows)
    env = {"HF_DATASETS_CACHE": str(tmp_path / "cache"), "HF_DATASETS_OFFLINE": "1"}
    result = run_cli("dedupe", f"hf:{folder}::test", "-o", tmp_path / "out", "--on", "prompt", env=env)
    assert result.returncode == 0, result.stderr
    kept = pq.read_table(tmp_path / "out" / "part-00000.parquet").to_pylist()
    assert len(kept) == 30 and kept[0]["question"] == "What is 0 + 0?"
    manifest = json.loads((tmp_path / "out" / ".datafactory/manifest.json").read_text())
    assert manifest["counts"]["removed"]["exact_duplicate"] == 1
    wrong = run_cli("dedupe", f"hf:{folder}::validation", "-o", tmp_path / "o2", env=env)
    assert wrong.returncode == 2 and "validation" in wrong.stderr and "Traceback" not in wrong.stderr


def dedupe_output(folder, rows, extra=()):
    source = write_jsonl(folder.parent / f"{folder.parent.name}-{folder.name}.jsonl", rows)
    result = run_cli("dedupe", source, "-o", folder, "--on", "prompt", *extra)
    assert result.returncode == 0, result.stderr
    return folder


def test_recipe_layout_mixes_stats_and_empty_outputs(tmp_path):
    math = [
        {"prompt_id": f"m{i}", "problem": f"What is {i} + {i}?", "reasoning": "Add.", "response": f"{2 * i}"}
        for i in range(6)
    ] + [{"prompt_id": "m0b", "problem": "What is 0 + 0?", "reasoning": "Add.", "response": "0"}]
    chat = [{"prompt_id": f"c{i}", "problem": f"Tell me fact number {i} about cats.", "response": "Cats purr."}
            for i in range(2)]  # fmt: skip
    (tmp_path / "run" / "math").mkdir(parents=True)
    (tmp_path / "run" / "chat").mkdir(parents=True)
    dedupe_output(tmp_path / "run" / "math" / "deduped", math)
    dedupe_output(tmp_path / "run" / "chat" / "deduped", chat)
    result = run_cli(
        "mix", "--reasoning", tmp_path / "run" / "math" / "deduped", "--general", tmp_path / "run" / "chat" / "deduped",
        "--ratio", "3:1", "-o", tmp_path / "sft",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr  # both folders are called `deduped`: named math and chat
    stats = json.loads(run_cli("stats", tmp_path / "sft", "--json").stdout)
    assert stats["breakdown"]["per category"] == {"reasoning": 6, "general": 2}
    assert set(stats["breakdown"]["per source (taken of available)"]) == {"math (reasoning)", "chat (general)"}
    deduped = json.loads(run_cli("stats", tmp_path / "run" / "math" / "deduped", "--json").stdout)
    assert deduped["breakdown"]["dedupe"]["exact_duplicate"] == 1 and deduped["breakdown"]["dedupe"]["kept"] == 6

    (tmp_path / "all").mkdir()
    everything_removed = dedupe_output(
        tmp_path / "all" / "deduped", chat, ("--decontaminate", tmp_path / "run" / "chat" / "chat-deduped.jsonl")
    )
    assert json.loads((everything_removed / ".datafactory/manifest.json").read_text())["counts"]["rows_kept"] == 0
    result = run_cli("mix", "--reasoning", tmp_path / "run" / "math" / "deduped", "--general", everything_removed,
                     "--ratio", "3:1", "-o", tmp_path / "sft2")  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        "the general sources hold 0 rows" in result.stderr and "dedupe removed all 2 (contaminated 2)" in result.stderr
    ), result.stderr
    result = run_cli("mix", "--reasoning", tmp_path / "run" / "math" / "deduped", "--general", everything_removed,
                     "--ratio", "1:0", "-o", tmp_path / "sft3")  # fmt: skip
    assert result.returncode == 0, result.stderr  # an empty source is read as zero rows
