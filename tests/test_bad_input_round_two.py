"""Every bad input one line, and nothing silently wrong: values JSON can hold and a table cannot, row shapes, option
values that are numbers but no limits, recipes a tired operator writes, and what a failed run leaves behind.

Each case goes through the real CLI: exit 2, one line on stderr (no traceback), nothing half-written.
"""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli

GOOD = {"prompt_id": "a", "sample_index": 0, "answer": "4", "finish_reason": "stop",
        "completion": "<think>\nTwo and two.\n</think>\n\nThe answer is \\boxed{4}."}  # fmt: skip


def _jsonl_line(row: dict) -> str:
    return json.dumps(row)


ROWS = {  # name -> (a JSONL line, the field the error must name or None)
    "deep_array": ('{"prompt_id": "a", "completion": "x", "deep": ' + "[" * 100_000 + "]" * 100_000 + "}", None),
    "huge_integer": (_jsonl_line({**GOOD, "completion_tokens": 10**400}), "completion_tokens"),
    "lone_surrogate": (json.dumps(GOOD).replace("Two and two", "\\ud800 and two"), "completion"),
    "messages_not_a_list": (_jsonl_line({**GOOD, "messages": "hello"}), "messages"),
    "messages_of_numbers": (_jsonl_line({**GOOD, "messages": [1, 2]}), "messages"),
    "messages_unknown_role": (_jsonl_line({**GOOD, "messages": [{"role": "wizard", "content": "hi"}]}), "messages"),
    "messages_content_not_text": (_jsonl_line({**GOOD, "messages": [{"role": "user", "content": [1]}]}), "messages"),
    "prompt_id_null": (_jsonl_line({**GOOD, "prompt_id": None}), "prompt_id"),
    "prompt_id_list": (_jsonl_line({**GOOD, "prompt_id": ["a"]}), "prompt_id"),
    "sample_index_word": (_jsonl_line({**GOOD, "sample_index": "zero"}), "sample_index"),
    "sample_index_negative": (_jsonl_line({**GOOD, "sample_index": -1}), "sample_index"),
}


def _one_line_exit_2(result, *words):
    assert result.returncode == 2, (result.returncode, result.stderr[-500:])
    assert "Traceback" not in result.stderr, result.stderr[-1500:]
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("warning")]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize("name", sorted(ROWS))
def test_rows_a_table_cannot_hold_or_a_reader_would_misread_are_one_line(tmp_path, name):
    line, field = ROWS[name]
    source = tmp_path / "in.jsonl"
    source.write_text(_jsonl_line(GOOD) + "\n" + line + "\n")
    result = run_cli("filter", source, "-o", tmp_path / "out")
    _one_line_exit_2(result, "in.jsonl", "row 2", *([field] if field else []))
    assert not (tmp_path / "out").exists()


OPTIONS = {  # name -> (extra filter flags, the option the error must name)
    "timeout_inf": (["--timeout", "inf"], "--timeout"),
    "timeout_nan": (["--timeout", "nan"], "--timeout"),
    "test_timeout_nan": (["--verifier", "code", "--test-timeout", "nan"], "test_timeout"),
    "test_timeout_inf": (["--verifier", "code", "--test-timeout", "inf"], "test_timeout"),
    "memory_beyond_the_machine": (["--verifier", "code", "--memory-mb", str(10**12)], "--memory-mb"),
    "negative_paragraph": (["--rule-option", "long_paragraph_chars=-1"], "long_paragraph_chars"),
    "share_above_one": (["--rule-option", "repetition_max_share=2"], "repetition_max_share"),
    "rule_option_nan": (["--rule-option", "repetition_max_share=nan"], "repetition_max_share"),
    "unknown_language": (["--language", "klingon"], "klingon"),
    "gold_share_nan": (["--gold-min-share", "nan"], "gold-min-share"),
}


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_option_values_out_of_range_are_one_line(tmp_path, name):
    flags, option = OPTIONS[name]
    source = tmp_path / "in.jsonl"
    source.write_text(_jsonl_line(GOOD) + "\n")
    result = run_cli("filter", source, "-o", tmp_path / "out", *flags)
    _one_line_exit_2(result, option)
    assert not (tmp_path / "out").exists()


def test_a_billion_workers_are_capped_by_the_machine_and_it_says_so(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(_jsonl_line(GOOD) + "\n")
    result = run_cli("filter", source, "-o", tmp_path / "out", "--workers", "1000000000")
    assert result.returncode == 0, result.stderr
    assert "--workers 1000000000: this machine runs at most" in result.stderr


RECIPES = {  # name -> (recipe bytes, what the line must name)
    "not_utf8": ("name: t\nout: x\nmodel: toy\n# caf\xe9\n".encode("latin-1"), "UTF-8"),
    "out_a_number": (b"name: t\nout: 12\nmodel: toy\nprompts:\n  toy: {reasoning: 5, general: 5}\n", "out"),
    "duplicate_key": (
        b"name: t\nout: x\nmodel: toy\nmodel: other\nprompts:\n  toy: {reasoning: 5, general: 5}\n",
        "'model' is written twice",
    ),
    "yaml_syntax": (b"name: t\nout: [x\nmodel: toy\n", "line "),
    "yaml_tab": (b"name: t\n\tout: x\n", "line 2"),
}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipes_a_tired_operator_writes_are_one_line(tmp_path, name):
    text, words = RECIPES[name]
    recipe = tmp_path / "r.yaml"
    recipe.write_bytes(text)
    _one_line_exit_2(run_cli("run", recipe), "r.yaml", words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.yaml"]


def test_a_set_value_that_is_not_yaml_is_one_line(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: t\nout: {tmp_path / 'o'}\nmodel: toy\nprompts:\n  toy: {{reasoning: 5, general: 5}}\n")
    _one_line_exit_2(run_cli("run", recipe, "--set", "generate.n=[2"), "generate.n")


def test_a_failed_filter_leaves_no_half_written_file(tmp_path):
    """A bad row in the second input, after the first was evaluated; inputs whose columns clash; a zero-row
    Parquet input."""
    folder = tmp_path / "s"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist([GOOD] * 50), folder / "part-00000.parquet")
    pq.write_table(pa.Table.from_pylist([{**GOOD, "sample_index": -1}]), folder / "part-00001.parquet")
    result = run_cli("filter", folder, "-o", tmp_path / "out")
    _one_line_exit_2(result, "part-00001.parquet", "sample_index")
    assert not list(tmp_path.rglob(".*tmp*")), list(tmp_path.rglob(".*tmp*"))
    pq.write_table(pa.Table.from_pylist([{**GOOD, "completion": 7}]), folder / "part-00001.parquet")
    _one_line_exit_2(run_cli("filter", folder, "-o", tmp_path / "clash"), "part-00001.parquet", "completion")
    empty = tmp_path / "empty"
    empty.mkdir()
    pq.write_table(pa.Table.from_pylist([GOOD]).slice(0, 0), empty / "part-00000.parquet")
    _one_line_exit_2(run_cli("filter", empty, "-o", tmp_path / "out2"), "no rows")
    assert not list(tmp_path.rglob(".eval-*")), list(tmp_path.rglob(".eval-*"))


def test_the_report_reads_tex_in_a_folder_name_as_text(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(_jsonl_line(GOOD) + "\n")
    folder = tmp_path / "kept $x^{2$ and $\\frac$"
    assert run_cli("filter", source, "-o", folder).returncode == 0
    result = run_cli("report", folder, "-o", tmp_path / "r.html", "--title", "$\\undefined{$ run")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-800:]
    assert "$x^{2$" in (tmp_path / "r.html").read_text()


def test_whole_number_prompt_ids_are_read_and_written_as_text(tmp_path):
    """A Parquet or JSONL input whose ids are whole numbers (a traceback in the pass-rate writer before)."""
    folder = tmp_path / "s"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist([{**GOOD, "prompt_id": i} for i in range(3)]), folder / "part-00000.parquet")
    (tmp_path / "in.jsonl").write_text(_jsonl_line({**GOOD, "prompt_id": 7}) + "\n")
    for source, ids in ((folder, ["0", "1", "2"]), (tmp_path / "in.jsonl", ["7"])):
        out = tmp_path / f"out-{source.name}"
        result = run_cli("filter", source, "-o", out)
        assert result.returncode == 0, result.stderr[-800:]
        assert pq.read_table(out / "part-00000.parquet").column("prompt_id").to_pylist() == ids
        assert pq.read_table(out / ".pass_rates/pass_rates.parquet").column("prompt_id").to_pylist() == ids
