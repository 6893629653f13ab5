"""The library uses exactly the session it is given and no global state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import s3pathlib
import s3pathlib.aws
from _testkit import Backend, RequestCounter
from boto_session_manager import BotoSesManager


def test_two_sessions_two_buckets_side_by_side(
    backend: Backend, make_bsm: Callable[..., BotoSesManager]
) -> None:
    other_bsm = make_bsm()
    other_counter = RequestCounter.attach(other_bsm)
    other_repo = backend.new_repo(other_bsm)
    assert other_repo.s3_bucket != backend.bucket

    first = backend.put_and_publish("shared_name", b"first repository")
    before = backend.counter.count
    other_counter.reset()

    second = other_repo.put_artifact(bsm=other_bsm, name="shared_name", content=b"second repo")
    other_repo.publish_artifact_version(bsm=other_bsm, name="shared_name")
    other_repo.put_artifact(bsm=other_bsm, name="only_in_second", content=b"x")

    # the second repository's work went through the second session only
    assert backend.counter.count == before
    assert other_counter.count > 0
    assert not any(backend.bucket in url for _, url in other_counter.requests)
    assert not any(other_repo.s3_bucket in url for _, url in backend.counter.requests)

    assert first.get_content(bsm=backend.bsm) == b"first repository"
    assert second.get_content(bsm=other_bsm) == b"second repo"
    assert backend.repo.list_artifact_names(bsm=backend.bsm) == ["shared_name"]
    assert other_repo.list_artifact_names(bsm=other_bsm) == ["only_in_second", "shared_name"]
    mine = backend.repo.get_artifact_version(bsm=backend.bsm, name="shared_name", version=1)
    theirs = other_repo.get_artifact_version(bsm=other_bsm, name="shared_name", version=1)
    assert mine.get_content(bsm=backend.bsm) == b"first repository"
    assert theirs.get_content(bsm=other_bsm) == b"second repo"


def _context_snapshot() -> dict[str, dict[str, Any]]:
    contexts = {"s3pathlib.aws.context": s3pathlib.aws.context}
    if hasattr(s3pathlib, "context"):
        contexts["s3pathlib.context"] = s3pathlib.context
    return {label: dict(vars(ctx)) for label, ctx in contexts.items()}


def test_no_global_state_is_touched(backend: Backend) -> None:
    default_session = boto3.DEFAULT_SESSION
    contexts = _context_snapshot()

    artifact = backend.put_and_publish("my_app", b"content")
    alias = backend.repo.put_alias(bsm=backend.bsm, name="my_app", alias="prod", version=1)
    assert artifact.get_content(bsm=backend.bsm) == b"content"
    assert alias.get_version_content(bsm=backend.bsm) == b"content"
    assert artifact.s3path.console_url
    assert alias.s3path_version.uri == artifact.s3uri
    backend.repo.list_artifact_versions(bsm=backend.bsm, name="my_app")
    backend.repo.purge_artifact_versions(bsm=backend.bsm, name="my_app")

    assert boto3.DEFAULT_SESSION is default_session
    after = _context_snapshot()
    assert after.keys() == contexts.keys()
    for label, attributes in contexts.items():
        assert after[label].keys() == attributes.keys(), label
        for attribute, value in attributes.items():
            assert after[label][attribute] is value, f"{label}.{attribute} was changed"
