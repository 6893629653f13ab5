"""The layout conformance suite, in the manner of zarr-python's ``StoreTests``.

``LayoutTests`` drives a storage layout through the ``Layout`` protocol only, and checks
every outcome in storage itself: each subclass implements the ``raw_*`` helpers with plain
boto3 (the ``raw_s3`` / ``raw_dynamodb`` clients), never through the layout, so a layout is
never tested against itself. The raw helpers write what the seed's library writes, so
every read test is also a compatibility test.

The class name does not start with ``Test``: pytest collects only its subclasses
(tests/layouts/test_*.py), each of which runs every test here.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from _testkit import (
    READ_OPERATION_PREFIXES,
    RequestCounter,
    ServerFeatures,
    sha256_hex,
    unique_bucket,
)
from boto_session_manager import BotoSesManager

from versioned._content import Content
from versioned._layouts import (
    AliasRecord,
    ChangeNote,
    Layout,
    PutRequest,
    VersionRecord,
    these,
)
from versioned._model import LATEST, AliasTarget, VersionId
from versioned._session import Session
from versioned._transfer import TransferSettings
from versioned.exc import ArtifactNotFoundError, ConcurrentModificationError, CorruptRecordError

NAME = "my_app"
OTHER = "other_app"
TRANSFER = TransferSettings()
#: (S3 key -> ETag, DynamoDB (pk, sk) -> item): everything stored, to compare before/after
Snapshot = tuple[dict[str, str], dict[tuple[str, str], dict[str, Any]]]

#: what the kit's alias writes record in history
PUT_NOTE = ChangeNote(action="put", actor="layout-kit")
DELETE_NOTE = ChangeNote(action="delete", actor="layout-kit")


class AppliedWrites:
    """The write requests a session sent that the server applied (2xx), seen on botocore's
    ``after-call`` event. A refused conditional write (412, ConditionalCheckFailed) writes
    nothing and is not counted; ``RequestCounter`` counts every request sent."""

    def __init__(self) -> None:
        self.operations: list[str] = []

    @classmethod
    def attach(cls, bsm: BotoSesManager) -> AppliedWrites:
        writes = cls()
        bsm.boto_ses.events.register("after-call", writes)
        return writes

    def __call__(self, http_response: Any, model: Any, **_: Any) -> None:
        if http_response.status_code < 300 and not model.name.startswith(READ_OPERATION_PREFIXES):
            self.operations.append(model.name)

    def reset(self) -> None:
        self.operations.clear()


def seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def assert_utc(moment: datetime) -> None:
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0), moment


class LayoutTests(ABC):
    """Every storage layout must pass these. Subclasses provide the layout and raw helpers."""

    PREFIX: str = "artifacts"
    SUFFIX: str = ".bin"
    #: whether records of raw-written versions carry size, content type and user metadata
    #: (the S3-only layout reads them from the object; the seed's DynamoDB items have none)
    RAW_RECORDS_HAVE_OBJECT_FIELDS: ClassVar[bool] = True

    bucket: str
    bsm: BotoSesManager
    session: Session
    layout: Layout
    raw_s3: Any
    raw_dynamodb: Any
    requests: RequestCounter
    applied: AppliedWrites

    # ------------------------------------------------------------ the layout under test
    @abstractmethod
    def make_layout(self) -> Layout:
        """The layout over ``self.bucket`` (and its own table), as the facade builds it."""

    def prepare_storage(self) -> None:
        """Create what the layout needs besides the bucket (a table), with raw clients."""
        return None

    @pytest.fixture(autouse=True)
    def _layout_under_test(
        self, make_bsm: Callable[..., BotoSesManager], raw_s3: Any, raw_dynamodb: Any
    ) -> Iterator[None]:
        self.raw_s3, self.raw_dynamodb = raw_s3, raw_dynamodb
        self.bucket = unique_bucket()
        raw_s3.create_bucket(Bucket=self.bucket)
        self.prepare_storage()
        self.bsm = make_bsm()
        # before the session builds its clients: they copy the session's event handlers
        self.requests = RequestCounter.attach(self.bsm)
        self.applied = AppliedWrites.attach(self.bsm)
        self.session = Session(self.bsm)
        self.layout = self.make_layout()
        self.layout.list_names(self.session)  # first use: the DynamoDB layout claims its table
        self.requests.reset()
        self.applied.reset()
        yield

    # ------------------------------------------------------------ raw helpers (abstract)
    @abstractmethod
    def raw_key(self, name: str, version: VersionId) -> str:
        """The S3 key of a version's bytes in the seed's layout."""

    @abstractmethod
    def raw_write_version(
        self,
        name: str,
        version: VersionId,
        content: bytes,
        content_type: str | None = None,
        **metadata: str,
    ) -> datetime:
        """Store a version as the seed's library does; returns the time storage records
        for it (the object's LastModified, or the item's update_at)."""

    @abstractmethod
    def raw_write_retired_version(self, name: str, version: int, content: bytes) -> None:
        """Store what a deleted version leaves behind in the seed's layout (S3-only:
        nothing; DynamoDB: its bytes and an item marked ``is_deleted``)."""

    @abstractmethod
    def raw_write_version_without_sha256(self, name: str, version: int, content: bytes) -> None:
        """A version record that records no sha256 (not written by versioned)."""

    @abstractmethod
    def raw_version(self, name: str, version: VersionId) -> tuple[bytes, str | None] | None:
        """(stored bytes, the sha256 recorded for them) or None when the bytes are gone."""

    @abstractmethod
    def raw_version_visible(self, name: str, version: VersionId) -> bool:
        """Whether storage says the version exists (S3-only: its key exists; DynamoDB: its
        item exists and is not soft-deleted)."""

    @abstractmethod
    def raw_write_alias(
        self,
        name: str,
        alias: str,
        version: VersionId,
        secondary: VersionId | None = None,
        weight: int | None = None,
    ) -> datetime:
        """Store an alias as the seed's library does; returns the time its readers use."""

    @abstractmethod
    def raw_alias(self, name: str, alias: str) -> dict[str, Any] | None:
        """The stored alias as {"version": "2"|"LATEST", "secondary_version": "1"|None,
        "secondary_version_weight": int|None}, or None when there is none."""

    @abstractmethod
    def raw_corrupt_alias(self, name: str, alias: str) -> None:
        """Store an alias record nobody can read."""

    @abstractmethod
    def raw_write_other_layout(self, name: str) -> list[str]:
        """Write the OTHER layout's keys for ``name`` under the same prefix; their keys."""

    def raw_items(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every DynamoDB item of the layout's table ({} when it has none)."""
        return {}

    # ------------------------------------------------------------ raw helpers (S3)
    def raw_objects(self) -> dict[str, str]:
        """Every key of the bucket and its ETag."""
        pages = self.raw_s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return {item["Key"]: item["ETag"] for page in pages for item in page.get("Contents", [])}

    def raw_keys(self) -> set[str]:
        return set(self.raw_objects())

    def raw_put(self, key: str, body: bytes = b"unrelated") -> str:
        self.raw_s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return key

    def raw_head(self, key: str) -> dict[str, Any]:
        return self.raw_s3.head_object(Bucket=self.bucket, Key=key)  # type: ignore[no-any-return]

    def raw_snapshot(self) -> Snapshot:
        return self.raw_objects(), self.raw_items()

    def in_prefix(self, tail: str) -> str:
        return f"{self.PREFIX}/{tail}" if self.PREFIX else tail

    def write_foreign_records(self) -> list[str]:
        """The other layout's keys (for NAME and a name of its own) and unrelated keys,
        inside and outside the prefix; returns their keys."""
        keys = self.raw_write_other_layout(NAME) + self.raw_write_other_layout("foreign_app")
        for key in ("outside.txt", "other/thing", self.in_prefix("outside.txt")):
            keys.append(self.raw_put(key))
        keys.append(self.raw_put(self.in_prefix("other/thing")))
        return keys

    # ------------------------------------------------------------ calls through the layout
    def put(
        self,
        data: bytes,
        name: str = NAME,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> VersionRecord:
        request = PutRequest(name, content_type, dict(metadata or {}), dict(tags or {}))
        content = Content(data, TRANSFER.multipart_threshold)
        try:
            return self.layout.write_latest(self.session, request, content, None)
        finally:
            content.close()

    def publish(self, name: str = NAME) -> VersionRecord:
        return self.layout.publish(self.session, name)

    def put_and_publish(self, data: bytes, name: str = NAME) -> VersionRecord:
        self.put(data, name)
        return self.publish(name)

    def point(
        self,
        alias: str,
        version: VersionId,
        secondary: int | None = None,
        weight: int | None = None,
        name: str = NAME,
        expected: str | None = None,
    ) -> AliasRecord:
        target = AliasTarget(version, secondary, weight)
        return self.layout.write_alias(self.session, name, alias, target, expected, PUT_NOTE)

    def retire(self, versions: list[VersionId], strict: bool = True, name: str = NAME) -> Any:
        return self.layout.retire(self.session, name, these(versions), strict=strict)

    def numbers(self, name: str = NAME) -> list[VersionId]:
        return [r.version for r in self.layout.list_versions(self.session, name)]

    # ================================================================ reads of raw data
    def test_record_of_a_raw_written_version(self) -> None:
        stored = self.raw_write_version(NAME, 1, b"one", "text/plain", team="ml")
        self.raw_write_version(NAME, LATEST, b"latest")

        record = self.layout.get_version(self.session, NAME, 1)

        assert record is not None
        assert (record.name, record.version, record.sha256) == (NAME, 1, sha256_hex(b"one"))
        assert record.key == self.raw_key(NAME, 1) == self.layout.version_key(NAME, 1)
        assert_utc(record.update_at)
        assert record.update_at == stored
        if self.RAW_RECORDS_HAVE_OBJECT_FIELDS:
            assert (record.size, record.content_type) == (3, "text/plain")
            assert record.metadata == {"team": "ml"}
        latest = self.layout.get_version(self.session, NAME, LATEST)
        assert latest is not None and latest.version == LATEST
        assert latest.sha256 == sha256_hex(b"latest")
        assert latest.key == self.raw_key(NAME, LATEST) == self.layout.version_key(NAME, LATEST)
        assert self.layout.get_version(self.session, NAME, 2) is None
        assert self.layout.get_version(self.session, "never_written", LATEST) is None

    def test_list_versions_of_raw_written_versions(self) -> None:
        times = {
            version: self.raw_write_version(NAME, version, f"v{version}".encode())
            for version in (1, 2, 10, LATEST)
        }
        records = self.layout.list_versions(self.session, NAME)
        # LATEST first, then newest first (10 after 2: numbers, not strings)
        assert [r.version for r in records] == [LATEST, 10, 2, 1]
        for record in records:
            assert record.sha256 == sha256_hex(f"v{record.version}".encode())
            assert record.key == self.raw_key(NAME, record.version)
            assert record.update_at == times[record.version]
            assert_utc(record.update_at)
        assert self.layout.list_versions(self.session, "never_written") == []

    def test_a_retired_version_is_not_read(self) -> None:
        self.raw_write_version(NAME, 1, b"one")
        self.raw_write_retired_version(NAME, 2, b"two")
        self.raw_write_version(NAME, LATEST, b"two")

        assert self.layout.get_version(self.session, NAME, 2) is None
        assert self.numbers() == [LATEST, 1]
        assert self.layout.latest_published_number(self.session, NAME) == 1

    def test_latest_published_number(self) -> None:
        assert self.layout.latest_published_number(self.session, NAME) == 0
        self.raw_write_version(NAME, LATEST, b"latest")
        assert self.layout.latest_published_number(self.session, NAME) == 0
        for version in (1, 2, 5):
            self.raw_write_version(NAME, version, b"v")
        assert self.layout.latest_published_number(self.session, NAME) == 5
        self.retire([5])
        assert self.layout.latest_published_number(self.session, NAME) == 2

    # ================================================================ write_latest
    def test_write_latest_stores_bytes_and_sha256(self) -> None:
        before = seconds(datetime.now(UTC))
        record = self.put(b"payload", content_type="text/plain", metadata={"team": "ml"})
        after = datetime.now(UTC)

        assert self.raw_version(NAME, LATEST) == (b"payload", sha256_hex(b"payload"))
        assert (record.name, record.version) == (NAME, LATEST)
        assert record.sha256 == sha256_hex(b"payload")
        assert record.key == self.raw_key(NAME, LATEST)
        assert (record.size, record.content_type) == (7, "text/plain")
        assert record.metadata == {"team": "ml"}
        assert_utc(record.update_at)
        assert before <= record.update_at <= after
        assert self.raw_version_visible(NAME, LATEST)

    def test_write_latest_object_carries_the_seeds_metadata_and_tags(self) -> None:
        self.put(b"payload", content_type="text/plain", metadata={"team": "ml"}, tags={"t": "1"})
        head = self.raw_head(self.raw_key(NAME, LATEST))
        seeds = {"artifact_name": NAME, "artifact_sha256": sha256_hex(b"payload"), "team": "ml"}
        assert head["Metadata"].items() >= seeds.items()
        assert head["ContentType"] == "text/plain"
        tagging = self.raw_s3.get_object_tagging(Bucket=self.bucket, Key=self.raw_key(NAME, LATEST))
        assert tagging["TagSet"] == [{"Key": "t", "Value": "1"}]

    def test_write_latest_unchanged_writes_nothing(self) -> None:
        first = self.put(b"same")
        before = self.raw_snapshot()
        self.requests.reset()
        self.applied.reset()

        second = self.put(b"same")

        assert self.applied.operations == []
        assert not [op for op in self.requests.write_operations() if op.startswith("s3.")]
        assert self.raw_snapshot() == before
        assert second.sha256 == first.sha256
        stored = self.layout.get_version(self.session, NAME, LATEST)
        assert stored is not None and second.update_at == stored.update_at

    def test_write_latest_over_raw_written_latest(self) -> None:
        self.raw_write_version(NAME, 1, b"old")
        self.raw_write_version(NAME, LATEST, b"old")
        version_one = self.raw_snapshot()[0][self.raw_key(NAME, 1)]
        self.applied.reset()
        self.put(b"old")  # the same bytes as the seed wrote: nothing to write
        assert self.applied.operations == []

        self.put(b"new")

        assert self.raw_version(NAME, LATEST) == (b"new", sha256_hex(b"new"))
        assert self.raw_version(NAME, 1) == (b"old", sha256_hex(b"old"))
        assert self.raw_objects()[self.raw_key(NAME, 1)] == version_one

    # ================================================================ publish
    def test_publish_numbers_versions_1_2_3(self) -> None:
        for number, data in enumerate((b"one", b"two", b"three"), start=1):
            record = self.put_and_publish(data)
            assert (record.version, record.sha256) == (number, sha256_hex(data))
            assert record.key == self.raw_key(NAME, number)
            assert_utc(record.update_at)
            assert self.raw_version(NAME, number) == (data, sha256_hex(data))
            assert self.raw_version_visible(NAME, number)
        assert self.numbers() == [LATEST, 3, 2, 1]
        assert self.raw_version(NAME, LATEST) == (b"three", sha256_hex(b"three"))

    def test_publish_unchanged_returns_the_newest_and_writes_nothing(self) -> None:
        self.put_and_publish(b"one")
        newest = self.put_and_publish(b"two")
        before = self.raw_snapshot()
        self.applied.reset()

        again = self.publish()

        assert (again.version, again.sha256, again.key) == (2, newest.sha256, newest.key)
        assert again.update_at == newest.update_at
        assert self.applied.operations == []
        assert self.raw_snapshot() == before
        assert self.numbers() == [LATEST, 2, 1]

    def test_publish_compares_with_the_newest_version_only(self) -> None:
        self.put_and_publish(b"A")
        self.put_and_publish(b"B")
        third = self.put_and_publish(b"A")
        assert third.version == 3
        assert self.raw_version(NAME, 3) == (b"A", sha256_hex(b"A"))

    def test_publish_without_latest_raises_and_changes_nothing(self) -> None:
        self.raw_write_version(OTHER, LATEST, b"x")
        before = self.raw_snapshot()
        with pytest.raises(ArtifactNotFoundError):
            self.publish()
        assert self.raw_snapshot() == before

    def test_publish_copies_raw_written_latest_after_raw_versions(self) -> None:
        for version in (1, 2, 3):
            self.raw_write_version(NAME, version, f"v{version}".encode())
        self.raw_write_version(NAME, LATEST, b"seed latest")

        record = self.publish()

        assert (record.version, record.sha256) == (4, sha256_hex(b"seed latest"))
        assert self.raw_version(NAME, 4) == (b"seed latest", sha256_hex(b"seed latest"))
        assert self.raw_version(NAME, 3) == (b"v3", sha256_hex(b"v3"))

    def test_put_then_publish_continues_after_raw_written_versions(self) -> None:
        for version in (1, 2, 5):
            self.raw_write_version(NAME, version, f"v{version}".encode())
        self.raw_write_version(NAME, LATEST, b"v5")
        before = self.raw_objects()

        self.put(b"new")
        record = self.publish()

        assert (record.version, record.sha256) == (6, sha256_hex(b"new"))
        assert self.raw_version(NAME, 6) == (b"new", sha256_hex(b"new"))
        assert self.layout.latest_published_number(self.session, NAME) == 6
        for version in (1, 2, 5):  # the seed's versions are untouched
            data = f"v{version}".encode()
            assert self.raw_version(NAME, version) == (data, sha256_hex(data))
            key = self.raw_key(NAME, version)
            assert self.raw_objects()[key] == before[key]

    def test_publish_never_overwrites_a_version_another_client_wrote(
        self, server_features: ServerFeatures
    ) -> None:
        if not server_features.s3_copy_if_none_match:
            pytest.skip(
                "the S3 server ignores IfNoneMatch on CopyObject (moto, MiniStack): a copy "
                "onto an existing version cannot be refused there"
            )
        self.put_and_publish(b"one")
        self.raw_write_version(NAME, 2, b"seed two")  # the seed's library published 2 meanwhile
        self.put(b"three")
        record = self.publish()
        assert (record.version, record.sha256) == (3, sha256_hex(b"three"))
        assert self.raw_version(NAME, 2) == (b"seed two", sha256_hex(b"seed two"))
        assert self.raw_version(NAME, 3) == (b"three", sha256_hex(b"three"))

    def test_empty_content(self) -> None:
        self.put(b"")
        record = self.publish()
        assert (record.version, record.sha256, record.size) == (1, sha256_hex(b""), 0)
        assert self.raw_version(NAME, LATEST) == (b"", sha256_hex(b""))
        assert self.raw_version(NAME, 1) == (b"", sha256_hex(b""))

    def test_times_returned_by_writes_are_the_times_reads_report(self) -> None:
        """One definition of a version's time: what a write returns is what get_version
        and list_versions report, even when the response arrives a second late."""

        def late(**_: Any) -> None:
            time.sleep(1.05)

        for operation in ("PutObject", "CopyObject"):
            self.session.s3.meta.events.register(f"after-call.s3.{operation}", late)
        written = self.put(b"payload")
        published = self.publish()
        listed = {r.version: r for r in self.layout.list_versions(self.session, NAME)}
        for record in (written, published):
            got = self.layout.get_version(self.session, NAME, record.version)
            assert got is not None
            assert record.update_at == got.update_at == listed[record.version].update_at

    def test_list_versions_agrees_with_get_version(self) -> None:
        self.put_and_publish(b"one")
        self.put(b"two", content_type="text/plain", metadata={"team": "ml"})
        self.publish()
        self.raw_write_version(NAME, 3, b"three", "text/plain", team="ml")
        for listed in self.layout.list_versions(self.session, NAME):
            got = self.layout.get_version(self.session, NAME, listed.version)
            assert got is not None
            assert (listed.sha256, listed.update_at, listed.key) == (
                got.sha256,
                got.update_at,
                got.key,
            )
            # size, content type and metadata are filled where at hand: never contradictory
            for field in ("size", "content_type", "metadata"):
                mine, theirs = getattr(listed, field), getattr(got, field)
                assert mine is None or theirs is None or mine == theirs, (listed.version, field)

    # ================================================================ retire
    def test_retire_removes_the_version(self) -> None:
        self.put_and_publish(b"one")
        self.put_and_publish(b"two")

        result = self.retire([1])

        assert [(r.version, r.sha256) for r in result.retired] == [(1, sha256_hex(b"one"))]
        assert result.in_use == {}
        assert not self.raw_version_visible(NAME, 1)
        assert self.raw_version_visible(NAME, 2)
        assert self.layout.get_version(self.session, NAME, 1) is None
        assert self.numbers() == [LATEST, 2]
        # retiring it again finds nothing to retire
        assert self.retire([1]).retired == []

    def test_retire_of_a_raw_written_version(self) -> None:
        for version in (1, 2):
            self.raw_write_version(NAME, version, f"v{version}".encode())
        self.raw_write_version(NAME, LATEST, b"v2")
        result = self.retire([2])
        assert [r.version for r in result.retired] == [2]
        assert not self.raw_version_visible(NAME, 2)
        assert self.raw_version_visible(NAME, 1)

    def test_retire_of_an_unknown_version_changes_nothing(self) -> None:
        self.put_and_publish(b"one")
        before = self.raw_snapshot()
        result = self.retire([7])
        assert (result.retired, result.in_use) == ([], {})
        assert self.raw_snapshot() == before

    def test_numbers_are_not_reused_after_retiring_the_newest(self) -> None:
        self.put_and_publish(b"one")
        self.put_and_publish(b"two")
        self.retire([2])
        assert self.layout.latest_published_number(self.session, NAME) == 1
        third = self.put_and_publish(b"three")
        assert third.version == 3
        assert self.raw_version(NAME, 3) == (b"three", sha256_hex(b"three"))

    def test_numbers_are_not_reused_after_retiring_every_version(self) -> None:
        self.put_and_publish(b"one")
        self.put_and_publish(b"two")
        assert sorted(r.version for r in self.retire([1, 2]).retired) == [1, 2]
        assert self.numbers() == [LATEST]
        assert self.put_and_publish(b"three").version == 3

    def test_numbers_continue_after_retiring_the_raw_written_newest(self) -> None:
        for version in (1, 2, 3):
            self.raw_write_version(NAME, version, f"v{version}".encode())
        self.raw_write_version(NAME, LATEST, b"v4")
        self.retire([3])
        record = self.publish()
        assert (record.version, record.sha256) == (4, sha256_hex(b"v4"))

    def test_unchanged_publish_after_retiring_the_newest_makes_a_new_number(self) -> None:
        self.put_and_publish(b"one")
        self.put_and_publish(b"two")
        self.retire([2])

        again = self.publish()  # LATEST still holds version 2's bytes

        assert (again.version, again.sha256) == (3, sha256_hex(b"two"))
        assert self.raw_version_visible(NAME, 3)
        assert not self.raw_version_visible(NAME, 2)

    def test_strict_retire_of_alias_targets_changes_nothing(self) -> None:
        for data in (b"one", b"two", b"three"):
            self.put_and_publish(data)
        self.raw_write_alias(NAME, "prod", 1, secondary=2, weight=10)
        before = self.raw_snapshot()

        result = self.retire([1, 2, 3], strict=True)

        assert result.in_use == {1: ["prod"], 2: ["prod"]}
        assert result.retired == []
        assert self.raw_snapshot() == before
        assert all(self.raw_version_visible(NAME, v) for v in (1, 2, 3))

    def test_non_strict_retire_skips_alias_targets(self) -> None:
        for data in (b"one", b"two", b"three"):
            self.put_and_publish(data)
        self.point("prod", 1)
        self.point("dev", LATEST)  # an alias of LATEST protects no number

        result = self.retire([1, 2, 3], strict=False)

        assert sorted(r.version for r in result.retired) == [2, 3]
        assert result.in_use == {1: ["prod"]}
        assert self.raw_version_visible(NAME, 1)
        assert not self.raw_version_visible(NAME, 2)
        assert not self.raw_version_visible(NAME, 3)
        assert self.raw_alias(NAME, "prod") == {
            "version": "1",
            "secondary_version": None,
            "secondary_version_weight": None,
        }

    def test_a_deleted_alias_no_longer_protects_its_target(self) -> None:
        self.put_and_publish(b"one")
        self.put_and_publish(b"two")
        self.point("prod", 1)
        assert self.retire([1]).in_use == {1: ["prod"]}
        assert self.layout.delete_alias(self.session, NAME, "prod", None, DELETE_NOTE) is True
        assert [r.version for r in self.retire([1]).retired] == [1]
        assert not self.raw_version_visible(NAME, 1)

    # ================================================================ aliases: writes
    def test_write_alias_writes_the_seeds_alias(self) -> None:
        for data in (b"one", b"two"):
            self.put_and_publish(data)

        split = self.point("prod", 1, secondary=2, weight=30)
        head = self.point("dev", LATEST)

        assert self.raw_alias(NAME, "prod") == {
            "version": "1",
            "secondary_version": "2",
            "secondary_version_weight": 30,
        }
        assert self.raw_alias(NAME, "dev") == {
            "version": LATEST,
            "secondary_version": None,
            "secondary_version_weight": None,
        }
        assert (split.name, split.alias, split.version) == (NAME, "prod", 1)
        assert (split.secondary_version, split.secondary_version_weight) == (2, 30)
        assert split.targets == [1, 2] and head.targets == [LATEST]
        for record in (split, head):
            assert isinstance(record.revision, str) and record.revision
            assert_utc(record.update_at)

    def test_write_alias_returns_what_get_alias_reads(self) -> None:
        self.put_and_publish(b"one")
        self.put_and_publish(b"two")
        written = self.point("prod", 2, secondary=1, weight=5)
        assert self.layout.get_alias(self.session, NAME, "prod") == written
        assert self.layout.list_aliases(self.session, NAME) == [written]
        moved = self.point("prod", 1)
        assert moved.revision != written.revision
        assert self.layout.get_alias(self.session, NAME, "prod") == moved

    @pytest.mark.parametrize(
        ("version", "secondary"),
        [(5, None), (1, 5), (LATEST, None)],
        ids=["primary", "secondary", "latest"],
    )
    def test_write_alias_to_a_missing_version_raises(
        self, version: VersionId, secondary: int | None
    ) -> None:
        if version != LATEST:
            self.put_and_publish(b"one")
        before = self.raw_snapshot()
        with pytest.raises(ArtifactNotFoundError):
            self.point("prod", version, secondary, None if secondary is None else 10)
        assert self.raw_alias(NAME, "prod") is None
        assert self.raw_snapshot()[1] == before[1]  # no item written
        assert {k for k in self.raw_keys() if "prod" in k} == set()

    def test_write_alias_to_a_retired_version_raises(self) -> None:
        self.put_and_publish(b"one")
        self.put_and_publish(b"two")
        self.point("prod", 1)
        self.retire([2])
        with pytest.raises(ArtifactNotFoundError):
            self.point("prod", 2)
        with pytest.raises(ArtifactNotFoundError):
            self.point("prod", 1, secondary=2, weight=50)
        assert self.raw_alias(NAME, "prod") == {
            "version": "1",
            "secondary_version": None,
            "secondary_version_weight": None,
        }

    def test_write_alias_over_a_raw_written_alias(self) -> None:
        for version in (1, 2):
            self.raw_write_version(NAME, version, f"v{version}".encode())
        self.raw_write_alias(NAME, "prod", 1)
        record = self.point("prod", 2)
        assert record.version == 2
        assert self.raw_alias(NAME, "prod") == {
            "version": "2",
            "secondary_version": None,
            "secondary_version_weight": None,
        }
        assert self.layout.get_alias(self.session, NAME, "prod") == record

    def test_expected_revision_mismatch_changes_nothing(self) -> None:
        self.put_and_publish(b"one")
        self.put_and_publish(b"two")
        first = self.point("prod", 1)
        self.point("prod", 2)
        before = self.raw_snapshot()

        with pytest.raises(ConcurrentModificationError):
            self.point("prod", 1, expected=first.revision)
        with pytest.raises(ConcurrentModificationError):
            self.point("fresh", 1, expected=first.revision)  # no such alias yet

        assert self.raw_snapshot() == before
        assert self.raw_alias(NAME, "prod") == {
            "version": "2",
            "secondary_version": None,
            "secondary_version_weight": None,
        }
        assert self.raw_alias(NAME, "fresh") is None

    def test_expected_revision_match_writes(self) -> None:
        self.put_and_publish(b"one")
        self.put_and_publish(b"two")
        first = self.point("prod", 1)
        current = self.layout.get_alias(self.session, NAME, "prod")
        assert current is not None and current.revision == first.revision
        second = self.point("prod", 2, expected=first.revision)
        assert second.version == 2
        assert self.raw_alias(NAME, "prod") == {
            "version": "2",
            "secondary_version": None,
            "secondary_version_weight": None,
        }

    # ================================================================ aliases: reads
    def test_get_alias_of_a_raw_written_alias(self) -> None:
        for version in (1, 2):
            self.raw_write_version(NAME, version, f"v{version}".encode())
        stored = self.raw_write_alias(NAME, "prod", 2, secondary=1, weight=20)
        self.raw_write_alias(NAME, "dev", LATEST)

        prod = self.layout.get_alias(self.session, NAME, "prod")

        assert prod is not None
        assert (prod.name, prod.alias, prod.version) == (NAME, "prod", 2)
        assert (prod.secondary_version, prod.secondary_version_weight) == (1, 20)
        assert prod.targets == [2, 1]
        assert_utc(prod.update_at)
        assert prod.update_at == stored
        dev = self.layout.get_alias(self.session, NAME, "dev")
        assert dev is not None and dev.targets == [LATEST]
        assert dev.secondary_version is None and dev.secondary_version_weight is None
        assert self.layout.get_alias(self.session, NAME, "missing") is None

    def test_list_aliases_of_raw_written_aliases(self) -> None:
        self.raw_write_version(NAME, 1, b"v1")
        for alias in ("prod", "dev", "qa"):
            self.raw_write_alias(NAME, alias, 1)
        self.raw_write_alias(OTHER, "prod", 1)
        records = self.layout.list_aliases(self.session, NAME)
        assert sorted(r.alias for r in records) == ["dev", "prod", "qa"]
        assert {(r.name, r.version) for r in records} == {(NAME, 1)}
        assert self.layout.list_aliases(self.session, "never_written") == []

    def test_poll_alias_sees_each_change_in_one_request(self) -> None:
        for version in (1, 2):
            self.raw_write_version(NAME, version, f"v{version}".encode())
        self.raw_write_alias(NAME, "prod", 1)
        first = self.layout.get_alias(self.session, NAME, "prod")
        assert first is not None
        self.requests.reset()
        unchanged = self.layout.poll_alias(self.session, NAME, "prod", first.fingerprint)
        assert (unchanged.changed, self.requests.calls) == (False, 1)
        self.raw_write_alias(NAME, "prod", 2)  # another client, as the seed writes it
        moved = self.layout.poll_alias(self.session, NAME, "prod", first.fingerprint)
        assert moved.changed and moved.record is not None and moved.record.version == 2
        self.layout.delete_alias(self.session, NAME, "prod", None, DELETE_NOTE)
        gone = self.layout.poll_alias(self.session, NAME, "prod", moved.record.fingerprint)
        assert gone.changed and gone.record is None

    @pytest.mark.parametrize("how", ["garbage", "weight_150", "secondary_latest"])
    def test_an_unreadable_alias_is_a_corrupt_record(self, how: str) -> None:
        self.raw_write_version(NAME, 1, b"v1")
        self.raw_write_alias(NAME, "good", 1)
        if how == "garbage":
            self.raw_corrupt_alias(NAME, "prod")
        elif how == "weight_150":
            self.raw_write_alias(NAME, "prod", 1, secondary=2, weight=150)
        else:
            self.raw_write_alias(NAME, "prod", 1, secondary=LATEST, weight=10)
        with pytest.raises(CorruptRecordError):
            self.layout.get_alias(self.session, NAME, "prod")
        with pytest.raises(CorruptRecordError):
            self.layout.list_aliases(self.session, NAME)
        assert self.layout.get_alias(self.session, NAME, "good") is not None

    # ================================================================ aliases: delete
    def test_delete_alias_returns_whether_it_existed(self) -> None:
        self.put_and_publish(b"one")
        self.point("prod", 1)
        assert self.layout.delete_alias(self.session, NAME, "prod", None, DELETE_NOTE) is True
        assert self.raw_alias(NAME, "prod") is None
        assert self.layout.get_alias(self.session, NAME, "prod") is None
        before = self.raw_snapshot()
        assert self.layout.delete_alias(self.session, NAME, "prod", None, DELETE_NOTE) is False
        assert self.layout.delete_alias(self.session, NAME, "never", None, DELETE_NOTE) is False
        assert self.raw_snapshot() == before

    def test_delete_of_a_raw_written_alias(self) -> None:
        self.raw_write_version(NAME, 1, b"v1")
        self.raw_write_alias(NAME, "prod", 1)
        self.raw_write_alias(NAME, "dev", 1)
        assert self.layout.delete_alias(self.session, NAME, "prod", None, DELETE_NOTE) is True
        assert self.raw_alias(NAME, "prod") is None
        assert self.raw_alias(NAME, "dev") is not None

    def test_delete_alias_checks_expected_revision(self) -> None:
        self.put_and_publish(b"one")
        self.put_and_publish(b"two")
        first = self.point("prod", 1)
        second = self.point("prod", 2)
        before = self.raw_snapshot()
        with pytest.raises(ConcurrentModificationError):
            self.layout.delete_alias(self.session, NAME, "prod", first.revision, DELETE_NOTE)
        assert self.raw_snapshot() == before
        assert (
            self.layout.delete_alias(self.session, NAME, "prod", second.revision, DELETE_NOTE)
            is True
        )
        assert self.raw_alias(NAME, "prod") is None

    # ================================================================ rollout records
    def rollout_body(self, step: int) -> dict[str, Any]:
        return {"name": NAME, "alias": "prod", "step": step, "token": f"t{step}-{time.time()}"}

    def test_a_rollout_record_is_created_once_and_changed_only_on_its_tag(self) -> None:
        store, session = self.layout.rollouts, self.session
        before = self.raw_snapshot()
        created = store.create(session, NAME, "prod", self.rollout_body(0))
        assert created is not None
        assert self.raw_snapshot() != before  # stored beside the alias
        assert store.create(session, NAME, "prod", self.rollout_body(9)) is None  # refused
        stored = self.raw_snapshot()
        with pytest.raises(ConcurrentModificationError):
            store.replace(session, NAME, "prod", self.rollout_body(1), "not-the-tag")
        assert self.raw_snapshot() == stored
        replaced = store.replace(session, NAME, "prod", self.rollout_body(1), created.tag)
        read = store.read(session, NAME, "prod")
        assert read is not None and read.body["step"] == 1 and read.tag == replaced.tag
        assert [doc.body["step"] for doc in store.listing(session, NAME)] == [1]
        with pytest.raises(ConcurrentModificationError):
            store.remove(session, NAME, "prod", created.tag)
        store.remove(session, NAME, "prod", replaced.tag)
        assert self.raw_snapshot() == before
        store.remove(session, NAME, "prod", replaced.tag)  # gone already: a lost answer
        assert store.read(session, NAME, "prod") is None

    def test_a_rollout_record_is_neither_an_alias_nor_a_problem_and_goes_with_a_purge(
        self,
    ) -> None:
        self.put_and_publish(b"one")
        self.point("prod", 1)
        before = self.raw_snapshot()
        assert self.layout.rollouts.create(self.session, NAME, "prod", self.rollout_body(0))
        assert [a.alias for a in self.layout.list_aliases(self.session, NAME)] == ["prod"]
        assert self.layout.list_names(self.session) == [NAME]
        assert self.layout.inventory(self.session, NAME).problems == []
        assert self.layout.verify_names(self.session) == ([NAME], [])
        assert self.raw_snapshot() != before
        self.layout.purge_artifact(self.session, NAME)
        assert self.layout.rollouts.read(self.session, NAME, "prod") is None
        assert not any("rollout" in str(key) for key in [*self.raw_objects(), *self.raw_items()])

    # ================================================================ names
    def test_list_names_lists_only_this_layouts_artifacts(self) -> None:
        assert self.layout.list_names(self.session) == []
        self.write_foreign_records()
        self.raw_write_version("alpha", LATEST, b"a")
        self.raw_write_version("alpha", 1, b"a")
        self.raw_write_version("beta", LATEST, b"b")
        self.put(b"c", name="gamma")
        # NAME holds only the other layout's keys here: not a name of this layout
        assert self.layout.list_names(self.session) == ["alpha", "beta", "gamma"]

    def test_a_layout_at_the_bucket_root_keeps_to_its_own(self) -> None:
        """No prefix and no suffix: unrelated keys at the bucket root are no artifacts,
        and a purge of everything leaves them."""
        self.PREFIX, self.SUFFIX = "", ""
        self.prepare_storage()  # a table of its own: one table serves one root
        self.layout = self.make_layout()
        foreign = set(self.write_foreign_records())
        self._write_artifact(NAME)
        self.raw_write_version("seeded", LATEST, b"s")
        assert self.layout.list_names(self.session) == [NAME, "seeded"]
        self.layout.purge_all(self.session)
        assert self.raw_keys() == foreign
        assert self.layout.list_names(self.session) == []

    # ================================================================ purge
    def _write_artifact(self, name: str) -> None:
        """An artifact with every kind of record: published, retired, LATEST, aliases."""
        for data in (b"one", b"two", b"three"):
            self.put_and_publish(data, name)
        self.retire([2], name=name)
        self.point("prod", 1, name=name)
        self.raw_write_alias(name, "seed", 3)

    def test_purge_artifact_removes_exactly_its_records(self) -> None:
        self._write_artifact(OTHER)
        self.write_foreign_records()
        stray = self.raw_put(self.in_prefix(f"{NAME}/README.txt"))
        before = self.raw_snapshot()
        self._write_artifact(NAME)
        self.raw_write_version(NAME, 7, b"seven")

        self.layout.purge_artifact(self.session, NAME)

        objects, items = self.raw_snapshot()
        assert set(objects) == set(before[0])
        assert {k: objects[k] for k in before[0]} == before[0]  # none rewritten either
        assert items == before[1]
        assert stray in objects

    def test_a_purged_artifact_is_gone(self) -> None:
        self._write_artifact(NAME)
        self.layout.purge_artifact(self.session, NAME)

        assert self.layout.list_names(self.session) == []
        assert self.layout.list_versions(self.session, NAME) == []
        assert self.layout.list_aliases(self.session, NAME) == []
        assert self.layout.get_version(self.session, NAME, LATEST) is None
        assert self.layout.latest_published_number(self.session, NAME) == 0
        for version in (LATEST, 1, 2, 3):
            assert not self.raw_version_visible(NAME, version)
        assert self.raw_alias(NAME, "prod") is None
        with pytest.raises(ArtifactNotFoundError):
            self.publish()

    def test_purge_artifact_of_a_foreign_folder_writes_nothing(self) -> None:
        self.write_foreign_records()  # the other layout's keys for NAME, and unrelated keys
        before = self.raw_snapshot()
        self.applied.reset()
        self.layout.purge_artifact(self.session, NAME)
        self.layout.purge_artifact(self.session, "never_written")
        assert self.applied.operations == []
        assert self.raw_snapshot() == before

    def test_purge_all_removes_exactly_this_layouts_records(self) -> None:
        before = self.raw_snapshot()  # nothing but the layout's own bookkeeping, if any
        foreign = set(self.write_foreign_records())
        self._write_artifact(NAME)
        self._write_artifact(OTHER)
        self.raw_write_version("seeded", LATEST, b"s")
        self.raw_write_version("seeded", 1, b"s")

        self.layout.purge_all(self.session)

        objects, items = self.raw_snapshot()
        assert set(objects) == foreign
        assert items == before[1]
        assert self.layout.list_names(self.session) == []

    # ================================================================ inventory
    def test_inventory_of_a_clean_artifact(self) -> None:
        self.put_and_publish(b"one")
        self.put_and_publish(b"two")
        self.retire([1])
        self.point("prod", 2)
        self.raw_write_alias(NAME, "dev", LATEST)
        self.raw_write_other_layout(NAME)  # never a problem of this layout

        inventory = self.layout.inventory(self.session, NAME)

        assert inventory.problems == []
        assert sorted(map(str, (r.version for r in inventory.versions))) == ["2", LATEST]
        assert {r.version: r.sha256 for r in inventory.versions}[2] == sha256_hex(b"two")
        assert inventory.live == {2, LATEST}
        assert sorted(a.alias for a in inventory.aliases) == ["dev", "prod"]
        assert set(inventory.alias_locations) == {"dev", "prod"}

    def test_inventory_reports_a_stray_key(self) -> None:
        self.put_and_publish(b"one")
        stray = self.raw_put(self.in_prefix(f"{NAME}/junk.txt"))
        inventory = self.layout.inventory(self.session, NAME)
        assert [(p.kind, p.name, p.location) for p in inventory.problems] == [
            ("orphan_object", NAME, stray)
        ]

    def test_inventory_reports_an_unreadable_alias(self) -> None:
        self.put_and_publish(b"one")
        self.point("good", 1)
        self.raw_corrupt_alias(NAME, "bad")
        inventory = self.layout.inventory(self.session, NAME)
        assert [(p.kind, p.name) for p in inventory.problems] == [("corrupt_record", NAME)]
        assert "bad" in inventory.problems[0].location
        assert [a.alias for a in inventory.aliases] == ["good"]

    def test_inventory_reports_a_version_without_sha256(self) -> None:
        self.put_and_publish(b"one")
        self.raw_write_version_without_sha256(NAME, 2, b"two")
        inventory = self.layout.inventory(self.session, NAME)
        assert len(inventory.problems) == 1
        assert inventory.problems[0].kind in ("missing_sha256", "corrupt_record")
        assert inventory.problems[0].name == NAME
        assert 2 not in {r.version for r in inventory.versions}

    def test_inventory_shows_a_dangling_alias(self) -> None:
        self.raw_write_version(NAME, 1, b"v1")
        self.raw_write_version(NAME, LATEST, b"v1")
        self.raw_write_alias(NAME, "prod", 1, secondary=4, weight=50)
        inventory = self.layout.inventory(self.session, NAME)
        assert [a.targets for a in inventory.aliases] == [[1, 4]]
        assert 1 in inventory.live and 4 not in inventory.live

    def test_inventory_never_raises(self) -> None:
        self.raw_write_version_without_sha256(NAME, 1, b"one")
        self.raw_corrupt_alias(NAME, "bad")
        self.raw_write_alias(NAME, "worse", 1, secondary=2, weight=150)
        self.raw_put(self.in_prefix(f"{NAME}/junk.txt"))
        inventory = self.layout.inventory(self.session, NAME)
        assert len(inventory.problems) >= 4
        assert inventory.aliases == []
        assert self.layout.inventory(self.session, "never_written").problems == []

    def test_verify_names_reports_strays_and_the_other_layout_once_per_artifact(self) -> None:
        """Keys of neither layout are orphans one by one; the other layout's keys (another
        repository sharing the prefix) are one shared_prefix problem per artifact folder."""
        self.put_and_publish(b"one")
        self.raw_write_version("seeded", 1, b"s")
        self.write_foreign_records()

        names, problems = self.layout.verify_names(self.session)

        assert NAME in names and "seeded" in names
        assert "foreign_app" not in names
        assert sorted((p.kind, p.location) for p in problems) == sorted(
            [
                ("orphan_object", self.in_prefix("outside.txt")),
                ("orphan_object", self.in_prefix("other/thing")),
                ("shared_prefix", self.in_prefix(f"{NAME}/")),
                ("shared_prefix", self.in_prefix("foreign_app/")),
            ]
        )
