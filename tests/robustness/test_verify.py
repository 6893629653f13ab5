"""Repository.verify reports every kind of out-of-band corruption."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _robkit import Backend, new_backend
from _testkit import LAYOUTS
from boto_session_manager import BotoSesManager


def _build(backend: Backend, bsm: BotoSesManager, name: str, versions: int = 3) -> None:
    for index in range(versions):
        backend.put(bsm, name, f"{name} v{index + 1}".encode())
        backend.publish(bsm, name)
    backend.put(bsm, name, f"{name} latest".encode())


def _key(uri: str) -> str:
    return uri[len("s3://") :].partition("/")[2]


@pytest.mark.parametrize("kind", LAYOUTS)
def test_clean_repository_reports_no_problem(
    kind: str, make_bsm: Callable[[], BotoSesManager]
) -> None:
    bsm = make_bsm()
    backend = new_backend(kind, bsm)
    _build(backend, bsm, "clean")
    backend.put_alias(
        bsm, "clean", "prod", version=2, secondary_version=3, secondary_version_weight=10
    )
    report = backend.verify(bsm)
    assert report.ok, report.problems
    assert report.problems == []
    assert report.kinds() == set()


def test_s3_only_verify_reports_each_corruption(
    make_bsm: Callable[[], BotoSesManager], raw_s3: Any
) -> None:
    bsm = make_bsm()
    backend = new_backend("s3_only", bsm)
    for name in ("healthy", "orphan", "tampered", "dangling"):
        _build(backend, bsm, name)
    bucket = backend.bucket
    # an extra key under the artifact's folder, outside the layout
    orphan_key = "artifacts/orphan/stray.txt"
    raw_s3.put_object(Bucket=bucket, Key=orphan_key, Body=b"junk")
    # version 1's bytes replaced, its metadata (recorded sha256) kept
    tampered_key = _key(backend.get(bsm, "tampered", 1).s3uri)
    head = raw_s3.head_object(Bucket=bucket, Key=tampered_key)
    raw_s3.put_object(
        Bucket=bucket, Key=tampered_key, Body=b"tampered bytes", Metadata=head["Metadata"]
    )
    # the object an alias points at, deleted
    backend.put_alias(bsm, "dangling", "prod", version=2)
    raw_s3.delete_object(Bucket=bucket, Key=_key(backend.get(bsm, "dangling", 2).s3uri))

    report = backend.verify(bsm)
    found = {(p.kind, p.name) for p in report.problems}
    assert ("orphan_object", "orphan") in found
    assert ("sha256_mismatch", "tampered") in found
    assert ("dangling_alias", "dangling") in found
    assert not report.ok
    assert {"orphan_object", "sha256_mismatch", "dangling_alias"} <= report.kinds()
    assert [p for p in report.problems if p.name == "healthy"] == []
    by_kind = {p.kind: p for p in report.problems}
    assert by_kind["orphan_object"].location.endswith(orphan_key)
    assert by_kind["sha256_mismatch"].location.endswith(tampered_key)


def test_s3_dynamodb_verify_reports_each_corruption(
    make_bsm: Callable[[], BotoSesManager], raw_s3: Any, raw_dynamodb: Any
) -> None:
    bsm = make_bsm()
    backend = new_backend("s3_dynamodb", bsm)
    names = ("healthy", "orphan", "noobject", "noitem", "badsha", "dangling")
    for name in names:
        _build(backend, bsm, name)
    bucket, table = backend.bucket, backend.table
    orphan_key = "artifacts/orphan/stray.txt"
    raw_s3.put_object(Bucket=bucket, Key=orphan_key, Body=b"junk")
    # a live version whose bytes are gone
    noobject_key = "artifacts/noobject/000001.bin"
    raw_s3.delete_object(Bucket=bucket, Key=noobject_key)
    # bytes of a version that has no item
    noitem_key = "artifacts/noitem/000009.bin"
    raw_s3.put_object(Bucket=bucket, Key=noitem_key, Body=b"no item for me")
    # an item whose recorded sha256 is wrong
    raw_dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": "badsha"}, "sk": {"S": "000002"}},
        UpdateExpression="SET sha256 = :s",
        ExpressionAttributeValues={":s": {"S": "0" * 64}},
    )
    # a version soft-deleted behind the back of the alias pointing at it
    backend.put_alias(bsm, "dangling", "prod", version=3)
    raw_dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": "dangling"}, "sk": {"S": "000003"}},
        UpdateExpression="SET is_deleted = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )

    report = backend.verify(bsm)
    found = {(p.kind, p.name) for p in report.problems}
    expected = {
        ("orphan_object", "orphan"),
        ("item_without_object", "noobject"),
        ("object_without_item", "noitem"),
        ("sha256_mismatch", "badsha"),
        ("dangling_alias", "dangling"),
    }
    assert expected <= found, report.problems
    assert [p for p in report.problems if p.name == "healthy"] == []
    locations = {(p.kind, p.name): p.location for p in report.problems}
    assert locations[("orphan_object", "orphan")].endswith(orphan_key)
    assert locations[("item_without_object", "noobject")].endswith(noobject_key)
    assert locations[("object_without_item", "noitem")].endswith(noitem_key)
    assert report.kinds() >= {k for k, _ in expected}
