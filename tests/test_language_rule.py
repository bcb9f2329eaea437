"""language_mixed on a labelled set of our own (tests/language_set.py) and on the classes of trace that fooled
the share-of-words rule: Greek symbols, Latin identifiers in Chinese, quoted foreign words, same-script sentences."""

import pytest

from datafactory.report.highlight import highlight
from datafactory.rules.language import foreign_spans, is_mixed
from tests.language_set import build


def test_labelled_set_precision_and_recall():
    rows = build()
    assert len(rows) >= 120
    assert {r["language"] for r in rows} == {"en", "zh"} and {r["kind"] for r in rows} == {"math", "code"}
    assert any(r["why"] == "Spanish inside en" for r in rows)  # a same-script pair
    verdicts = [(is_mixed(r["reasoning"], r["language"]), r["label"]) for r in rows]
    true_positive = sum(found and label for found, label in verdicts)
    precision = true_positive / sum(found for found, _ in verdicts)
    recall = true_positive / sum(label for _, label in verdicts)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


@pytest.mark.parametrize(
    "text,language",
    [
        ("The change Δx = 0.5, so θ = π/4 and αβ = 6. Hence the slope is 1.", "en"),
        ("By Bézout's identity and L'Hôpital's rule, the limit is 1.", "en"),
        ('The problem asks what the French word "fenêtre" means: it means window.', "en"),
        ("We compute $\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$ and get 55. Then `print('hola')` prints it.", "en"),
        ("设 x 为未知数，则 2x + 3 = 11，所以 x = 4。长方形的面积是 12 cm²。", "zh"),
        ("我们用 numpy 的 linalg.solve 函数求解。这里的 for 循环遍历列表，然后 return 结果。", "zh"),
        ("这就是所谓的 dynamic programming 方法。", "zh"),
    ],
)
def test_symbols_terms_and_identifiers_are_not_mixing(text, language):
    assert foreign_spans(text, language) == []


@pytest.mark.parametrize(
    "text,language,foreign",
    [
        ("The answer is 42. Entonces, la respuesta es cuarenta y dos. Done.", "en", "Entonces"),
        ("We divide by two. Ensuite, on divise les deux côtés par deux. So x = 4.", "en", "Ensuite"),
        ("So the sum is 12, 然后我们检查一下结果是否正确。 The answer is 12.", "en", "然后"),
        ("Now verify. Теперь проверим ответ ещё раз. It holds.", "en", "Теперь"),
        ("两边同时减去3。Let me double check the calculation once more. 所以 x = 4。", "zh", "Let me"),
        ("我们需要 check whether the loop terminates correctly 才能确定答案。", "zh", "check whether"),
        ("次に、この値を確認します。因此答案是 42。", "zh", "次に"),
    ],
)
def test_a_sentence_or_clause_in_another_language_is_found(text, language, foreign):
    spans = foreign_spans(text, language)
    assert spans and any(foreign in text[start:end] for start, end in spans), spans
    assert "<mark" in highlight(text, ["language_mixed"], language)


def test_one_foreign_sentence_in_a_long_trace_is_still_found():
    """A share-of-words rule lets one sentence in 300 through; the rule is per sentence."""
    trace = " ".join(["Adding the two fractions over a common denominator gives 7/12."] * 300)
    assert not is_mixed(trace, "en")
    assert is_mixed(trace + " Vamos a verificar el resultado otra vez.", "en")
