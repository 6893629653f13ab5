"""Odd records written by hand or by other tools are reported by
verify() and read as clear library errors naming the record; a DynamoDB endpoint that
does not echo the old item on a failed condition works too."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Ops, Place, RawStore, attempt, clear_error, reported
from _faultproxy import FaultProxy
from _testkit import sha256_hex

V1, V2 = b"version one " * 20, b"version two " * 20
NOW = "2024-01-01T00:00:00.000000+0000"


def names_version_1(text: str) -> bool:
    return re.search(r"(?<!\d)0*1(?!\d)", text) is not None


# ---------------------------------------------------------------- odd records, S3-only
@pytest.mark.parametrize("key", ["__pycache__/x.pyc", "café/readme"])
def test_s3_only_verify_reports_odd_folders_under_the_prefix(
    key: str, make_repo: Callable[..., Ops], raw_s3: Any
) -> None:
    ops = make_repo("s3_only")
    ops.publish_contents("app", [V1])
    raw_s3.put_object(Bucket=ops.place.bucket, Key=ops.place.root + key, Body=b"stray")
    problem = reported(attempt(ops.verify, strict=False), key.split("/")[0])
    assert problem == "", problem


def _alias_key(place: Place, alias: str) -> str:
    return f"{place.root}app/aliases/{alias}.json"


@pytest.mark.parametrize("record", ["not_json", "string_weight"])
def test_s3_only_odd_alias_documents_are_reported_and_read_as_clear_errors(
    record: str, make_repo: Callable[..., Ops], raw: RawStore, raw_s3: Any
) -> None:
    ops = make_repo("s3_only")
    place = ops.place
    ops.publish_contents("app", [V1, V2])
    ops.put_alias("app", "good", version=2, secondary_version=1, secondary_version_weight=10)
    if record == "not_json":
        body = b"{ this is not json"
    else:
        document = json.loads(raw.data(place.bucket, _alias_key(place, "good")) or b"")
        document.update(alias="odd", secondary_version_weight="10")
        body = json.dumps(document).encode()
    raw_s3.put_object(Bucket=place.bucket, Key=_alias_key(place, "odd"), Body=body)
    problems = [
        reported(attempt(ops.verify, strict=False), "odd"),
        clear_error(attempt(lambda: ops.get_alias("app", "odd"), strict=False), "odd"),
    ]
    problems = [p for p in problems if p]
    assert problems == [], problems


# ---------------------------------------------------------------- odd records, DynamoDB
def test_dynamodb_version_item_without_update_at(
    make_repo: Callable[..., Ops], raw_dynamodb: Any
) -> None:
    ops = make_repo("s3_dynamodb")
    ops.publish_contents("app", [V1, V2])
    raw_dynamodb.update_item(
        TableName=ops.place.table,
        Key={"pk": {"S": "app"}, "sk": {"S": "000001"}},
        UpdateExpression="REMOVE update_at",
    )
    problems: list[str] = []
    for label, call in (
        ("list_artifact_versions", lambda: ops.versions("app")),
        ("get_artifact_version(1)", lambda: ops.get("app", 1)),
    ):
        outcome = attempt(call, strict=False)
        problem = clear_error(outcome, "app")
        if not problem and not names_version_1(str(outcome.error)):
            problem = f"{outcome.describe()} does not name version 1"
        if problem:
            problems.append(f"{label}: {problem}")
    purge = attempt(lambda: ops.purge_versions("app", 0, 0), strict=False)
    if not purge.ok:
        problem = clear_error(purge, "app")
        if problem:
            problems.append(f"purge_artifact_versions: {problem}")
    report = attempt(lambda: ops.verify("app"), strict=False)
    if not report.ok:
        problems.append(f"verify: raised {report.describe()}")
    elif not any(names_version_1(f"{p.location} {p.detail}") for p in report.value.problems):
        problems.append(f"verify: did not report version 1: {report.value.problems}")
    assert problems == [], problems


@pytest.mark.parametrize("record", ["version_abc", "no_update_at"])
def test_dynamodb_odd_alias_items_are_reported_not_raised(
    record: str, make_repo: Callable[..., Ops], raw_dynamodb: Any
) -> None:
    ops = make_repo("s3_dynamodb")
    ops.publish_contents("app", [V1])
    ops.put_alias("app", "odd", version=1)
    expression = (
        {"UpdateExpression": "SET version = :v", "ExpressionAttributeValues": {":v": {"S": "abc"}}}
        if record == "version_abc"
        else {"UpdateExpression": "REMOVE update_at"}
    )
    raw_dynamodb.update_item(
        TableName=ops.place.table,
        Key={"pk": {"S": "__app-alias"}, "sk": {"S": "odd"}},
        **expression,
    )
    problems = [
        reported(attempt(lambda: ops.verify("app"), strict=False), "odd"),
        clear_error(attempt(lambda: ops.get_alias("app", "odd"), strict=False), "odd"),
    ]
    problems = [p for p in problems if p]
    assert problems == [], problems


# --------------------------------------------------------- no old item echoed on a failed condition
def _strip_old_item(status: int, headers: list[tuple[str, str]], body: bytes) -> Any:
    """What a server that ignores ReturnValuesOnConditionCheckFailure answers."""
    if status == 400 and b"ConditionalCheckFailed" in body:
        document = json.loads(body)
        document.pop("Item", None)
        body = json.dumps(document).encode()
    return status, headers, body


def test_dynamodb_unchanged_put_and_publish_without_the_old_item_echoed(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    ops = make_repo("s3_dynamodb")
    proxy = make_proxy()
    proxy.add(
        "rewrite_response",
        when=lambda r: r.service == "dynamodb",
        times=None,
        rewrite=_strip_old_item,
    )
    client = via(ops.place, proxy)
    client.put("app", V1)
    problems: list[str] = []
    unchanged = attempt(lambda: client.put("app", V1), strict=False)
    if not unchanged.ok:
        problems.append(f"put of unchanged content: {unchanged.describe()}")
    elif unchanged.value.sha256 != sha256_hex(V1):
        problems.append(f"put of unchanged content returned sha256 {unchanged.value.sha256}")
    first = attempt(lambda: client.publish("app"), strict=False)
    if not first.ok or first.value.version != "1":
        problems.append(f"first publish: {first.describe()}")
    again = attempt(lambda: client.publish("app"), strict=False)
    if not again.ok:
        problems.append(f"publish of an unchanged LATEST: {again.describe()}")
    elif (again.value.version, again.value.sha256) != ("1", sha256_hex(V1)):
        problems.append(f"publish of an unchanged LATEST returned {again.value}")
    latest = raw.latest(ops.place, "app")
    if latest is None or latest.actual != latest.recorded or latest.recorded != sha256_hex(V1):
        problems.append(f"LATEST afterwards: {latest}")
    assert problems == [], problems
