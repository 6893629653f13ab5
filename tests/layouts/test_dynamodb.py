"""The S3 + DynamoDB layout under the conformance suite, with raw helpers in the seed's
format: bytes at ``{prefix}/{name}/LATEST{suffix}`` and ``{prefix}/{name}/000001{suffix}``;
artifact items pk=name, sk="LATEST"|"000001" (sha256, is_deleted, update_at); alias items
pk="__{name}-alias", sk=alias (version, secondary_version, secondary_version_weight,
update_at). After the conformance class, the same storage checked through the S3 + DynamoDB
Repository (the facade)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _layoutkit import NAME, TRANSFER, LayoutTests
from _testkit import RequestCounter, sha256_hex, unique, unique_table
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from boto_session_manager import BotoSesManager

from versioned._layouts import check_bytes
from versioned._layouts.dynamodb import DynamoDBLayout
from versioned._model import LATEST, VersionId
from versioned.exc import ArtifactNotFoundError, RepositoryConflictError
from versioned.s3_and_dynamodb_backend import Repository

#: the seed's (PynamoDB's UTCDateTimeAttribute) time format, and the moment it spells
STAMP = "2025-06-26T23:57:20.123456+0000"
STAMP_TIME = datetime(2025, 6, 26, 23, 57, 20, 123456, tzinfo=UTC)
_TO_ITEM, _FROM_ITEM = TypeSerializer(), TypeDeserializer()


def sort_key(version: VersionId) -> str:
    return LATEST if version == LATEST else f"{int(version):06d}"


class TestDynamoDBLayout(LayoutTests):
    RAW_RECORDS_HAVE_OBJECT_FIELDS = False  # the seed's items record no size or metadata
    #: a put or publish holding LATEST's turn longer than this is presumed dead. Short, so
    #: that a turn left held costs seconds here; no test holds one longer than about 1 s.
    LEASE_SECS = 3.0

    table: str

    def prepare_storage(self) -> None:
        self.table = unique_table()
        self.raw_dynamodb.create_table(
            TableName=self.table,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        self.raw_dynamodb.get_waiter("table_exists").wait(
            TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )

    def make_layout(self) -> DynamoDBLayout:
        return DynamoDBLayout(
            self.bucket, self.PREFIX, self.SUFFIX, self.table, TRANSFER, self.LEASE_SECS
        )

    # ------------------------------------------------------------ raw helpers
    def raw_key(self, name: str, version: VersionId) -> str:
        return self.in_prefix(f"{name}/{sort_key(version)}{self.SUFFIX}")

    def raw_put_item(self, item: dict[str, Any]) -> None:
        encoded = {k: _TO_ITEM.serialize(v) for k, v in item.items() if v is not None}
        self.raw_dynamodb.put_item(TableName=self.table, Item=encoded)

    def raw_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self.raw_dynamodb.get_item(
            TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        item = response.get("Item")
        return None if item is None else {k: _FROM_ITEM.deserialize(v) for k, v in item.items()}

    def raw_items(self) -> dict[tuple[str, str], dict[str, Any]]:
        pages = self.raw_dynamodb.get_paginator("scan").paginate(
            TableName=self.table, ConsistentRead=True
        )
        items = [
            {k: _FROM_ITEM.deserialize(v) for k, v in item.items()}
            for page in pages
            for item in page.get("Items", [])
        ]
        return {(item["pk"], item["sk"]): item for item in items}

    def raw_write_object(self, name: str, version: VersionId, content: bytes, **meta: str) -> None:
        self.raw_s3.put_object(
            Bucket=self.bucket,
            Key=self.raw_key(name, version),
            Body=content,
            Metadata={"artifact_name": name, "artifact_sha256": sha256_hex(content), **meta},
        )

    def raw_write_version(
        self,
        name: str,
        version: VersionId,
        content: bytes,
        content_type: str | None = None,
        **metadata: str,
    ) -> datetime:
        self.raw_write_object(name, version, content, **metadata)
        self.raw_put_item(
            {
                "pk": name,
                "sk": sort_key(version),
                "sha256": sha256_hex(content),
                "is_deleted": False,
                "update_at": STAMP,
            }
        )
        return STAMP_TIME

    def raw_write_retired_version(self, name: str, version: int, content: bytes) -> None:
        self.raw_write_version(name, version, content)
        self.raw_dynamodb.update_item(
            TableName=self.table,
            Key={"pk": {"S": name}, "sk": {"S": sort_key(version)}},
            UpdateExpression="SET is_deleted = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )

    def raw_write_version_without_sha256(self, name: str, version: int, content: bytes) -> None:
        self.raw_put(self.raw_key(name, version), content)
        self.raw_put_item(
            {"pk": name, "sk": sort_key(version), "is_deleted": False, "update_at": STAMP}
        )

    def raw_version(self, name: str, version: VersionId) -> tuple[bytes, str | None] | None:
        try:
            response = self.raw_s3.get_object(Bucket=self.bucket, Key=self.raw_key(name, version))
        except self.raw_s3.exceptions.NoSuchKey:
            return None
        item = self.raw_item(name, sort_key(version)) or {}
        return response["Body"].read(), item.get("sha256")

    def raw_version_visible(self, name: str, version: VersionId) -> bool:
        item = self.raw_item(name, sort_key(version))
        return item is not None and not item.get("is_deleted")

    def raw_write_alias(
        self,
        name: str,
        alias: str,
        version: VersionId,
        secondary: VersionId | None = None,
        weight: int | None = None,
    ) -> datetime:
        self.raw_put_item(
            {
                "pk": f"__{name}-alias",
                "sk": alias,
                "version": sort_key(version),
                "secondary_version": None if secondary is None else sort_key(secondary),
                "secondary_version_weight": weight,
                "update_at": STAMP,
            }
        )
        return STAMP_TIME

    def raw_alias(self, name: str, alias: str) -> dict[str, Any] | None:
        item = self.raw_item(f"__{name}-alias", alias)
        if item is None:
            return None
        secondary, weight = item.get("secondary_version"), item.get("secondary_version_weight")
        return {
            "version": item["version"] if item["version"] == LATEST else str(int(item["version"])),
            "secondary_version": None if secondary is None else str(int(secondary)),
            "secondary_version_weight": None if weight is None else int(weight),
        }

    def raw_corrupt_alias(self, name: str, alias: str) -> None:
        self.raw_put_item(
            {"pk": f"__{name}-alias", "sk": alias, "version": "banana", "update_at": "never"}
        )

    def raw_write_other_layout(self, name: str) -> list[str]:
        """The S3-only layout's keys: versions/, aliases/ and state.json."""
        folder = self.in_prefix(f"{name}/")
        return [
            self.raw_put(f"{folder}versions/000000_LATEST{self.SUFFIX}", b"other layout"),
            self.raw_put(f"{folder}versions/999999_000001{self.SUFFIX}", b"other layout"),
            self.raw_put(f"{folder}aliases/prod.json", b"{}"),
            self.raw_put(f"{folder}state.json", b"{}"),
        ]

    # ------------------------------------------------------------ this layout only
    def test_alias_item_is_the_seeds(self) -> None:
        self.put_and_publish(b"one")
        self.put_and_publish(b"two")
        self.point("prod", 1, secondary=2, weight=20)
        self.point("dev", LATEST)
        prod = self.raw_item(f"__{NAME}-alias", "prod")
        assert prod is not None
        assert (prod["version"], prod["secondary_version"]) == ("000001", "000002")
        assert prod["secondary_version_weight"] == 20
        assert datetime.strptime(prod["update_at"], "%Y-%m-%dT%H:%M:%S.%f%z")
        dev = self.raw_item(f"__{NAME}-alias", "dev")
        assert dev is not None and dev["version"] == LATEST
        assert "secondary_version" not in dev and "secondary_version_weight" not in dev

    def test_retire_keeps_the_item_and_the_bytes(self) -> None:
        self.put_and_publish(b"one")
        self.put_and_publish(b"two")
        self.retire([1])
        item = self.raw_item(NAME, "000001")
        assert item is not None and item["is_deleted"] is True
        assert item["sha256"] == sha256_hex(b"one")
        assert self.raw_version(NAME, 1) == (b"one", sha256_hex(b"one"))

    def test_inventory_reports_bytes_without_item_and_item_without_bytes(self) -> None:
        self.put_and_publish(b"one")
        self.raw_write_object(NAME, 2, b"two")  # bytes, no item
        self.raw_put_item(
            {
                "pk": NAME,
                "sk": "000003",
                "sha256": sha256_hex(b"three"),
                "is_deleted": False,
                "update_at": STAMP,
            }
        )  # an item, no bytes
        inventory = self.layout.inventory(self.session, NAME)
        assert [(p.kind, p.location) for p in inventory.problems] == [
            ("object_without_item", self.raw_key(NAME, 2)),
        ]
        # the item without bytes is listed for verify's byte check, which finds them missing
        missing = [r for r in inventory.versions if r.version == 3]
        assert [r.key for r in missing] == [self.raw_key(NAME, 3)]
        assert check_bytes(self.session, self.bucket, missing[0]) is None
        assert inventory.live == {1, 3, LATEST}

    def test_list_names_reads_only_the_key_and_sha256_of_latest_items(self) -> None:
        """The listing's BatchGetItem asks for what it decides on (does the LATEST item
        record bytes?), not whole items; the answer is the one whole items give."""
        self.put(b"one")
        self.put(b"other", name="other")
        self.raw_write_object("nobytes", LATEST, b"x")  # a folder whose LATEST records none
        self.raw_put_item({"pk": "nobytes", "sk": "LATEST", "is_deleted": False})
        asked: list[dict[str, Any]] = []
        self.session.dynamodb.meta.events.register(
            "before-parameter-build.dynamodb.BatchGetItem",
            lambda params, **_: asked.append(params["RequestItems"][self.table]),
        )
        assert self.layout.list_names(self.session) == [NAME, "other"]
        assert self.layout.list_names(self.session) == [NAME, "other"]  # beside the LIST
        assert asked and all(
            request["ProjectionExpression"] == "pk, sha256" and request["ConsistentRead"]
            for request in asked
        )
        assert sorted(k["pk"]["S"] for k in asked[-1]["Keys"]) == [NAME, "nobytes", "other"]

    def test_a_table_serving_another_repository_is_refused(self) -> None:
        self.put(b"one")
        before = self.raw_snapshot()
        other = DynamoDBLayout(
            self.bucket, "elsewhere", self.SUFFIX, self.table, TRANSFER, self.LEASE_SECS
        )
        with pytest.raises(RepositoryConflictError):
            other.list_names(self.session)
        with pytest.raises(RepositoryConflictError):
            other.purge_all(self.session)
        assert self.raw_snapshot() == before

    def test_a_publish_that_finds_its_number_taken_does_not_wait_out_the_lease(self) -> None:
        """Another client's item holds the next number (its bytes not in S3: a client
        that writes the item first, or bytes lost). The publish must take the number after
        it at once, not leave its own turn held and wait for it to expire."""
        self.put_and_publish(b"one")
        seed_two = {
            "pk": NAME,
            "sk": "000002",
            "sha256": sha256_hex(b"seed two"),
            "is_deleted": False,
            "update_at": STAMP,
        }
        self.raw_put_item(seed_two)
        self.put(b"three")

        started = time.monotonic()
        record = self.publish()
        elapsed = time.monotonic() - started

        assert (record.version, record.sha256) == (3, sha256_hex(b"three"))
        assert self.raw_item(NAME, "000002") == seed_two
        assert elapsed < self.LEASE_SECS, f"publish took {elapsed:.1f} s: it waited out a lease"


# ==================================================================== through the facade
# What the S3 + DynamoDB Repository writes and reads, checked with raw boto3: S3 keys, the
# seed's items, hand-written items, bootstrap, sessions.
PREFIX = "artifacts"
SUFFIX = ".bin"
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000$")


def new_repo(bsm: BotoSesManager, **kwargs: Any) -> Repository:
    repo = Repository(
        aws_region="us-east-1",
        s3_bucket=unique("bkt"),
        s3_prefix=PREFIX,
        dynamodb_table_name=unique("tbl"),
        suffix=SUFFIX,
    )
    repo.bootstrap(bsm=bsm, **kwargs)
    return repo


def item(raw_ddb: Any, table: str, pk: str, sk: str) -> dict[str, Any]:
    response = raw_ddb.get_item(
        TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    )
    return response.get("Item", {})  # type: ignore[no-any-return]


def keys_under(raw_s3: Any, bucket: str, prefix: str) -> list[str]:
    response = raw_s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(obj["Key"] for obj in response.get("Contents", []))


def body(raw_s3: Any, bucket: str, key: str) -> bytes:
    return raw_s3.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]


@pytest.fixture
def bsm(make_bsm: Callable[[], BotoSesManager]) -> BotoSesManager:
    return make_bsm()


# ---------------------------------------------------------------- what the library writes
def test_s3_keys_and_artifact_items(bsm: BotoSesManager, raw_s3: Any, raw_dynamodb: Any) -> None:
    repo = new_repo(bsm)
    name = "app"
    repo.put_artifact(name=name, content=b"one", metadata={"team": "core"}, bsm=bsm)
    repo.publish_artifact_version(name=name, bsm=bsm)
    assert keys_under(raw_s3, repo.s3_bucket, f"{PREFIX}/{name}/") == [
        f"{PREFIX}/{name}/000001{SUFFIX}",
        f"{PREFIX}/{name}/LATEST{SUFFIX}",
    ]
    assert body(raw_s3, repo.s3_bucket, f"{PREFIX}/{name}/000001{SUFFIX}") == b"one"
    head = raw_s3.head_object(Bucket=repo.s3_bucket, Key=f"{PREFIX}/{name}/LATEST{SUFFIX}")
    assert head["Metadata"]["artifact_sha256"] == sha256_hex(b"one")
    assert head["Metadata"]["artifact_name"] == name
    assert head["Metadata"]["team"] == "core"
    for sk in ("LATEST", "000001"):
        raw = item(raw_dynamodb, repo.dynamodb_table_name, name, sk)
        assert raw["pk"] == {"S": name}
        assert raw["sk"] == {"S": sk}
        assert raw["sha256"] == {"S": sha256_hex(b"one")}
        assert raw["is_deleted"] == {"BOOL": False}
        assert TIME_RE.match(raw["update_at"]["S"]), raw["update_at"]


@pytest.mark.parametrize("single_copy_limit", [None, 1], ids=["copy", "multipart_copy"])
def test_a_versions_time_is_its_objects(
    single_copy_limit: int | None, bsm: BotoSesManager, raw_s3: Any, raw_dynamodb: Any
) -> None:
    """A version item's update_at is the server's clock, not the publisher's: its
    object's LastModified (the CopyObject's; a multipart copy's is its start, recorded
    as the completion's Date, the same second or a few later), in the seed's format."""
    limit: dict[str, Any] = {}
    if single_copy_limit is not None:
        limit["single_copy_limit"] = single_copy_limit
    repo = Repository(
        aws_region="us-east-1",
        s3_bucket=unique("bkt"),
        s3_prefix=PREFIX,
        dynamodb_table_name=unique("tbl"),
        suffix=SUFFIX,
        **limit,
    )
    repo.bootstrap(bsm=bsm)
    name = "app"
    repo.put_artifact(name=name, content=b"timed " * 100, bsm=bsm)
    repo.publish_artifact_version(name=name, bsm=bsm)
    raw = item(raw_dynamodb, repo.dynamodb_table_name, name, "000001")
    assert TIME_RE.match(raw["update_at"]["S"]), raw["update_at"]
    recorded = datetime.strptime(raw["update_at"]["S"], "%Y-%m-%dT%H:%M:%S.%f%z")
    head = raw_s3.head_object(Bucket=repo.s3_bucket, Key=f"{PREFIX}/{name}/000001{SUFFIX}")
    modified = head["LastModified"]
    assert recorded.microsecond == 0, recorded  # whole seconds: the server's, not ours
    if single_copy_limit is None:
        assert recorded == modified
    else:
        assert timedelta(0) <= recorded - modified <= timedelta(seconds=5), (recorded, modified)
    listed = repo.get_artifact_version(name=name, version=1, bsm=bsm)
    assert listed.update_at == recorded


def test_alias_items(bsm: BotoSesManager, raw_dynamodb: Any) -> None:
    repo = new_repo(bsm)
    name = "app"
    for content in (b"one", b"two"):
        repo.put_artifact(name=name, content=content, bsm=bsm)
        repo.publish_artifact_version(name=name, bsm=bsm)
    repo.put_alias(name=name, alias="plain", version=1, bsm=bsm)
    repo.put_alias(name=name, alias="head", bsm=bsm)
    repo.put_alias(
        name=name,
        alias="canary",
        version=1,
        secondary_version=2,
        secondary_version_weight=20,
        bsm=bsm,
    )
    table = repo.dynamodb_table_name
    plain = item(raw_dynamodb, table, f"__{name}-alias", "plain")
    assert plain["version"] == {"S": "000001"}
    assert "secondary_version" not in plain
    assert "secondary_version_weight" not in plain
    assert TIME_RE.match(plain["update_at"]["S"])
    head = item(raw_dynamodb, table, f"__{name}-alias", "head")
    assert head["version"] == {"S": "LATEST"}
    canary = item(raw_dynamodb, table, f"__{name}-alias", "canary")
    assert canary["pk"] == {"S": f"__{name}-alias"}
    assert canary["sk"] == {"S": "canary"}
    assert canary["version"] == {"S": "000001"}
    assert canary["secondary_version"] == {"S": "000002"}
    assert canary["secondary_version_weight"] == {"N": "20"}
    assert TIME_RE.match(canary["update_at"]["S"])


# ---------------------------------------------------------------- written by another client
def _hand_write(raw_s3: Any, raw_ddb: Any, repo: Repository, name: str) -> dict[str, bytes]:
    """Versions 1..3 (3 soft-deleted), LATEST and two aliases, exactly as the seed's
    library writes them, without any of this library's bookkeeping attributes."""
    contents = {
        "000001": b"hand v1",
        "000002": b"hand v2",
        "000003": b"hand v3",
        "LATEST": b"hand latest",
    }
    stamp = "2025-06-26T23:57:20.123456+0000"
    for sk, data in contents.items():
        raw_s3.put_object(
            Bucket=repo.s3_bucket,
            Key=f"{PREFIX}/{name}/{sk}{SUFFIX}",
            Body=data,
            Metadata={"artifact_sha256": sha256_hex(data), "artifact_name": name},
        )
        raw_ddb.put_item(
            TableName=repo.dynamodb_table_name,
            Item={
                "pk": {"S": name},
                "sk": {"S": sk},
                "sha256": {"S": sha256_hex(data)},
                "is_deleted": {"BOOL": sk == "000003"},
                "update_at": {"S": stamp},
            },
        )
    raw_ddb.put_item(
        TableName=repo.dynamodb_table_name,
        Item={
            "pk": {"S": f"__{name}-alias"},
            "sk": {"S": "prod"},
            "version": {"S": "000001"},
            "secondary_version": {"S": "000002"},
            "secondary_version_weight": {"N": "25"},
            "update_at": {"S": stamp},
        },
    )
    raw_ddb.put_item(
        TableName=repo.dynamodb_table_name,
        Item={
            "pk": {"S": f"__{name}-alias"},
            "sk": {"S": "dev"},
            "version": {"S": "LATEST"},
            "update_at": {"S": stamp},
        },
    )
    return contents


def test_hand_written_items_are_read(bsm: BotoSesManager, raw_s3: Any, raw_dynamodb: Any) -> None:
    repo = new_repo(bsm)
    name = "legacy"
    contents = _hand_write(raw_s3, raw_dynamodb, repo, name)
    latest = repo.get_artifact_version(name=name, bsm=bsm)
    assert latest.version == "LATEST"
    assert latest.sha256 == sha256_hex(contents["LATEST"])
    assert latest.update_at.isoformat() == "2025-06-26T23:57:20.123456+00:00"
    assert latest.get_content(bsm) == contents["LATEST"]
    v2 = repo.get_artifact_version(name=name, version=2, bsm=bsm)
    assert (v2.version, v2.sha256) == ("2", sha256_hex(contents["000002"]))
    assert v2.get_content(bsm) == contents["000002"]
    with pytest.raises(ArtifactNotFoundError):
        repo.get_artifact_version(name=name, version=3, bsm=bsm)  # soft-deleted
    assert [a.version for a in repo.list_artifact_versions(name=name, bsm=bsm)] == [
        "LATEST",
        "2",
        "1",
    ]
    prod = repo.get_alias(name=name, alias="prod", bsm=bsm)
    assert (prod.version, prod.secondary_version, prod.secondary_version_weight) == ("1", "2", 25)
    assert prod.get_version_content(bsm) == contents["000001"]
    assert prod.get_secondary_version_content(bsm) == contents["000002"]
    assert repo.get_alias(name=name, alias="dev", bsm=bsm).version == "LATEST"
    assert [a.alias for a in repo.list_aliases(name=name, bsm=bsm)] == ["dev", "prod"]


def test_hand_written_items_can_be_published_and_put_over(
    bsm: BotoSesManager, raw_s3: Any, raw_dynamodb: Any
) -> None:
    repo = new_repo(bsm)
    name = "legacy"
    contents = _hand_write(raw_s3, raw_dynamodb, repo, name)
    # the hand-written highest version is 3 (soft-deleted): numbering continues after it
    published = repo.publish_artifact_version(name=name, bsm=bsm)
    assert published.version == "4"
    assert published.sha256 == sha256_hex(contents["LATEST"])
    assert body(raw_s3, repo.s3_bucket, f"{PREFIX}/{name}/000004{SUFFIX}") == (contents["LATEST"])
    repo.put_artifact(name=name, content=b"put over", bsm=bsm)
    latest = item(raw_dynamodb, repo.dynamodb_table_name, name, "LATEST")
    assert latest["sha256"] == {"S": sha256_hex(b"put over")}
    assert body(raw_s3, repo.s3_bucket, f"{PREFIX}/{name}/LATEST{SUFFIX}") == b"put over"
    again = repo.publish_artifact_version(name=name, bsm=bsm)
    assert (again.version, again.sha256) == ("5", sha256_hex(b"put over"))
    assert [a.version for a in repo.list_artifact_versions(name=name, bsm=bsm)] == [
        "LATEST",
        "5",
        "4",
        "2",
        "1",
    ]


# ---------------------------------------------------------------- soft delete
def test_soft_delete_keeps_bytes(bsm: BotoSesManager, raw_s3: Any, raw_dynamodb: Any) -> None:
    repo = new_repo(bsm)
    name = "soft"
    for content in (b"one", b"two"):
        repo.put_artifact(name=name, content=content, bsm=bsm)
        repo.publish_artifact_version(name=name, bsm=bsm)
    repo.delete_artifact_version(name=name, version=1, bsm=bsm)
    raw = item(raw_dynamodb, repo.dynamodb_table_name, name, "000001")
    assert raw["is_deleted"] == {"BOOL": True}
    with pytest.raises(ArtifactNotFoundError):
        repo.get_artifact_version(name=name, version=1, bsm=bsm)
    assert [a.version for a in repo.list_artifact_versions(name=name, bsm=bsm)] == ["LATEST", "2"]
    assert body(raw_s3, repo.s3_bucket, f"{PREFIX}/{name}/000001{SUFFIX}") == b"one"
    # LATEST (version=None) is soft-deleted too
    repo.delete_artifact_version(name=name, version=None, bsm=bsm)
    raw = item(raw_dynamodb, repo.dynamodb_table_name, name, "LATEST")
    assert raw["is_deleted"] == {"BOOL": True}
    with pytest.raises(ArtifactNotFoundError):
        repo.get_artifact_version(name=name, bsm=bsm)
    assert [a.version for a in repo.list_artifact_versions(name=name, bsm=bsm)] == ["2"]
    assert body(raw_s3, repo.s3_bucket, f"{PREFIX}/{name}/LATEST{SUFFIX}") == b"two"


# ---------------------------------------------------------------- request counts
def test_listing_is_one_dynamodb_request_and_no_s3(
    make_bsm: Callable[[], BotoSesManager], bsm: BotoSesManager
) -> None:
    repo = new_repo(bsm)
    name = "listed"
    for content in (b"one", b"two", b"three"):
        repo.put_artifact(name=name, content=content, bsm=bsm)
        repo.publish_artifact_version(name=name, bsm=bsm)
    other = make_bsm()
    requests = RequestCounter.attach(other)
    listed = repo.list_artifact_versions(name=name, bsm=other)
    assert [a.version for a in listed] == ["LATEST", "3", "2", "1"]
    assert requests.operations == ["dynamodb.Query"]


# ---------------------------------------------------------------- bootstrap
def test_bootstrap_is_idempotent_and_on_demand_by_default(
    bsm: BotoSesManager, raw_dynamodb: Any
) -> None:
    repo = new_repo(bsm)
    repo.put_artifact(name="kept", content=b"kept", bsm=bsm)
    repo.bootstrap(bsm=bsm)
    repo.bootstrap(bsm=bsm)
    table = raw_dynamodb.describe_table(TableName=repo.dynamodb_table_name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    assert repo.get_artifact_version(name="kept", bsm=bsm).sha256 == sha256_hex(b"kept")


def test_bootstrap_provisioned(bsm: BotoSesManager, raw_dynamodb: Any) -> None:
    repo = new_repo(bsm, dynamodb_write_capacity_units=3, dynamodb_read_capacity_units=7)
    table = raw_dynamodb.describe_table(TableName=repo.dynamodb_table_name)["Table"]
    assert table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED") == "PROVISIONED"
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 7
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 3


@pytest.mark.parametrize(
    "capacity",
    [{"dynamodb_write_capacity_units": 5}, {"dynamodb_read_capacity_units": 5}],
)
def test_bootstrap_with_one_capacity_fails_before_any_request(
    capacity: dict[str, int], make_bsm: Callable[[], BotoSesManager]
) -> None:
    bsm = make_bsm()
    requests = RequestCounter.attach(bsm)
    repo = Repository(
        aws_region="us-east-1", s3_bucket=unique("bkt"), dynamodb_table_name=unique("tbl")
    )
    with pytest.raises(ValueError):
        repo.bootstrap(bsm=bsm, **capacity)
    assert requests.operations == []


# ---------------------------------------------------------------- sessions
def test_bsm_omitted_after_bootstrap_uses_the_bootstrap_session(
    make_bsm: Callable[[], BotoSesManager],
) -> None:
    bsm = make_bsm()
    requests = RequestCounter.attach(bsm)
    repo = new_repo(bsm)
    requests.reset()
    repo.put_artifact(name="implicit", content=b"implicit")
    published = repo.publish_artifact_version(name="implicit")
    assert published.version == "1"
    assert repo.get_artifact_version(name="implicit", version=1).sha256 == sha256_hex(b"implicit")
    assert requests.count >= 4, "the bootstrap session was not used"

    second = make_bsm()
    second_requests = RequestCounter.attach(second)
    requests.reset()
    artifact = repo.get_artifact_version(name="implicit", version=1, bsm=second)
    assert artifact.get_content(second) == b"implicit"
    assert repo.list_artifact_versions(name="implicit", bsm=second)[0].version == "LATEST"
    assert second_requests.count >= 3
    assert requests.count == 0, "an explicit session must override the remembered one"
