"""The S3 + DynamoDB reference's deployment examples (blue/green, canary with a measured
split, rollback, purge), with bsm omitted after bootstrap and with an explicit second
session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _testkit import RequestCounter, sha256_hex, unique
from boto_session_manager import BotoSesManager

from versioned.exc import ArtifactNotFoundError
from versioned.s3_and_dynamodb_backend import Repository


@pytest.mark.parametrize("mode", ["bsm_omitted", "explicit_second_session"])
def test_reference_examples(mode: str, make_bsm: Callable[[], BotoSesManager], raw_s3: Any) -> None:
    boot = make_bsm()
    boot_count = RequestCounter.attach(boot)
    repo = Repository(
        aws_region="us-east-1",
        s3_bucket=unique("ddb-ref"),
        dynamodb_table_name=unique("ddb-ref"),
    )
    repo.bootstrap(boot)
    explicit: dict[str, Any] = {}
    second_count = RequestCounter()
    reader = boot
    if mode == "explicit_second_session":
        second = make_bsm()
        second_count = RequestCounter.attach(second)
        explicit = {"bsm": second}
        reader = second
    boot_count.reset()
    name = "my-app"
    contents = {n: f"my-app build {n}".encode() for n in range(1, 7)}
    for number in range(1, 6):
        repo.put_artifact(name, contents[number], **explicit)
        assert repo.publish_artifact_version(name, **explicit).version == str(number)
    repo.put_alias(name, "prod", version=5, **explicit)

    # blue/green: publish version 6, switch prod to it
    repo.put_artifact(name, contents[6], **explicit)
    six = repo.publish_artifact_version(name, **explicit)
    assert six.version == "6"
    assert six.sha256 == sha256_hex(contents[6])
    repo.put_alias(name, "prod", version=6, **explicit)
    prod = repo.get_alias(name, "prod", **explicit)
    assert (prod.version, prod.secondary_version) == ("6", None)
    assert prod.get_version_content(reader) == contents[6]

    # canary: 80% version 5, 20% version 6
    canary = repo.put_alias(
        name=name,
        alias="prod",
        version=5,
        secondary_version=6,
        secondary_version_weight=20,
        **explicit,
    )
    assert (canary.version, canary.secondary_version, canary.secondary_version_weight) == (
        "5",
        "6",
        20,
    )
    prod = repo.get_alias(name, "prod", **explicit)
    assert prod.secondary_version_s3uri is not None
    draws = [prod.random_artifact() for _ in range(2000)]
    assert set(draws) == {prod.version_s3uri, prod.secondary_version_s3uri}
    share = draws.count(prod.secondary_version_s3uri) / len(draws)
    assert 0.12 <= share <= 0.28, share
    assert prod.get_secondary_version_content(reader) == contents[6]

    # rollback
    repo.put_alias(name, "prod", version=5, **explicit)
    prod = repo.get_alias(name, "prod", **explicit)
    assert (prod.version, prod.secondary_version, prod.secondary_version_weight) == (
        "5",
        None,
        None,
    )
    assert prod.get_version_content(reader) == contents[5]

    # purge: keep the newest 2, and whatever an alias points at
    repo.put_alias(name, "staging", version=2, **explicit)
    _, deleted = repo.purge_artifact_versions(
        name, keep_last_n=2, purge_older_than_secs=0, **explicit
    )
    assert sorted(int(a.version) for a in deleted) == [1, 3, 4]
    listed = [a.version for a in repo.list_artifact_versions(name, **explicit)]
    assert listed == ["LATEST", "6", "5", "2"]
    with pytest.raises(ArtifactNotFoundError):
        repo.get_artifact_version(name, version=3, **explicit)
    # soft deletion: the purged bytes are still in S3
    key = repo.get_artifact_s3path(name, 3).key
    assert raw_s3.get_object(Bucket=repo.s3_bucket, Key=key)["Body"].read() == contents[3]

    if mode == "bsm_omitted":
        assert boot_count.count > 20, "the bootstrap session should have served every call"
    else:
        assert second_count.count > 20
        assert boot_count.count == 0, "an explicit session must be used instead of bootstrap's"
