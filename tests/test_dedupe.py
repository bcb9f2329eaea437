"""`datafactory dedupe` on corpora with planted duplicates, and decontamination against real benchmarks."""

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datafactory.dedupe.minhash import candidate_bands, optimal_bands, shingles
from datafactory.dedupe.text import words
from datafactory.io.writer import sha256_file
from tests.conftest import run_cli, write_jsonl

VOCABULARY = [f"w{i}" for i in range(3000)]


def jaccard(a: str, b: str, size: int = 5) -> float:
    x, y = set(shingles(words(a), size)), set(shingles(words(b), size))
    return len(x & y) / len(x | y)


def edit(text: str, rng: random.Random, changes: int) -> str:
    tokens = text.split()
    for position in rng.sample(range(len(tokens)), changes):
        tokens[position] = rng.choice(VOCABULARY)
    return " ".join(tokens)


def read(folder):
    shards = sorted(folder.glob("part-*.parquet"))
    return pa.concat_tables(pq.read_table(s) for s in shards).to_pylist() if shards else []


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Base texts, then: exact copies (case/space changed), near copies (J >= 0.85), similar-but-distinct (J <= 0.6)."""
    rng = random.Random(0)
    rows, kinds = [], {}
    bases = [" ".join(rng.choices(VOCABULARY, k=120)) for _ in range(400)]
    for i, text in enumerate(bases):
        rows.append({"prompt_id": f"base{i}", "problem": text})
        kinds[f"base{i}"] = ("base", None, None)
    for i, text in enumerate(bases[:100]):
        rows.append({"prompt_id": f"exact{i}", "problem": "  " + text.upper().replace(" ", "\n ")})
        kinds[f"exact{i}"] = ("exact", f"base{i}", 1.0)
    for i, text in enumerate(bases[100:250], start=100):
        copy = edit(text, rng, 1)
        rows.append({"prompt_id": f"near{i}", "problem": copy})
        kinds[f"near{i}"] = ("near", f"base{i}", jaccard(text, copy))
    for i, text in enumerate(bases[250:400], start=250):
        copy = edit(text, rng, 12)
        rows.append({"prompt_id": f"similar{i}", "problem": copy})
        kinds[f"similar{i}"] = ("similar", f"base{i}", jaccard(text, copy))
    folder = tmp_path_factory.mktemp("planted")
    write_jsonl(folder / "corpus.jsonl", rows)
    return folder / "corpus.jsonl", kinds


def test_planted_duplicates_recall_and_precision(tmp_path, planted):
    corpus, kinds = planted
    assert min(j for k, _, j in kinds.values() if k == "near") >= 0.85
    assert max(j for k, _, j in kinds.values() if k == "similar") <= 0.6
    out = tmp_path / "out"
    result = run_cli("dedupe", corpus, "-o", out, "--threshold", "0.8")
    assert result.returncode == 0, result.stderr
    removed = {r["prompt_id"]: r for r in read(out / ".removed")}
    kept = {r["prompt_id"] for r in read(out)}
    assert len(kept) + len(removed) == len(kinds)
    exact = [pid for pid, (kind, _, _) in kinds.items() if kind == "exact"]
    assert all(removed[pid]["dedupe_reason"] == "exact_duplicate" for pid in exact)
    assert all(removed[pid]["dedupe_match"] == kinds[pid][1] for pid in exact)
    near = [pid for pid, (kind, _, _) in kinds.items() if kind == "near"]
    found = [pid for pid in near if pid in removed and removed[pid]["dedupe_reason"] == "near_duplicate"]
    assert len(found) / len(near) >= 0.95
    assert all(
        removed[pid]["dedupe_match"] == kinds[pid][1] and removed[pid]["dedupe_similarity"] >= 0.8 for pid in found
    )
    flagged = [pid for pid, row in removed.items() if row["dedupe_reason"] == "near_duplicate"]
    assert sum(kinds[pid][0] == "near" for pid in flagged) / len(flagged) >= 0.99
    assert all(f"base{i}" in kept for i in range(400))  # the first occurrence is always kept
    manifest = json.loads((out / ".datafactory/manifest.json").read_text())
    assert manifest["counts"]["removed"]["exact_duplicate"] == 100
    assert manifest["counts"]["per_input"][str(corpus)]["rows_in"] == len(kinds)


def test_same_input_gives_byte_identical_output(tmp_path, planted):
    corpus, _ = planted
    digests = []
    for name in ("a", "b"):
        assert run_cli("dedupe", corpus, "-o", tmp_path / name, "--shard-rows", "200").returncode == 0
        shards = sorted((tmp_path / name).glob("part-*.parquet")) + sorted(
            (tmp_path / name / ".removed").glob("part-*.parquet")
        )
        digests.append([sha256_file(s) for s in shards])
    assert digests[0] == digests[1] and len(digests[0]) > 2


def _reformat(text: str, rng: random.Random) -> str:
    text = text.replace("+", " + ").replace("{", "{ ").replace("=", " = ")
    text = "  ".join(text.split(" "))
    return text.upper() if rng.random() < 0.5 else text


def test_decontamination_against_real_benchmarks(tmp_path, shared_data):
    rng = random.Random(1)
    gsm8k = [json.loads(line) for line in (shared_data / "gsm8k_test.jsonl").read_text().splitlines()]
    math500 = [json.loads(line) for line in (shared_data / "math500_test.jsonl").read_text().splitlines()]
    aime = [json.loads(line) for line in (shared_data / "aime24_test.jsonl").read_text().splitlines()]
    leaked = [r["question"] for r in rng.sample(gsm8k, 20)] + [r["problem"] for r in rng.sample(math500, 20)]
    leaked += [r["problem"] for r in aime[:10]]
    rows = [{"prompt_id": f"leak{i}", "problem": _reformat(text, rng)} for i, text in enumerate(leaked)]
    clean = [
        f"A farmer has {a} sheep and buys {b} more goats on day {c}. How many animals graze now in total?"
        for a, b, c in ((rng.randint(2, 90), rng.randint(2, 90), i) for i in range(60))
    ]
    rows += [{"prompt_id": f"clean{i}", "problem": text} for i, text in enumerate(clean)]
    write_jsonl(tmp_path / "mix.jsonl", rows)
    out = tmp_path / "out"
    result = run_cli(
        "dedupe", tmp_path / "mix.jsonl", "-o", out, "--no-exact", "--no-near",
        "--decontaminate", shared_data / "gsm8k_test.jsonl", "--decontaminate", shared_data / "math500_test.jsonl",
        "--decontaminate", shared_data / "aime24_test.jsonl",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    removed = {r["prompt_id"]: r for r in read(out / ".removed")}
    assert {pid for pid in removed} == {f"leak{i}" for i in range(len(leaked))}
    assert all(r["dedupe_reason"] == "contaminated" and len(r["dedupe_ngram"].split()) == 8 for r in removed.values())
    assert removed["leak0"]["dedupe_match"].startswith("gsm8k_test.jsonl:")
    assert len(read(out)) == 60


def test_on_completion_and_messages_and_bad_input(tmp_path):
    rows = [
        {
            "prompt_id": "a",
            "sample_index": 0,
            "messages": [{"role": "user", "content": "Q1"}],
            "completion": "same answer text",
        },
        {
            "prompt_id": "a",
            "sample_index": 1,
            "messages": [{"role": "user", "content": "Q1"}],
            "completion": "Same  answer text",
        },
        {"prompt_id": "b", "sample_index": 0, "messages": [{"role": "user", "content": "Q2"}], "completion": "other"},
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "s.parquet")
    assert run_cli("dedupe", tmp_path / "s.parquet", "-o", tmp_path / "c", "--on", "completion").returncode == 0
    assert [r["dedupe_match"] for r in read(tmp_path / "c" / ".removed")] == ["a#0"]
    assert run_cli("dedupe", tmp_path / "s.parquet", "-o", tmp_path / "p").returncode == 0
    assert len(read(tmp_path / "p")) == 2
    write_jsonl(tmp_path / "bad.jsonl", [{"problem": "x"}, {"text": "no field"}])
    result = run_cli("dedupe", tmp_path / "bad.jsonl", "-o", tmp_path / "bad")
    assert result.returncode == 2 and "bad.jsonl, row 2" in result.stderr
    assert not list((tmp_path / "bad").glob("part-*"))


def test_band_choice_matches_the_threshold():
    assert optimal_bands(0.8, 128) in (8, 16)
    assert optimal_bands(0.5, 128) > optimal_bands(0.9, 128)
    for threshold in (0.5, 0.7, 0.8, 0.9):  # a pair a little under the threshold is still a candidate
        bands = candidate_bands(threshold, 128)
        assert 1 - (1 - (threshold - 0.05) ** (128 // bands)) ** bands >= 0.99


def test_short_texts_one_word_edits_are_found_and_decided_on_exact_jaccard(tmp_path):
    """Math problems are 30-80 words: a one-word edit is a near-duplicate; pairs just under the threshold are not,
    however their MinHash estimate falls (each pair decided on the exact Jaccard of its 3-word shingles)."""
    rng = random.Random(5)
    rows, edited, under, over = [], [], [], []
    for i in range(300):
        base = " ".join(rng.choices(VOCABULARY, k=rng.randint(40, 80)))
        rows.append({"prompt_id": f"b{i}", "problem": base})
        copy = edit(base, rng, 1)
        rows.append({"prompt_id": f"e{i}", "problem": copy})
        edited.append(f"e{i}")
    for i in range(300):  # pairs whose exact Jaccard lies just under or just over 0.8
        base = " ".join(rng.choices(VOCABULARY, k=rng.randint(40, 80)))
        copy = edit(base, rng, rng.choice([1, 2, 3]))
        similarity = jaccard(base, copy, 3)
        if 0.72 <= similarity < 0.8 or 0.8 <= similarity <= 0.86:
            rows += [{"prompt_id": f"c{i}", "problem": base}, {"prompt_id": f"d{i}", "problem": copy}]
            (under if similarity < 0.8 else over).append(f"d{i}")
    assert len(under) > 30 and len(over) > 30
    write_jsonl(tmp_path / "short.jsonl", rows)
    result = run_cli("dedupe", tmp_path / "short.jsonl", "-o", tmp_path / "out", "--no-exact")
    assert result.returncode == 0, result.stderr
    removed = {r["prompt_id"]: r for r in read(tmp_path / "out" / ".removed")}
    assert sum(pid in removed for pid in edited) / len(edited) >= 0.98
    assert all(pid in removed for pid in over)
    assert not any(pid in removed for pid in under)
    assert set(removed) <= set(edited) | set(over)  # no distinct text removed
    for pid, row in removed.items():
        assert row["dedupe_similarity"] >= 0.8, (pid, row["dedupe_similarity"])


TEMPLATES = [
    "A baker has {a} loaves in the morning and the shop sells or bakes more during the day. Ignoring everything "
    "else that happens in the shop, compute the value of {a} {op} {b} and give the result as a whole number.",
    "Solve for x in the equation {a}x {op} {b} = {c}, showing each step of the work clearly, and write the final "
    "value of x in the simplest form that you can find.",
    "Let f(x) = x^{e} {op} {b}x. Find f({a}) and explain which rule of arithmetic you used at each step of the "
    "computation before writing the final answer.",
    "Which is true: {a} {rel} {b} or not? Answer yes or no and justify the answer with one short sentence that "
    "a student in middle school could follow without a calculator.",
]


def templated_problems() -> list[str]:
    """Problems that differ only in an operator, a relation, a sign or an exponent (and which numbers they use)."""
    texts = []
    for a, b in [(24, 8), (13, 5), (7, 3), (40, 12), (9, 9), (15, 6), (21, 4), (33, 11), (18, 2), (50, 25), (6, 14)]:
        for op in ("+", "-", "*", "/", "−", "×", "÷"):
            texts.append(TEMPLATES[0].format(a=a, op=op, b=b))
            texts.append(TEMPLATES[1].format(a=a, op=op, b=b, c=20))
            texts.append(TEMPLATES[1].format(a=a, op=op, b=-b, c=20))
        for e in (2, 3):
            for op in ("+", "-"):
                texts.append(TEMPLATES[2].format(a=a, op=op, b=b, e=e))
        for rel in ("<", ">", "=", "≤", "≥", "≠"):
            texts.append(TEMPLATES[3].format(a=a, rel=rel, b=b))
    return texts


def test_templated_math_problems_differing_in_an_operator_or_sign_are_all_kept(tmp_path):
    texts = templated_problems()
    assert len(texts) == len(set(texts)) >= 300
    source = write_jsonl(tmp_path / "math.jsonl", [{"prompt_id": f"t{i}", "problem": t} for i, t in enumerate(texts)])
    result = run_cli("dedupe", source, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert [r["prompt_id"] for r in read(tmp_path / "out" / ".removed")] == []
    assert len(read(tmp_path / "out")) == len(texts)
    copies = [{"prompt_id": f"c{i}", "problem": t.replace("the final", "the last")}
              for i, t in enumerate(texts[:60]) if "the final" in t]  # fmt: skip
    write_jsonl(tmp_path / "more.jsonl", [{"prompt_id": f"t{i}", "problem": t} for i, t in enumerate(texts)] + copies)
    result = run_cli("dedupe", tmp_path / "more.jsonl", "-o", tmp_path / "more")
    assert result.returncode == 0, result.stderr
    removed = {r["prompt_id"]: (r["dedupe_reason"], r["dedupe_match"]) for r in read(tmp_path / "more" / ".removed")}
    edited = {c["prompt_id"]: ("near_duplicate", "t" + c["prompt_id"][1:]) for c in copies}
    assert len(edited) >= 15
    assert removed == edited  # a one-word edit with the same mathematics is still a near-duplicate


@pytest.mark.parametrize(
    ("a", "b"),
    [("What is 24 + 8?", "What is 24 - 8?"), ("Solve 3x + 5 = 20", "Solve 3x - 5 = 20"),
     ("Is 7 < 9 true?", "Is 7 > 9 true?"), ("Compute $x^{2} + 1$ at 3", "Compute $x^{3} + 1$ at 3"),
     ("Is 4 ≤ 5 true?", "Is 4 ≥ 5 true?")],
)  # fmt: skip
def test_operators_and_relations_are_content(a, b):
    assert words(a) != words(b)
    assert jaccard(a, b, 3) < 0.8
