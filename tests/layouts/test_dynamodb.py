"""The S3 + DynamoDB layout under the conformance suite, with raw helpers in the seed's
format: bytes at ``{prefix}/{name}/LATEST{suffix}`` and ``{prefix}/{name}/000001{suffix}``;
artifact items pk=name, sk="LATEST"|"000001" (sha256, is_deleted, update_at); alias items
pk="__{name}-alias", sk=alias (version, secondary_version, secondary_version_weight,
update_at)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from _layoutkit import NAME, TRANSFER, LayoutTests
from _testkit import sha256_hex, unique_table
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from versioned._layouts import check_bytes
from versioned._layouts.dynamodb import DynamoDBLayout
from versioned._model import LATEST, VersionId
from versioned.exc import RepositoryConflictError

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
