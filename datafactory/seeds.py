"""Seeds derived from `--seed` and a key, so a sample's seed does not depend on chunking or order."""

from __future__ import annotations

import xxhash


def derive_seed(seed: int, *key: object) -> int:
    """A 31-bit seed from the base seed and any key parts (prompt_id, sample_index, …)."""
    text = ":".join(str(part) for part in (seed, *key))
    return xxhash.xxh64_intdigest(text.encode()) & 0x7FFFFFFF
