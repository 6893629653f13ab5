"""versioned.cache.LocalCache: entries, verify, and prune keeping what refs point at."""

from __future__ import annotations

import os
import pathlib
import time

from _testkit import Backend, sha256_hex

from versioned.cache import LocalCache

NAME = "model"
DAY = 86400.0


def _three_versions(backend: Backend, cache_dir: pathlib.Path) -> list[pathlib.Path]:
    """Versions 1..3 (1000 bytes each) fetched; blob i downloaded (mtime) 10*(3-i) days ago."""
    paths = []
    for index in range(1, 4):
        backend.put_and_publish(NAME, bytes([index]) * 1000)
        path = backend.repo.fetch(bsm=backend.bsm, name=NAME, version=index, cache_dir=cache_dir)
        moment = time.time() - (3 - index) * 10 * DAY
        os.utime(path, (moment, moment))
        paths.append(path)
    return paths


def test_entries_name_what_was_fetched(backend: Backend, cache_dir: pathlib.Path) -> None:
    paths = _three_versions(backend, cache_dir)
    entries = sorted(LocalCache(cache_dir).entries(), key=lambda entry: entry.version)
    assert [(e.name, e.kind, e.label, e.version) for e in entries] == [
        (NAME, "versions", str(n), str(n)) for n in (1, 2, 3)
    ]
    assert [e.path for e in entries] == paths
    assert entries[0].sha256 == sha256_hex(b"\x01" * 1000) and entries[0].size == 1000
    assert backend.repo.s3_bucket in entries[0].repository


def test_prune_keeps_referenced_blobs_unless_asked(
    backend: Backend, cache_dir: pathlib.Path
) -> None:
    paths = _three_versions(backend, cache_dir)
    cache = LocalCache(cache_dir)
    assert cache.prune().removed == []  # every blob has a ref
    dry = cache.prune(older_than_secs=15 * DAY, include_referenced=True, dry_run=True)
    assert dry.removed == [paths[0]] and paths[0].exists()
    result = cache.prune(max_size=2000, include_referenced=True)
    assert result.removed == [paths[0]] and result.freed_bytes == 1000
    assert [p.exists() for p in paths] == [False, True, True]
    result = cache.prune(older_than_secs=5 * DAY, include_referenced=True)
    assert result.removed == [paths[1]] and paths[2].exists()
    again = backend.repo.fetch(bsm=backend.bsm, name=NAME, version=1, cache_dir=cache_dir)
    assert again.read_bytes() == b"\x01" * 1000  # a pruned blob is downloaded again


def test_verify_removes_what_does_not_check_out(backend: Backend, cache_dir: pathlib.Path) -> None:
    paths = _three_versions(backend, cache_dir)
    os.chmod(paths[1], 0o644)
    paths[1].write_bytes(b"\0" * 10)
    assert LocalCache(cache_dir).verify() == [paths[1]]
    assert not paths[1].exists() and paths[0].exists() and paths[2].exists()
