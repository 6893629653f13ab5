"""Alias history as stored, read with plain boto3: keys and items, alias records that keep
exactly the seed's fields, changes by another client, and writers that died mid-write."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest
from _testkit import Backend

from versioned._layouts.s3_only_history import HistoryEntry

NAME = "stored_app"
#: the seed's alias document, exactly (its reader does Alias(**json))
SEED_ALIAS_FIELDS = [
    "name",
    "alias",
    "update_at",
    "version",
    "secondary_version",
    "secondary_version_weight",
    "version_s3uri",
    "secondary_version_s3uri",
]


@pytest.fixture(autouse=True)
def actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERSIONED_ACTOR", "storage-test")


def point(backend: Backend, version: Any, **kwargs: Any) -> Any:
    repo = backend.repo
    return repo.put_alias(bsm=backend.bsm, name=NAME, alias="prod", version=version, **kwargs)


def history(backend: Backend) -> list[Any]:
    return backend.repo.list_alias_history(bsm=backend.bsm, name=NAME, alias="prod")


def folder(backend: Backend) -> str:
    return f"{backend.repo.s3_prefix}/{NAME}/"


def keys(backend: Backend, raw_s3: Any, under: str) -> list[str]:
    found = raw_s3.list_objects_v2(Bucket=backend.bucket, Prefix=folder(backend) + under)
    return [item["Key"] for item in found.get("Contents", [])]


def read_json(backend: Backend, raw_s3: Any, key: str) -> Any:
    return json.loads(raw_s3.get_object(Bucket=backend.bucket, Key=key)["Body"].read())


def query(raw_dynamodb: Any, table: str, pk: str) -> list[dict[str, Any]]:
    found = raw_dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )
    return list(found["Items"])


# ------------------------------------------------------------------ S3-only
def only(backend: Backend, kind: str) -> None:
    if backend.kind != kind:
        pytest.skip(f"a check of the {kind} layout")


def test_s3_only_keys(backend: Backend, raw_s3: Any) -> None:
    only(backend, "s3_only")
    backend.put_and_publish(NAME, b"a")
    for i in range(31):
        point(backend, 1, reason=f"r{i}")
    document = read_json(backend, raw_s3, folder(backend) + "aliases/prod.json")
    assert list(document) == SEED_ALIAS_FIELDS
    state = read_json(backend, raw_s3, folder(backend) + "state.json")
    recent = state["history"]["prod"]
    assert [e["reason"] for e in recent] == [f"r{i}" for i in range(20, 31)]
    (page_key,) = keys(backend, raw_s3, "history/")
    assert re.fullmatch(rf"{folder(backend)}history/prod/999998-[0-9a-f]{{32}}\.json", page_key)
    assert page_key.endswith(state["history_pages"]["prod"])
    page = read_json(backend, raw_s3, page_key)
    assert page["previous"] is None and page["alias"] == "prod"
    assert [e["reason"] for e in page["entries"]] == [f"r{i}" for i in range(20)]
    stored = {field.name for field in dataclasses.fields(HistoryEntry)}  # each, every field
    assert all(set(entry) == stored for entry in [*recent, *page["entries"]])
    head = raw_s3.head_object(Bucket=backend.bucket, Key=folder(backend) + "aliases/prod.json")
    assert head["Metadata"]["versioned-replaced"] == str(int(head["Metadata"]["versioned-seq"]) - 1)
    report = backend.repo.verify(bsm=backend.bsm)
    assert report.ok, report


def test_s3_only_another_clients_write_is_recorded_by_the_next(
    backend: Backend, raw_s3: Any
) -> None:
    only(backend, "s3_only")
    for content in (b"a", b"b", b"c"):
        backend.put_and_publish(NAME, content)
    point(backend, 1)
    seed_doc = dict(read_json(backend, raw_s3, folder(backend) + "aliases/prod.json"))
    seed_doc.update(version="2", update_at="2030-01-01T00:00:00+00:00")
    seed_doc["version_s3uri"] = seed_doc["version_s3uri"].replace("000001", "000002")
    raw_s3.put_object(  # as the seed's library writes it: no metadata of ours
        Bucket=backend.bucket,
        Key=folder(backend) + "aliases/prod.json",
        Body=json.dumps(seed_doc).encode(),
    )
    point(backend, 3, reason="after the seed")
    found = history(backend)
    assert [(c.version, c.actor) for c in found] == [
        (3, "storage-test"),
        (2, "unknown (another client)"),
        (1, "storage-test"),
    ]


def set_landed(backend: Backend, raw_s3: Any, landed: bool, drop_newest: bool) -> None:
    """Edit state.json as a writer that died before recording its landing leaves it."""
    key = folder(backend) + "state.json"
    state = read_json(backend, raw_s3, key)
    state["aliases"]["prod"]["landed"] = landed
    if drop_newest:
        state["history"]["prod"] = state["history"]["prod"][:-1]
    raw_s3.put_object(Bucket=backend.bucket, Key=key, Body=json.dumps(state).encode())


def test_s3_only_a_write_shown_but_not_recorded_is_in_history(
    backend: Backend, raw_s3: Any
) -> None:
    only(backend, "s3_only")
    for content in (b"a", b"b", b"c"):
        backend.put_and_publish(NAME, content)
    point(backend, 1)
    second = point(backend, 2)
    set_landed(backend, raw_s3, landed=False, drop_newest=True)  # died after its PUT
    newest = history(backend)[0]
    assert (newest.version, newest.revision) == (2, second.revision)
    point(backend, 3)  # the next writer records it (its PUT replaced it)
    assert [c.version for c in history(backend)] == [3, 2, 1]
    state = read_json(backend, raw_s3, folder(backend) + "state.json")
    assert [e["version"] for e in state["history"]["prod"]] == ["1", "2", "3"]


def test_s3_only_a_registration_never_shown_is_never_recorded(
    backend: Backend, raw_s3: Any
) -> None:
    only(backend, "s3_only")
    for content in (b"a", b"b", b"c"):
        backend.put_and_publish(NAME, content)
    point(backend, 1)
    alias_key = folder(backend) + "aliases/prod.json"
    shown = raw_s3.get_object(Bucket=backend.bucket, Key=alias_key)
    body, metadata = shown["Body"].read(), shown["Metadata"]
    point(backend, 2)
    # as if the writer of version 2 died after registering, before its PUT:
    raw_s3.put_object(Bucket=backend.bucket, Key=alias_key, Body=body, Metadata=metadata)
    set_landed(backend, raw_s3, landed=False, drop_newest=True)
    assert [c.version for c in history(backend)] == [1]
    point(backend, 3)
    assert [c.version for c in history(backend)] == [3, 1]


# ------------------------------------------------------------------ S3 + DynamoDB
def test_dynamodb_items(backend: Backend, raw_dynamodb: Any) -> None:
    only(backend, "s3_and_dynamodb")
    table = backend.repo.dynamodb_table_name  # type: ignore[attr-defined]
    backend.put_and_publish(NAME, b"a")
    point(backend, 1, reason="go")
    point(backend, "LATEST")
    aliases = query(raw_dynamodb, table, f"__{NAME}-alias")
    assert [item["sk"]["S"] for item in aliases] == ["prod"]
    assert set(aliases[0]) == {
        "pk",
        "sk",
        "version",
        "update_at",
        "revision",
    }  # the seed's attributes (None ones are not stored), plus the revision
    items = query(raw_dynamodb, table, f"__{NAME}-history")
    sort_keys = [item["sk"]["S"] for item in items]
    assert sort_keys[0] == "prod"  # the head
    assert all(re.fullmatch(r"prod#\d{17}", sk) for sk in sort_keys[1:]) and len(items) == 3
    head = items[0]
    assert head["revision"]["S"] == aliases[0]["revision"]["S"]
    assert head["stamp"]["N"] == sort_keys[-1].split("#")[1].lstrip("0")
    entry = items[1]
    assert entry["action"]["S"] == "put" and entry["reason"]["S"] == "go"
    assert entry["actor"]["S"] == "storage-test" and entry["version"]["S"] == "000001"


def test_dynamodb_another_clients_item_is_recorded_by_the_next_write(
    backend: Backend, raw_dynamodb: Any
) -> None:
    only(backend, "s3_and_dynamodb")
    table = backend.repo.dynamodb_table_name  # type: ignore[attr-defined]
    for content in (b"a", b"b", b"c"):
        backend.put_and_publish(NAME, content)
    point(backend, 1)
    raw_dynamodb.put_item(  # as the seed's library writes it: no revision
        TableName=table,
        Item={
            "pk": {"S": f"__{NAME}-alias"},
            "sk": {"S": "prod"},
            "version": {"S": "000002"},
            "update_at": {"S": "2020-01-01T00:00:00.000000+0000"},
        },
    )
    point(backend, 3)
    found = history(backend)
    assert [(c.version, c.actor) for c in found] == [
        (3, "storage-test"),
        (2, "unknown (another client)"),
        (1, "storage-test"),
    ]
    assert found[2].changed_at < found[1].changed_at < found[0].changed_at
    backend.repo.delete_alias(bsm=backend.bsm, name=NAME, alias="prod")
    assert [c.action for c in history(backend)][:2] == ["delete", "put"]
