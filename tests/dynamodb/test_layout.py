"""Issue 3: the S3 + DynamoDB backend's storage, checked with raw boto3, and compatibility
with items written by hand in the seed's format."""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import pytest
from boto_session_manager import BotoSesManager

from versioned.exc import ArtifactNotFoundError
from versioned.s3_and_dynamodb_backend import Repository

PREFIX = "artifacts"
SUFFIX = ".bin"
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000$")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unique(label: str) -> str:
    return f"ddb-{label}-{uuid.uuid4().hex[:10]}"


class Requests:
    """Records (service, operation, url path) of every request a session sends."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, **kwargs: Any) -> None:
        parts = str(kwargs.get("event_name", "")).split(".")
        with self._lock:
            self.seen.append((parts[1], parts[-1], urlparse(kwargs["request"].url).path))

    def clear(self) -> None:
        with self._lock:
            self.seen.clear()


def counted(make: Callable[[], BotoSesManager]) -> tuple[BotoSesManager, Requests]:
    bsm = make()
    requests = Requests()
    bsm.boto_ses.events.register("before-send", requests)
    return bsm, requests


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
    assert head["Metadata"]["artifact_sha256"] == sha(b"one")
    assert head["Metadata"]["artifact_name"] == name
    assert head["Metadata"]["team"] == "core"
    for sk in ("LATEST", "000001"):
        raw = item(raw_dynamodb, repo.dynamodb_table_name, name, sk)
        assert raw["pk"] == {"S": name}
        assert raw["sk"] == {"S": sk}
        assert raw["sha256"] == {"S": sha(b"one")}
        assert raw["is_deleted"] == {"BOOL": False}
        assert TIME_RE.match(raw["update_at"]["S"]), raw["update_at"]


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
            Metadata={"artifact_sha256": sha(data), "artifact_name": name},
        )
        raw_ddb.put_item(
            TableName=repo.dynamodb_table_name,
            Item={
                "pk": {"S": name},
                "sk": {"S": sk},
                "sha256": {"S": sha(data)},
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
    assert latest.sha256 == sha(contents["LATEST"])
    assert latest.update_at.isoformat() == "2025-06-26T23:57:20.123456+00:00"
    assert latest.get_content(bsm) == contents["LATEST"]
    v2 = repo.get_artifact_version(name=name, version=2, bsm=bsm)
    assert (v2.version, v2.sha256) == ("2", sha(contents["000002"]))
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
    assert published.sha256 == sha(contents["LATEST"])
    assert body(raw_s3, repo.s3_bucket, f"{PREFIX}/{name}/000004{SUFFIX}") == (contents["LATEST"])
    repo.put_artifact(name=name, content=b"put over", bsm=bsm)
    latest = item(raw_dynamodb, repo.dynamodb_table_name, name, "LATEST")
    assert latest["sha256"] == {"S": sha(b"put over")}
    assert body(raw_s3, repo.s3_bucket, f"{PREFIX}/{name}/LATEST{SUFFIX}") == b"put over"
    again = repo.publish_artifact_version(name=name, bsm=bsm)
    assert (again.version, again.sha256) == ("5", sha(b"put over"))
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
    other, requests = counted(make_bsm)
    listed = repo.list_artifact_versions(name=name, bsm=other)
    assert [a.version for a in listed] == ["LATEST", "3", "2", "1"]
    s3_requests = [r for r in requests.seen if r[2].startswith(f"/{repo.s3_bucket}")]
    assert s3_requests == []
    assert [(service, op) for service, op, _ in requests.seen] == [("dynamodb", "Query")]


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
    assert repo.get_artifact_version(name="kept", bsm=bsm).sha256 == sha(b"kept")


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
    bsm, requests = counted(make_bsm)
    repo = Repository(
        aws_region="us-east-1", s3_bucket=unique("bkt"), dynamodb_table_name=unique("tbl")
    )
    with pytest.raises(ValueError):
        repo.bootstrap(bsm=bsm, **capacity)
    assert requests.seen == []


# ---------------------------------------------------------------- sessions
def test_bsm_omitted_after_bootstrap_uses_the_bootstrap_session(
    make_bsm: Callable[[], BotoSesManager],
) -> None:
    bsm, requests = counted(make_bsm)
    repo = new_repo(bsm)
    requests.clear()
    repo.put_artifact(name="implicit", content=b"implicit")
    published = repo.publish_artifact_version(name="implicit")
    assert published.version == "1"
    assert repo.get_artifact_version(name="implicit", version=1).sha256 == sha(b"implicit")
    assert len(requests.seen) >= 4, "the bootstrap session was not used"

    second, second_requests = counted(make_bsm)
    requests.clear()
    artifact = repo.get_artifact_version(name="implicit", version=1, bsm=second)
    assert artifact.get_content(second) == b"implicit"
    assert repo.list_artifact_versions(name="implicit", bsm=second)[0].version == "LATEST"
    assert len(second_requests.seen) >= 3
    assert requests.seen == [], "an explicit session must override the remembered one"
