"""Retention (purge_artifact_versions), deleting versions, purging artifacts and repos."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest
from _testkit import Backend, sha256_hex

from versioned import exc
from versioned.repository import Artifact

NAME = "my_app"


def publish_n(backend: Backend, n: int, name: str = NAME) -> None:
    for i in range(1, n + 1):
        backend.put_and_publish(name, f"v{i}".encode())


def purge(backend: Backend, **kwargs: Any) -> tuple[datetime, Sequence[Artifact]]:
    return backend.repo.purge_artifact_versions(bsm=backend.bsm, name=NAME, **kwargs)


def put_alias(backend: Backend, alias: str, **kwargs: Any) -> Any:
    return backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias=alias, **kwargs)


def assert_gone(backend: Backend, version: int) -> None:
    with pytest.raises(exc.ArtifactNotFoundError):
        backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME, version=version)


# ------------------------------------------------------------------ purge_artifact_versions
def test_purge_returns_time_and_deleted_artifacts(backend: Backend) -> None:
    publish_n(backend, 3)
    purge_time, deleted = purge(backend, keep_last_n=1, purge_older_than_secs=0)
    assert isinstance(purge_time, datetime)
    assert purge_time.tzinfo is not None
    assert sorted(a.version for a in deleted) == ["1", "2"]
    by_version = {a.version: a for a in deleted}
    assert by_version["1"].sha256 == sha256_hex(b"v1")
    assert by_version["2"].sha256 == sha256_hex(b"v2")
    assert all(a.name == NAME for a in deleted)
    assert backend.versions(NAME) == ["LATEST", "3"]
    assert_gone(backend, 1)
    assert_gone(backend, 2)


def test_purge_never_removes_latest(backend: Backend) -> None:
    publish_n(backend, 2)
    backend.put(NAME, b"work in progress")
    _, deleted = purge(backend, keep_last_n=0, purge_older_than_secs=0)
    assert sorted(a.version for a in deleted) == ["1", "2"]
    assert backend.versions(NAME) == ["LATEST"]
    latest = backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME)
    assert latest.get_content(bsm=backend.bsm) == b"work in progress"


def test_purge_keeps_last_n(backend: Backend) -> None:
    publish_n(backend, 4)
    _, deleted = purge(backend, keep_last_n=2, purge_older_than_secs=0)
    assert sorted(a.version for a in deleted) == ["1", "2"]
    assert backend.versions(NAME) == ["LATEST", "4", "3"]
    assert_gone(backend, 1)
    assert_gone(backend, 2)
    for version in (3, 4):
        artifact = backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME, version=version)
        assert artifact.get_content(bsm=backend.bsm) == f"v{version}".encode()


def test_purge_default_threshold_keeps_fresh_versions(backend: Backend) -> None:
    publish_n(backend, 3)
    _, deleted = purge(backend, keep_last_n=0)  # default: older than 90 days
    assert deleted == []
    assert backend.versions(NAME) == ["LATEST", "3", "2", "1"]


def test_purge_keeps_versions_younger_than_threshold(backend: Backend) -> None:
    publish_n(backend, 3)
    _, deleted = purge(backend, keep_last_n=0, purge_older_than_secs=3600)
    assert deleted == []
    assert backend.versions(NAME) == ["LATEST", "3", "2", "1"]


def test_purge_never_removes_aliased_versions(backend: Backend) -> None:
    publish_n(backend, 5)
    put_alias(backend, "prod", version=1, secondary_version=2, secondary_version_weight=10)
    put_alias(backend, "dev")  # LATEST
    _, deleted = purge(backend, keep_last_n=1, purge_older_than_secs=0)
    assert sorted(a.version for a in deleted) == ["3", "4"]
    assert backend.versions(NAME) == ["LATEST", "5", "2", "1"]
    prod = backend.repo.get_alias(bsm=backend.bsm, name=NAME, alias="prod")
    assert prod.get_version_content(bsm=backend.bsm) == b"v1"
    assert prod.get_secondary_version_content(bsm=backend.bsm) == b"v2"


def test_purge_quick_start_case(backend: Backend) -> None:
    publish_n(backend, 3)
    put_alias(backend, "development")
    put_alias(backend, "staging", version=2)
    put_alias(backend, "production", version=2)
    _, deleted = purge(backend, keep_last_n=2, purge_older_than_secs=0)
    assert [a.version for a in deleted] == ["1"]
    assert backend.versions(NAME) == ["LATEST", "3", "2"]


def test_purge_of_unknown_artifact_deletes_nothing(backend: Backend) -> None:
    _, deleted = purge(backend, keep_last_n=0, purge_older_than_secs=0)
    assert deleted == []


# ------------------------------------------------------------------ delete_artifact_version
@pytest.mark.parametrize("role", ["primary", "secondary"])
def test_delete_aliased_version_is_refused(backend: Backend, role: str) -> None:
    publish_n(backend, 3)
    if role == "primary":
        put_alias(backend, "prod", version=2)
    else:
        put_alias(backend, "prod", version=3, secondary_version=2, secondary_version_weight=5)
    with pytest.raises(exc.VersionInUseError) as raised:
        backend.repo.delete_artifact_version(bsm=backend.bsm, name=NAME, version=2)
    assert isinstance(raised.value, exc.ConflictError)
    assert backend.versions(NAME) == ["LATEST", "3", "2", "1"]
    version = backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME, version=2)
    assert version.get_content(bsm=backend.bsm) == b"v2"


def test_delete_missing_version_is_silent(backend: Backend) -> None:
    publish_n(backend, 1)
    backend.repo.delete_artifact_version(bsm=backend.bsm, name=NAME, version=42)
    assert backend.versions(NAME) == ["LATEST", "1"]


def test_delete_unaliased_version(backend: Backend) -> None:
    publish_n(backend, 3)
    put_alias(backend, "prod", version=3)
    backend.repo.delete_artifact_version(bsm=backend.bsm, name=NAME, version=2)
    assert backend.versions(NAME) == ["LATEST", "3", "1"]
    assert_gone(backend, 2)


def test_version_freed_by_moving_alias_can_be_deleted(backend: Backend) -> None:
    publish_n(backend, 2)
    put_alias(backend, "prod", version=1)
    with pytest.raises(exc.VersionInUseError):
        backend.repo.delete_artifact_version(bsm=backend.bsm, name=NAME, version=1)
    put_alias(backend, "prod", version=2)
    backend.repo.delete_artifact_version(bsm=backend.bsm, name=NAME, version=1)
    assert_gone(backend, 1)


# ------------------------------------------------------------------ purge_artifact / purge_all
def test_purge_artifact_removes_only_that_artifact(backend: Backend) -> None:
    # "app" is a prefix of the other names: they must survive its purge
    for name in ("app", "app_2", "ap"):
        backend.put_and_publish(name, name.encode())
        backend.repo.put_alias(bsm=backend.bsm, name=name, alias="prod", version=1)

    backend.repo.purge_artifact(bsm=backend.bsm, name="app")

    assert backend.repo.list_artifact_names(bsm=backend.bsm) == ["ap", "app_2"]
    assert backend.versions("app") == []
    assert backend.repo.list_aliases(bsm=backend.bsm, name="app") == []
    with pytest.raises(exc.ArtifactNotFoundError):
        backend.repo.get_artifact_version(bsm=backend.bsm, name="app")
    with pytest.raises(exc.AliasNotFoundError):
        backend.repo.get_alias(bsm=backend.bsm, name="app", alias="prod")

    for name in ("app_2", "ap"):
        assert backend.versions(name) == ["LATEST", "1"]
        kept = backend.repo.get_alias(bsm=backend.bsm, name=name, alias="prod")
        assert kept.get_version_content(bsm=backend.bsm) == name.encode()


def test_purged_artifact_starts_again_at_version_1(backend: Backend) -> None:
    publish_n(backend, 2)
    backend.repo.purge_artifact(bsm=backend.bsm, name=NAME)
    backend.put(NAME, b"fresh start")
    assert backend.publish(NAME).version == "1"


def test_purge_all_removes_only_the_prefix(backend: Backend, raw_s3: Any) -> None:
    raw_s3.put_object(Bucket=backend.bucket, Key="outside/keep.txt", Body=b"keep me")
    raw_s3.put_object(Bucket=backend.bucket, Key="artifacts-sibling/keep.txt", Body=b"me too")
    for name in ("one", "two"):
        backend.put_and_publish(name, name.encode())
        backend.repo.put_alias(bsm=backend.bsm, name=name, alias="prod")

    backend.repo.purge_all(bsm=backend.bsm)

    assert backend.repo.list_artifact_names(bsm=backend.bsm) == []
    for name in ("one", "two"):
        assert backend.versions(name) == []
        assert backend.repo.list_aliases(bsm=backend.bsm, name=name) == []
    listed = raw_s3.list_objects_v2(Bucket=backend.bucket)
    assert sorted(o["Key"] for o in listed.get("Contents", [])) == [
        "artifacts-sibling/keep.txt",
        "artifacts/.versioned-repository.json",  # the prefix stays this repository's
        "outside/keep.txt",
    ]
    body = raw_s3.get_object(Bucket=backend.bucket, Key="outside/keep.txt")["Body"].read()
    assert body == b"keep me"
