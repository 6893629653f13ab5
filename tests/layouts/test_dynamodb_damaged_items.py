"""A damaged DynamoDB item (a number out of range, a time past year 9999, a wrong type)
makes the calls that read it raise CorruptRecordError naming the item, and verify()
reports it without raising. Items are damaged with plain boto3, the way a hand edit or
another client would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _testkit import unique
from boto_session_manager import BotoSesManager

from versioned.exc import CorruptRecordError
from versioned.s3_and_dynamodb_backend import Repository

#: a time whose UTC form is past year 9999 (datetime overflows converting it)
PAST_9999 = {"S": "9999-12-31T23:59:59.000000-1000"}


def new_repo(bsm: BotoSesManager) -> Repository:
    repo = Repository(
        aws_region="us-east-1",
        s3_bucket=unique("bkt"),
        s3_prefix="artifacts",
        dynamodb_table_name=unique("tbl"),
        suffix=".bin",
    )
    repo.bootstrap(bsm=bsm)
    return repo


def damage(
    raw_dynamodb: Any, repo: Repository, key: tuple[str, str], attribute: str, value: Any
) -> None:
    raw_dynamodb.update_item(
        TableName=repo.dynamodb_table_name,
        Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}},
        UpdateExpression="SET #a = :v",
        ExpressionAttributeNames={"#a": attribute},
        ExpressionAttributeValues={":v": value},
    )


Call = Callable[[Repository, BotoSesManager], Any]

CASES: dict[str, tuple[tuple[str, str], str, Any, list[Call]]] = {
    "version time past 9999": (
        ("app", "000001"),
        "update_at",
        PAST_9999,
        [
            lambda repo, bsm: repo.list_artifact_versions("app", bsm=bsm),
            lambda repo, bsm: repo.get_artifact_version("app", 1, bsm=bsm),
        ],
    ),
    "negative version size": (
        ("app", "000001"),
        "content_length",
        {"N": "-5"},
        [lambda repo, bsm: repo.get_artifact_version("app", 1, bsm=bsm)],
    ),
    "alias time past 9999": (
        ("__app-alias", "prod"),
        "update_at",
        PAST_9999,
        [
            lambda repo, bsm: repo.get_alias("app", "prod", bsm=bsm),
            lambda repo, bsm: repo.list_aliases("app", bsm=bsm),
        ],
    ),
    "alias weight out of range": (
        ("__app-alias", "prod"),
        "secondary_version_weight",
        {"N": "1E+125"},
        [lambda repo, bsm: repo.get_alias("app", "prod", bsm=bsm)],
    ),
    "write queue not a number": (
        ("app", "LATEST"),
        "put_done",
        {"S": "Infinity"},
        [lambda repo, bsm: repo.put_artifact("app", b"three", bsm=bsm)],
    ),
    "write queue out of range": (
        ("app", "LATEST"),
        "put_done",
        {"N": "1E+125"},
        [lambda repo, bsm: repo.put_artifact("app", b"three", bsm=bsm)],
    ),
    # 1E+125 written out: a legal DynamoDB number (one significant digit) that boto3's
    # 38-digit decimal context cannot read; MiniStack returns 1E+125 this way
    "publish counter of 126 digits": (
        ("app", "LATEST"),
        "latest_version",
        {"N": "1" + "0" * 125},
        [lambda repo, bsm: repo.publish_artifact_version("app", bsm=bsm)],
    ),
    "alias weight of 126 digits": (
        ("__app-alias", "prod"),
        "secondary_version_weight",
        {"N": "1" + "0" * 125},
        [lambda repo, bsm: repo.get_alias("app", "prod", bsm=bsm)],
    ),
    "publish counter out of range": (
        ("app", "LATEST"),
        "latest_version",
        {"N": "1E+125"},
        [lambda repo, bsm: repo.publish_artifact_version("app", bsm=bsm)],
    ),
}

#: moto's own Scan fails (HTTP 500) on a number it cannot hold in 38 digits: for these,
#: verify is checked by the "out of range" cases, which a real server expands the same way
UNSCANNABLE_ON_MOTO = {"publish counter of 126 digits", "alias weight of 126 digits"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_damaged_item_is_named_by_readers_and_reported_by_verify(
    case: str, make_bsm: Callable[[], BotoSesManager], raw_dynamodb: Any
) -> None:
    key, attribute, value, calls = CASES[case]
    bsm = make_bsm()
    repo = new_repo(bsm)
    for content in (b"one", b"two"):
        repo.put_artifact("app", content, bsm=bsm)
        repo.publish_artifact_version("app", bsm=bsm)
    repo.put_alias(
        "app", "prod", version=1, secondary_version=2, secondary_version_weight=10, bsm=bsm
    )
    damage(raw_dynamodb, repo, key, attribute, value)

    for call in calls:
        with pytest.raises(CorruptRecordError) as raised:
            call(repo, bsm)
        assert f"pk={key[0]!r} sk={key[1]!r}" in str(raised.value)
        assert attribute in str(raised.value)

    if case in UNSCANNABLE_ON_MOTO:
        return
    for report in (repo.verify(bsm=bsm), repo.verify("app", bsm=bsm)):
        corrupt = [p for p in report.problems if p.kind == "corrupt_record"]
        assert any(key[1] in p.location and attribute in p.detail for p in corrupt), report.problems
