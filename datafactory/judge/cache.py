"""An on-disk cache of judge replies, keyed by (judge model, template text, rendered prompt, max tokens).

Why outside the output folder: a re-run into a new folder, an `--overwrite` run, or a resumed run must not pay
for the same judgement twice. SQLite (standard library) gives atomic commits and safe concurrent readers; each
batch of replies is committed before the next is requested, so a killed run keeps what it paid for.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path


def default_cache_path() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "datafactory" / "judge.sqlite"


def cache_key(model: str, template: str, prompt: str, max_tokens: int) -> str:
    return hashlib.sha256(json.dumps([model, template, prompt, max_tokens]).encode()).hexdigest()


class JudgeCache:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=60)
        self.db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL)")
        self.db.commit()

    def get_many(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            found.update(self.db.execute(f"SELECT key, reply FROM replies WHERE key IN ({marks})", part))  # noqa: S608
        return found

    def put_many(self, replies: dict[str, str]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO replies (key, reply) VALUES (?, ?)", replies.items())

    def close(self) -> None:
        self.db.close()
