"""Inputs and outputs on object stores and other fsspec file systems (`s3://…`, `gs://…`, `hf://datasets/…`).

Why a working copy: every stage reads and writes local files (Parquet with atomic renames, flocks, `SUCCESS`
last), and object stores have neither renames nor locks. So an input URL is mirrored into a local cache (only
files that changed are fetched again), and an output URL is written as a local working copy that is published
when the stage ends: each shard is one upload (an object appears whole or not at all), stale shards of an
overwritten run are deleted, the manifest follows and `SUCCESS` comes last, so a reader that waits for
`SUCCESS` never sees a mixed folder. A stage that stops publishes its finished shards and manifest without
`SUCCESS`: the same command, on this machine or another, pulls them and resumes. A stage that resumes from its
shards alone (generate) also publishes each shard within seconds of writing it, so a machine lost mid-run (no
chance to publish) costs only its last seconds. The lock: a
`.datafactory/lock` object naming its holder; a second run is refused while it is there, unless the holder is a
process of this machine that is gone (kill -9).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import threading
from pathlib import Path

from datafactory.engine_logs import TERMINAL
from datafactory.errors import UsageError
from datafactory.io.writer import SHARD_PATTERN, fingerprint

META, SUCCESS, MANIFEST, LOCK = (
    ".datafactory",
    ".datafactory/SUCCESS",
    ".datafactory/manifest.json",
    ".datafactory/lock",
)
PUBLISH_EVERY_S = 2.0  # how often a running stage's new shards are published (RemoteOutput.publishing_shards)


def is_url(spec) -> bool:
    """A path on another file system: `scheme://…` other than `file://` (`hf:NAME` is the datasets hub, apart)."""
    text = str(spec)
    return "://" in text and not text.startswith("file://")


def cache_root() -> Path:
    return Path(os.environ.get("DATAFACTORY_CACHE") or Path.home() / ".cache" / "datafactory")


def _filesystem(url: str):
    try:
        from fsspec.core import url_to_fs

        return url_to_fs(url)
    except ImportError as err:  # the store's own package (s3fs, gcsfs, …)
        raise UsageError(f"{url}: reading this store needs a package that is not installed ({err})") from None
    except ValueError as err:
        raise UsageError(f"{url}: {err}") from None


@contextlib.contextmanager
def _store(url: str, doing: str):
    """A store that refuses or does not answer (no credentials, no bucket, no network) is one line about it."""
    try:
        yield
    except UsageError:
        raise
    except Exception as err:  # botocore, gcsfs, aiohttp and OSError kinds: the user needs one line
        text = str(err).strip().splitlines()
        raise UsageError(f"{url}: could not {doing} ({type(err).__name__}: {text[0] if text else ''})") from None


def _key(url: str) -> str:
    return hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]


def _listing(fs, root: str) -> dict[str, dict]:
    """Files under `root` by relative path, with what tells a changed file (size, ETag or mtime)."""
    fs.invalidate_cache()  # listings are cached per file system; this one must be what the store holds now
    if not fs.exists(root):
        return {}
    if fs.isfile(root):
        info = fs.info(root)
        return {"": info}
    return {path[len(root.rstrip("/")) + 1 :]: info for path, info in fs.find(root, detail=True).items()}


def _stamp(info: dict) -> list:
    return [
        info.get("size"),
        str(info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("LastModified")),
    ]


def fetch_input(url: str, hidden: bool = False) -> Path:
    """A local mirror of an input URL (a file, or a folder: its data files and the run records that say whether it
    is finished; hidden folders such as `.rejected/` only when named, or with `hidden`: a report reads them).
    Files unchanged since the last fetch stay."""
    with _store(url, "read it"):
        return _fetch(url, hidden)


def _fetch(url: str, hidden: bool) -> Path:
    fs, root = _filesystem(url)
    listing = _listing(fs, root)
    if not listing:
        raise UsageError(f"{url}: no such file or folder")
    name = Path(root.rstrip("/")).name
    local = cache_root() / "inputs" / _key(url) / name
    stamps_path = local.parent / "stamps.json"
    stamps = json.loads(stamps_path.read_text()) if stamps_path.is_file() else {}
    wanted = {rel: info for rel, info in listing.items() if (hidden and rel != LOCK) or _is_data(rel)}
    if "" not in listing and local.is_dir():  # files gone from the store go from the mirror
        for old in [p for p in local.rglob("*") if p.is_file()]:
            rel = str(old.relative_to(local))
            if rel not in wanted and (hidden or _is_data(rel)):  # another call's hidden files are not ours to drop
                old.unlink()
    for rel, info in wanted.items():
        target = local / rel if rel else local
        if stamps.get(rel) == _stamp(info) and target.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        fs.get_file(info["name"], str(partial))
        partial.replace(target)
        stamps[rel] = _stamp(info)
    stamps_path.write_text(json.dumps(stamps))
    (local.parent / "source.txt").write_text(url)
    return local


def expand_url(pattern: str) -> list[str]:
    """The URLs a pattern (`s3://bucket/traces/*.jsonl`) matches, sorted; none is an error naming the pattern."""
    with _store(pattern, "list it"):
        fs, root = _filesystem(pattern)
        fs.invalidate_cache()
        protocol = pattern.split("://", 1)[0]
        matches = sorted(f"{protocol}://{path}" for path in fs.glob(root))
    if not matches:
        raise UsageError(f"{pattern}: the pattern matches no file")
    return matches


def shown(path: Path) -> str:
    """How a manifest names an input: a mirrored file by its URL, any other by its path."""
    try:
        relative = Path(path).relative_to(cache_root() / "inputs")
        url = (cache_root() / "inputs" / relative.parts[0] / "source.txt").read_text()
    except (ValueError, OSError, IndexError):
        return str(path)
    rest = relative.parts[2:]
    return "/".join([url.rstrip("/"), *rest]) if rest else url


def _is_data(rel: str) -> bool:
    parts = Path(rel).parts
    return rel in ("", MANIFEST, SUCCESS) or not any(part.startswith(".") for part in parts)


class RemoteOutput:
    """A stage's `-o URL`: the local working copy the stage writes, pulled before and published after."""

    def __init__(self, url: str, stage: str, folders: tuple[str, ...] = ()):
        self.url, self.stage = url.rstrip("/"), stage
        self.folders = {META, *folders}  # the stage's own sub-folders: an --overwrite replaces them whole
        self.fs, self.root = _filesystem(self.url)
        self.local = cache_root() / "outputs" / _key(self.url) / Path(self.root).name
        self.locked = False
        self.published: dict[str, tuple] = {}  # files the store holds as the working copy does: their local stat

    def pull(self, overwrite: bool, inputs: list[Path]) -> None:
        """Before the stage: refuse an output that holds one of the inputs; take the lock; refuse a finished output
        (unless --overwrite); bring an unfinished one's shards and manifest here so that the stage resumes them."""
        for item in map(shown, inputs):
            if item == self.url or item.startswith(self.url + "/"):
                raise UsageError(f"{self.url}: the output holds input {item}; choose another -o")
        with _store(self.url, "read or write there"):
            try:
                self._pull(overwrite)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.release()
                raise

    def _pull(self, overwrite: bool) -> None:
        remote = _listing(self.fs, self.root)
        self._lock(remote)
        if SUCCESS in remote and not overwrite:
            raise UsageError(f"{self.url}: holds a finished {self.stage} run; pass --overwrite to redo it")
        if overwrite or not remote.keys() - {LOCK}:
            shutil.rmtree(self.local, ignore_errors=True)  # the store is the truth; a stale copy is not resumed
        (self.local / SUCCESS).unlink(missing_ok=True)  # a publication cut short is finished by this run
        for rel, info in remote.items():
            if rel in (LOCK, SUCCESS) or overwrite:
                continue
            target = self.local / rel
            if target.is_file() and target.stat().st_size == info.get("size"):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(info["name"], str(target))
        if not overwrite:
            self.published = {rel: fingerprint(self.local / rel) for rel in remote if rel not in (LOCK, SUCCESS)}

    @contextlib.contextmanager
    def publishing_shards(self):
        """While the stage runs: every few seconds, the manifest (once) and then each new shard, in the order
        written (shards are whole once they have their name, and never rewritten), so that the store always
        holds what a resume needs. A store that does not answer is said once and tried again; the end's
        publication reports it for good."""
        stop = threading.Event()
        worker = threading.Thread(target=self._keep_publishing, args=(stop,), name="publish-shards", daemon=True)
        worker.start()
        try:
            yield
        finally:
            stop.set()
            worker.join()

    def _keep_publishing(self, stop: threading.Event) -> None:
        warned = False
        while not stop.wait(PUBLISH_EVERY_S):
            try:
                self._publish_new_shards()
            except Exception as err:
                if not warned:  # on the terminal, not in the engine's log (engine_logs.TERMINAL)
                    print(f"warning: {self.url}: could not publish shards yet ({type(err).__name__}: {err}); "
                          "trying again", file=TERMINAL, flush=True)  # fmt: skip
                    warned = True

    def _publish_new_shards(self) -> None:
        new = [path for path in sorted(self.local.glob(SHARD_PATTERN)) if path.name not in self.published]
        if not new or not (self.local / MANIFEST).is_file():
            return
        if MANIFEST not in self.published:  # the run's arguments: what a resume is checked against
            self._put(MANIFEST)
        for path in new:
            self._put(path.name)

    def _put(self, rel: str) -> None:
        path = self.local / rel
        signature = fingerprint(path)
        self.fs.put_file(str(path), f"{self.root}/{rel}")
        self.published[rel] = signature

    def publish(self, finished: bool) -> None:
        """After the stage: every file of the working copy, stale ones removed, the manifest next, `SUCCESS` last
        (only when `finished`); then the lock goes. If publishing fails, the working copy still holds it all: the
        same command publishes it."""
        where = f"publish the output (it is whole in {self.local}; the same command publishes it)"
        with _store(self.url, where):
            self._publish(finished)

    def _publish(self, finished: bool) -> None:
        try:
            remote = _listing(self.fs, self.root)
            if SUCCESS in remote:
                self.fs.rm_file(f"{self.root}/{SUCCESS}")  # readers waiting for SUCCESS never see a mixed folder
            files = {
                str(p.relative_to(self.local)): p
                for p in sorted(self.local.rglob("*"))
                if p.is_file() and ".tmp-" not in p.name and not p.name.endswith(".lock")
            }
            last = [MANIFEST, SUCCESS]
            if MANIFEST in files and MANIFEST not in remote:  # first, too: shards without one resume nowhere
                self.fs.put_file(str(files[MANIFEST]), f"{self.root}/{MANIFEST}")
            for rel, path in files.items():
                if rel not in last and self.published.get(rel) != fingerprint(path):  # not published as it is now
                    self.fs.put_file(str(path), f"{self.root}/{rel}")
            for rel in remote.keys() - files.keys() - {LOCK}:
                if _stage_file(rel, self.folders):  # a file of the user's in the folder stays, as in a local one
                    self.fs.rm_file(f"{self.root}/{rel}")
            for rel in last:
                if rel in files and (finished or rel != SUCCESS):
                    self.fs.put_file(str(files[rel]), f"{self.root}/{rel}")
        except BaseException:
            with contextlib.suppress(Exception):  # the first failure is the one to report
                self.release()
            raise
        self.release()

    def _lock(self, remote: dict) -> None:
        path = f"{self.root}/{LOCK}"
        if LOCK in remote:
            with self.fs.open(path, "rb") as handle:
                holder = json.loads(handle.read() or b"{}")
            if not _gone(holder):
                raise UsageError(
                    f"{self.url}: in use by pid {holder.get('pid')} on {holder.get('host')} ({holder.get('stage')}, "
                    f"since {holder.get('since')}); if that run is gone, delete {self.url}/{LOCK}"
                )
        from datafactory.io.outdir import now

        me = {"pid": os.getpid(), "host": socket.gethostname(), "stage": self.stage, "since": now()}
        with self.fs.open(path, "wb") as handle:
            handle.write(json.dumps(me).encode())
        self.locked = True

    def release(self) -> None:
        if self.locked:
            self.locked = False
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(f"{self.root}/{LOCK}")


def _stage_file(rel: str, folders: set[str]) -> bool:
    """What a stage writes: shards, and everything in its own folders (`.datafactory/`, `.rejected/`, …)."""
    path = Path(rel)
    return path.name.startswith("part-") and path.suffix == ".parquet" or path.parts[0] in folders


def _gone(holder: dict) -> bool:
    """A holder that was a process of this machine and no longer runs (a kill -9 left its lock behind)."""
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return False
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return holder["pid"] == os.getpid()
