"""Artifacts and versions: put/get, dedup, publish, listing, lookup by version."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _testkit import Backend, sha256_hex, split_s3uri

from versioned import exc, s3_and_dynamodb_backend
from versioned.repository import Artifact

NAME = "my_app"


# ------------------------------------------------------------------ put / get
def test_put_get_round_trip(backend: Backend) -> None:
    content = b"binary \x00\xff content"
    artifact = backend.put(NAME, content)

    assert artifact.name == NAME
    assert artifact.version == "LATEST"
    assert artifact.sha256 == sha256_hex(content)
    assert artifact.get_content(bsm=backend.bsm) == content

    fetched = backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME)
    assert fetched.version == "LATEST"
    assert fetched.sha256 == artifact.sha256
    assert fetched.s3uri == artifact.s3uri
    assert fetched.update_datetime == artifact.update_datetime
    assert fetched.update_datetime.tzinfo is not None
    assert fetched.get_content(bsm=backend.bsm) == content


def test_console_url(backend: Backend) -> None:
    artifact = backend.put(NAME, b"x")
    bucket, key = split_s3uri(artifact.s3uri)
    assert bucket == backend.bucket
    assert artifact.s3path.console_url == (
        f"https://console.aws.amazon.com/s3/object/{bucket}?prefix={key}"
    )


def test_version_strings_are_latest_then_numbers(backend: Backend) -> None:
    v1 = backend.put_and_publish(NAME, b"one")
    v2 = backend.put_and_publish(NAME, b"two")
    v3 = backend.put_and_publish(NAME, b"three")
    assert (v1.version, v2.version, v3.version) == ("1", "2", "3")
    assert all(isinstance(v.version, str) for v in (v1, v2, v3))
    assert backend.versions(NAME) == ["LATEST", "3", "2", "1"]


def _raw_state(backend: Backend, raw_s3: Any, raw_dynamodb: Any) -> tuple[Any, ...]:
    """Everything stored, read with raw boto3: objects (key, ETag, LastModified) and items."""
    listed = raw_s3.list_objects_v2(Bucket=backend.repo.s3_bucket).get("Contents", [])
    objects = sorted((o["Key"], o["ETag"], o["LastModified"]) for o in listed)
    items = []
    if isinstance(backend.repo, s3_and_dynamodb_backend.Repository):
        scanned = raw_dynamodb.scan(TableName=backend.repo.dynamodb_table_name)["Items"]
        items = sorted(repr(sorted(i.items())) for i in scanned)
    return tuple(objects), tuple(items)


def test_put_unchanged_content_writes_nothing(
    backend: Backend, raw_s3: Any, raw_dynamodb: Any
) -> None:
    first = backend.put(NAME, b"same bytes")
    before = _raw_state(backend, raw_s3, raw_dynamodb)
    backend.counter.reset()

    second = backend.put(NAME, b"same bytes")

    assert backend.counter.count == 1  # one look, no write
    assert not any(method in ("PUT", "DELETE") for method, _ in backend.counter.requests)
    # The DynamoDB backend's single request is a conditional update that fails when the
    # content is unchanged (it takes the write lease otherwise): storage must be untouched.
    assert _raw_state(backend, raw_s3, raw_dynamodb) == before
    assert second.sha256 == first.sha256
    assert second.update_datetime == first.update_datetime
    latest = backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME)
    assert latest.update_datetime == first.update_datetime


def test_put_changed_content_updates_sha_and_time(backend: Backend) -> None:
    first = backend.put(NAME, b"old")
    second = backend.put(NAME, b"new")
    assert second.sha256 == sha256_hex(b"new") != first.sha256
    assert second.update_datetime >= first.update_datetime  # S3 reports whole seconds
    latest = backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME)
    assert latest.sha256 == second.sha256
    assert latest.update_datetime == second.update_datetime
    assert latest.get_content(bsm=backend.bsm) == b"new"


# ------------------------------------------------------------------ publish
def test_publish_numbers_versions(backend: Backend) -> None:
    backend.put(NAME, b"v1")
    first = backend.publish(NAME)
    assert first.version == "1"
    assert first.sha256 == sha256_hex(b"v1")
    backend.put(NAME, b"v2")
    second = backend.publish(NAME)
    assert second.version == "2"
    assert second.sha256 == sha256_hex(b"v2")


def test_publish_unchanged_latest_returns_newest_version(backend: Backend) -> None:
    backend.put_and_publish(NAME, b"v1")
    v2 = backend.put_and_publish(NAME, b"v2")

    again = backend.publish(NAME)
    assert again.version == "2"
    assert again.sha256 == v2.sha256
    assert again.update_datetime == v2.update_datetime
    assert backend.versions(NAME) == ["LATEST", "2", "1"]


def test_publish_compares_with_newest_version_only(backend: Backend) -> None:
    backend.put_and_publish(NAME, b"A")
    backend.put_and_publish(NAME, b"B")
    backend.put(NAME, b"A")  # back to version 1's bytes
    third = backend.publish(NAME)
    assert third.version == "3"
    assert third.get_content(bsm=backend.bsm) == b"A"


def test_publish_without_latest_is_not_found(backend: Backend) -> None:
    with pytest.raises(exc.ArtifactNotFoundError):
        backend.publish("never_put")
    assert backend.versions("never_put") == []


def test_published_bytes_are_latest_at_publish_time(backend: Backend) -> None:
    v1 = backend.put_and_publish(NAME, b"first content")
    backend.put(NAME, b"second content")

    assert v1.get_content(bsm=backend.bsm) == b"first content"
    again = backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME, version=1)
    assert again.get_content(bsm=backend.bsm) == b"first content"
    assert again.sha256 == sha256_hex(b"first content")
    latest = backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME)
    assert latest.get_content(bsm=backend.bsm) == b"second content"


def test_publish_preserves_metadata_and_content_type(backend: Backend, raw_s3: Any) -> None:
    metadata = {"team": "ml", "build": "42"}
    backend.put(NAME, b"{}", content_type="application/json", metadata=metadata)
    version = backend.publish(NAME)

    bucket, key = split_s3uri(version.s3uri)
    head = raw_s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == "application/json"
    assert head["Metadata"]["team"] == "ml"
    assert head["Metadata"]["build"] == "42"


# ------------------------------------------------------------------ listing / lookup
def test_list_artifact_versions_order(backend: Backend) -> None:
    for content in (b"a", b"b", b"c"):
        backend.put_and_publish(NAME, content)
    listed = backend.repo.list_artifact_versions(bsm=backend.bsm, name=NAME)
    assert [a.version for a in listed] == ["LATEST", "3", "2", "1"]
    assert [a.sha256 for a in listed] == [sha256_hex(c) for c in (b"c", b"c", b"b", b"a")]


def test_list_artifact_versions_of_unknown_artifact_is_empty(backend: Backend) -> None:
    assert backend.repo.list_artifact_versions(bsm=backend.bsm, name="nothing_here") == []


@pytest.mark.parametrize("version", [1, "1", "000001"])
def test_get_artifact_version_by_number(backend: Backend, version: Any) -> None:
    backend.put_and_publish(NAME, b"one")
    backend.put(NAME, b"latest")
    artifact = backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME, version=version)
    assert artifact.version == "1"
    assert artifact.sha256 == sha256_hex(b"one")
    assert artifact.get_content(bsm=backend.bsm) == b"one"


@pytest.mark.parametrize("version", [None, "LATEST"])
def test_get_artifact_version_latest(backend: Backend, version: Any) -> None:
    backend.put_and_publish(NAME, b"one")
    backend.put(NAME, b"latest")
    artifact = backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME, version=version)
    assert artifact.version == "LATEST"
    assert artifact.get_content(bsm=backend.bsm) == b"latest"


def test_get_missing_version_is_not_found(backend: Backend) -> None:
    backend.put_and_publish(NAME, b"one")
    with pytest.raises(exc.ArtifactNotFoundError):
        backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME, version=2)
    with pytest.raises(exc.ArtifactNotFoundError):
        backend.repo.get_artifact_version(bsm=backend.bsm, name="unknown")


def test_get_latest_published_artifact_version_number(backend: Backend) -> None:
    """The seed has it in the S3-only backend only; both layouts have it here."""
    repo, bsm = backend.repo, backend.bsm
    assert repo.get_latest_published_artifact_version_number(bsm=bsm, name=NAME) == 0
    backend.put(NAME, b"a")
    assert repo.get_latest_published_artifact_version_number(bsm=bsm, name=NAME) == 0
    backend.publish(NAME)
    assert repo.get_latest_published_artifact_version_number(bsm=bsm, name=NAME) == 1
    backend.put_and_publish(NAME, b"b")
    assert repo.get_latest_published_artifact_version_number(bsm=bsm, name=NAME) == 2


def test_list_artifact_names_sorted(backend: Backend) -> None:
    assert backend.repo.list_artifact_names(bsm=backend.bsm) == []
    for name in ("zeta", "alpha", "mid_1"):
        backend.put(name, name.encode())
    assert backend.repo.list_artifact_names(bsm=backend.bsm) == ["alpha", "mid_1", "zeta"]


@pytest.mark.parametrize(
    "name",
    ["my app", "a+b", "a%20b", "tilde~name", "v1.2.3", "UPPER_lower-123", "a:b=c,d;e"],
)
def test_unusual_but_valid_names(backend: Backend, name: str) -> None:
    backend.put(name, b"one")
    version = backend.publish(name)
    assert version.name == name
    assert version.version == "1"
    assert backend.repo.list_artifact_names(bsm=backend.bsm) == [name]
    assert backend.versions(name) == ["LATEST", "1"]
    alias = backend.repo.put_alias(bsm=backend.bsm, name=name, alias="prod", version=1)
    assert alias.get_version_content(bsm=backend.bsm) == b"one"
    fetched = backend.repo.get_artifact_version(bsm=backend.bsm, name=name, version=1)
    assert fetched.get_content(bsm=backend.bsm) == b"one"


def test_counter_sees_the_library_requests(backend: Backend) -> None:
    backend.counter.reset()
    with pytest.raises(exc.ArtifactNotFoundError):
        backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME)
    assert backend.counter.count >= 1
    assert all(url.startswith("http://127.0.0.1:") for _, url in backend.counter.requests)


# Regression (found by this suite; fixed in 1796d48): non-ASCII names used to pass validation
# and then fail *after* a request with ArtifactS3BackendError, because the name is copied into
# the S3 object metadata ("artifact_name"), which must be ASCII. A name must either work end to
# end or be refused up front (ValueError, no request), like every other bad name.
@pytest.mark.parametrize("name", ["données", "名前"])
def test_non_ascii_name_works_or_is_refused_up_front(backend: Backend, name: str) -> None:
    backend.counter.reset()
    try:
        backend.put(name, b"one")
    except ValueError:
        assert backend.counter.count == 0, "refused, but only after sending requests"
        return
    assert backend.publish(name).version == "1"
    assert backend.repo.list_artifact_names(bsm=backend.bsm) == [name]
    fetched = backend.repo.get_artifact_version(bsm=backend.bsm, name=name, version=1)
    assert fetched.get_content(bsm=backend.bsm) == b"one"


def test_artifact_carries_size_content_type_and_metadata(backend: Backend) -> None:
    """The fields beyond the seed's five, filled where the data is at hand; the
    seed's five positional fields still construct an Artifact."""
    put = backend.put(NAME, b"12345", content_type="text/plain", metadata={"team": "ml"})
    got = backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME)
    for artifact in (put, got):
        assert (artifact.size, artifact.content_type, artifact.metadata) == (
            5,
            "text/plain",
            {"team": "ml"},
        )
    published = backend.publish(NAME)
    assert (published.size, published.content_type) == (5, "text/plain")
    seed_class: Callable[..., Artifact] = type(got)
    bare = seed_class(got.name, got.version, got.update_at, got.s3uri, got.sha256)
    assert (bare.size, bare.content_type, bare.metadata) == (None, None, None)


def test_download_to_a_directory_or_a_missing_one_says_so(backend: Backend, tmp_path: Any) -> None:
    """No temporary ".part" names in the error; nothing is left behind."""
    artifact = backend.put(NAME, b"bytes")
    with pytest.raises(exc.ValidationError, match="is a directory"):
        artifact.download(bsm=backend.bsm, path=tmp_path)
    with pytest.raises(exc.ValidationError, match="does not exist"):
        artifact.download(bsm=backend.bsm, path=tmp_path / "missing" / "file")
    assert list(tmp_path.iterdir()) == []


def test_a_put_without_content_type_records_s3s_default_on_both_layouts(backend: Backend) -> None:
    """The same upload has the same content_type on both layouts: S3's own default
    (the S3 + DynamoDB layout used to record none while the object said binary/...)."""
    put = backend.put(NAME, b"no type given")
    published = backend.publish(NAME)
    got = backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME, version=1)
    listed = backend.repo.list_artifact_versions(bsm=backend.bsm, name=NAME)
    types = {put.content_type, published.content_type, got.content_type}
    types |= {artifact.content_type for artifact in listed}
    assert types == {"binary/octet-stream"}
