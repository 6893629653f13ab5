"""Retention runs against other processes: two applies at once delete nothing twice and
nothing that must stay; an apply SIGKILLed after any of its requests is finished by the
next run, which deletes exactly what the policy selects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Ops, RawStore, Worker, Zygote
from _faultproxy import FaultProxy
from _testkit import Endpoints

KINDS = ["s3_only", "s3_dynamodb"]
COUNT = 10
KEEP = 2  # the newest two, and version 3 (alias prod)
EXPECTED_LEFT = {3, COUNT - 1, COUNT}


def prepare(ops: Ops, name: str) -> None:
    ops.publish_contents(name, [f"content {i} ".encode() * 20 for i in range(1, COUNT + 1)])
    ops.put_alias(name, "prod", version=3)
    ops.set_retention(name, keep_last=KEEP)


def deleted_by(result: dict[str, Any] | None) -> list[int]:
    assert result is not None and "ok" in result, result
    (report,) = result["value"]
    assert report["errors"] == [], report
    return list(report["deleted"])


@pytest.mark.parametrize("kind", KINDS)
def test_two_applies_at_once_delete_each_version_once(
    kind: str, make_repo: Callable[..., Ops], raw: RawStore, endpoints: Endpoints, zygote: Zygote
) -> None:
    ops = make_repo(kind)
    prepare(ops, "app")
    first, second = Worker(zygote=zygote), Worker(zygote=zygote)
    try:
        for worker in (first, second):
            worker.ready()
        for worker in (first, second):
            worker.send(ops.place, endpoints, "apply_retention", name="app")
        one, two = deleted_by(first.result(120)), deleted_by(second.result(120))
    finally:
        first.kill()
        second.kill()
    assert sorted(set(one) | set(two)) == sorted(set(range(1, COUNT + 1)) - EXPECTED_LEFT)
    assert set(raw.versions(ops.place, "app")) == EXPECTED_LEFT  # nothing kept was deleted
    assert raw.aliases(ops.place, "app")["prod"] == ["3"]
    twice = set(one) & set(two)
    if twice and kind == "s3_dynamodb":
        # Each soft delete is an UpdateItem conditional on the item not being deleted:
        # on DynamoDB exactly one of two such writes succeeds. moto checks the condition
        # and applies the write without a lock, so two concurrent ones can both succeed
        # (measured: 7 of 200 pairs of bare conditional UpdateItems on one item).
        pytest.xfail(f"moto applied both conditional deletes of {sorted(twice)}")
    assert not twice, (one, two)  # nothing deleted twice


def kill_before(worker: Worker, proxy: FaultProxy, ops: Ops, k: int, name: str) -> bool:
    """Run apply_retention in ``worker`` through ``proxy``; SIGKILL it before its k-th
    request reaches the server. False when the run finished in fewer requests."""
    rule = proxy.add("hold", skip=k - 1)
    worker.send(ops.place, proxy.url, "apply_retention", name=name)
    while True:
        held = rule.poll(0.05)
        if held is not None:
            worker.kill()
            held.release("discard")
            proxy.remove(rule)
            return True
        finished = worker.result(0.05)
        if finished is not None:
            proxy.remove(rule)
            deleted_by(finished)
            return False


@pytest.mark.parametrize("kind", KINDS)
def test_a_killed_apply_is_finished_by_the_next(
    kind: str,
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    raw: RawStore,
    zygote: Zygote,
) -> None:
    ops = make_repo(kind)
    proxy = make_proxy()
    for k in range(1, 40):
        name = f"app{k}"
        prepare(ops, name)
        worker = Worker(zygote=zygote)
        try:
            killed = kill_before(worker, proxy, ops, k, name)
        finally:
            worker.kill()
        (report,) = ops.apply_retention(name)
        assert report.errors == (), (k, report)
        assert set(raw.versions(ops.place, name)) == EXPECTED_LEFT, k
        assert raw.aliases(ops.place, name)["prod"] == ["3"], k
        assert not raw.torn(ops.place, name), k
        (again,) = ops.apply_retention(name)
        assert again.deleted == (), k
        if not killed:
            return
    raise AssertionError("the apply never finished within 40 requests")
