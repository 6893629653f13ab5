"""An S3-only purge SIGKILLed after any of its requests (issue 17, defect 4).

``purge_artifact`` (and ``purge_all``, which runs it per artifact) marks the artifact's
state ``purging`` before it deletes anything. A purge killed after that mark used to leave
the artifact stuck: ``delete_artifact_version`` returned success while the version stayed,
``purge_artifact_versions`` returned ``[]`` with no reason, ``publish`` and ``put_alias``
raised "being purged" forever, and ``verify()`` said ok.

The mark carries its owner and a lease (``purging_lease_secs``, counted from the state's
LastModified on the server's clock; ``purging_until`` for people). For every request k of
the purge, a worker process is killed before request k reaches the server, and then:

- while the mark is live: verify() reports the purge in progress; no call reports work it
  did not do (a deletion either deletes or raises);
- once its deadline has passed (the test sets the mark's lease to 0 s, as time
  would): verify() reports the abandoned purge; the next writer finishes or undoes it, and
  no call reports work it did not do; afterwards no mark is left, the artifact is whole
  (LATEST, no dangling alias, no torn version) or gone, put/publish/put_alias work and
  verify() is clean.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from _chaoskit import Ops, RawStore, Worker, attempt, workers
from _faultproxy import FaultProxy

NAME = "app"
V1, V2, V3, V4 = (f"content {i} ".encode() * 30 for i in range(1, 5))
#: more than any purge sends (a run that is never held finished: the cases end there)
MAX_REQUESTS = 14
PAST = "2000-01-01T00:00:00+00:00"


def _state_key(ops: Ops) -> str:
    return f"{ops.place.root}{NAME}/state.json"


def read_state(raw: RawStore, ops: Ops) -> dict[str, Any] | None:
    body = raw.data(ops.place.bucket, _state_key(ops))
    return None if body is None else dict(json.loads(body))


def expire_mark(raw: RawStore, raw_s3: Any, ops: Ops) -> None:
    """End the purge mark's lease (what waiting would do): a lease of 0 s from the
    state's LastModified, which this write sets to the server's now."""
    state = read_state(raw, ops)
    assert state is not None and state.get("purging")
    state["purging_lease_secs"] = 0
    state["purging_until"] = PAST
    raw_s3.put_object(Bucket=ops.place.bucket, Key=_state_key(ops), Body=json.dumps(state).encode())


def kill_at(worker: Worker, proxy: FaultProxy, ops: Ops, op: str, k: int, **args: Any) -> bool:
    """Run ``op`` in ``worker`` through ``proxy`` and SIGKILL it before its k-th request
    reaches the server. False when the call finished in fewer than k requests."""
    rule = proxy.add("hold", skip=k - 1)
    worker.send(ops.place, proxy.url, op, **args)
    while True:
        held = rule.poll(0.05)
        if held is not None:
            worker.kill()
            held.release("discard")
            return True
        finished = worker.result(0.05)
        if finished is not None:
            assert "ok" in finished, finished
            proxy.remove(rule)
            return False


def kill_purge(worker: Worker, proxy: FaultProxy, ops: Ops, op: str, k: int) -> bool:
    args = {"name": NAME} if op == "purge_artifact" else {}
    return kill_at(worker, proxy, ops, op, k, **args)


def _no_false_success(ops: Ops, raw: RawStore, when: str) -> list[str]:
    """delete_artifact_version(1) and purge_artifact_versions report only what they did."""
    problems = []
    deleted = attempt(lambda: ops.delete_version(NAME, 1))
    if deleted.ok and 1 in raw.versions(ops.place, NAME):
        problems.append(f"{when}: delete_artifact_version(1) returned, version 1 stays")
    purged = attempt(lambda: ops.purge_versions(NAME, 1, 0))
    if purged.ok:
        left = raw.versions(ops.place, NAME)
        kept = [a.version for a in purged.value[1] if int(a.version) in left]
        if kept:
            problems.append(f"{when}: purge_artifact_versions reported {kept}, still there")
    elif when == "expired" and "purged" in str(purged.error):
        problems.append(f"{when}: purge_artifact_versions: {purged.describe()}")
    return problems


def _verify_reports_purge(ops: Ops, when: str) -> list[str]:
    report = attempt(ops.verify).value
    if report.ok:
        return [f"{when}: verify() says ok while a purge mark is stored"]
    return []


def _settled(ops: Ops, raw: RawStore) -> list[str]:
    """After the writers: no mark; the artifact whole or gone; new writes work; clean."""
    problems = []
    state = read_state(raw, ops)
    if state is not None and state.get("purging"):
        problems.append(f"a purge mark is left: {state.get('purging')!r}")
    keys = raw.keys(ops.place.bucket, f"{ops.place.root}{NAME}/")
    if keys and raw.latest(ops.place, NAME) is None:
        problems.append(f"no LATEST, yet keys remain: {keys}")
    problems += raw.dangling(ops.place, NAME) + raw.torn(ops.place, NAME)
    put = attempt(lambda: ops.put(NAME, V4))
    published = attempt(lambda: ops.publish(NAME))
    if not (put.ok and published.ok):
        return [*problems, f"put: {put.describe()}; publish: {published.describe()}"]
    version = published.value.version
    aliased = attempt(lambda: ops.put_alias(NAME, "prod", version=version))
    if not aliased.ok:
        problems.append(f"put_alias(prod -> {version}): {aliased.describe()}")
    report = attempt(ops.verify).value
    if not report.ok:
        problems.append(f"verify() afterwards: {report.problems}")
    return problems


def _live(state: dict[str, Any]) -> bool:
    """Whether a stored purge mark's deadline is still ahead (no deadline: live)."""
    until = state.get("purging_until")
    return until is None or datetime.fromisoformat(until) > datetime.now(UTC)


def _case(ops: Ops, raw: RawStore, raw_s3: Any) -> list[str]:
    problems: list[str] = []
    state = read_state(raw, ops)
    if state is not None and state.get("purging"):
        live = _live(state)
        problems += _verify_reports_purge(ops, "live" if live else "expired")
        if live:
            problems += _no_false_success(ops, raw, "live")
            expire_mark(raw, raw_s3, ops)
            problems += _verify_reports_purge(ops, "expired")
    problems += _no_false_success(ops, raw, "expired")
    return problems + _settled(ops, raw)


@pytest.mark.parametrize("op", ["purge_artifact", "purge_all"])
def test_a_purge_killed_after_any_request_is_finished_or_undone(
    op: str,
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    raw: RawStore,
    raw_s3: Any,
) -> None:
    failures: dict[int, list[str]] = {}
    marked: list[int] = []
    with workers(MAX_REQUESTS) as started:
        for k, worker in enumerate(started, start=1):
            ops = make_repo("s3_only")
            ops.publish_contents(NAME, [V1, V2, V3])
            ops.put_alias(NAME, "prod", version=2)
            if not kill_purge(worker, make_proxy(), ops, op, k):
                assert k > 3, f"{op} finished in {k - 1} requests"
                break
            state = read_state(raw, ops)
            if state is not None and state.get("purging"):
                marked.append(k)
            problems = _case(ops, raw, raw_s3)
            if problems:
                failures[k] = problems
        else:
            pytest.fail(f"{op} sent more than {MAX_REQUESTS} requests")
    assert marked, f"no kill left a purge mark ({op})"
    assert failures == {}, json.dumps(failures, indent=1)


def test_a_writer_killed_while_finishing_an_abandoned_purge(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    raw: RawStore,
    raw_s3: Any,
) -> None:
    """A kill during the recovery of an earlier kill. A purge is killed after it deleted
    LATEST (before its DeleteObjects), so its mark can only be finished; once the mark
    expires, delete_artifact_version(1) in a second worker settles it and is killed
    before each of its requests in turn. The writer after it still finds a state it can
    settle: the same checks as above hold."""
    failures: dict[int, list[str]] = {}
    for k in range(1, 2 * MAX_REQUESTS + 1):
        ops = make_repo("s3_only")
        ops.publish_contents(NAME, [V1, V2, V3])
        ops.put_alias(NAME, "prod", version=2)
        with workers(2) as (first, second):
            proxy = make_proxy()
            before_delete = proxy.add("hold", method="POST", query="delete")
            first.send(ops.place, proxy.url, "purge_artifact", name=NAME)
            held = before_delete.wait(60)  # marked, LATEST deleted, nothing else yet
            first.kill()
            held.release("discard")
            assert raw.latest(ops.place, NAME) is None
            expire_mark(raw, raw_s3, ops)
            if not kill_at(second, make_proxy(), ops, "delete_version", k, name=NAME, version=1):
                assert k > 4, f"delete_artifact_version finished in {k - 1} requests"
                break
        problems = _case(ops, raw, raw_s3)
        if problems:
            failures[k] = problems
    else:
        pytest.fail(f"delete_artifact_version sent more than {2 * MAX_REQUESTS} requests")
    assert failures == {}, json.dumps(failures, indent=1)
