"""Near-duplicates: MinHash signatures (rensa) with LSH banding, candidates confirmed by their exact Jaccard.

Why exact confirmation: a 128-permutation estimate has a standard deviation of ~0.03 near 0.8, so on short texts
(a one-word edit of a 60-word problem has Jaccard ~0.84) about one true pair in ten fell under the threshold by
chance, and as many distinct pairs could rise above it. So the estimate only discards clear non-matches
(below threshold - ESTIMATE_MARGIN, over 4 standard deviations away); every remaining pair is decided on the
exact Jaccard of the two texts' shingle sets, texts re-read for those rows only. Bands are chosen so that a pair
NEAR_MISS under the threshold is still a candidate with probability >= CANDIDATE_RECALL. A pair whose numbers and
symbols differ (text.math_signature) is never a duplicate: templated problems differ in exactly those.

Why rensa for the signatures: on these machines it is much faster than datasketch and finds the same pairs
(measured by benchmarks/dedupe.py; benchmarks/README.md). Why our own banding on NumPy arrays: rensa's LSH index keeps
~1.6 KB per row, too much for millions of rows; sorted band hashes need 8 bytes per band per row.
"""

from __future__ import annotations

import numpy as np
import xxhash

SEED = 42


FALSE_NEGATIVE_WEIGHT = 0.8  # a missed pair is lost for good; a false candidate only costs one comparison
NEAR_MISS = 0.05
CANDIDATE_RECALL = 0.99
ESTIMATE_MARGIN = 0.15


def candidate_bands(threshold: float, num_perm: int) -> int:
    """The fewest bands (longest bands: fewest chance candidates) that make a pair of Jaccard
    threshold - NEAR_MISS a candidate with probability >= CANDIDATE_RECALL; `optimal_bands` if that needs none."""
    low = max(threshold - NEAR_MISS, 0.0)
    for bands in (b for b in range(1, num_perm + 1) if num_perm % b == 0):
        rows = num_perm // bands
        if 1 - (1 - low**rows) ** bands >= CANDIDATE_RECALL:
            return max(bands, optimal_bands(threshold, num_perm))
    return num_perm


def optimal_bands(threshold: float, num_perm: int) -> int:
    """Bands b (b divides num_perm) minimising the weighted false-positive and false-negative areas at the
    threshold, as datasketch chooses them, but weighted towards recall: candidates are confirmed anyway."""
    grid = np.linspace(0, 1, 1001)
    best, best_error = 1, float("inf")
    for bands in (b for b in range(1, num_perm + 1) if num_perm % b == 0):
        rows = num_perm // bands
        probability = 1 - (1 - grid**rows) ** bands
        false_positive = np.trapezoid(np.where(grid < threshold, probability, 0), grid)
        false_negative = np.trapezoid(np.where(grid >= threshold, 1 - probability, 0), grid)
        error = (1 - FALSE_NEGATIVE_WEIGHT) * false_positive + FALSE_NEGATIVE_WEIGHT * false_negative
        if error < best_error:
            best, best_error = bands, error
    return best


def jaccard(a: set, b: set) -> float:
    shared = len(a & b) if len(a) <= len(b) else len(b & a)
    union = len(a) + len(b) - shared
    return shared / union if union else 1.0


def shingles(tokens: list[str], size: int) -> list[str]:
    if len(tokens) <= size:
        return [" ".join(tokens)] if tokens else [""]
    return list(map(" ".join, zip(*(tokens[i:] for i in range(size)), strict=False)))


BATCH = 5000


def signature_batch(texts: list[str], num_perm: int, bands: int, shingle: int) -> tuple[np.ndarray, np.ndarray]:
    """MinHash of each text's word shingles, as LSH band hashes and 16-bit signature values. Runs in workers."""
    from rensa import RMinHash

    from datafactory.dedupe.text import words

    digests = []
    for text in texts:
        minhash = RMinHash(num_perm, SEED)
        minhash.update(shingles(words(text), shingle))
        digests.append(minhash.digest())
    digests = np.asarray(digests, dtype=np.uint64)
    per_band = digests.reshape(len(digests), bands, num_perm // bands)
    hashes = np.zeros(per_band.shape[:2], dtype=np.uint64)
    for column in range(per_band.shape[2]):  # polynomial hash of each band, wrapping at 2**64
        hashes = hashes * np.uint64(0x100000001B3) + per_band[:, :, column]
    return hashes, (digests & 0xFFFF).astype(np.uint16)


def band_pairs(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose hashes collide in one band, as (earliest row of the bucket, other member) pairs."""
    count = len(column)
    order = np.argsort(column, kind="stable")
    sorted_hashes = column[order]
    starts = np.ones(count, dtype=bool)
    starts[1:] = sorted_hashes[1:] != sorted_hashes[:-1]
    first = order[np.maximum.accumulate(np.where(starts, np.arange(count), 0))]
    return first[~starts], order[~starts]


class NearDuplicateFinder:
    """Collects MinHash signatures and LSH band hashes of rows in input order, then resolves clusters at once.

    Rows whose band hashes collide are candidate pairs (each row is paired with the earliest row of each of its
    buckets, so a bucket costs as many pairs as members); a pair counts when the exact Jaccard of its shingle
    sets reaches the threshold (pairs whose estimate is far below it are dropped first). Confirmed pairs are joined into clusters (union-find); the earliest row of a cluster is kept and
    every other row is a near-duplicate of it. Memory: num_perm × 2 bytes (16-bit minhash values) plus bands ×
    8 bytes per row; texts only of the rows in plausible pairs, while they are confirmed.
    """

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, shingle: int = 5, workers: int = 1, executor=None):
        self.threshold, self.num_perm, self.shingle = threshold, num_perm, shingle
        self.bands = candidate_bands(threshold, num_perm)
        self.rows: list[int] = []
        self.ids: list[str] = []
        self._pending: list[str] = []
        self._parts: list = []  # (band hashes, 16-bit signatures) per batch, or futures of them
        self._pool = executor  # Ray tasks (--executor ray), else local processes
        if executor is None and workers > 1:
            from concurrent.futures import ProcessPoolExecutor

            from datafactory.worker_processes import worker_context

            self._pool = ProcessPoolExecutor(workers, mp_context=worker_context())

    def add(self, row: int, text: str, row_id: str) -> None:
        self._pending.append(text)
        self.rows.append(row)
        self.ids.append(row_id)
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        job = (self._pending, self.num_perm, self.bands, self.shingle)
        self._pending = []
        self._parts.append(self._pool.submit(signature_batch, *job) if self._pool else signature_batch(*job))

    def _collect(self) -> tuple[np.ndarray, np.ndarray]:
        parts = [p.result() if hasattr(p, "result") else p for p in self._parts]
        if self._pool:
            self._pool.shutdown()
        return np.concatenate([h for h, _ in parts]), np.concatenate([s for _, s in parts])

    def _candidate_pairs(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(earliest row of a bucket, other member) for every band; bands are independent, so with a Ray executor
        each band's grouping runs as its own task on the cluster."""
        count = len(hashes)
        if hasattr(self._pool, "put"):  # Ray: one task per band, each given only its column of hashes
            futures = [self._pool.submit(band_pairs, np.ascontiguousarray(hashes[:, b])) for b in range(self.bands)]
            pairs = [future.result() for future in futures]
        else:
            pairs = [band_pairs(hashes[:, band]) for band in range(self.bands)]
        first = np.concatenate([f for f, _ in pairs])
        member = np.concatenate([m for _, m in pairs])
        unique = np.unique(first.astype(np.int64) * count + member)
        return unique // count, unique % count

    def resolve(self, fetch_texts) -> dict[int, tuple[str, float]]:
        """{row: (id of the kept row of its cluster, exact Jaccard with it)} for every near-duplicate row.
        `fetch_texts(rows)` returns {row: text} for the given row numbers (the stage re-reads them)."""
        self._flush()
        if not self._parts:
            return {}
        band_hashes, signatures = self._collect()
        first, member = self._candidate_pairs(band_hashes)
        plausible_first, plausible_member = [], []
        for start in range(0, len(first), 100_000):
            u, v = first[start : start + 100_000], member[start : start + 100_000]
            keep = (signatures[u] == signatures[v]).mean(axis=1) >= self.threshold - ESTIMATE_MARGIN
            plausible_first.append(u[keep])
            plausible_member.append(v[keep])
        pairs = list(
            zip(
                np.concatenate(plausible_first or [first]).tolist(),
                np.concatenate(plausible_member or [member]).tolist(),
                strict=True,
            )
        )
        sets, maths = self._shingle_sets({node for pair in pairs for node in pair}, fetch_texts)
        parent = list(range(len(signatures)))

        def root(node: int) -> int:
            while parent[node] != node:
                parent[node] = parent[parent[node]]
                node = parent[node]
            return node

        for a, b in pairs:
            if maths[a] == maths[b] and jaccard(sets[a], sets[b]) >= self.threshold:
                ra, rb = root(a), root(b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
        duplicates = {}
        for node in sets:
            kept = root(node)
            if kept != node:
                duplicates[self.rows[node]] = (self.ids[kept], jaccard(sets[kept], sets[node]))
        return duplicates

    def _shingle_sets(self, nodes: set[int], fetch_texts) -> tuple[dict[int, set[int]], dict[int, int]]:
        """Each node's shingle set, and its math signature (text.math_signature)."""
        from datafactory.dedupe.text import math_signature, words

        texts = fetch_texts({self.rows[node] for node in nodes})
        size = self.shingle
        sets, maths = {}, {}
        for node in nodes:
            tokens = words(texts[self.rows[node]])
            # shingles as 64-bit hashes of word tuples: set operations then never rehash them
            grams = zip(*(tokens[i:] for i in range(size)), strict=False) if len(tokens) > size else [tuple(tokens)]
            sets[node] = set(map(hash, grams))
            maths[node] = math_signature(tokens)
        return sets, maths


class ExactIndex:
    """First occurrence of each normalised text; 128-bit hashes keep memory to ~100 bytes per distinct text."""

    def __init__(self) -> None:
        self.first: dict[int, str] = {}

    def check(self, normalised: str, row_id: str) -> str | None:
        key = xxhash.xxh3_128_intdigest(normalised.encode())
        earlier = self.first.get(key)
        if earlier is None:
            self.first[key] = row_id
        return earlier
