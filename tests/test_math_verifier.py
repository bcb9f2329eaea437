"""The math verifier on real benchmark golds (../shared/data) and on a table of tricky cases of our own."""

import json

import pytest

from datafactory.trace import last_boxed
from datafactory.verifiers.math import MathVerifier, normalise_gold
from datafactory.verifiers.math_answer import final_answer


@pytest.fixture(scope="module")
def verifier():
    return MathVerifier()


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_math500_gold_verifies_against_its_own_solution_box(verifier, shared_data):
    records = _jsonl(shared_data / "math500_test.jsonl")
    assert len(records) == 500
    results = [
        verifier.verify(f"Therefore $\\boxed{{{last_boxed(r['solution'])}}}$.", r["answer"], {}) for r in records
    ]
    assert sum(r.ok for r in results) == 500


def test_math500_answer_of_another_problem_does_not_verify(verifier, shared_data):
    records = _jsonl(shared_data / "math500_test.jsonl")
    checked = 0
    for record, other in zip(records, records[1:] + records[:1], strict=True):
        mine, theirs = record["answer"], other["answer"]
        if verifier.verify(f"\\boxed{{{mine}}}", theirs, {}).ok:  # genuinely equal answers (7 and 7): not a wrong one
            continue
        checked += 1
        assert not verifier.verify(f"The answer is $\\boxed{{{theirs}}}$", mine, {}).ok, (mine, theirs)
    assert checked >= 490


def test_gsm8k_gold_after_hashes_verifies_against_the_reference_final_number(verifier, shared_data):
    records = _jsonl(shared_data / "gsm8k_test.jsonl")
    assert len(records) == 1319
    passed = 0
    for record in records:
        body, final = record["answer"].rsplit("####", 1)
        response = f"{body.strip()}\nSo the answer is $\\boxed{{{final.strip()}}}$."
        passed += verifier.verify(response, record["answer"], {}).ok
        assert not verifier.verify(f"\\boxed{{{final.strip()}1}}", record["answer"], {}).ok
    assert passed == 1319


def test_aime_leading_zeros_and_amc_float_golds(verifier, shared_data):
    aime = _jsonl(shared_data / "aime24_test.jsonl")
    padded = [r for r in aime if r["answer"].startswith("0")]
    assert len(padded) == 7
    for record in aime:
        assert verifier.verify(f"\\boxed{{{int(record['answer'])}}}", record["answer"], {}).ok
    amc = _jsonl(shared_data / "amc23_test.jsonl")
    assert all(isinstance(r["answer"], float) for r in amc)
    for record in amc:
        answer = record["answer"]
        text = str(int(answer)) if answer.is_integer() else str(answer)
        assert verifier.verify(f"\\boxed{{{text}}}", answer, {}).ok
        assert not verifier.verify(f"\\boxed{{{answer + 1}}}", answer, {}).ok


EQUIVALENT = [
    ("025", "25"),
    (27.0, "27"),
    ("10{,}000", "10000"),
    ("10,000", "10000"),
    ("10000", "10,000"),
    ("5\\text{ cm}", "5"),
    ("\\frac{1}{2}", "0.5"),
    ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"),
    ("2\\frac{2}{3}", "\\frac{8}{3}"),
    ("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72", "72"),
    ("\\text{(B)}", "B"),
    ("1 \\le x \\le 2", "[1,2]"),
]
NOT_EQUIVALENT = [
    ("1-\\frac{1}{e}", "1+\\frac{1}{e}"),
    ("2\\frac{2}{3}", "2"),
    ("\\frac{1}{2}", "\\frac{1}{3}"),
    ("025", "250"),
    ("10{,}000", "1000"),
    ("(1, 2)", "(2, 1)"),
    ("\\sqrt{2}", "1.41"),
]


@pytest.mark.parametrize(("gold", "answer"), EQUIVALENT)
def test_equivalent_answers_pass(verifier, gold, answer):
    assert verifier.verify(f"\\boxed{{{answer}}}", gold, {}).ok


@pytest.mark.parametrize(("gold", "answer"), NOT_EQUIVALENT)
def test_different_answers_fail(verifier, gold, answer):
    result = verifier.verify(f"\\boxed{{{answer}}}", gold, {})
    assert not result.ok and result.reason == "wrong_answer"


def test_extraction_fallback_and_missing_answers(verifier):
    assert final_answer("blah \\boxed{1} then \\boxed{\\frac{a}{b}}") == "\\frac{a}{b}"
    assert final_answer("So the final answer is: 42.\nThanks") == "42"
    assert final_answer("I am not sure.") is None
    assert verifier.verify("I am not sure.", "3", {}).reason == "no_answer"
    assert verifier.verify("\\boxed{3}", None, {}).reason == "no_gold"
    assert normalise_gold(["1", "2"]) == "1, 2"
