"""The local cache of fetched artifacts, as its owner sees it: what it holds, whether
the bytes still check out, and pruning.

::

    from versioned.cache import LocalCache

    cache = LocalCache()                     # $VERSIONED_CACHE_DIR, else the user cache dir
    for entry in cache.entries():            # every ref: repository, name, alias/version
        print(entry.name, entry.label, entry.version, entry.path)
    cache.verify()                           # hash every blob; corrupted ones are removed
    cache.prune(max_size=10 * 2**30)         # blobs no ref points at, oldest first

Fetching goes through the repositories (``Repository.fetch``); see docs/consumers.md.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from . import _cache

__all__ = ["CacheEntry", "LocalCache", "PruneResult"]

#: partial downloads untouched this long are removed by prune (a live download writes)
PARTIAL_IDLE_SECS = 24 * 3600


@dataclasses.dataclass(frozen=True)
class CacheEntry:
    """One ref: ``label`` is the alias or version fetched (``kind`` "aliases" or
    "versions"), ``version`` what it resolved to (the primary, for an alias with a
    canary), ``path`` the blob (None when it is not in the cache)."""

    repository: str
    name: str
    kind: str
    label: str
    version: str
    sha256: str
    size: int
    checked_at: datetime
    path: pathlib.Path | None


@dataclasses.dataclass
class PruneResult:
    """What prune removed (or, with ``dry_run``, would remove) and what it kept."""

    removed: list[pathlib.Path]
    freed_bytes: int
    kept_bytes: int


def _describe(identity: dict[str, str | None]) -> str:
    where = f"s3://{identity.get('bucket')}/{identity.get('root') or ''}".rstrip("/")
    table = identity.get("table")
    return f"{where} (table {table})" if table else where


class LocalCache:
    """A cache directory (``root``; default ``$VERSIONED_CACHE_DIR``, else the platform's
    user cache directory)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self._cache = _cache.Cache(root)
        self.root = self._cache.root

    def entries(self) -> Iterator[CacheEntry]:
        """Every ref of every repository, with the blob it points at."""
        names = {
            folder.name: _describe(identity) for folder, identity in self._cache.repositories()
        }
        for path, ref in self._cache.all_refs():
            repository_dir, name_dir, kind = path.parents[2], path.parents[1], path.parent.name
            label = _cache.unquote(path.stem)
            for index, target in enumerate(ref.targets):
                yield CacheEntry(
                    repository=names.get(repository_dir.name, repository_dir.name),
                    name=_cache.unquote(name_dir.name),
                    kind=kind,
                    label=label if index == 0 else f"{label} (canary)",
                    version=target.version,
                    sha256=target.sha256,
                    size=target.size,
                    checked_at=datetime.fromtimestamp(ref.checked_at, UTC),
                    path=self._blob(target.sha256),
                )

    def _blob(self, sha256: str) -> pathlib.Path | None:
        path = self._cache.blobs.path(sha256)
        return path if path.exists() else None

    def blobs(self) -> list[pathlib.Path]:
        return list(self._cache.blob_files())

    def verify(self) -> list[pathlib.Path]:
        """Hash every blob; returns the corrupted ones (removed: the next fetch downloads
        them again)."""
        corrupted = []
        for path in self.blobs():
            if not self._cache.blobs.check(path.name):
                corrupted.append(path)
        return corrupted

    def prune(
        self,
        max_size: int | None = None,
        older_than_secs: float | None = None,
        include_referenced: bool = False,
        dry_run: bool = False,
    ) -> PruneResult:
        """Remove blobs no ref points at (with ``include_referenced``, any blob: a later
        fetch downloads it again, an offline one fails), oldest first: those downloaded
        more than ``older_than_secs`` ago, then more until the blobs total at most
        ``max_size`` bytes; with neither, every candidate. Stale partial downloads go too."""
        referenced = {target.sha256 for _, ref in self._cache.all_refs() for target in ref.targets}
        blobs = sorted(self.blobs(), key=lambda p: p.stat().st_mtime)
        sizes = {path: path.stat().st_size for path in blobs}
        total = sum(sizes.values())
        now = time.time()
        removed: list[pathlib.Path] = []
        for path in blobs:
            if path.name in referenced and not include_referenced:
                continue
            old = older_than_secs is not None and now - path.stat().st_mtime > older_than_secs
            too_big = max_size is not None and total > max_size
            if old or too_big or (max_size is None and older_than_secs is None):
                removed.append(path)
                total -= sizes[path]
        removed += self._idle_partials(now)
        freed = sum(sizes.get(path, 0) for path in removed)
        if not dry_run:
            for path in removed:
                if path in sizes:
                    self._cache.blobs.remove(path.name)
                else:
                    path.unlink(missing_ok=True)
        return PruneResult(removed, freed, total)

    def _idle_partials(self, now: float) -> list[pathlib.Path]:
        directory = self.root / "partial"
        if not directory.is_dir():
            return []
        return [
            path
            for path in directory.glob("*.part")
            if now - path.stat().st_mtime > PARTIAL_IDLE_SECS
        ]
