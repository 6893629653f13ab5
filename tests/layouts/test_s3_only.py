"""The S3-only layout under the conformance suite, with raw helpers in the seed's format:

    {prefix}/{name}/versions/000000_LATEST{suffix}    LATEST
    {prefix}/{name}/versions/999999_000001{suffix}    version 1 (newest sorts first)
    {prefix}/{name}/aliases/{alias}.json              the seed's eight-field document

(plus ``state.json``, which only the layout writes). After the conformance class, the same
storage checked through the S3-only Repository (the facade)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from _layoutkit import NAME, TRANSFER, LayoutTests
from _testkit import REGION, RequestCounter, ServerFeatures, sha256_hex, unique_bucket
from boto_session_manager import BotoSesManager

from versioned import exc
from versioned._layouts.s3_only import S3OnlyLayout
from versioned._model import LATEST, VersionId
from versioned.s3_only_backend import (
    Repository,
    decode_filename,
    encode_filename,
    validate_alias_name,
)


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


# ==================================================================== through the facade
# The S3-only Repository's on-bucket layout, read and written with raw boto3. The layout
# is the seed's: a bucket written by the seed's library must keep working.
class Env:
    def __init__(self, repo: Repository, bsm: BotoSesManager, counter: RequestCounter) -> None:
        self.repo = repo
        self.bsm = bsm
        self.counter = counter
        self.bucket = repo.s3_bucket

    def key(self, tail: str, name: str = NAME) -> str:
        return f"artifacts/{name}/{tail}"

    def uri(self, tail: str, name: str = NAME) -> str:
        return f"s3://{self.bucket}/{self.key(tail, name)}"


@pytest.fixture
def env(make_bsm: Callable[..., BotoSesManager]) -> Env:
    bsm = make_bsm()
    counter = RequestCounter.attach(bsm)
    repo = Repository(
        aws_region=REGION, s3_bucket=unique_bucket(), s3_prefix="artifacts", suffix=".bin"
    )
    repo.bootstrap(bsm=bsm)
    counter.reset()
    return Env(repo, bsm, counter)


def all_keys(raw_s3: Any, bucket: str) -> list[str]:
    pages = raw_s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def raw_put_version(raw_s3: Any, env: Env, filename: str, body: bytes, name: str = NAME) -> None:
    """A version object as the seed's library wrote it."""
    raw_s3.put_object(
        Bucket=env.bucket,
        Key=env.key(f"versions/{filename}", name),
        Body=body,
        ContentType="application/octet-stream",
        Metadata={"artifact_sha256": sha256_hex(body), "artifact_name": name},
    )


# ------------------------------------------------------------------ keys
def test_exact_keys(env: Env, raw_s3: Any) -> None:
    repo, bsm = env.repo, env.bsm
    latest = repo.put_artifact(bsm=bsm, name=NAME, content=b"one")
    v1 = repo.publish_artifact_version(bsm=bsm, name=NAME)
    repo.put_artifact(bsm=bsm, name=NAME, content=b"two")
    v2 = repo.publish_artifact_version(bsm=bsm, name=NAME)
    repo.put_alias(bsm=bsm, name=NAME, alias="prod", version=1)
    repo.put_alias(bsm=bsm, name=NAME, alias="dev")

    assert latest.s3uri == env.uri("versions/000000_LATEST.bin")
    assert v1.s3uri == env.uri("versions/999999_000001.bin")
    assert v2.s3uri == env.uri("versions/999998_000002.bin")
    # nothing is written outside artifacts/{name}/ but the repository's record
    assert all_keys(raw_s3, env.bucket) == [
        "artifacts/.versioned-repository.json",
        "artifacts/my_app/aliases/dev.json",
        "artifacts/my_app/aliases/prod.json",
        "artifacts/my_app/state.json",  # the artifact's compare-and-swap state
        "artifacts/my_app/versions/000000_LATEST.bin",
        "artifacts/my_app/versions/999998_000002.bin",
        "artifacts/my_app/versions/999999_000001.bin",
    ]


def test_alias_document_shape(env: Env, raw_s3: Any) -> None:
    repo, bsm = env.repo, env.bsm
    for content in (b"one", b"two", b"three"):
        repo.put_artifact(bsm=bsm, name=NAME, content=content)
        repo.publish_artifact_version(bsm=bsm, name=NAME)
    alias = repo.put_alias(
        bsm=bsm,
        name=NAME,
        alias="prod",
        version=2,
        secondary_version=3,
        secondary_version_weight=10,
    )
    body = raw_s3.get_object(Bucket=env.bucket, Key=env.key("aliases/prod.json"))["Body"].read()
    document = json.loads(body)
    assert document["name"] == NAME
    assert document["alias"] == "prod"
    assert document["update_at"] == alias.update_at
    assert document["version"] == "2"
    assert document["secondary_version"] == "3"
    assert document["secondary_version_weight"] == 10
    assert document["version_s3uri"] == env.uri("versions/999998_000002.bin")
    assert document["secondary_version_s3uri"] == env.uri("versions/999997_000003.bin")


def test_object_metadata(env: Env, raw_s3: Any) -> None:
    repo, bsm = env.repo, env.bsm
    content = b"payload"
    repo.put_artifact(
        bsm=bsm,
        name=NAME,
        content=content,
        content_type="text/plain",
        metadata={"team": "ml"},
    )
    repo.publish_artifact_version(bsm=bsm, name=NAME)
    for tail in ("versions/000000_LATEST.bin", "versions/999999_000001.bin"):
        head = raw_s3.head_object(Bucket=env.bucket, Key=env.key(tail))
        assert head["Metadata"]["artifact_sha256"] == sha256_hex(content), tail
        assert head["Metadata"]["artifact_name"] == NAME, tail
        assert head["Metadata"]["team"] == "ml", tail
        assert head["ContentType"] == "text/plain", tail


def test_timestamps_are_iso_strings(env: Env) -> None:
    repo, bsm = env.repo, env.bsm
    before = datetime.now(UTC).replace(microsecond=0)  # S3 reports whole seconds
    latest = repo.put_artifact(bsm=bsm, name=NAME, content=b"x")
    version = repo.publish_artifact_version(bsm=bsm, name=NAME)
    alias = repo.put_alias(bsm=bsm, name=NAME, alias="prod", version=1)
    after = datetime.now(UTC)
    for thing in (latest, version, alias, repo.get_alias(bsm=bsm, name=NAME, alias="prod")):
        assert isinstance(thing.update_at, str)
        assert datetime.fromisoformat(thing.update_at) == thing.update_datetime
        assert before <= thing.update_datetime <= after


# ------------------------------------------------------------------ a bucket written by the seed
def test_bucket_written_by_the_seed_keeps_working(env: Env, raw_s3: Any) -> None:
    repo, bsm = env.repo, env.bsm
    raw_put_version(raw_s3, env, "000000_LATEST.bin", b"v2 bytes")
    raw_put_version(raw_s3, env, "999999_000001.bin", b"v1 bytes")
    raw_put_version(raw_s3, env, "999998_000002.bin", b"v2 bytes")
    seed_aliases: dict[str, dict[str, Any]] = {
        "production": {
            "name": NAME,
            "alias": "production",
            "update_at": "2025-06-26T23:57:20+00:00",
            "version": "2",
            "secondary_version": None,
            "secondary_version_weight": None,
            "version_s3uri": env.uri("versions/999998_000002.bin"),
            "secondary_version_s3uri": None,
        },
        "canary": {
            "name": NAME,
            "alias": "canary",
            "update_at": "2025-06-26T23:57:21+00:00",
            "version": "2",
            "secondary_version": "1",
            "secondary_version_weight": 20,
            "version_s3uri": env.uri("versions/999998_000002.bin"),
            "secondary_version_s3uri": env.uri("versions/999999_000001.bin"),
        },
        "development": {
            "name": NAME,
            "alias": "development",
            "update_at": "2025-06-26T23:57:22+00:00",
            "version": "LATEST",
            "secondary_version": None,
            "secondary_version_weight": None,
            "version_s3uri": env.uri("versions/000000_LATEST.bin"),
            "secondary_version_s3uri": None,
        },
    }
    for alias_name, document in seed_aliases.items():
        raw_s3.put_object(
            Bucket=env.bucket,
            Key=env.key(f"aliases/{alias_name}.json"),
            Body=json.dumps(document).encode(),
            ContentType="application/json",
        )

    assert repo.list_artifact_names(bsm=bsm) == [NAME]
    versions = repo.list_artifact_versions(bsm=bsm, name=NAME)
    assert [v.version for v in versions] == ["LATEST", "2", "1"]
    assert [v.sha256 for v in versions] == [
        sha256_hex(b) for b in (b"v2 bytes",) * 2 + (b"v1 bytes",)
    ]
    for version in versions:
        assert version.update_datetime.tzinfo is not None
    v1 = repo.get_artifact_version(bsm=bsm, name=NAME, version=1)
    assert v1.get_content(bsm=bsm) == b"v1 bytes"
    assert v1.s3uri == env.uri("versions/999999_000001.bin")

    production = repo.get_alias(bsm=bsm, name=NAME, alias="production")
    assert production.update_at == "2025-06-26T23:57:20+00:00"
    assert production.update_datetime == datetime(2025, 6, 26, 23, 57, 20, tzinfo=UTC)
    assert (production.version, production.secondary_version) == ("2", None)
    assert production.secondary_version_weight is None
    assert production.version_s3uri == env.uri("versions/999998_000002.bin")
    assert isinstance(production.revision, str) and production.revision
    assert production.get_version_content(bsm=bsm) == b"v2 bytes"

    canary = repo.get_alias(bsm=bsm, name=NAME, alias="canary")
    assert (canary.version, canary.secondary_version) == ("2", "1")
    assert canary.secondary_version_weight == 20
    assert canary.get_secondary_version_content(bsm=bsm) == b"v1 bytes"

    development = repo.get_alias(bsm=bsm, name=NAME, alias="development")
    assert development.version == "LATEST"
    assert development.get_version_content(bsm=bsm) == b"v2 bytes"

    listed = repo.list_aliases(bsm=bsm, name=NAME)
    assert sorted(a.alias for a in listed) == ["canary", "development", "production"]

    # publishing unchanged LATEST returns the seed's version 2; new content continues at 3
    assert repo.publish_artifact_version(bsm=bsm, name=NAME).version == "2"
    repo.put_artifact(bsm=bsm, name=NAME, content=b"v3 bytes")
    v3 = repo.publish_artifact_version(bsm=bsm, name=NAME)
    assert v3.version == "3"
    assert v3.s3uri == env.uri("versions/999997_000003.bin")

    # the seed's aliases protect their versions from a purge
    _, deleted = repo.purge_artifact_versions(
        bsm=bsm, name=NAME, keep_last_n=0, purge_older_than_secs=0
    )
    assert [a.version for a in deleted] == ["3"]
    with pytest.raises(exc.VersionInUseError):
        repo.delete_artifact_version(bsm=bsm, name=NAME, version=1)

    # an alias moved with the new library can be read back by the seed's document shape
    repo.put_alias(bsm=bsm, name=NAME, alias="production", version=1)
    body = raw_s3.get_object(Bucket=env.bucket, Key=env.key("aliases/production.json"))
    document = json.loads(body["Body"].read())
    assert set(seed_aliases["production"]) <= set(document)
    assert document["version"] == "1"
    assert document["version_s3uri"] == env.uri("versions/999999_000001.bin")


# ------------------------------------------------------------------ module helpers
@pytest.mark.parametrize(
    ("version", "filename"),
    [
        (None, "000000_LATEST"),
        ("LATEST", "000000_LATEST"),
        (1, "999999_000001"),
        ("2", "999998_000002"),
        (999_999, "000001_999999"),
    ],
)
def test_encode_filename(version: Any, filename: str) -> None:
    assert encode_filename(version) == filename


@pytest.mark.parametrize(
    ("filename", "version"),
    [
        ("000000_LATEST.bin", "LATEST"),
        ("000000_LATEST", "LATEST"),
        ("999999_000001.bin", "1"),
        ("999998_000002", "2"),
        ("000001_999999.tar.gz", "999999"),
    ],
)
def test_decode_filename(filename: str, version: str) -> None:
    assert decode_filename(filename) == version


def test_encode_decode_round_trip_and_sort_order() -> None:
    numbers = [1, 2, 9, 10, 99, 100, 12345, 999_999]
    for number in numbers:
        assert decode_filename(encode_filename(number) + ".bin") == str(number)
    names = sorted(encode_filename(n) for n in [*numbers, None])
    assert names[0] == "000000_LATEST"
    assert [decode_filename(n) for n in names[1:]] == [
        str(n) for n in sorted(numbers, reverse=True)
    ]


@pytest.mark.parametrize("filename", ["readme.txt", "123456_000001.bin", "999999_abcdef.bin"])
def test_decode_filename_refuses_foreign_names(filename: str) -> None:
    with pytest.raises(ValueError):
        decode_filename(filename)


def test_validate_alias_name() -> None:
    for good in ("prod", "Prod_2", "a"):
        assert validate_alias_name(good) == good
    for bad in ("LATEST", "prod-1", "1prod", "_prod", "", "a b", "a/b"):
        with pytest.raises(ValueError):
            validate_alias_name(bad)
    with pytest.raises(TypeError):
        validate_alias_name(7)


# ------------------------------------------------------------------ bootstrap
def test_bootstrap_is_idempotent(env: Env, raw_s3: Any) -> None:
    env.repo.put_artifact(bsm=env.bsm, name=NAME, content=b"kept")
    env.repo.bootstrap(bsm=env.bsm)
    env.repo.bootstrap(bsm=env.bsm)
    assert all_keys(raw_s3, env.bucket) == [
        "artifacts/.versioned-repository.json",
        "artifacts/my_app/versions/000000_LATEST.bin",
    ]


def test_bootstrap_existing_bucket(make_bsm: Callable[..., BotoSesManager], raw_s3: Any) -> None:
    bucket = unique_bucket()
    raw_s3.create_bucket(Bucket=bucket)
    raw_s3.put_object(Bucket=bucket, Key="unrelated.txt", Body=b"x")
    bsm = make_bsm()
    repo = Repository(aws_region=REGION, s3_bucket=bucket, s3_prefix="artifacts")
    repo.bootstrap(bsm=bsm)
    assert all_keys(raw_s3, bucket) == ["artifacts/.versioned-repository.json", "unrelated.txt"]


def test_bootstrap_in_another_region(
    make_bsm: Callable[..., BotoSesManager], s3_endpoint: str, server_features: ServerFeatures
) -> None:
    region = "eu-west-1"
    bsm = make_bsm(region_name=region)
    repo = Repository(aws_region=region, s3_bucket=unique_bucket(), s3_prefix="artifacts")
    repo.bootstrap(bsm=bsm)
    repo.bootstrap(bsm=bsm)  # idempotent there too

    artifact = repo.put_artifact(bsm=bsm, name=NAME, content=b"european")
    assert artifact.get_content(bsm=bsm) == b"european"
    assert repo.publish_artifact_version(bsm=bsm, name=NAME).version == "1"

    if not server_features.s3_bucket_regions:
        pytest.skip(
            "the S3 server keeps no bucket region (GetBucketLocation ignores CreateBucket's "
            "LocationConstraint): the bucket's region cannot be checked"
        )
    client = bsm.boto_ses.client("s3", endpoint_url=s3_endpoint)
    location = client.get_bucket_location(Bucket=repo.s3_bucket)["LocationConstraint"]
    assert location == region


# ------------------------------------------------------------------ S3-only specific rules
@pytest.mark.parametrize("version", ["LATEST", None])
def test_deleting_latest_is_refused(env: Env, raw_s3: Any, version: Any) -> None:
    env.repo.put_artifact(bsm=env.bsm, name=NAME, content=b"keep")
    env.counter.reset()
    with pytest.raises(ValueError):
        env.repo.delete_artifact_version(bsm=env.bsm, name=NAME, version=version)
    assert env.counter.count == 0
    head = raw_s3.head_object(Bucket=env.bucket, Key=env.key("versions/000000_LATEST.bin"))
    assert head["Metadata"]["artifact_sha256"] == sha256_hex(b"keep")


def test_publishing_past_999999_is_a_version_limit_error(env: Env, raw_s3: Any) -> None:
    last = f"{1_000_000 - 999_999:06d}_{999_999:06d}.bin"
    assert last == "000001_999999.bin"
    raw_put_version(raw_s3, env, last, b"the last version")
    raw_put_version(raw_s3, env, "000000_LATEST.bin", b"something newer")
    before = all_keys(raw_s3, env.bucket)

    with pytest.raises(exc.VersionLimitError) as raised:
        env.repo.publish_artifact_version(bsm=env.bsm, name=NAME)
    assert "999999" in str(raised.value)
    assert all_keys(raw_s3, env.bucket) == before
    number = env.repo.get_latest_published_artifact_version_number(bsm=env.bsm, name=NAME)
    assert number == 999_999


def test_publishing_unchanged_at_999999_returns_it(env: Env, raw_s3: Any) -> None:
    raw_put_version(raw_s3, env, "000001_999999.bin", b"the last version")
    raw_put_version(raw_s3, env, "000000_LATEST.bin", b"the last version")
    version = env.repo.publish_artifact_version(bsm=env.bsm, name=NAME)
    assert version.version == "999999"


def test_request_budget_of_common_calls(env: Env) -> None:
    """The S3-only request budgets of docs/design.md (retries excluded). The first
    publish of an artifact also lists its versions and creates its state; the first write
    of an alias also checks that no purge ran meanwhile."""
    repo, bsm, counter = env.repo, env.bsm, env.counter

    def put(content: bytes) -> Any:
        return repo.put_artifact(bsm=bsm, name=NAME, content=content)

    def publish() -> Any:
        return repo.publish_artifact_version(bsm=bsm, name=NAME)

    def alias(version: int) -> Any:
        return repo.put_alias(bsm=bsm, name=NAME, alias="prod", version=version)

    steps: list[tuple[str, Callable[[], Any], int]] = [
        # the write, then a HEAD: S3 says the object's time (its LastModified) only there
        ("put new", lambda: put(b"a"), 3),
        ("put unchanged", lambda: put(b"a"), 1),
        # the state, LATEST and the newest version keys read together; the number
        # reserved by compare-and-swap; one server-side copy; the state read again (a
        # purge that ran meanwhile takes the copy back)
        ("first publish", publish, 6),
        ("publish unchanged", publish, 3),
        ("publish unchanged", publish, 3),
        ("put new", lambda: put(b"b"), 3),
        ("publish new", publish, 6),
        ("get version", lambda: repo.get_artifact_version(bsm=bsm, name=NAME, version=1), 1),
        # the retention documents (protected aliases; 2 GETs together), the state,
        # registering the write, the alias object, recording that it landed; + a HEAD
        # for a target whose copy the state has not confirmed yet (it is then); the
        # session's first alias write also asks STS who the caller is (alias history's
        # actor), once per session
        ("first alias write", lambda: alias(1), 7),
        ("alias write", lambda: alias(2), 7),
        ("alias write", lambda: alias(1), 6),
        ("alias write", lambda: alias(2), 6),
        ("get alias", lambda: repo.get_alias(bsm=bsm, name=NAME, alias="prod"), 1),
        ("list aliases (1)", lambda: repo.list_aliases(bsm=bsm, name=NAME), 2),
        ("list versions (2)", lambda: repo.list_artifact_versions(bsm=bsm, name=NAME), 3),
        ("list names", lambda: repo.list_artifact_names(bsm=bsm), 1),
    ]
    for label, step, budget in steps:
        counter.reset()
        step()
        assert counter.calls <= budget, (label, counter.operations)
