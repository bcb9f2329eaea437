"""Memory settings of the process for stages that stream large Arrow batches.

Why huge pages off (dedupe, mix): Arrow allocates through mimalloc, which backs large allocations with
transparent huge pages. On virtual machines that hand idle memory back to the host (free page reporting), every
fresh 2 MB page is faulted in from the host and zeroed, and a stage that converts and copies a gigabyte spends more time in those faults than in
its work: `benchmarks/mix.py` measured 3.2-3.7 s of system time with huge pages and 0.9-1.1 s without (wall
4.9-5.1 s vs 3.6-3.9 s, 2 cores); `benchmarks/dedupe.py` ran 6-15% faster without. Ordinary 4 KB pages are
taken from memory the guest already holds. Not for generation: torch may profit from huge pages, and filter
(which may run a judge model) gained only 2-4%. Setting `MIMALLOC_ALLOW_THP` yourself (1 or 0) leaves the
choice to you.

Why freed memory kept (every command): mimalloc returns freed memory to the OS after 10 ms and faults it in
again on the next allocation; stages allocate and free batches of tens of MB over and over (benchmarks/mix.py:
1.8 million page faults and 3.3-3.6 s of system time by default, 0.37 million and 0.9-1.1 s without). A stage's
peak is bounded by its design; `MIMALLOC_PURGE_DELAY` set by the user wins.
"""

from __future__ import annotations

import ctypes
import os
import sys

PR_SET_THP_DISABLE = 41


def use_small_pages() -> bool:
    """Turn transparent huge pages off for this process (Linux); True when done."""
    if "MIMALLOC_ALLOW_THP" in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def keep_freed_memory() -> None:
    """Ask mimalloc to keep freed memory for reuse (read when it first purges, so this can run after import)."""
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")
