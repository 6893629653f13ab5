"""S3 + DynamoDB purges of many versions: their conditional soft deletes go 100 to a
TransactWriteItems, all at once; an alias moved onto a doomed version while the
transaction is in flight cancels it, and the versions are judged one by one: the alias's
target stays, every other one is deleted."""

from __future__ import annotations

from collections.abc import Callable

from _chaoskit import Background, Ops, Place, RawStore
from _faultproxy import FaultProxy, Request

N = 30  # over 16: the transactional path


def contents(n: int) -> list[bytes]:
    return [f"version {j}".encode() for j in range(1, n + 1)]


def is_transaction(request: Request) -> bool:
    return request.target == "TransactWriteItems"


def test_purge_of_many_versions_is_one_transaction_round(
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
    assert operations.count("dynamodb.TransactWriteItems") == 1, operations
    assert "dynamodb.UpdateItem" not in operations, operations
    assert sorted(raw.versions(ops.place, "app")) == [N]


def test_alias_moved_onto_a_doomed_version_mid_transaction_keeps_it(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    ops = make_repo("s3_dynamodb")
    ops.publish_contents("app", contents(N))
    proxy = make_proxy()
    purger = via(ops.place, proxy)
    rule = proxy.add("hold", when=is_transaction)
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
    # the cancelled transaction's versions were done again one update each
    assert proxy.operations().count("dynamodb.UpdateItem") >= N - 2
