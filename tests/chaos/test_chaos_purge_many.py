"""Purges of many versions. S3 + DynamoDB: their conditional soft deletes go out many at
once (one each, never a transaction or a batch: see docs/design.md); an alias moved onto
a doomed version while its update is in flight fails that update alone: the alias's
target stays, every other version is deleted. S3-only: two purges at once report each
deleted version once."""

from __future__ import annotations

from collections.abc import Callable

from _chaoskit import Background, Ops, Place, RawStore
from _faultproxy import FaultProxy, Request

N = 30


def contents(n: int) -> list[bytes]:
    return [f"version {j}".encode() for j in range(1, n + 1)]


def updates_version(number: int) -> Callable[[Request], bool]:
    def predicate(request: Request) -> bool:
        return request.target == "UpdateItem" and f'"{number:06d}"'.encode() in request.body

    return predicate


def test_purge_of_many_versions_sends_one_update_each_at_once(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    ops = make_repo("s3_dynamodb")
    ops.publish_contents("app", contents(N))
    proxy = make_proxy()
    _, deleted = via(ops.place, proxy).purge_versions("app", 1, 0)
    assert sorted(int(a.version) for a in deleted) == list(range(1, N))
    operations = proxy.operations()
    assert operations.count("dynamodb.UpdateItem") == N - 1, operations
    assert "dynamodb.TransactWriteItems" not in operations
    assert "dynamodb.BatchWriteItem" not in operations
    assert sorted(raw.versions(ops.place, "app")) == [N]


def test_alias_moved_onto_a_doomed_version_mid_purge_keeps_it(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    ops = make_repo("s3_dynamodb")
    ops.publish_contents("app", contents(N))
    proxy = make_proxy()
    purger = via(ops.place, proxy)
    rule = proxy.add("hold", when=updates_version(5))
    purge = Background(lambda: purger.purge_versions("app", 1, 0), "purge")
    held = rule.wait(30)
    ops.put_alias("app", "canary", version=5)  # directly: bumps version 5's alias epoch
    held.release("forward")
    outcome = purge.result(60)
    assert outcome is not None and outcome.ok, outcome and outcome.describe()
    _, deleted = outcome.value
    assert sorted(int(a.version) for a in deleted) == [v for v in range(1, N) if v != 5]
    assert sorted(raw.versions(ops.place, "app")) == [5, N]
    assert raw.dangling(ops.place, "app") == []


def test_two_purges_report_each_deleted_version_once(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    """S3-only: a purge held after it marked its versions (its DeleteObjects not sent yet)
    while a second purge of the same artifact runs whole. The second deletes the keys
    again (the first may have died) but reports only what it marked itself: every
    deleted version is reported by one purge, as on DynamoDB."""
    ops = make_repo("s3_only")
    ops.publish_contents("app", contents(6))
    proxy = make_proxy()
    first = via(ops.place, proxy)
    rule = proxy.add("hold", method="POST", query="delete")  # DeleteObjects
    purge = Background(lambda: first.purge_versions("app", 2, 0), "purge")
    held = rule.wait(30)
    _, second = ops.purge_versions("app", 2, 0)
    held.release("forward")
    outcome = purge.result(60)
    assert outcome is not None and outcome.ok, outcome and outcome.describe()
    _, deleted = outcome.value
    one = sorted(int(a.version) for a in deleted)
    two = sorted(int(a.version) for a in second)
    assert one == [1, 2, 3, 4], (one, two)
    assert two == [], (one, two)
    assert sorted(raw.versions(ops.place, "app")) == [5, 6]
