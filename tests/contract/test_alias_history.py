"""Alias history on every layout: what each change records, in which order, the state at
a moment, rollback, and how long history lives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _testkit import Backend, Endpoints

from versioned import exc
from versioned.history import AliasChange

NAME = "my_app"


def publish(backend: Backend, count: int) -> None:
    for i in range(1, count + 1):
        backend.put_and_publish(NAME, f"v{i}".encode())


def point(backend: Backend, version: Any, **kwargs: Any) -> Any:
    return backend.repo.put_alias(
        bsm=backend.bsm, name=NAME, alias="prod", version=version, **kwargs
    )


def current(backend: Backend) -> Any:
    return backend.repo.get_alias(bsm=backend.bsm, name=NAME, alias="prod")


def changes(backend: Backend, limit: int | None = None) -> list[AliasChange]:
    return backend.repo.list_alias_history(bsm=backend.bsm, name=NAME, alias="prod", limit=limit)


def at(backend: Backend, when: datetime) -> AliasChange | None:
    return backend.repo.alias_at(bsm=backend.bsm, name=NAME, alias="prod", when=when)


def rollback(backend: Backend, **kwargs: Any) -> Any:
    return backend.repo.rollback_alias(bsm=backend.bsm, name=NAME, alias="prod", **kwargs)


@pytest.fixture(autouse=True)
def actor(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VERSIONED_ACTOR", "ci-bot")
    return "ci-bot"


def test_every_change_is_recorded_newest_first(backend: Backend) -> None:
    publish(backend, 3)
    first = point(backend, 1, reason="first deploy")
    split = backend.repo.put_alias(
        bsm=backend.bsm,
        name=NAME,
        alias="prod",
        version=2,
        secondary_version=3,
        secondary_version_weight=10,
    )
    backend.repo.delete_alias(bsm=backend.bsm, name=NAME, alias="prod", reason="incident 7")
    found = changes(backend)
    assert [c.action for c in found] == ["delete", "put", "put"]
    assert [c.reason for c in found] == ["incident 7", None, "first deploy"]
    assert {c.actor for c in found} == {"ci-bot"}
    assert {(c.name, c.alias) for c in found} == {(NAME, "prod")}
    deleted, second, oldest = found
    assert (deleted.version, deleted.secondary_version, deleted.secondary_version_weight) == (
        None,
        None,
        None,
    )
    assert (second.version, second.secondary_version, second.secondary_version_weight) == (
        2,
        3,
        10,
    )
    assert (oldest.version, oldest.secondary_version) == (1, None)
    assert oldest.revision == first.revision and second.revision == split.revision
    assert oldest.changed_at <= second.changed_at <= deleted.changed_at
    assert all(c.changed_at.tzinfo is not None for c in found)


def test_history_of_other_aliases_is_separate(backend: Backend) -> None:
    publish(backend, 1)
    point(backend, 1)
    backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias="prod2", version=1)
    backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias="pro", version="LATEST")
    assert [c.alias for c in changes(backend)] == ["prod"]
    other = backend.repo.list_alias_history(bsm=backend.bsm, name=NAME, alias="pro")
    assert [(c.alias, c.version) for c in other] == [("pro", "LATEST")]
    assert backend.repo.list_alias_history(bsm=backend.bsm, name=NAME, alias="nope") == []


def test_limit_returns_the_newest(backend: Backend) -> None:
    publish(backend, 3)
    for version in (1, 2, 3, 1, 2):
        point(backend, version)
    assert [c.version for c in changes(backend, limit=2)] == [2, 1]
    assert [c.version for c in changes(backend)] == [2, 1, 3, 2, 1]
    with pytest.raises(exc.ValidationError):
        changes(backend, limit=0)


def test_the_actor_is_the_aws_identity_without_versioned_actor(
    backend: Backend, endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    if endpoints.s3 != endpoints.dynamodb:  # STS would go to AWS: never asked then
        pytest.skip("S3 and DynamoDB are two servers: no local STS endpoint")
    publish(backend, 1)
    monkeypatch.delenv("VERSIONED_ACTOR")
    point(backend, 1)
    before = len(backend.counter.operations)
    point(backend, 1)
    assert "sts.GetCallerIdentity" not in backend.counter.operations[before:]  # once per session
    assert backend.counter.operations.count("sts.GetCallerIdentity") == 1
    assert all(c.actor.startswith("arn:aws:") for c in changes(backend))


def test_history_survives_a_long_run_of_changes(backend: Backend) -> None:
    publish(backend, 2)
    for i in range(47):
        point(backend, 1 + i % 2, reason=f"change {i}")
    found = changes(backend)
    assert [c.reason for c in found] == [f"change {i}" for i in reversed(range(47))]
    before = len(backend.counter.requests)
    newest = changes(backend, limit=20)
    assert len(backend.counter.requests) - before <= 3
    assert newest == found[:20]


# ------------------------------------------------------------------ alias_at
def test_alias_at_answers_what_was_in_force(backend: Backend) -> None:
    publish(backend, 2)
    point(backend, 1)
    point(backend, 2)
    second, first = changes(backend)
    assert at(backend, first.changed_at - timedelta(seconds=1)) is None
    assert at(backend, first.changed_at) == first  # in force from its time on
    assert at(backend, second.changed_at) == second
    assert at(backend, second.changed_at + timedelta(days=1)) == second
    backend.repo.delete_alias(bsm=backend.bsm, name=NAME, alias="prod")
    gone = at(backend, datetime.now(UTC) + timedelta(days=1))
    assert gone is not None and gone.action == "delete" and gone.version is None


def test_alias_at_takes_a_naive_datetime_as_utc(backend: Backend) -> None:
    publish(backend, 1)
    point(backend, 1)
    (change,) = changes(backend)
    naive = change.changed_at.astimezone(UTC).replace(tzinfo=None)
    assert at(backend, naive) == change
    assert at(backend, naive - timedelta(seconds=1)) is None
    with pytest.raises(exc.ArgumentTypeError):
        at(backend, "yesterday")  # type: ignore[arg-type]


# ------------------------------------------------------------------ rollback
def test_rollback_returns_to_the_previous_state(backend: Backend) -> None:
    publish(backend, 3)
    point(backend, 1)
    backend.repo.put_alias(
        bsm=backend.bsm,
        name=NAME,
        alias="prod",
        version=2,
        secondary_version=3,
        secondary_version_weight=25,
    )
    point(backend, 3)
    back = rollback(backend, reason="3 is broken")
    assert (back.version, back.secondary_version, back.secondary_version_weight) in (
        ("000002", "000003", 25),
        ("2", "3", 25),
        (2, 3, 25),
    )
    newest = changes(backend)[0]
    assert (newest.action, newest.reason, newest.version, newest.secondary_version) == (
        "rollback",
        "3 is broken",
        2,
        3,
    )
    assert newest.revision == back.revision


def test_rollback_to_a_revision(backend: Backend) -> None:
    publish(backend, 3)
    first = point(backend, 1)
    point(backend, 2)
    point(backend, 3)
    back = rollback(backend, to_revision=first.revision)
    assert current(backend).revision == back.revision
    assert [c.version for c in changes(backend)] == [1, 3, 2, 1]
    with pytest.raises(exc.ValidationError, match="no recorded revision"):
        rollback(backend, to_revision="no-such-revision")


def test_rollback_to_a_deleted_version_is_refused_writing_nothing(backend: Backend) -> None:
    publish(backend, 3)
    point(backend, 1)
    point(backend, 2)
    backend.repo.delete_artifact_version(bsm=backend.bsm, name=NAME, version=1)
    before = changes(backend)
    alias = backend.repo.get_alias(bsm=backend.bsm, name=NAME, alias="prod")
    with pytest.raises(exc.ArtifactNotFoundError, match=r"roll alias 'prod' .* back"):
        rollback(backend)
    assert changes(backend) == before
    assert current(backend).revision == alias.revision


def test_rollback_with_an_expected_revision(backend: Backend) -> None:
    publish(backend, 2)
    first = point(backend, 1)
    second = point(backend, 2)
    with pytest.raises(exc.ConcurrentModificationError):
        rollback(backend, expected_revision=first.revision)
    assert len(changes(backend)) == 2
    back = rollback(backend, expected_revision=second.revision)
    assert back.revision != second.revision


def test_rollback_without_an_earlier_state_is_refused(backend: Backend) -> None:
    publish(backend, 1)
    point(backend, 1)
    with pytest.raises(exc.ValidationError, match="no earlier recorded state"):
        rollback(backend)
    backend.repo.delete_alias(bsm=backend.bsm, name=NAME, alias="prod")
    point(backend, 1)
    with pytest.raises(exc.ValidationError, match="did not exist"):
        rollback(backend)
    assert len(changes(backend)) == 3


# ------------------------------------------------------------------ lifetime
def test_purging_versions_keeps_history_and_purging_the_artifact_removes_it(
    backend: Backend,
) -> None:
    publish(backend, 3)
    point(backend, 1)
    point(backend, 3)
    backend.repo.purge_artifact_versions(bsm=backend.bsm, name=NAME, keep_last_n=1)
    assert [c.version for c in changes(backend)] == [3, 1]
    backend.repo.purge_artifact(bsm=backend.bsm, name=NAME)
    assert changes(backend) == []
    publish(backend, 1)
    point(backend, 1)
    assert [c.version for c in changes(backend)] == [1]
