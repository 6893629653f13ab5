"""fetch(): verified bytes through the local cache, with the request budgets it states."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import pathlib
import stat
from collections.abc import Callable

import pytest
from _testkit import Backend, RequestCounter, sha256_hex
from boto_session_manager import BotoSesManager

from versioned import _model
from versioned.exc import (
    AliasNotFoundError,
    ArtifactNotFoundError,
    OfflineError,
    ValidationError,
)

NAME = "model"


def _blob_files(cache_dir: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in (cache_dir / "blobs").glob("??/*") if len(p.name) == 64)


def _version_gets(backend: Backend, counter: RequestCounter | None = None) -> int:
    """GETs of version objects (the content) the counter saw."""
    counter = counter or backend.counter
    return sum(1 for method, url in counter.requests if method == "GET" and url.endswith(".bin"))


def test_fetch_returns_a_read_only_verified_copy(backend: Backend, cache_dir: pathlib.Path) -> None:
    data = os.urandom(3000)
    backend.put_and_publish(NAME, data)
    backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias="prod", version=1)
    path = backend.repo.fetch(bsm=backend.bsm, name=NAME, alias="prod", cache_dir=cache_dir)
    assert path.read_bytes() == data
    assert path.name == sha256_hex(data) and path.is_relative_to(cache_dir)
    assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0
    assert backend.repo.fetch(bsm=backend.bsm, name=NAME, version=1, cache_dir=cache_dir) == path
    assert _blob_files(cache_dir) == [path]  # one blob for both refs


def test_warm_alias_fetch_sends_one_request_and_no_content(
    backend: Backend, cache_dir: pathlib.Path
) -> None:
    backend.put_and_publish(NAME, b"weights" * 1000)
    backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias="prod", version=1)
    first = backend.repo.fetch(bsm=backend.bsm, name=NAME, alias="prod", cache_dir=cache_dir)
    backend.counter.reset()
    again = backend.repo.fetch(bsm=backend.bsm, name=NAME, alias="prod", cache_dir=cache_dir)
    assert again == first
    expected = "dynamodb.GetItem" if backend.kind == "s3_and_dynamodb" else "s3.GetObject"
    assert backend.counter.operations == [expected]
    assert _version_gets(backend) == 0


def test_cached_version_number_sends_no_request(backend: Backend, cache_dir: pathlib.Path) -> None:
    backend.put_and_publish(NAME, b"v1")
    first = backend.repo.fetch(bsm=backend.bsm, name=NAME, version=1, cache_dir=cache_dir)
    backend.counter.reset()
    assert backend.repo.fetch(bsm=backend.bsm, name=NAME, version="1", cache_dir=cache_dir) == first
    assert backend.counter.count == 0


def test_a_moved_alias_is_followed(backend: Backend, cache_dir: pathlib.Path) -> None:
    backend.put_and_publish(NAME, b"one")
    backend.put_and_publish(NAME, b"two")
    backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias="prod", version=1)

    def fetch() -> pathlib.Path:
        return backend.repo.fetch(bsm=backend.bsm, name=NAME, alias="prod", cache_dir=cache_dir)

    assert fetch().read_bytes() == b"one"
    backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias="prod", version=2)
    assert fetch().read_bytes() == b"two"
    backend.repo.delete_alias(bsm=backend.bsm, name=NAME, alias="prod")
    with pytest.raises(AliasNotFoundError, match="prod"):
        fetch()


def test_latest_is_checked_on_every_fetch(backend: Backend, cache_dir: pathlib.Path) -> None:
    backend.put(NAME, b"first")
    assert backend.repo.fetch(bsm=backend.bsm, name=NAME, cache_dir=cache_dir).read_bytes() == (
        b"first"
    )
    backend.put(NAME, b"second")
    backend.counter.reset()
    path = backend.repo.fetch(bsm=backend.bsm, name=NAME, cache_dir=cache_dir)
    assert path.read_bytes() == b"second"


def test_key_routing_is_sticky_and_follows_the_weight(
    backend: Backend, cache_dir: pathlib.Path
) -> None:
    backend.put_and_publish(NAME, b"stable")
    backend.put_and_publish(NAME, b"canary")
    backend.repo.put_alias(
        bsm=backend.bsm,
        name=NAME,
        alias="prod",
        version=1,
        secondary_version=2,
        secondary_version_weight=30,
    )
    seen: dict[str, bytes] = {}
    for index in range(40):
        key = f"user-{index}"
        path = backend.repo.fetch(
            bsm=backend.bsm, name=NAME, alias="prod", key=key, cache_dir=cache_dir
        )
        seen[key] = path.read_bytes()
        expected = _model.route_by_key(1, 2, 30, key, name=NAME, alias="prod")
        assert seen[key] == (b"canary" if expected == 2 else b"stable")
    assert set(seen.values()) == {b"stable", b"canary"}
    for key, data in seen.items():  # the same key, the same version
        again = backend.repo.fetch(
            bsm=backend.bsm, name=NAME, alias="prod", key=key, cache_dir=cache_dir
        )
        assert again.read_bytes() == data
    unkeyed = backend.repo.fetch(bsm=backend.bsm, name=NAME, alias="prod", cache_dir=cache_dir)
    assert unkeyed.read_bytes() == b"stable"  # no key: the primary


def test_a_corrupted_blob_is_detected_and_fetched_again(
    backend: Backend, cache_dir: pathlib.Path
) -> None:
    data = os.urandom(5000)
    backend.put_and_publish(NAME, data)
    path = backend.repo.fetch(bsm=backend.bsm, name=NAME, version=1, cache_dir=cache_dir)
    os.chmod(path, 0o644)
    path.write_bytes(b"\0" * len(data))  # same size, other bytes
    backend.counter.reset()
    again = backend.repo.fetch(bsm=backend.bsm, name=NAME, version=1, cache_dir=cache_dir)
    assert again.read_bytes() == data
    assert backend.counter.operations == ["s3.GetObject"]  # the content, once more


def test_refs_of_two_repositories_are_kept_apart(
    backend: Backend, cache_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = backend.new_repo(backend.bsm)
    backend.put_and_publish(NAME, b"mine")
    other.put_artifact(bsm=backend.bsm, name=NAME, content=b"theirs")
    other.publish_artifact_version(bsm=backend.bsm, name=NAME)
    for repo in (backend.repo, other):
        repo.put_alias(bsm=backend.bsm, name=NAME, alias="prod", version=1)
    mine = backend.repo.fetch(bsm=backend.bsm, name=NAME, alias="prod", cache_dir=cache_dir)
    theirs = other.fetch(bsm=backend.bsm, name=NAME, alias="prod", cache_dir=cache_dir)
    assert (mine.read_bytes(), theirs.read_bytes()) == (b"mine", b"theirs")
    assert len(list((cache_dir / "refs").iterdir())) == 2
    monkeypatch.setenv("VERSIONED_OFFLINE", "1")
    for repo, data in ((backend.repo, b"mine"), (other, b"theirs")):
        found = repo.fetch(bsm=backend.bsm, name=NAME, alias="prod", cache_dir=cache_dir)
        assert found.read_bytes() == data
        with pytest.raises(OfflineError, match="version 1 of 'model' is not in the local"):
            repo.fetch(bsm=backend.bsm, name=NAME, version=1, cache_dir=cache_dir)


def test_processes_sharing_a_cache_download_once(
    backend: Backend, cache_dir: pathlib.Path, make_bsm: Callable[..., BotoSesManager]
) -> None:
    """Four threads, each with its own session (and lock file handle), fetch one cold
    blob: one downloads it, the others wait for it and find it."""
    data = os.urandom(3 * 1024 * 1024)
    backend.put_and_publish(NAME, data)
    backend.repo.fetch(bsm=backend.bsm, name=NAME, version=1, cache_dir=cache_dir / "warm")
    counter = RequestCounter()
    sessions = []
    for _ in range(4):
        bsm = make_bsm()
        bsm.boto_ses.events.register("before-send", counter)
        sessions.append(bsm)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        paths = list(
            pool.map(
                lambda bsm: backend.repo.fetch(bsm=bsm, name=NAME, version=1, cache_dir=cache_dir),
                sessions,
            )
        )
    assert len(set(paths)) == 1 and paths[0].read_bytes() == data
    content_gets = [op for op in counter.operations if op == "s3.GetObject"]
    assert len(content_gets) == 1


def test_arguments_are_checked_before_any_request(
    backend: Backend, cache_dir: pathlib.Path
) -> None:
    with pytest.raises(ValidationError, match="not both"):
        backend.repo.fetch(bsm=backend.bsm, name=NAME, alias="prod", version=1, cache_dir=cache_dir)
    with pytest.raises(TypeError):
        backend.repo.fetch(bsm=backend.bsm, name=NAME, key=3, cache_dir=cache_dir)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        backend.repo.fetch(bsm=backend.bsm, name=NAME, max_stale_secs=-1, cache_dir=cache_dir)
    assert backend.counter.count == 0
    with pytest.raises(ArtifactNotFoundError):
        backend.repo.fetch(bsm=backend.bsm, name="absent", version=3, cache_dir=cache_dir)
    assert not _blob_files(cache_dir)


def test_default_cache_dir_is_the_variable(
    backend: Backend, cache_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERSIONED_CACHE_DIR", str(cache_dir))
    backend.put_and_publish(NAME, b"here")
    path = backend.repo.fetch(bsm=backend.bsm, name=NAME, version=1)
    assert path.is_relative_to(cache_dir)


def test_a_new_process_warm_fetch_is_one_request(
    backend: Backend, cache_dir: pathlib.Path, make_bsm: Callable[..., BotoSesManager]
) -> None:
    """A new repository object and session (as in a new process): the ref vouches for the
    repository, so no record check is added to the one alias read."""
    backend.put_and_publish(NAME, b"served")
    backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias="prod", version=1)
    backend.repo.fetch(bsm=backend.bsm, name=NAME, alias="prod", cache_dir=cache_dir)
    fresh = dataclasses.replace(backend.repo)  # type: ignore[type-var]
    bsm = make_bsm()
    counter = RequestCounter.attach(bsm)
    path = fresh.fetch(bsm=bsm, name=NAME, alias="prod", cache_dir=cache_dir)
    assert path.read_bytes() == b"served"
    assert counter.calls == 1
