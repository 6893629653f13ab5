"""A kill during the recovery of an earlier kill. Worker A is SIGKILLed mid-operation
(after its first write landed, before its second: a publish's reservation or turn, an
alias write registered, a purge's mark). Then workers B1, B2, ... run the same operation,
which must finish or undo A's work, each SIGKILLed after one more of its own writes
than the one before (B1 after its 1st, B2 after its 2nd...), until one finishes. A kill
after a read leaves storage as a kill before the next write does, so this is a kill
after each of B's requests. Then C runs the operation to the end, and the promises
(_chaoskit.Promises) must hold.

S3 + DynamoDB put_alias is one transaction: nothing is half-done to recover, so only
the S3-only layout runs it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Ops, Promises, RawStore, Worker, attempt, first_write
from _faultproxy import FaultProxy, Rule
from _testkit import sha256_hex as sha

V1, V2, V3 = (f"recovery content {i} ".encode() * (25 + i) for i in range(1, 4))
MAX_B = 8  # B workers at most (an operation's requests in a recovery)

#: operation -> (its arguments, the worker's op name)
OPERATIONS: dict[str, dict[str, Any]] = {
    "publish": {},
    "put_alias": {"alias": "prod", "version": 2},
    "purge_artifact": {},
}
CASES = [
    ("s3_only", "publish"),
    ("s3_only", "put_alias"),
    ("s3_only", "purge_artifact"),
    ("s3_dynamodb", "publish"),
    ("s3_dynamodb", "purge_artifact"),
]


def run_until_killed(
    worker: Worker, ops: Ops, proxy: FaultProxy, operation: str, rule: Rule
) -> bool:
    """Start ``operation`` in ``worker``; when ``rule`` holds one of its requests, SIGKILL
    the worker and discard the request. False if the operation finished first."""
    worker.send(ops.place, proxy.url, operation, name="app", **OPERATIONS[operation])
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            held = rule.poll(0.02)
            if held is not None:
                worker.kill()
                held.release("discard")
                held.done.wait(10)
                return True
            if worker.result(0) is not None:
                return False
        raise AssertionError(f"{operation} neither finished nor reached its kill point")
    finally:
        proxy.remove(rule)


def finish(ops: Ops, operation: str) -> Any:
    if operation == "publish":
        return ops.publish("app")
    if operation == "put_alias":
        return ops.put_alias("app", "prod", version=2)
    return ops.purge_artifact("app")


def finished_as_expected(ops: Ops, raw: RawStore, operation: str, outcome: Any) -> str:
    """'' if C's operation did its work and the artifact shows it."""
    if not outcome.ok:
        return f"C's {operation} raised {outcome.describe()}"
    if operation == "publish":
        if outcome.value.sha256 != sha(V3):
            return f"C published {outcome.value.sha256}, LATEST holds V3"
        return ""
    if operation == "put_alias":
        found = ops.get_alias("app", "prod")
        return "" if found.version == "2" else f"prod -> {found.version} after C's put_alias"
    left = raw.keys(ops.place.bucket, f"{ops.place.root}app/")
    table = ops.place.table
    items = [i for i in raw.items(table) if "app" in str(i["pk"])] if table else []
    return f"left after C's purge: {left} {items}" if left or items else ""


@pytest.mark.parametrize(("kind", "operation"), CASES)
def test_a_kill_during_the_recovery_of_a_kill(
    kind: str,
    operation: str,
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    raw: RawStore,
    spawn_worker: Callable[[], Worker],
) -> None:
    ops = make_repo(kind, **({"lease_secs": 0.25} if kind == "s3_dynamodb" else {}))
    ops.publish_contents("app", [V1, V2])
    ops.put_alias("app", "prod", version=1)
    ops.put("app", V3)
    promises = Promises(raw, ops.place, "app")
    promises.note(1, sha(V1), "setup")
    promises.note(2, sha(V2), "setup")
    proxy = make_proxy()
    a_killed = run_until_killed(
        spawn_worker(), ops, proxy, operation, proxy.add("hold", when=first_write(), skip=1)
    )
    assert a_killed, f"A's {operation} has a single write: nothing to recover"
    killed_b = []
    for m in range(1, MAX_B + 1):
        rule = proxy.add("hold", when=first_write(), skip=m)  # B's m-th write is its last
        if not run_until_killed(spawn_worker(), ops, proxy, operation, rule):
            break
        killed_b.append(m)
    assert killed_b, f"B's {operation} finished before its first kill point"
    outcome = attempt(lambda: finish(ops, operation))
    where = f"{kind} {operation}: A killed, B killed after request {killed_b}"
    failures = [f"{where}: {p}" for p in [finished_as_expected(ops, raw, operation, outcome)] if p]
    if operation == "publish" and outcome.ok:
        promises.note(outcome.value.version, outcome.value.sha256, "C's publish")
    failures += promises.check(ops, where)
    assert failures == [], "\n".join(failures)
