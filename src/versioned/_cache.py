"""The consumer's local cache: content-addressed blobs and per-repository refs.

Layout under the cache directory (``$VERSIONED_CACHE_DIR``, else the platform's user
cache directory)::

    blobs/{sha[:2]}/{sha}                 verified bytes, read-only
    blobs/{sha[:2]}/{sha}.ok              the blob's stat when it was last verified
    partial/{sha}.{token}.part            a download under way, or killed (resumed)
    locks/{sha}.lock                      one downloader per blob (an optimisation only)
    refs/{repository}/repository.json     which repository the refs below belong to
    refs/{repository}/{name}/aliases/{alias}.json
    refs/{repository}/{name}/versions/{version}.json

Correctness never rests on the lock: every download goes to a file of its own, is checked
against the recorded sha256 and size, and is renamed into place; two processes that both
download a blob rename identical bytes. A partial file is claimed by renaming it (only one
process can), so a killed download is resumed by exactly one later fetch, with a ranged
GET from the partial file's size.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import pathlib
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import filelock
import platformdirs

from ._s3 import Progress
from .exc import IntegrityError

logger = logging.getLogger(__name__)

CACHE_DIR_VARIABLE = "VERSIONED_CACHE_DIR"
#: bytes hashed per read when checking a blob on disk
READ_CHUNK = 1024 * 1024

#: ``chunks(start)``: the blob's bytes from offset ``start`` to the end
ChunkSource = Callable[[int], Iterator[bytes]]


def default_cache_dir() -> pathlib.Path:
    """``$VERSIONED_CACHE_DIR``, else the platform's user cache directory for versioned."""
    given = os.environ.get(CACHE_DIR_VARIABLE)
    if given:
        return pathlib.Path(given).expanduser()
    return pathlib.Path(platformdirs.user_cache_dir("versioned", appauthor=False))


@dataclasses.dataclass(frozen=True)
class Target:
    """One version's bytes as recorded: where they are stored and what they hash to."""

    version: str
    sha256: str
    size: int
    key: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Target:
        return cls(str(data["version"]), str(data["sha256"]), int(data["size"]), str(data["key"]))


@dataclasses.dataclass(frozen=True)
class Ref:
    """What an alias or version resolved to when last checked against storage.

    ``revision``: the alias's revision (its ETag on S3-only), or LATEST's sha256;
    ``checked_at``: when storage last confirmed it (seconds since the epoch)."""

    primary: Target
    secondary: Target | None = None
    weight: int | None = None
    revision: str | None = None
    checked_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "primary": self.primary.to_json(),
            "secondary": None if self.secondary is None else self.secondary.to_json(),
            "weight": self.weight,
            "revision": self.revision,
            "checked_at": self.checked_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ref:
        secondary = data.get("secondary")
        return cls(
            primary=Target.from_json(data["primary"]),
            secondary=None if secondary is None else Target.from_json(secondary),
            weight=data.get("weight"),
            revision=data.get("revision"),
            checked_at=float(data.get("checked_at", 0.0)),
        )

    @property
    def targets(self) -> list[Target]:
        return [self.primary] if self.secondary is None else [self.primary, self.secondary]


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def unquote(part: str) -> str:
    """A ref's name or label from its file name."""
    return urllib.parse.unquote(part)


def write_json_atomically(path: pathlib.Path, data: dict[str, Any]) -> None:
    """Write ``data`` to a file of its own beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, json.dumps(data, sort_keys=True))


class Refs:
    """The refs of one repository (``identity`` names it: two repositories never share)."""

    def __init__(self, root: pathlib.Path, identity: dict[str, str | None]) -> None:
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
        self.identity = identity
        self.dir = root / "refs" / digest[:32]

    def path(self, name: str, kind: str, label: str) -> pathlib.Path:
        return self.dir / _quote(name) / kind / f"{_quote(label)}.json"

    def read(self, name: str, kind: str, label: str) -> Ref | None:
        """The ref, or None when absent or unreadable (an unreadable ref is ignored)."""
        try:
            return Ref.from_json(json.loads(self.path(name, kind, label).read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as error:
            logger.debug("ignoring unreadable ref %s/%s/%s: %s", name, kind, label, error)
            return None

    def write(self, name: str, kind: str, label: str, ref: Ref) -> None:
        marker = self.dir / "repository.json"
        if not marker.exists():
            write_json_atomically(marker, dict(self.identity))
        write_json_atomically(self.path(name, kind, label), ref.to_json())


def _hash_file(path: pathlib.Path, digest: Any) -> int:
    """Feed the file's bytes to ``digest``; returns how many there were."""
    done = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            digest.update(chunk)
            done += len(chunk)
    return done


def _stamp(stat: os.stat_result) -> str:
    return f"{stat.st_ino} {stat.st_size} {stat.st_mtime_ns} {stat.st_ctime_ns}"


class Blobs:
    """The content-addressed store of verified bytes under one cache directory."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root

    def path(self, sha256: str) -> pathlib.Path:
        return self.root / "blobs" / sha256[:2] / sha256

    def _stamp_path(self, sha256: str) -> pathlib.Path:
        return self.path(sha256).with_name(f"{sha256}.ok")

    def present(self, target: Target) -> pathlib.Path | None:
        """The blob's path when it holds ``target``'s bytes. A blob whose file changed since
        it was verified (its stat differs) is hashed again; a corrupted one is removed."""
        path = self.path(target.sha256)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        stamp = self._stamp_path(target.sha256)
        with contextlib.suppress(OSError):
            if stat.st_size == target.size and stamp.read_text() == _stamp(stat):
                return path
        if self.check(target.sha256, target.size):
            return path
        return None

    def check(self, sha256: str, size: int | None = None) -> bool:
        """Hash the blob; remove it when it does not hold its sha256 (then False)."""
        path = self.path(sha256)
        digest = hashlib.sha256()
        try:
            stat = path.stat()
            done = _hash_file(path, digest)
        except FileNotFoundError:
            return False
        if digest.hexdigest() == sha256 and (size is None or done == size):
            write_text_atomically(self._stamp_path(sha256), _stamp(stat))
            return True
        logger.debug("cached blob %s is corrupted (hashes differently); removing it", path)
        self.remove(sha256)
        return False

    def remove(self, sha256: str) -> None:
        for path in (self.path(sha256), self._stamp_path(sha256)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def ensure(
        self, target: Target, chunks: ChunkSource, where: str, progress: Progress | None = None
    ) -> pathlib.Path:
        """The blob of ``target``, downloaded (or resumed) through ``chunks`` unless present.
        Processes sharing the cache wait for one another's download of the same blob."""
        found = self.present(target)
        if found is not None:
            return found
        with self._lock(target.sha256):
            found = self.present(target)
            if found is not None:
                return found
            return Download(self, target, chunks, where, progress).run()

    @contextlib.contextmanager
    def _lock(self, sha256: str) -> Iterator[None]:
        """Hold the blob's lock when the filesystem supports locks; go on without one
        (correctness does not need it) when it does not."""
        lock_dir = self.root / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(lock_dir / f"{sha256}.lock"))
        try:
            lock.acquire()
        except OSError as error:
            logger.debug("no lock for blob %s (%s); downloading without", sha256, error)
            yield
            return
        try:
            yield
        finally:
            lock.release()

    def partials(self, sha256: str) -> list[pathlib.Path]:
        directory = self.root / "partial"
        if not directory.is_dir():
            return []
        return sorted(directory.glob(f"{sha256}.*.part"))

    def new_partial(self, sha256: str) -> pathlib.Path:
        directory = self.root / "partial"
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"{sha256}.{uuid.uuid4().hex}.part"

    def claim_partial(self, sha256: str) -> pathlib.Path | None:
        """Take over the largest partial download of the blob (by renaming it: only one
        process can), or None when there is none to resume."""
        candidates = sorted(self.partials(sha256), key=lambda p: _size_or(p, -1), reverse=True)
        for candidate in candidates:
            mine = self.new_partial(sha256)
            try:
                os.rename(candidate, mine)
            except FileNotFoundError:
                continue  # another process claimed it
            return mine
        return None

    def install(self, partial: pathlib.Path, sha256: str) -> pathlib.Path:
        """Make a verified partial file the blob: read-only, renamed into place, stamped."""
        path = self.path(sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(partial, 0o444)
        os.replace(partial, path)
        write_text_atomically(self._stamp_path(sha256), _stamp(path.stat()))
        return path


def write_text_atomically(path: pathlib.Path, text: str) -> None:
    """Write a small text file atomically (temp file, rename)."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        temp.write_text(text)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


def _size_or(path: pathlib.Path, default: int) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return default


class Download:
    """One blob's download into a partial file of its own: resumed from a partial a
    killed download left, checked against sha256 and size, then installed."""

    def __init__(
        self,
        blobs: Blobs,
        target: Target,
        chunks: ChunkSource,
        where: str,
        progress: Progress | None,
    ) -> None:
        self.blobs, self.target, self.chunks = blobs, target, chunks
        self.where, self.progress = where, progress

    def run(self) -> pathlib.Path:
        partial = self.blobs.claim_partial(self.target.sha256)
        if partial is not None:
            logger.debug("resuming %s from %d bytes", self.where, _size_or(partial, 0))
            installed = self._attempt(partial)
            if installed is not None:
                return installed
            logger.debug("resumed download of %s did not check out; starting over", self.where)
        installed = self._attempt(self.blobs.new_partial(self.target.sha256))
        if installed is None:
            raise IntegrityError(
                f"{self.where} does not hash to sha256 {self.target.sha256[:12]}... "
                f"({self.target.size} bytes) recorded for version {self.target.version}: "
                "the object was changed or corrupted outside versioned. Run "
                "Repository.verify() to see what else is affected."
            )
        return installed

    def _attempt(self, partial: pathlib.Path) -> pathlib.Path | None:
        """Append the missing bytes to ``partial`` and install it; None (and the partial
        removed) when the result does not check out."""
        try:
            digest = hashlib.sha256()
            done = _hash_file(partial, digest) if partial.exists() else 0
            if done < self.target.size:
                done = self._append(partial, done, digest)
            if done != self.target.size or digest.hexdigest() != self.target.sha256:
                with contextlib.suppress(FileNotFoundError):
                    partial.unlink()
                return None
            return self.blobs.install(partial, self.target.sha256)
        except FileNotFoundError:
            return None  # another process (where locks do nothing) took the partial

    def _append(self, partial: pathlib.Path, done: int, digest: Any) -> int:
        total = self.target.size
        with open(partial, "ab", buffering=0) as out:
            if self.progress:
                self.progress(done, total)
            for chunk in self.chunks(done):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if self.progress:
                    self.progress(done, total)
            os.fsync(out.fileno())
        return done


class Cache:
    """One cache directory: its blobs, and the refs of each repository."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = pathlib.Path(root).expanduser() if root is not None else default_cache_dir()
        self.blobs = Blobs(self.root)

    def refs(self, identity: dict[str, str | None]) -> Refs:
        return Refs(self.root, identity)

    def repositories(self) -> Iterator[tuple[pathlib.Path, dict[str, Any]]]:
        """Each repository's refs folder and its identity."""
        base = self.root / "refs"
        if not base.is_dir():
            return
        for folder in sorted(base.iterdir()):
            with contextlib.suppress(OSError, ValueError):
                yield folder, json.loads((folder / "repository.json").read_text())

    def all_refs(self) -> Iterator[tuple[pathlib.Path, Ref]]:
        """Every readable ref file of every repository."""
        base = self.root / "refs"
        if not base.is_dir():
            return
        for path in sorted(base.glob("*/*/*/*.json")):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                yield path, Ref.from_json(json.loads(path.read_text()))

    def blob_files(self) -> Iterator[pathlib.Path]:
        base = self.root / "blobs"
        if not base.is_dir():
            return
        for path in sorted(base.glob("??/*")):
            if len(path.name) == 64 and not path.name.startswith("."):
                yield path


def now() -> float:
    return time.time()
