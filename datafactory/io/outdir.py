"""The output-directory contract: shards, `.datafactory/manifest.json`, `.datafactory/SUCCESS`, resume and
`--overwrite`.

Why: every stage must behave the same when pointed at an OUT that is empty, half written (resume), or finished
(refuse unless --overwrite), and a finished run must say exactly what it read and wrote. Why hidden: pandas,
pyarrow, polars, DuckDB and `datasets` read every visible file in a folder as data; OUT shows them its rows alone.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path

from datafactory import __version__
from datafactory.errors import UsageError
from datafactory.io.remote import shown
from datafactory.io.writer import SHARD_PATTERN, ShardInfo, atomic_write_bytes, fingerprint, sha256_file

META = ".datafactory"  # the run's own records, hidden from readers of the rows
MANIFEST = f"{META}/manifest.json"
SUCCESS = f"{META}/SUCCESS"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class OutputDir:
    """One stage's OUT folder. `check()` decides between a fresh start, a resume and a refusal. `files` and
    `folders` are what the stage writes there besides shards and `.datafactory/` (declared in stages.py): what a
    restart clears and an --overwrite replaces; anything else in OUT is the user's. `data`: the sub-folder its
    shards go in ("" for OUT itself; the mix's `data/`, as a Hugging Face dataset repository has them)."""

    def __init__(
        self, path: str | Path, stage: str, files: tuple[str, ...] = (), folders: tuple[str, ...] = (), data: str = ""
    ):
        self.files, self.folders, self.data = tuple(files), tuple(folders), data
        self.given = Path(path)
        # where the output lives when finished: the real folder, so that every spelling of it (a symbolic link,
        # `.`, `../x`) takes the same lock and an --overwrite replaces the folder, never the link to it
        self.final = Path(os.path.realpath(path))
        self.path = self.final  # where this run writes: a hidden folder beside it while it --overwrites
        self.stage = stage
        self.started = now()
        self.resumed = False
        self.overwrite = False
        self._lock = None
        self.fingerprints: dict[str, list[int]] = {}

    @property
    def lock_path(self) -> Path:
        return self.final.parent / f".{self.final.name}.lock"

    @property
    def staging_path(self) -> Path:
        return self.final.parent / f".{self.final.name}.overwrite"

    def lock(self) -> None:
        """Take OUT for this process alone, or fail at once naming the holder. An flock is released by the kernel
        when its holder dies, so a lock left by kill -9 is no lock at all."""
        if self._lock is not None:
            return
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_path, "a+")  # noqa: SIM115 - held until the stage ends
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise UsageError(f"{self.path}: in use by {holder}; wait for it to finish or stop it") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} ({self.stage}, since {self.started})")
        handle.flush()
        self._lock = handle

    def unlock(self) -> None:
        if self._lock is not None:
            self.lock_path.unlink(missing_ok=True)
            self._lock.close()
            self._lock = None

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def data_path(self) -> Path:
        return self.path / self.data if self.data else self.path

    def shards(self, sub: str | None = None) -> list[Path]:
        folder = self.path / sub if sub else self.data_path
        return sorted(folder.glob(SHARD_PATTERN)) if folder.is_dir() else []

    def is_complete(self) -> bool:
        return (self.path / SUCCESS).exists()

    def check(
        self, arguments: dict, overwrite: bool, inputs: list[Path], resume_keys: list[str], work: str | None = None
    ) -> None:
        """Decide, writing nothing, whether OUT can be used: fresh, resumable, or refused (exit 2).

        A half-written OUT resumes only when `resume_keys` of the arguments are unchanged.
        """
        self._check_location(overwrite)
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"{self.path}: output path exists and is not a directory")
        self.lock()
        out = self.path.resolve()
        for item in inputs:
            if item.resolve() == out or out in item.resolve().parents:
                raise UsageError(f"{self.path}: the output directory holds input {item}; choose another -o")
        self.overwrite = overwrite
        self.fingerprints = {str(p): fingerprint(p) for p in inputs}
        if overwrite:
            if self.final.is_dir() and (self.manifest_path.is_file() or self.shards()):
                self.path = self.staging_path  # the old output stays whole until the new one is finished
            return
        if self.is_complete():
            raise UsageError(f"{self.path}: holds a finished {self.stage} run; pass --overwrite to redo it")
        if self.shards() or (work and (self.path / work).is_dir()):
            self._check_resumable(arguments, resume_keys)
            self.resumed = True

    def _check_location(self, overwrite: bool) -> None:
        if self.given.is_symlink() and not self.given.exists():
            raise UsageError(
                f"{self.given}: a symbolic link to {os.readlink(self.given)}, which does not exist; "
                "create that folder or choose another -o"
            )
        if self.final == self.final.parent:
            raise UsageError(f"{self.given}: cannot write a stage's output to the file system's root; choose a folder")
        here = Path.cwd().resolve()
        if overwrite and (self.final == here or self.final in here.parents):
            raise UsageError(
                f"{self.given}: --overwrite would replace the current folder (or one above it); "
                "name a folder below it with -o"
            )

    def prepare(self, arguments: dict, restart: bool = False) -> None:
        """Make OUT ready to write, after `check()`: clear it for --overwrite (or for stages that `restart` rather
        than resume), drop stale temporaries."""
        if self.path == self.staging_path and self.path.exists():
            shutil.rmtree(self.path)  # what an earlier, stopped --overwrite left
        if self.overwrite or restart:
            self.clear()
            self.resumed = False
        self.path.mkdir(parents=True, exist_ok=True)
        self.remove_temporaries()
        self.write_manifest({"arguments": arguments, "complete": False, "input_fingerprints": self.fingerprints})

    def _check_resumable(self, arguments: dict, resume_keys: list[str]) -> None:
        try:
            earlier = json.loads(self.manifest_path.read_text())
        except (OSError, json.JSONDecodeError):
            raise UsageError(
                f"{self.path}: holds shards but no readable {MANIFEST}; pass --overwrite to start again"
            ) from None
        if earlier.get("stage") != self.stage:
            raise UsageError(f"{self.path}: holds output of '{earlier.get('stage')}', not '{self.stage}'")
        before = earlier.get("arguments", {})
        recorded = earlier.get("input_fingerprints")
        if recorded is not None and recorded != self.fingerprints:
            moved = sorted(set(recorded) ^ set(self.fingerprints)) or [
                p for p in self.fingerprints if recorded.get(p) != self.fingerprints[p]
            ]
            raise UsageError(
                f"{self.path}: cannot resume, the inputs changed since the unfinished run ({moved[0]}); "
                "pass --overwrite to start again"
            )
        changed = [key for key in resume_keys if before.get(key) != arguments.get(key)]
        if changed:
            detail = ", ".join(f"{k}: {before.get(k)!r} -> {arguments.get(k)!r}" for k in changed)
            raise UsageError(
                f"{self.path}: cannot resume a run with different options ({detail}); pass --overwrite to start again"
            )

    def clear(self) -> None:
        """Remove what a stage writes, and nothing else a user may have put there."""
        if not self.path.is_dir():
            return
        for shard in self.shards():
            shard.unlink()
        for name in (MANIFEST, SUCCESS, *self.files):
            (self.path / name).unlink(missing_ok=True)
        for sub in self.folders:
            folder = self.path / sub
            if folder.is_dir():
                shutil.rmtree(folder)
        self.remove_temporaries()
        for folder in (self.path / META, self.data_path):
            if folder != self.path and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    def remove_temporaries(self) -> None:
        """Hidden temporaries a killed run left, in OUT and the stage's sub-folders (.rejected/, .work/, …)."""
        for folder in [self.path, self.data_path, self.path / META, *(self.path / sub for sub in self.folders)]:
            if folder.is_dir():
                for tmp in folder.glob(".*.tmp-*"):
                    tmp.unlink(missing_ok=True)

    def write_manifest(self, fields: dict) -> dict:
        manifest = {"stage": self.stage, "datafactory_version": __version__, "started": self.started, **fields}
        data = json.dumps(manifest, indent=2, ensure_ascii=False, default=str).encode()
        self.manifest_path.parent.mkdir(exist_ok=True)
        atomic_write_bytes(self.manifest_path, data + b"\n")
        return manifest

    def finish(self, arguments: dict, inputs: list[Path], counts: dict, digests=None, **extra) -> dict:
        """Write the final manifest (every shard with rows and sha256), then `SUCCESS` last. `digests` (path →
        sha256) are files the stage has already hashed, on threads that had time to spare."""
        known = {str(path): digest for path, digest in (digests or {}).items()}
        manifest = {
            "arguments": arguments,
            "complete": True,
            "finished": now(),
            "resumed": self.resumed,
            "inputs": [{"path": shown(p), "sha256": known.get(str(p)) or input_digest(p)} for p in inputs],
            "counts": counts,
            "shards": [_shard_entry(p, self.data or None, known) for p in self.shards()],
            **extra,
        }
        for folder in self.folders:
            if self.shards(folder):
                manifest[f"{folder.lstrip('.')}_shards"] = [_shard_entry(p, folder, known) for p in self.shards(folder)]
        written = self.write_manifest(manifest)
        atomic_write_bytes(self.path / SUCCESS, b"")
        if self.path != self.final:
            self._replace_final()
        self.unlock()
        return written

    def _replace_final(self) -> None:
        """Swap the finished new output in for the old one (files a user put there move along)."""
        ours = {META, *self.files, *self.folders, *([self.data] if self.data else [])}
        for item in self.final.iterdir():
            if item.name not in ours and not item.match(SHARD_PATTERN) and not (self.path / item.name).exists():
                item.rename(self.path / item.name)
        retired = self.final.parent / f".{self.final.name}.replaced"
        if retired.exists():
            shutil.rmtree(retired)
        self.final.rename(retired)
        self.path.rename(self.final)
        shutil.rmtree(retired, ignore_errors=True)
        self.path = self.final


def _shard_entry(path: Path, sub: str | None = None, known: dict | None = None) -> dict:
    import pyarrow.parquet as pq

    name = f"{sub}/{path.name}" if sub else path.name
    digest = (known or {}).get(str(path)) or sha256_file(path)
    info = ShardInfo(name, pq.ParquetFile(path).metadata.num_rows, digest)
    return {"name": info.name, "rows": info.rows, "sha256": info.sha256}


def input_digest(path: Path) -> str:
    if path.is_file():
        return sha256_file(path)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    combined = "".join(f"{p.relative_to(path)}:{sha256_file(p)}\n" for p in files)
    import hashlib

    return hashlib.sha256(combined.encode()).hexdigest()
