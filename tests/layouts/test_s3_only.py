"""The S3-only layout under the conformance suite, with raw helpers in the seed's format:

    {prefix}/{name}/versions/000000_LATEST{suffix}    LATEST
    {prefix}/{name}/versions/999999_000001{suffix}    version 1 (newest sorts first)
    {prefix}/{name}/aliases/{alias}.json              the seed's eight-field document

(plus ``state.json``, which only the layout writes)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from _layoutkit import NAME, TRANSFER, LayoutTests
from _testkit import sha256_hex

from versioned._layouts.s3_only import S3OnlyLayout
from versioned._model import LATEST, VersionId


def stem(version: VersionId) -> str:
    """The seed's file stem, spelled out here rather than taken from the library."""
    if version == LATEST:
        return "000000_LATEST"
    number = int(version)
    return f"{1_000_000 - number:06d}_{number:06d}"


class TestS3OnlyLayout(LayoutTests):
    def make_layout(self) -> S3OnlyLayout:
        return S3OnlyLayout(self.bucket, self.PREFIX, self.SUFFIX, TRANSFER)

    # ------------------------------------------------------------ raw helpers
    def folder(self, name: str) -> str:
        return self.in_prefix(f"{name}/")

    def raw_key(self, name: str, version: VersionId) -> str:
        return f"{self.folder(name)}versions/{stem(version)}{self.SUFFIX}"

    def alias_key(self, name: str, alias: str) -> str:
        return f"{self.folder(name)}aliases/{alias}.json"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def raw_write_version(
        self,
        name: str,
        version: VersionId,
        content: bytes,
        content_type: str | None = None,
        **metadata: str,
    ) -> datetime:
        key = self.raw_key(name, version)
        self.raw_s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=content,
            ContentType=content_type or "binary/octet-stream",
            Metadata={"artifact_name": name, "artifact_sha256": sha256_hex(content), **metadata},
        )
        return self.raw_head(key)["LastModified"]  # type: ignore[no-any-return]

    def raw_write_retired_version(self, name: str, version: int, content: bytes) -> None:
        """The S3-only layout deletes a version's bytes: nothing is left behind."""

    def raw_write_version_without_sha256(self, name: str, version: int, content: bytes) -> None:
        self.raw_put(self.raw_key(name, version), content)

    def raw_version(self, name: str, version: VersionId) -> tuple[bytes, str | None] | None:
        try:
            response = self.raw_s3.get_object(Bucket=self.bucket, Key=self.raw_key(name, version))
        except self.raw_s3.exceptions.NoSuchKey:
            return None
        return response["Body"].read(), response["Metadata"].get("artifact_sha256")

    def raw_version_visible(self, name: str, version: VersionId) -> bool:
        return self.raw_key(name, version) in self.raw_keys()

    def raw_write_alias(
        self,
        name: str,
        alias: str,
        version: VersionId,
        secondary: VersionId | None = None,
        weight: int | None = None,
    ) -> datetime:
        document = {
            "name": name,
            "alias": alias,
            "update_at": "unknown",  # what the seed's library stores (it never rewrites it)
            "version": str(version),
            "secondary_version": None if secondary is None else str(secondary),
            "secondary_version_weight": weight,
            "version_s3uri": self.uri(self.raw_key(name, version)),
            "secondary_version_s3uri": (
                None if secondary is None else self.uri(self.raw_key(name, secondary))
            ),
        }
        key = self.alias_key(name, alias)
        self.raw_s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(document).encode())
        return self.raw_head(key)["LastModified"]  # type: ignore[no-any-return]

    def raw_alias_document(self, name: str, alias: str) -> dict[str, Any] | None:
        try:
            response = self.raw_s3.get_object(Bucket=self.bucket, Key=self.alias_key(name, alias))
        except self.raw_s3.exceptions.NoSuchKey:
            return None
        return json.loads(response["Body"].read())  # type: ignore[no-any-return]

    def raw_alias(self, name: str, alias: str) -> dict[str, Any] | None:
        document = self.raw_alias_document(name, alias)
        if document is None:
            return None
        fields = ("version", "secondary_version", "secondary_version_weight")
        return {field: document[field] for field in fields}

    def raw_corrupt_alias(self, name: str, alias: str) -> None:
        self.raw_put(self.alias_key(name, alias), b'{"version": ')

    def raw_write_other_layout(self, name: str) -> list[str]:
        """The S3 + DynamoDB layout's keys: ``{name}/LATEST{suffix}``, ``{name}/000001{suffix}``."""
        return [
            self.raw_put(f"{self.folder(name)}LATEST{self.SUFFIX}", b"other layout"),
            self.raw_put(f"{self.folder(name)}000001{self.SUFFIX}", b"other layout"),
        ]

    # ------------------------------------------------------------ this layout only
    def test_alias_document_is_the_seeds_eight_fields(self) -> None:
        for data in (b"one", b"two", b"three"):
            self.put_and_publish(data)
        record = self.point("prod", 2, secondary=3, weight=10)
        self.point("dev", LATEST)

        document = self.raw_alias_document(NAME, "prod")

        assert document == {
            "name": NAME,
            "alias": "prod",
            "update_at": record.update_at.isoformat(),
            "version": "2",
            "secondary_version": "3",
            "secondary_version_weight": 10,
            "version_s3uri": self.uri(self.raw_key(NAME, 2)),
            "secondary_version_s3uri": self.uri(self.raw_key(NAME, 3)),
        }
        assert list(document) == [  # the seed's order
            "name",
            "alias",
            "update_at",
            "version",
            "secondary_version",
            "secondary_version_weight",
            "version_s3uri",
            "secondary_version_s3uri",
        ]
        dev = self.raw_alias_document(NAME, "dev")
        assert dev is not None
        assert dev["version_s3uri"] == self.uri(self.raw_key(NAME, LATEST))
        assert dev["secondary_version_s3uri"] is None

    def test_every_key_is_where_the_seed_puts_it(self) -> None:
        self.put_and_publish(b"one")
        self.put_and_publish(b"two")
        self.point("prod", 1)
        folder = self.folder(NAME)
        assert self.raw_keys() == {
            self.raw_key(NAME, LATEST),
            self.raw_key(NAME, 1),
            self.raw_key(NAME, 2),
            f"{folder}aliases/prod.json",
            f"{folder}state.json",
        }

    def test_retire_deletes_the_bytes(self) -> None:
        self.put_and_publish(b"one")
        self.put_and_publish(b"two")
        self.retire([1])
        assert self.raw_version(NAME, 1) is None
        assert not [key for key in self.raw_keys() if "999999_000001" in key]

    def test_publish_unchanged_over_seed_versions_returns_the_seeds_newest(self) -> None:
        self.raw_write_version(NAME, 1, b"v1")
        self.raw_write_version(NAME, 2, b"v2")
        self.raw_write_version(NAME, LATEST, b"v2")
        before = self.raw_keys()
        record = self.publish()
        assert (record.version, record.sha256) == (2, sha256_hex(b"v2"))
        assert self.raw_keys() - before <= {f"{self.folder(NAME)}state.json"}

    def test_an_unreadable_state_is_reported_and_reads_go_on(self) -> None:
        self.put_and_publish(b"one")
        self.raw_put(f"{self.folder(NAME)}state.json", b"not json")
        inventory = self.layout.inventory(self.session, NAME)
        assert [p.kind for p in inventory.problems] == ["corrupt_record"]
        assert self.numbers() == [LATEST, 1]
        assert self.raw_version(NAME, 1) == (b"one", sha256_hex(b"one"))
