"""`datafactory report`: a self-contained HTML report over a real small run (filter, dedupe, mix by the CLI on
fixtures made here), checked against the manifests and opened in headless Chromium."""

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def trace_row(prompt_id, index, body, answer, gold):
    return {
        "prompt_id": prompt_id, "sample_index": index,
        "messages": [{"role": "user", "content": f"Problem {prompt_id}: what is the total?"}],
        "completion": f"<think>\n{body}\n</think>\n\nThe answer is \\boxed{{{answer}}}.",
        "finish_reason": "stop", "completion_tokens": 20 + len(body) // 4, "answer": gold,
    }  # fmt: skip


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """samples → filter (r1 rules) → dedupe → mix, each by the real CLI."""
    root = tmp_path_factory.mktemp("run")
    rows = []
    for p in range(30):
        steps = f"We add {p} and {p + 1}.\nThat gives {2 * p + 1}."
        rows.append(trace_row(f"p{p}", 0, steps, 2 * p + 1, str(2 * p + 1)))
        rows.append(trace_row(f"p{p}", 1, steps, 2 * p + 2, str(2 * p + 1)))
        if p % 5 == 0:
            rows.append(
                trace_row(f"p{p}", 2, steps + "\n然后我们把两个数字加起来得到结果。", 2 * p + 1, str(2 * p + 1))
            )
        if p % 7 == 0:
            rows.append(trace_row(f"p{p}", 3, steps + "\nLet me check that once more." * 9, 2 * p + 1, str(2 * p + 1)))
    (root / "samples").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), root / "samples" / "part-00000.parquet")
    chat = [{"prompt": f"Say hello to friend {i % 12}", "response": f"Hello, friend {i % 12}!"} for i in range(40)]
    (root / "chat").mkdir()
    pq.write_table(pa.Table.from_pylist(chat), root / "chat" / "part-00000.parquet")
    for args in (
        ("filter", root / "samples", "-o", root / "filtered", "--rules", "r1", "--keep", "1", "--workers", "1"),
        ("dedupe", root / "filtered", "-o", root / "deduped"),
        ("mix", "--reasoning", root / "deduped", "--general", root / "chat", "--ratio", "1:1", "-o", root / "sft"),
    ):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
    return root


class Counts(HTMLParser):
    """The numbers the report shows in its funnel tables, by their data-count key."""

    def __init__(self):
        super().__init__()
        self.key, self.counts = None, {}

    def handle_starttag(self, tag, attrs):
        self.key = dict(attrs).get("data-count")

    def handle_data(self, data):
        if self.key:
            self.counts[self.key] = int(data.replace(",", ""))
            self.key = None


def build(run_folder, out):
    result = run_cli("report", run_folder, "-o", out)
    assert result.returncode == 0, result.stderr
    return out.read_text()


def test_report_numbers_equal_the_manifests(run_folder, tmp_path):
    html = build(run_folder, tmp_path / "report.html")
    assert not re.search(r"""(src|href)=["']?(https?:)?//|url\((?!#)|<link|<script src""", html)  # nothing to fetch
    parser = Counts()
    parser.feed(html)
    filtered = json.loads((run_folder / "filtered" / ".datafactory/manifest.json").read_text())["counts"]
    assert parser.counts["filter:run0/filtered:rows in"] == filtered["rows_in"]
    assert parser.counts["filter:run0/filtered:kept"] == filtered["rows_kept"]
    for verdict, rows in filtered["verdicts"].items():
        if verdict != "pass":
            assert parser.counts[f"filter:run0/filtered:{verdict}"] == -rows
    assert filtered["verdicts"].get("language_mixed") and filtered["verdicts"].get("wrong_answer")
    deduped = json.loads((run_folder / "deduped" / ".datafactory/manifest.json").read_text())["counts"]
    assert parser.counts["dedupe:run0/deduped:kept"] == deduped["rows_kept"]
    mixed = json.loads((run_folder / "sft" / ".datafactory/manifest.json").read_text())["counts"]
    assert parser.counts["mix:run0/sft:rows"] == mixed["rows_out"]
    samples = json.loads(re.search(r'id="samples">(.*?)</script>', html, re.S).group(1))
    groups = {(g["stage"], g["name"]): g for g in samples}
    assert groups[("filter", "wrong_answer")]["total"] == filtered["verdicts"]["wrong_answer"]
    marked = [r for r in groups[("filter", "language_mixed")]["rows"] if '<mark class="rule">' in r["reasoning"]]
    assert marked and "然后" in marked[0]["reasoning"]


def test_report_stays_small_for_many_rows(tmp_path):
    """A filter output of 20,000 rejected rows of 3 KB each: the browser carries a sample, not the data."""
    folder = tmp_path / "big"
    (folder / ".rejected").mkdir(parents=True)
    (folder / ".datafactory").mkdir()
    text = "Long reasoning step. " * 150
    rows = [{"prompt_id": f"p{i}", "sample_index": 0, "messages": [{"role": "user", "content": "Q?"}],
             "reasoning": text, "response": "\\boxed{1}", "verdict": "wrong_answer", "reasons": ["wrong_answer"],
             "completion_tokens": 700 + i % 50, "answer": "2"} for i in range(20_000)]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), folder / ".rejected" / "part-00000.parquet")
    counts = {"rows_in": 20_000, "rows_kept": 0, "verdicts": {"wrong_answer": 20_000}, "reasons": {}}
    (folder / ".datafactory/manifest.json").write_text(
        json.dumps({"stage": "filter", "counts": counts, "arguments": {}})
    )
    build(folder, tmp_path / "report.html")
    assert (tmp_path / "report.html").stat().st_size < 1_000_000


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver (make test installs them)"
)
@pytest.mark.browser
def test_report_renders_in_headless_chromium(run_folder, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    report = tmp_path / "report.html"
    build(run_folder, report)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1800"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(Path(report).as_uri())
        funnels = driver.find_elements(By.CSS_SELECTOR, 'figure[data-chart="funnel"] svg')
        assert len(funnels) == 3 and all(f.size["height"] > 50 for f in funnels)
        choose = Select(driver.find_element(By.ID, "group"))
        wanted = next(i for i, o in enumerate(choose.options) if "filter" in o.text and "wrong_answer" in o.text)
        choose.select_by_index(wanted)
        row = driver.find_element(By.ID, "row")
        assert row.get_attribute("data-group") == "wrong_answer"
        assert "wrong_answer" in row.find_element(By.CSS_SELECTOR, '[data-field="checks"]').text
        first = row.text
        driver.find_element(By.ID, "next").click()
        assert driver.find_element(By.ID, "position").text.startswith("2 / ") and row.text != first
        driver.execute_script("arguments[0].scrollIntoView()", driver.find_element(By.ID, "browser"))
        driver.save_screenshot(str(tmp_path / "report.png"))
        assert (tmp_path / "report.png").stat().st_size > 10_000
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()


def test_bad_report_inputs_are_exit_2_with_the_file_named(tmp_path):
    (tmp_path / "broken" / ".datafactory").mkdir(parents=True)
    (tmp_path / "broken" / ".datafactory/manifest.json").write_text("{broken")
    (tmp_path / "empty").mkdir()
    for folder, message in (
        ("broken", "not a readable manifest"),
        ("empty", "no stage output here"),
        ("nope", "no such"),
    ):
        result = run_cli("report", tmp_path / folder, "-o", tmp_path / "r.html")
        assert result.returncode == 2 and message in result.stderr and folder in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_generate_lengths_are_labelled_samples_not_kept(tmp_path):
    from datafactory.report.collect import collect

    folder = tmp_path / "samples"
    (folder / ".datafactory").mkdir(parents=True)
    rows = [{"prompt_id": f"p{i}", "sample_index": 0, "completion": "x", "completion_tokens": 10 + i} for i in range(5)]
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-00000.parquet")
    (folder / ".datafactory/manifest.json").write_text(
        json.dumps({"stage": "generate", "counts": {"prompts": 5, "rows_out": 5}})
    )
    (view,) = collect([str(folder)])
    assert set(view.lengths) == {"samples"} and view.funnel == [("prompts", 5), ("samples", 5)]


def test_hostile_text_cannot_break_the_page_or_reorder_it(tmp_path):
    hostile = "<!--<script>alert(1)</script> & \u202egnp.exe"
    rows = [trace_row("p0", 0, f"Think {hostile}", 1, "1"), trace_row("p0", 1, "Think.", 2, "1")]
    (tmp_path / "samples").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "samples" / "part-00000.parquet")
    assert run_cli("filter", tmp_path / "samples", "-o", tmp_path / "filtered", "--workers", "1").returncode == 0
    html = build(tmp_path / "filtered", tmp_path / "report.html")
    embedded = re.search(r'<script type="application/json" id="samples">(.*?)</script>', html, re.S).group(1)
    assert "<" not in embedded and ">" not in embedded and "&" not in embedded
    groups = json.loads(embedded)
    shown = [r["reasoning"] for g in groups for r in g["rows"]]
    assert any("&lt;!--&lt;script&gt;" in text and "[U+202E]" in text for text in shown), shown
    assert "\u202e" not in html


def test_the_browser_says_what_was_decided_on_the_data_a_user_reads(tmp_path):
    """A sample nobody checked does not read as passed; suspect golds come with their problem; a removed duplicate
    shows the row it duplicates."""
    from datafactory.report.collect import collect

    rows = [trace_row("p0", i, "Add them.", 6, "5") for i in range(8)]
    rows += [trace_row(f"p{i}", 0, "Add them.", i, str(i)) for i in range(1, 4)]
    rows.append({**trace_row("p9", 0, "Add them.", 66, "67"), "messages": rows[9]["messages"]})  # p2's problem again
    samples = tmp_path / "samples"
    (samples / ".datafactory").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), samples / "part-00000.parquet")
    (samples / ".datafactory/manifest.json").write_text(json.dumps({"stage": "generate", "counts": {"rows_out": 12}}))
    (samples / ".datafactory/SUCCESS").write_text("")
    (generated,) = collect([str(samples)])
    shown = [row for group in generated.samples.values() for row in group]
    assert shown and all(not r["checked"] and r["status"].startswith("no verdict") for r in shown)

    assert run_cli("filter", samples, "-o", tmp_path / "filtered", "--workers", "1").returncode == 0
    (filtered,) = collect([str(tmp_path / "filtered")])
    (suspect,) = filtered.suspect_golds
    assert suspect["prompt_id"] == "p0" and "Problem p0: what is the total?" in suspect["problem"]
    kept = filtered.samples["kept"]
    assert kept and all(r["checked"] and r["status"] == "passed every check" for r in kept)

    assert run_cli("dedupe", samples, "-o", tmp_path / "deduped", "--no-near").returncode == 0
    (deduped,) = collect([str(tmp_path / "deduped")])
    (copy,) = [r for r in deduped.samples["exact_duplicate"] if r["prompt_id"] == "p9"]
    assert copy["match"] == "p2#0" and "Problem p2: what is the total?" in copy["duplicate_of"]
    html = build(tmp_path / "deduped", tmp_path / "report.html")
    assert "the row it duplicates" in html
