"""A rollout whose process is SIGKILLed mid-bake: the alias stays at the recorded step,
the record shows the step and the owner, its lease runs out (measured on the servers'
clock), and then another process resumes it to the end, or aborts it back to the start.
(A live owner's rollout refused to another process: tests/contract/test_rollouts.py.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Ops, Worker, wait_until
from _testkit import Endpoints

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
