"""Odd and hand-written data, odd arguments: every public call either works or
raises a library error naming the odd record (ValueError/TypeError for bad arguments,
before any request); verify() reports the oddity and never raises."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Ops, RawStore, attempt, reported, works_or_clear
from _testkit import Endpoints, RequestCounter
from _testkit import make_session as make_bsm

from versioned.api import RetryPolicy
from versioned.exc import ContentionError, VersionedError

V1, V2, V3 = b"version one " * 20, b"version two " * 20, b"version three " * 20


#: retry loops give up after 2 s instead of 120 s (a spin shows as ContentionError)
SHORT_DEADLINE = RetryPolicy(deadline_secs=2.0)


# ---------------------------------------------------------------- arguments
@pytest.mark.parametrize("kind", ["s3_only", "s3_dynamodb"])
@pytest.mark.parametrize(
    "age",
    [float("inf"), float("nan"), 10**12, 1e300],
    ids=["inf", "nan", "1e12-int", "1e300"],
)
def test_purge_with_odd_age_works_or_is_refused_up_front(
    kind: str, age: float, make_repo: Callable[..., Ops], endpoints: Endpoints
) -> None:
    """An age beyond datetime's range ("never purge by age") must not surface as
    OverflowError after the listing; NaN must be refused before any request."""
    ops = make_repo(kind)
    ops.publish_contents("app", [V1, V2])
    client = Ops(ops.place, make_bsm(endpoints))
    counter = RequestCounter.attach(client.bsm)
    outcome = attempt(lambda: client.purge_versions("app", 0, age), strict=False)
    if outcome.ok:
        assert not math.isnan(age), "NaN accepted as an age"
        assert outcome.value[1] == [], f"versions younger than {age} s purged"
    else:
        assert isinstance(outcome.error, ValueError | TypeError), outcome.describe()
        assert counter.count == 0, f"{outcome.describe()} after {counter.operations}"
    assert ops.versions("app") and len(ops.versions("app")) == 3


# ---------------------------------------------------------------- S3-only state.json
@pytest.mark.parametrize("version", ["0", "abc", "1.0"])
def test_s3_only_state_alias_entry_with_odd_version(
    version: str, make_repo: Callable[..., Ops], raw: RawStore, raw_s3: Any
) -> None:
    """state.json registers alias 'prod' with an unreadable version: deletions must not
    fail with an argument error that names no record, and verify() must report it."""
    ops = make_repo("s3_only")
    ops.publish_contents("app", [V1, V2])
    ops.put_alias("app", "prod", version=2)
    key = f"{ops.place.root}app/state.json"
    document = json.loads(raw.data(ops.place.bucket, key) or b"")
    document["aliases"]["prod"]["version"] = version
    raw_s3.put_object(Bucket=ops.place.bucket, Key=key, Body=json.dumps(document).encode())
    problems = [
        f"delete_artifact_version: {p}"
        for p in [
            works_or_clear(
                attempt(lambda: ops.delete_version("app", 1), strict=False), "state.json"
            )
        ]
        if p
    ]
    problems += [
        f"purge_artifact_versions: {p}"
        for p in [
            works_or_clear(
                attempt(lambda: ops.purge_versions("app", 0, 0), strict=False), "state.json"
            )
        ]
        if p
    ]
    problem = reported(attempt(lambda: ops.verify("app"), strict=False), "state.json")
    if problem:
        problems.append(problem)
    assert problems == [], problems


# ---------------------------------------------------------------- DynamoDB items
def _update(raw_dynamodb: Any, ops: Ops, pk: str, sk: str, expression: str, value: Any) -> None:
    raw_dynamodb.update_item(
        TableName=ops.place.table,
        Key={"pk": {"S": pk}, "sk": {"S": sk}},
        UpdateExpression=expression,
        ExpressionAttributeValues={":v": value},
    )


def test_dynamodb_latest_item_with_a_non_numeric_latest_version(
    make_repo: Callable[..., Ops], raw_dynamodb: Any
) -> None:
    ops = make_repo("s3_dynamodb")
    ops.publish_contents("app", [V1, V2])
    _update(raw_dynamodb, ops, "app", "LATEST", "SET latest_version = :v", {"S": "abc"})
    ops.put("app", V3)
    problems = []
    for label, call in (
        ("publish", lambda: ops.publish("app")),
        ("delete_artifact_version(2)", lambda: ops.delete_version("app", 2)),
        ("purge_artifact_versions", lambda: ops.purge_versions("app", 0, 0)),
    ):
        problem = works_or_clear(attempt(call, strict=False), "LATEST")
        if problem:
            problems.append(f"{label}: {problem}")
    assert problems == [], problems


def test_dynamodb_item_with_an_odd_digit_sort_key_does_not_block_publish(
    make_repo: Callable[..., Ops], raw_dynamodb: Any
) -> None:
    """An item `sk="000009-copy"` (written by hand) sorts among the version items."""
    ops = make_repo("s3_dynamodb")
    ops.publish_contents("app", [V1, V2])
    raw_dynamodb.put_item(
        TableName=ops.place.table,
        Item={
            "pk": {"S": "app"},
            "sk": {"S": "000009-copy"},
            "sha256": {"S": "0" * 64},
            "update_at": {"S": "2024-01-01T00:00:00.000000+0000"},
            "is_deleted": {"BOOL": False},
        },
    )
    ops.put("app", V3)
    outcome = attempt(lambda: ops.publish("app"), strict=False)
    problem = works_or_clear(outcome, "000009-copy")
    assert problem == "", problem
    if outcome.ok:
        assert int(outcome.value.version) > 2


@pytest.mark.parametrize(
    "value", [{"S": ""}, {"N": "0"}, {"S": "false"}], ids=["empty-str", "zero", "str-false"]
)
def test_dynamodb_is_deleted_of_the_wrong_type(
    value: dict[str, str],
    make_repo: Callable[..., Ops],
    raw_dynamodb: Any,
) -> None:
    """is_deleted must be a bool: anything else is reported by verify(); a deletion of
    the version works or names the item, and never spins into ContentionError."""
    ops = make_repo("s3_dynamodb", retry_policy=SHORT_DEADLINE)
    ops.publish_contents("app", [V1, V2])
    _update(raw_dynamodb, ops, "app", "000001", "SET is_deleted = :v", value)
    problems = []
    problem = reported(attempt(lambda: ops.verify("app"), strict=False), "000001")
    if problem:
        problems.append(problem)
    outcome = attempt(lambda: ops.delete_version("app", 1), strict=False)
    if isinstance(outcome.error, ContentionError):
        problems.append(f"delete_artifact_version(1) spun: {outcome.describe()}")
    elif not outcome.ok and not isinstance(outcome.error, VersionedError):
        problems.append(f"delete_artifact_version(1): {outcome.describe()}")
    assert problems == [], problems
