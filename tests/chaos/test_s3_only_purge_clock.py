"""Whether an S3-only purge mark is abandoned is decided on the server's clock, never on a
client's: the mark's lease runs from the state object's LastModified and is compared with
the server's Date. A purger whose clock is an hour off (its ``purging_until`` an hour in
the past or the future) neither gets its live purge settled under it nor keeps a dead
one alive for an hour. The marks are written with plain boto3, as the purger's process
would have left them before dying."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _testkit import unique
from boto_session_manager import BotoSesManager

from versioned.exc import ArtifactNotFoundError
from versioned.s3_only_backend import Repository

NAME = "app"
HOUR = timedelta(hours=1)


def marked_repo(
    bsm: BotoSesManager, raw_s3: Any, *, skew: timedelta, lease_secs: int | None
) -> Repository:
    """Version 1 published, then a purge mark as a purger whose clock is ``skew`` off
    would write it (``lease_secs`` None: as an older release, no lease recorded)."""
    repo = Repository(aws_region="us-east-1", s3_bucket=unique("bkt"), suffix=".bin")
    repo.bootstrap(bsm)
    repo.put_artifact(bsm, NAME, b"one")
    repo.publish_artifact_version(bsm, NAME)
    key = f"{repo.s3_prefix}/{NAME}/state.json"
    state = json.loads(raw_s3.get_object(Bucket=repo.s3_bucket, Key=key)["Body"].read())
    purger_now = datetime.now(UTC) + skew
    state["purging"] = "a-purge-token"
    if lease_secs is not None:
        state["purging_owner"] = "skewed-host:4242"
        state["purging_lease_secs"] = lease_secs
        state["purging_until"] = (purger_now + timedelta(seconds=lease_secs)).isoformat()
    raw_s3.put_object(Bucket=repo.s3_bucket, Key=key, Body=json.dumps(state).encode())
    return repo


@pytest.mark.parametrize(
    "skew", [-HOUR, HOUR], ids=["purger_an_hour_behind", "purger_an_hour_ahead"]
)
@pytest.mark.parametrize("lease_secs", [120, None], ids=["lease", "older_release"])
def test_a_live_purge_is_refused_whatever_the_purgers_clock(
    skew: timedelta,
    lease_secs: int | None,
    make_bsm: Callable[[], BotoSesManager],
    raw_s3: Any,
) -> None:
    bsm = make_bsm()
    repo = marked_repo(bsm, raw_s3, skew=skew, lease_secs=lease_secs)
    repo.put_artifact(bsm, NAME, b"two")
    for write in (
        lambda: repo.publish_artifact_version(bsm, NAME),
        lambda: repo.put_alias(bsm, NAME, "prod", version=1),
        lambda: repo.delete_artifact_version(bsm, NAME, 1),
    ):
        with pytest.raises(ArtifactNotFoundError, match="being purged"):
            write()
    report = repo.verify(bsm)
    assert any(
        p.kind == "purge_in_progress" and "in progress" in p.detail for p in report.problems
    ), report.problems


@pytest.mark.parametrize(
    "skew", [-HOUR, HOUR], ids=["purger_an_hour_behind", "purger_an_hour_ahead"]
)
def test_a_dead_purge_is_settled_once_its_lease_ran_out_on_the_server(
    skew: timedelta, make_bsm: Callable[[], BotoSesManager], raw_s3: Any
) -> None:
    bsm = make_bsm()
    repo = marked_repo(bsm, raw_s3, skew=skew, lease_secs=0)
    report = repo.verify(bsm)
    assert any(
        p.kind == "purge_in_progress" and "abandoned" in p.detail for p in report.problems
    ), report.problems
    # the purge deleted nothing: the next writer undoes it and does its own work
    repo.put_artifact(bsm, NAME, b"two")
    published = repo.publish_artifact_version(bsm, NAME)
    assert published.version == "2"
    assert [a.version for a in repo.list_artifact_versions(bsm, NAME)] == ["LATEST", "2", "1"]
    assert repo.verify(bsm).ok
