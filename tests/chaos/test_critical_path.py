"""Round trips on the critical path, counted without a clock: every request of the call
is held at the proxy, and the requests a round trip must hold are all waited for before
any of them is answered. A library that sent one of them only after another's answer
would never send it while that one is held: the wait times out and the test fails.

Rows of docs/design.md's request budget table (issue 19): S3-only put_alias and
delete_alias read the retention guard's two documents with the state; a deletion reads
the running rollouts and the holds with its own first reads (both layouts)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Ops, Outcome, Place, attempt
from _faultproxy import FaultProxy
from _testkit import ServerFeatures, design_round_trips

WAIT_SECS = 10.0
COLUMNS = {"s3_only": "S3-only", "s3_dynamodb": "S3 + DynamoDB"}


def stated(row: str, kind: str, sizes: list[int]) -> list[int]:
    """``sizes``, once docs/design.md's budget table states as many round trips."""
    assert design_round_trips()[row][COLUMNS[kind]] == len(sizes), (row, kind, sizes)
    return sizes


def round_trips(proxy: FaultProxy, call: Callable[[], Any], sizes: list[int]) -> list[list[str]]:
    """Run ``call`` with every request held; answer them in rounds of ``sizes`` requests,
    each round only once all its requests have arrived. Returns each round's operations
    (sorted); fails when the call sends more than ``sum(sizes)`` requests, or fails."""
    rule = proxy.add("hold", times=None)
    outcome: list[Outcome] = []
    thread = threading.Thread(target=lambda: outcome.append(attempt(call)), daemon=True)
    thread.start()
    rounds: list[list[str]] = []
    try:
        for size in sizes:
            held = [rule.wait(WAIT_SECS) for _ in range(size)]
            rounds.append(sorted(h.request.operation for h in held))
            for one in held:
                one.release()
        thread.join(WAIT_SECS)
        assert not thread.is_alive(), f"the call sent more requests than {sizes}: {rounds}"
    finally:
        proxy.remove(rule)
        rule.release_all()
    assert outcome and outcome[0].ok, (outcome, rounds)
    extra = rule.poll(0)
    assert extra is None, f"a request beyond {sizes}: {extra.request.operation}"
    return rounds


@pytest.fixture
def through(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[str], tuple[Ops, Ops, FaultProxy]]:
    """through(kind) -> (direct ops, ops through a proxy whose repository record is
    checked already, the proxy); an artifact "app" with versions 1..3, alias prod on 1."""
    monkeypatch.setenv("VERSIONED_ACTOR", "tester")  # no STS lookup in the counts

    def make(kind: str) -> tuple[Ops, Ops, FaultProxy]:
        ops = make_repo(kind)
        ops.publish_contents("app", [b"one", b"two", b"three"])
        ops.put_alias("app", "prod", version=1)
        proxy = make_proxy()
        proxied = via(ops.place, proxy)
        proxied.names()  # the repository record (and the table's claim), checked once
        return ops, proxied, proxy

    return make


def test_s3_only_put_alias_reads_the_guard_with_the_state(through: Any) -> None:
    _, proxied, proxy = through("s3_only")
    rounds = round_trips(
        proxy,
        lambda: proxied.put_alias("app", "prod", version=2),
        stated("put alias", "s3_only", [3, 1, 1, 1]),
    )
    assert rounds[0] == ["s3.GetObject"] * 3  # state.json and the 2 retention documents
    assert rounds[1:] == [["s3.PutObject"]] * 3  # register, the alias object, landed


def test_s3_only_delete_alias_reads_the_guard_with_the_state(through: Any) -> None:
    _, proxied, proxy = through("s3_only")
    rounds = round_trips(
        proxy,
        lambda: proxied.delete_alias("app", "prod"),
        stated("delete alias", "s3_only", [4, 1, 1, 1]),
    )
    assert rounds[0] == ["s3.GetObject"] * 3 + ["s3.HeadObject"]
    assert rounds[1:] == [["s3.PutObject"], ["s3.DeleteObject"], ["s3.PutObject"]]


def test_a_protected_alias_is_refused_before_anything_is_written(through: Any, raw: Any) -> None:
    ops, proxied, proxy = through("s3_only")
    ops.set_retention("app", protected_aliases=["prod"])
    before = raw.snapshot(ops.place.bucket)
    rule = proxy.add("hold", times=None, when=lambda request: request.is_write)
    outcome = attempt(lambda: proxied.put_alias("app", "prod", version=2))
    proxy.remove(rule)
    assert type(outcome.error).__name__ == "ProtectedAliasError", outcome.describe()
    assert rule.matched == 0  # not one write was sent
    assert raw.snapshot(ops.place.bucket) == before


@pytest.mark.parametrize("kind", ["s3_only", "s3_dynamodb"])
def test_a_deletion_reads_rollouts_and_holds_with_its_first_reads(kind: str, through: Any) -> None:
    """S3-only: the rollouts' LIST and the holds beside the state GET and the two LISTs,
    then the CAS and the delete; DynamoDB: the rollouts' Query and the holds beside the
    versions' Query, then the aliases' Query, then the soft delete."""
    _, proxied, proxy = through(kind)
    sizes = stated("delete version", kind, [3, 1, 1] if kind == "s3_dynamodb" else [5, 1, 1])
    rounds = round_trips(proxy, lambda: proxied.delete_version("app", 2), sizes)
    if kind == "s3_dynamodb":
        assert rounds[0] == ["dynamodb.BatchGetItem", "dynamodb.Query", "dynamodb.Query"]
        assert rounds[1:] == [["dynamodb.Query"], ["dynamodb.UpdateItem"]]
    else:
        assert rounds[0] == ["s3.GetObject"] * 2 + ["s3.ListObjects"] * 3
        assert rounds[1:] == [["s3.PutObject"], ["s3.DeleteObjects"]]


def test_dynamodb_list_names_reads_known_names_with_the_listing(through: Any) -> None:
    """A listing sends its LIST and the BatchGetItem of the LATEST items of the folders
    the previous listing found together; a folder new since then costs one more."""
    ops, proxied, proxy = through("s3_dynamodb")
    rounds = round_trips(proxy, proxied.names, stated("list names", "s3_dynamodb", [2]))
    assert rounds == [["dynamodb.BatchGetItem", "s3.ListObjects"]]
    ops.put("new", b"bytes")
    rounds = round_trips(proxy, proxied.names, [2, 1])
    assert rounds == [["dynamodb.BatchGetItem", "s3.ListObjects"], ["dynamodb.BatchGetItem"]]
    assert proxied.names() == ["app", "new"]


def test_dynamodb_list_names_never_shows_a_folder_without_latest_item(
    through: Any, raw_s3: Any, raw_dynamodb: Any, server_features: ServerFeatures
) -> None:
    """Whatever the previous listing found: a folder of orphan objects only, a name whose
    items are gone, and a name whose folder is gone are not artifacts."""
    ops, proxied, _ = through("s3_dynamodb")
    ops.put("gone", b"bytes")
    place = ops.place
    raw_s3.put_object(Bucket=place.bucket, Key=f"{place.root}orphan/000001.bin", Body=b"x")
    assert proxied.names() == ["app", "gone"]  # the first listing: every folder read after
    assert proxied.names() == ["app", "gone"]  # known folders, read beside the LIST
    raw_dynamodb.delete_item(
        TableName=place.table, Key={"pk": {"S": "gone"}, "sk": {"S": "LATEST"}}
    )
    assert proxied.names() == ["app"]  # its objects stay; its LATEST item is gone
    for listed in raw_s3.list_objects_v2(Bucket=place.bucket, Prefix=f"{place.root}app/")[
        "Contents"
    ]:
        raw_s3.delete_object(Bucket=place.bucket, Key=listed["Key"])
    # its items stay; its folder is gone (SeaweedFS still lists an emptied folder)
    assert proxied.names() == (["app"] if server_features.s3_lists_emptied_folders else [])
