"""A labelled set of reasoning traces for the language_mixed rule: English and Chinese, math and code reasoning.

Clean traces carry what a naive rule mistakes for mixing: Greek letters as symbols, accented names (Bézout,
L'Hôpital), quoted foreign words the problem is about, Latin variables, units and code identifiers inside Chinese.
Mixed traces carry one sentence or clause in another language: the same script (Spanish, French, German, Italian
or Portuguese inside English) or another (Chinese, Japanese, Russian, Korean inside English; English, Japanese,
Korean, Russian inside Chinese). Every sentence below was written for this set; traces are assembled from them
with a fixed seed, so the set is the same on every run. `build()` returns dicts with id, language, kind, label
(True = mixed), why and reasoning.
"""

from __future__ import annotations

import random

EN_MATH = [
    "Let me start by writing down what we know.",
    "The train covers 60 km in one hour, so in 3 hours it covers 180 km.",
    "We need the smallest positive integer that satisfies both congruences.",
    "First, subtract 3 from both sides to get 2x = 8.",
    "Dividing by 2 gives x = 4, which we can check by substitution.",
    "The discriminant is b^2 - 4ac = 25 - 24 = 1, so there are two real roots.",
    "Since the triangle is right-angled, the Pythagorean theorem applies.",
    "The hypotenuse is therefore sqrt(9 + 16) = 5.",
    "Now I should double-check the arithmetic before moving on.",
    "Adding the two fractions over a common denominator of 12 gives 7/12.",
    "Hmm, that does not match the expected range, so let me recompute.",
    "The probability of drawing two red balls is (5/10)(4/9) = 2/9.",
    "Each term is three times the previous one, so the sequence is geometric.",
    "Summing the first ten terms uses the formula a(r^n - 1)/(r - 1).",
    "The area of the circle is πr^2 = 25π square units.",
    "So the remainder when 2^10 is divided by 7 is 2.",
    "Wait, I made an error in the sign of the second term.",
    "Factoring the quadratic gives (x - 2)(x - 3) = 0.",
    "The roots are x = 2 and x = 3, and their sum is 5.",
    "Therefore the final answer is 42.",
    "We can verify this by plugging the value back into the original equation.",
    "The mean of the five numbers is 18, so their total is 90.",
    "Multiplying both sides by the denominator clears the fraction.",
    "This matches the condition stated in the problem.",
    "To be safe, I will also check the boundary case n = 0.",
    "The derivative of x^3 is 3x^2, which vanishes at x = 0.",
    "Using the chain rule, the derivative of sin(2x) is 2cos(2x).",
    "The perimeter of the rectangle is 2(8 + 5) = 26 centimetres.",
]
EN_CODE = [
    "The function needs to return the indices of the two numbers that add up to the target.",
    "A dictionary from value to index lets us do this in one pass.",
    "For each element, we check whether target minus the element is already in the dictionary.",
    "The loop runs n times, so the time complexity is O(n).",
    "An empty list should return an empty result rather than raise an error.",
    "I will use a sliding window to keep track of the longest substring without repeats.",
    "The call np.linalg.solve(A, b) would also work, but plain Python is enough here.",
    "Sorting first makes the two-pointer approach possible.",
    "Edge case: when the input has a single element, the answer is that element.",
    "The recursion depth could exceed the limit, so an iterative version is safer.",
    "Let me trace the algorithm on the example [2, 7, 11, 15] with target 9.",
    "The helper is_prime(n) checks divisors up to the square root of n.",
    "Using collections.Counter makes counting the characters straightforward.",
    "The result must be sorted in ascending order before returning it.",
    "Memoisation with functools.lru_cache avoids recomputing the same states.",
]
ZH_MATH = [
    "首先，我们把已知条件整理一下。",
    "火车每小时行驶60公里，所以3小时行驶180公里。",
    "两边同时减去3，得到2x = 8。",
    "两边再除以2，得到 x = 4。",
    "我们把结果代回原方程检验一下。",
    "判别式等于 b^2 - 4ac = 1，所以方程有两个实数根。",
    "因为三角形是直角三角形，所以可以用勾股定理。",
    "斜边长度为 sqrt(9 + 16) = 5。",
    "等一下，我需要重新检查这一步的计算。",
    "通分以后两个分数的和是 7/12。",
    "每一项都是前一项的三倍，所以这是一个等比数列。",
    "圆的面积等于 πr^2，也就是 25π。",
    "所以 2^10 除以 7 的余数是 2。",
    "把二次式因式分解，得到 (x - 2)(x - 3) = 0。",
    "两个根分别是 2 和 3，它们的和是 5。",
    "因此最终答案是 42。",
    "五个数的平均数是 18，所以它们的总和是 90。",
    "这和题目给出的条件一致。",
    "为了保险起见，我再检查一下边界情况。",
    "函数 x^3 的导数是 3x^2。",
]
ZH_CODE = [
    "这个函数需要返回两个数的下标，使它们的和等于目标值。",
    "用一个字典记录每个值出现的位置，只需要遍历一次。",
    "循环执行 n 次，所以时间复杂度是 O(n)。",
    "如果输入为空列表，应该返回空结果。",
    "先排序，然后用双指针的方法求解。",
    "递归可能太深，所以改成迭代的写法更安全。",
    "我们用例子 [2, 7, 11, 15] 和目标值 9 走一遍算法。",
    "最后要把结果按升序排序再返回。",
    "用记忆化搜索可以避免重复计算。",
    "当输入只有一个元素时，答案就是这个元素。",
]
# Clean on purpose: what a naive rule calls mixing.
EN_TRICKY = [
    "The change Δx = 0.5, so θ = π/4 and the slope is tan θ = 1.",
    "Let α and β be the roots, so α + β = 5 and αβ = 6.",
    "The standard deviation σ is 2 and the mean μ is 10.",
    "With λ = 3, the Poisson probability is e^{-λ} λ^k / k!.",
    'The problem asks what the French word "fenêtre" means, and it means window.',
    'In Spanish, "gracias" means thank you, so the answer is B.',
    'The character "水" means water, which rules out option C.',
    "The German noun «Fahrrad» translates to bicycle.",
    "By Bézout's identity there exist integers a and b with 3a + 5b = 1.",
    "Using L'Hôpital's rule, the limit equals the ratio of the derivatives.",
    "This is the Cauchy–Schwarz inequality applied to the two vectors.",
    "Erdős and Poincaré studied related problems, but we only need the basic case.",
    "The angle ∠ABC is 90°, so the triangle is right-angled.",
    "Here ε is any positive number and δ = ε/3 works.",
    "The naïve approach fails here, just as the café example in the statement shows.",
    "The program prints `Hola mundo` exactly as the problem asks.",
    'The expected output is the string "bonjour le monde" followed by a newline.',
]
ZH_TRICKY = [
    "设 x 为未知数，则 2x + 3 = 11，所以 x = 4。",
    "长方形的面积是 12 cm²，周长是 14 cm。",
    "我们用 numpy 的 linalg.solve 函数求解这个方程组。",
    "这里的 for 循环遍历整个列表，然后 return 结果。",
    "根据 Pythagorean 定理，斜边长度为 5。",
    "时间复杂度是 O(n log n)，空间复杂度是 O(n)。",
    "函数 def add(a, b) 返回两个数的和。",
    "用 Python 的 sorted() 函数对列表排序即可。",
    '题目问 "apple" 是什么意思，答案是苹果。',
    "速度是 60 km/h，时间是 2 h，所以路程是 120 km。",
    "角 θ 等于 π/6，所以 sin θ = 1/2。",
    "这里 dp[i] 表示前 i 个元素的最大和。",
    "使用 Dijkstra 算法求最短路径。",
    "根据 Cauchy-Schwarz 不等式可以得到下界。",
    "这就是所谓的 dynamic programming 方法。",
]
# One of these makes a trace mixed: a sentence or clause in another language.
INTO_ENGLISH = {
    "Spanish": ["Entonces, la respuesta es cuarenta y dos.", "Vamos a verificar el resultado otra vez.",
                "Primero calculamos la suma de todos los números.", "Ahora tenemos que resolver la ecuación."],
    "French": ["Donc, le résultat est égal à douze.", "Il faut vérifier que la fonction est correcte.",
               "Nous allons maintenant calculer la dérivée.", "Ensuite, on divise les deux côtés par deux."],
    "German": ["Also ist die Antwort gleich sieben.", "Wir müssen jetzt die Gleichung lösen.",
               "Dann prüfen wir das Ergebnis noch einmal."],
    "Italian": ["Quindi dobbiamo controllare che il risultato sia corretto."],
    "Portuguese": ["Então vamos verificar se a resposta está correta."],
    "Chinese": ["然后我们检查一下结果是否正确。", "我们先计算分子和分母。", "所以答案应该是四十二。"],
    "Chinese clause": ["So the sum is 12, 但是我们还需要检查边界条件。"],
    "Japanese": ["次に、答えを確認します。", "この式を整理すると答えが出ます。"],
    "Russian": ["Теперь проверим ответ ещё раз.", "Значит, ответ равен сорока двум."],
    "Korean": ["이제 답을 확인해 봅시다."],
}  # fmt: skip
INTO_CHINESE = {
    "English": ["Let me double check the calculation once more.", "Wait, I think I made a mistake in the previous step.",
                "So the final answer should be twelve.", "Now we need to check the boundary case again.",
                "Hmm, this approach does not seem to work.", "Okay, I think the answer is correct now.",
                "The loop should stop when the pointers meet."],
    "French": ["Donc, la réponse est douze."],
    "Spanish": ["Entonces la respuesta es doce."],
    "English clause": ["我们需要 check whether the loop terminates correctly 才能确定答案。",
                       "这一步 is not obvious at all so let me think 一下。"],
    "Japanese": ["次に、この値を確認します。", "これで答えが分かりました。"],
    "Korean": ["이제 답을 확인해 봅시다."],
    "Russian": ["Теперь проверим ответ ещё раз."],
}  # fmt: skip


def _trace(rng: random.Random, pool: list[str], joiner: str, extra: list[str]) -> str:
    sentences = rng.sample(pool, rng.randint(4, 9))
    for sentence in extra:
        sentences.insert(rng.randint(0, len(sentences)), sentence)
    return joiner.join(sentences) if rng.random() < 0.5 else "\n".join(sentences)


def build(seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows: list[dict] = []

    def add(language, kind, label, why, reasoning):
        rows.append({"id": f"{language}-{kind}-{len(rows)}", "language": language, "kind": kind, "label": label,
                     "why": why, "reasoning": reasoning})  # fmt: skip

    for language, pools, tricky, joiner in (
        ("en", (EN_MATH, EN_CODE), EN_TRICKY, " "),
        ("zh", (ZH_MATH, ZH_CODE), ZH_TRICKY, ""),
    ):
        for kind, pool in zip(("math", "code"), pools, strict=True):
            clean_count = {"math": 26, "code": 13}[kind]
            for index in range(clean_count):
                extras = rng.sample(tricky, rng.randint(1, 2)) if index % 4 else []
                add(
                    language,
                    kind,
                    False,
                    "clean" if not extras else "clean, with symbols/terms",
                    _trace(rng, pool, joiner, extras),
                )
        into = INTO_ENGLISH if language == "en" else INTO_CHINESE
        for foreign, sentences in into.items():
            for sentence in sentences:
                for kind, pool in zip(("math", "code"), pools, strict=True):
                    if kind == "code" and rng.random() < 0.5:
                        continue
                    extras = [sentence] + (rng.sample(tricky, 1) if rng.random() < 0.5 else [])
                    add(language, kind, True, f"{foreign} inside {language}", _trace(rng, pool, joiner, extras))
    return rows
