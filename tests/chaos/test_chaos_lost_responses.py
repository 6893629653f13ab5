"""A write whose response is lost after the server applied it (the
proxy drops the answer, botocore retries) is recognised by its retry: no false conflict,
no false report, no stall."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Background, Ops, Place, RawStore, attempt, first_write
from _faultproxy import FaultProxy, Request, dynamodb_error
from _testkit import LAYOUTS, sha256_hex, unique

V1, V2, V3 = b"version one " * 20, b"version two " * 20, b"version three " * 20


def writes_of(proxy: FaultProxy, call: Callable[[], Any]) -> int:
    """How many writing requests ``call`` sends through ``proxy`` undisturbed."""
    proxy.reset_log()
    call()
    return proxy.count(writes=True)


# -------------------------------------------------------------- alias writes with expected_revision
@pytest.mark.parametrize("operation", ["put_alias", "delete_alias"])
@pytest.mark.parametrize("kind", LAYOUTS)
def test_alias_write_with_expected_revision_survives_a_lost_response(
    kind: str,
    operation: str,
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    """The response to the k-th write of the call is lost (for every k): the call
    succeeds, and its write is applied exactly once."""
    ops = make_repo(kind)
    place = ops.place
    proxy = make_proxy()
    client = via(place, proxy)

    def prepare(name: str) -> str:
        ops.publish_contents(name, [V1, V2])
        ops.put_alias(name, "prod", version=1)
        revision = ops.get_alias(name, "prod").revision
        assert revision
        return str(revision)

    def run(name: str, revision: str) -> Any:
        if operation == "put_alias":
            return client.put_alias(name, "prod", version=2, expected_revision=revision)
        return client.delete_alias(name, "prod", expected_revision=revision)

    writes = writes_of(proxy, lambda: run("calibrate", prepare("calibrate")))
    assert writes >= 1
    failures: list[str] = []
    for k in range(1, writes + 1):
        name = unique("lost")
        revision = prepare(name)
        rule = proxy.add("drop_response", when=first_write(), skip=k - 1)
        outcome = attempt(functools.partial(run, name, revision))
        proxy.remove(rule)
        if rule.fired == 0:  # this call wrote less than the calibration call
            continue
        where = f"response to write {k} of {writes} lost"
        if not outcome.ok:
            failures.append(f"{where}: {outcome.describe()}")
            continue
        aliases = raw.aliases(place, name)
        if operation == "delete_alias":
            if "prod" in aliases:
                failures.append(f"{where}: prod still exists")
            continue
        if aliases.get("prod") != ["2"]:
            failures.append(f"{where}: prod -> {aliases.get('prod')}")
        elif ops.get_alias(name, "prod").revision != outcome.value.revision:
            failures.append(f"{where}: the stored revision is not the one returned")
    assert failures == [], failures


# ---------------------------------------------------------------- purge's soft deletes
def test_dynamodb_purge_reports_a_version_whose_soft_delete_response_was_lost(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    ops = make_repo("s3_dynamodb")
    place = ops.place
    proxy = make_proxy()
    client = via(place, proxy)
    ops.publish_contents("calibrate", [V1, V2, V3])
    writes = writes_of(proxy, lambda: client.purge_versions("calibrate", 1, 0))
    assert writes >= 1
    failures: list[str] = []
    scenarios: list[tuple[str, dict[str, Any]]] = [
        (f"write {k}", {"when": first_write("dynamodb"), "skip": k - 1})
        for k in range(1, writes + 1)
    ]
    scenarios.append(("the write naming version 2", {"when": _writes_version_2}))
    for label, match in scenarios:
        name = unique("purge")
        ops.publish_contents(name, [V1, V2, V3])
        before = set(raw.versions(place, name))
        rule = proxy.add("drop_response", **match)
        outcome = attempt(functools.partial(client.purge_versions, name, 1, 0))
        proxy.remove(rule)
        if not outcome.ok:
            failures.append(f"{label} lost: {outcome.describe()}")
            continue
        gone = before - set(raw.versions(place, name))
        reported = {int(a.version) for a in outcome.value[1]}
        if reported != gone or 2 not in gone:
            failures.append(
                f"response to {label} lost: reported deleted {sorted(reported)}, "
                f"actually gone {sorted(gone)}"
            )
    assert failures == [], failures


def _writes_version_2(request: Request) -> bool:
    return request.service == "dynamodb" and request.is_write and b'"000002"' in request.body


# ---------------------------------------------------------------- a lost first write and the lease
@pytest.mark.parametrize("operation", ["put", "publish"])
def test_dynamodb_lost_first_write_does_not_wait_for_the_lease(
    operation: str,
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    """lease_secs stays at its default (30 s). The first DynamoDB write of the call (its
    ticket / claim) is applied but its answer is lost: the call still completes, in
    fewer than 15 DynamoDB requests (beyond 30, every DynamoDB answer is AccessDenied)."""
    ops = make_repo("s3_dynamodb")
    place = ops.place
    ops.publish_contents("app", [V1])
    ops.put("app", V2)
    proxy = make_proxy()
    client = via(place, proxy)
    proxy.add("drop_response", when=first_write("dynamodb"))
    proxy.add(
        "respond",
        when=lambda r: r.service == "dynamodb",
        skip=30,
        times=None,
        response=dynamodb_error(),
    )
    if operation == "put":
        call = Background(lambda: client.put("app", V3), "put")
    else:
        call = Background(lambda: client.publish("app"), "publish")
    outcome = call.result(25)
    sent = proxy.count(service="dynamodb")
    assert outcome is not None, f"{operation} still waiting after 25 s ({sent} DynamoDB requests)"
    assert outcome.ok, (
        f"{outcome.describe()} after {sent} DynamoDB requests (beyond 30 the proxy answers "
        "AccessDenied: the call was polling, waiting for the lease of its own lost ticket)"
    )
    assert sent < 15, f"{operation} sent {sent} DynamoDB requests"
    if operation == "put":
        latest = raw.latest(place, "app")
        assert latest is not None and latest.actual == latest.recorded == sha256_hex(V3)
    else:
        assert outcome.value.version == "2"
        stored = raw.versions(place, "app")[2]
        assert stored.actual == stored.recorded == sha256_hex(V2)
