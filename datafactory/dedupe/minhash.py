"""Near-duplicates: MinHash signatures (rensa) with LSH banding, candidates confirmed by estimated Jaccard.

Why rensa: on these machines it is ~28x faster than datasketch and finds the same pairs (DESIGN.md; re-measured by
benchmarks/dedupe.py). Signatures of kept rows live in one growing uint32 matrix, so memory is num_perm × 4 bytes
per kept row plus the band index, never the text.
"""

from __future__ import annotations

import numpy as np
import xxhash

SEED = 42


FALSE_NEGATIVE_WEIGHT = 0.8  # a missed pair is lost for good; a false candidate only costs one comparison


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


def shingles(tokens: list[str], size: int) -> list[str]:
    if len(tokens) <= size:
        return [" ".join(tokens)] if tokens else [""]
    return [" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]


class NearDuplicateIndex:
    """Greedy in input order: a row is a near-duplicate of the earliest kept row it matches; otherwise it is kept
    and indexed. Deterministic for a given input order, threshold, num_perm and shingle size."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, shingle: int = 5):
        from rensa import RMinHash, RMinHashLSH

        self.threshold, self.num_perm, self.shingle = threshold, num_perm, shingle
        self._minhash = RMinHash
        self.bands = optimal_bands(threshold, num_perm)
        self.lsh = RMinHashLSH(threshold, num_perm, self.bands)
        self.signatures = np.zeros((1024, num_perm), dtype=np.uint32)
        self.ids: list[str] = []

    def signature(self, tokens: list[str]):
        minhash = self._minhash(self.num_perm, SEED)
        minhash.update(shingles(tokens, self.shingle))
        return minhash

    def check(self, tokens: list[str], row_id: str) -> tuple[str, float] | None:
        """(matched row id, estimated Jaccard) for a near-duplicate; else index the row and return None."""
        minhash = self.signature(tokens)
        digest = np.asarray(minhash.digest(), dtype=np.uint32)
        candidates = sorted(self.lsh.query(minhash))
        if candidates:
            similarity = (self.signatures[candidates] == digest).mean(axis=1)
            best = int(np.argmax(similarity >= self.threshold))
            if similarity[best] >= self.threshold:
                return self.ids[candidates[best]], float(similarity[best])
        key = len(self.ids)
        if key == len(self.signatures):
            self.signatures = np.concatenate([self.signatures, np.zeros_like(self.signatures)])
        self.signatures[key] = digest
        self.ids.append(row_id)
        self.lsh.insert(key, minhash)
        return None


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
