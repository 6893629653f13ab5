"""A rollout whose process is SIGKILLed mid-bake: the alias stays at the recorded step,
the record shows the step and the owner, its lease runs out (measured on the servers'
clock), and then another process resumes it to the end, or aborts it back to the start.
(A live owner's rollout refused to another process: tests/contract/test_rollouts.py.)"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Ops, Place, Worker, attempt, first_write, wait_until
from _faultproxy import FaultProxy
from _testkit import Endpoints, unique

LEASE = 1.5  # seconds: the killed owner's record goes stale a few seconds after the kill


def state(ops: Ops) -> tuple[str, str | None, int | None]:
    alias = ops.get_alias("app", "prod")
    return alias.version, alias.secondary_version, alias.secondary_version_weight


def killed_at_first_step(
    kind: str,
    make_repo: Callable[..., Ops],
    spawn_worker: Callable[[], Worker],
    endpoints: Endpoints,
) -> Ops:
    """A repository whose rollout of prod (1 -> 2, 25/50/100) was SIGKILLed while it
    baked after its first step."""
    ops = make_repo(kind)
    ops.publish_contents("app", [b"v1", b"v2"])
    ops.put_alias("app", "prod", version=1)
    worker = spawn_worker()
    worker.send(
        ops.place, endpoints, "rollout", name="app", alias="prod", to_version=2,
        steps=[25, 50, 100], bake_secs=600, lease_secs=LEASE,
    )  # fmt: skip
    while True:
        line = worker.result(60)
        assert line is not None and "step" in line, (line, "".join(worker.stderr))
        if line["step"] == 1:
            break
    worker.kill()
    return ops


@pytest.mark.parametrize("kind", ["s3_only", "s3_dynamodb"])
def test_resume_after_the_owner_was_killed_mid_bake(
    kind: str,
    make_repo: Callable[..., Ops],
    spawn_worker: Callable[[], Worker],
    endpoints: Endpoints,
) -> None:
    ops = killed_at_first_step(kind, make_repo, spawn_worker, endpoints)
    assert state(ops) == ("1", "2", 25)  # the recorded step
    status = ops.rollout_status("app", "prod")
    assert status is not None and status.step == 1 and status.plan == (25, 50, 100)
    assert "pid" in status.owner
    assert wait_until(lambda: ops.rollout_status("app", "prod").stale, timeout=30, step=0.2)
    checks: list[Any] = []

    def check() -> bool:
        checks.append(state(ops))
        return True

    final = ops.resume_rollout("app", "prod", check=check, bake_secs=0.02)
    assert (final.version, final.secondary_version) == ("2", None)
    assert checks[0] == ("1", "2", 25) and checks[-1] == ("1", "2", 50)  # baked again
    assert ops.rollout_status("app", "prod") is None
    assert state(ops) == ("2", None, None)


@pytest.mark.parametrize("kind", ["s3_only", "s3_dynamodb"])
def test_abort_after_the_owner_was_killed(
    kind: str,
    make_repo: Callable[..., Ops],
    spawn_worker: Callable[[], Worker],
    endpoints: Endpoints,
) -> None:
    ops = killed_at_first_step(kind, make_repo, spawn_worker, endpoints)
    assert wait_until(lambda: ops.rollout_status("app", "prod").stale, timeout=30, step=0.2)
    restored = ops.abort_rollout("app", "prod", reason="owner died")
    assert (restored.version, restored.secondary_version) == ("1", None)
    assert ops.rollout_status("app", "prod") is None
    assert state(ops) == ("1", None, None)
    ops.delete_version("app", 2)  # no longer named by a rollout, nor routed to
    assert [a.version for a in ops.versions("app")] == ["LATEST", "1"]


@pytest.mark.parametrize("kind", ["s3_only", "s3_dynamodb"])
def test_a_rollout_survives_a_lost_response_to_any_of_its_writes(
    kind: str,
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
) -> None:
    """The response to the k-th write of a rollout is lost (for every k; botocore sends
    the request again): the rollout ends at the target with no record left, its own
    record writes recognised by their tokens, its alias writes by the layouts."""
    ops = make_repo(kind)
    proxy = make_proxy()
    client = via(ops.place, proxy)

    def prepare(name: str) -> None:
        ops.publish_contents(name, [b"v1", b"v2"])
        ops.put_alias(name, "prod", version=1)

    def run(name: str) -> Any:
        return client.rollout(name, "prod", 2, steps=(50, 100), bake_secs=0)

    prepare("calibrate")
    proxy.reset_log()
    run("calibrate")
    writes = proxy.count(writes=True)
    assert writes >= 4  # the record's create, replace and delete, and the alias writes
    failures: list[str] = []
    for k in range(1, writes + 1):
        name = unique("lost")
        prepare(name)
        rule = proxy.add("drop_response", when=first_write(), skip=k - 1)
        outcome = attempt(functools.partial(run, name))
        proxy.remove(rule)
        where = f"response to write {k} of {writes} lost"
        if not outcome.ok:
            failures.append(f"{where}: {outcome.describe()}")
        elif state_of(ops, name) != ("2", None, None):
            failures.append(f"{where}: prod is {state_of(ops, name)}")
        elif ops.rollout_status(name, "prod") is not None:
            failures.append(f"{where}: the record was left")
    assert failures == [], failures


def state_of(ops: Ops, name: str) -> tuple[str, str | None, int | None]:
    alias = ops.get_alias(name, "prod")
    return alias.version, alias.secondary_version, alias.secondary_version_weight
