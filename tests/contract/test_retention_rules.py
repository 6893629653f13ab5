"""The retention rule (pure, no storage): every rule alone and combined, keep-wins, and
the rollback targets an alias's history names; then rollback targets on both layouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from _testkit import Backend
from hypothesis import given
from hypothesis import strategies as st

from versioned._retention import Candidate, decide, rollback_targets
from versioned.history import AliasChange
from versioned.retention import Hold, RetentionPolicy

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DAY = 86400


def aged(*days: float) -> list[Candidate]:
    """Versions 1..n, version i published days[i-1] days ago."""
    return [Candidate(i, NOW - timedelta(days=age), 100 * i) for i, age in enumerate(days, start=1)]


def run(versions: list[Candidate], policy: RetentionPolicy | None, **kwargs: Any) -> Any:
    return decide(
        versions,
        policy=policy,
        now=NOW,
        aliases=kwargs.get("aliases", {}),
        histories=kwargs.get("histories", {}),
        holds=kwargs.get("holds", {}),
    )


def change(alias: str, version: int | str | None, secondary: int | None = None) -> AliasChange:
    return AliasChange("app", alias, "r", NOW, version, secondary, None, "put", "ci")


def hold(version: int) -> Hold:
    return Hold("app", version, "legal", "carol", NOW)


VERSIONS = aged(200, 150, 100, 60, 20, 5, 1)  # 1 is the oldest, 7 the newest


def test_keep_last_alone() -> None:
    assert run(VERSIONS, RetentionPolicy(keep_last=3)).delete == [4, 3, 2, 1]


def test_keep_younger_alone() -> None:
    assert run(VERSIONS, RetentionPolicy(keep_younger_than_secs=30 * DAY)).delete == [4, 3, 2, 1]


def test_delete_older_alone() -> None:
    decision = run(VERSIONS, RetentionPolicy(delete_older_than_secs=90 * DAY))
    assert decision.delete == [3, 2, 1]
    assert decision.keep[4] == ["not older than 90 days"]


def test_keep_last_and_delete_older() -> None:
    policy = RetentionPolicy(keep_last=5, delete_older_than_secs=90 * DAY)
    assert run(VERSIONS, policy).delete == [2, 1]  # 3 is old, but among the newest 5


def test_every_rule_combined_with_every_reason_listed() -> None:
    policy = RetentionPolicy(
        keep_last=1,
        keep_younger_than_secs=10 * DAY,
        delete_older_than_secs=120 * DAY,
        protected_aliases=("prod",),
        keep_rollback_targets=1,
    )
    decision = run(
        VERSIONS,
        policy,
        aliases={"prod": [7], "beta": [2, 1]},
        histories={"prod": [change("prod", 7), change("prod", 4), change("prod", 3)]},
        holds={7: hold(7)},
    )
    assert decision.delete == []  # 2 and 1 are beta's, 3..5 not older than 120 days
    assert decision.keep[7] == [
        "alias prod (protected)",
        "hold by carol: legal",
        "newest 1",
        "younger than 10 days",
        "not older than 120 days",
    ]
    assert decision.keep[4] == ["rollback target of prod", "not older than 120 days"]
    assert decision.keep[1] == ["alias beta"]


def test_no_policy_and_a_policy_without_a_deletion_rule_delete_nothing() -> None:
    assert run(VERSIONS, None).delete == []
    assert run(VERSIONS, None).keep[1] == ["no retention policy"]
    only_protection = RetentionPolicy(protected_aliases=("prod",), keep_rollback_targets=3)
    assert run(VERSIONS, only_protection).delete == []


def test_alias_targets_and_holds_win_over_keep_last_zero() -> None:
    decision = run(
        VERSIONS,
        RetentionPolicy(keep_last=0),
        aliases={"prod": [3, 5], "dev": ["LATEST"]},
        holds={1: hold(1)},
    )
    assert decision.delete == [7, 6, 4, 2]


def test_rollback_targets_skip_current_targets_latest_and_duplicates() -> None:
    changes = [
        change("prod", 9),
        change("prod", 8, 9),
        change("prod", "LATEST"),
        change("prod", None),  # a delete
        change("prod", 6, 8),
        change("prod", 5),
        change("prod", 4),
    ]
    assert rollback_targets(changes, {9}, 2) == [8, 6]
    assert rollback_targets(changes, {9}, 3) == [8, 6, 5]
    assert rollback_targets(changes, {9}, 0) == []


@given(
    ages=st.lists(st.integers(0, 400), min_size=0, max_size=12),
    keep_last=st.none() | st.integers(0, 6),
    younger=st.none() | st.integers(0, 300),
    older=st.none() | st.integers(0, 300),
    aliased=st.sets(st.integers(1, 12), max_size=3),
    held=st.sets(st.integers(1, 12), max_size=3),
)
def test_keep_wins_whatever_the_policy(
    ages: list[int],
    keep_last: int | None,
    younger: int | None,
    older: int | None,
    aliased: set[int],
    held: set[int],
) -> None:
    versions = aged(*ages)
    policy = RetentionPolicy(
        keep_last=keep_last,
        keep_younger_than_secs=None if younger is None else younger * DAY,
        delete_older_than_secs=None if older is None else older * DAY,
    )
    decision = run(
        versions,
        policy,
        aliases={"prod": sorted(aliased)},
        holds={v: hold(v) for v in held},
    )
    deleted = set(decision.delete)
    assert not deleted & (aliased | held)
    assert deleted | set(decision.keep) == {c.version for c in versions}
    assert not deleted & set(decision.keep)
    newest = sorted((c.version for c in versions), reverse=True)
    if keep_last is not None:
        assert not deleted & set(newest[:keep_last])
    if not policy.deletes:
        assert not deleted
    for candidate in versions:
        age = (NOW - candidate.update_at).total_seconds()
        if candidate.version in deleted and older is not None:
            assert age > older * DAY
        if candidate.version in deleted and younger is not None:
            assert age >= younger * DAY


# ------------------------------------------------------------------ on both layouts
def test_rollback_targets_of_a_real_history_are_kept(backend: Backend) -> None:
    repo: Any = backend.repo
    for i in range(1, 7):
        backend.put_and_publish("app", f"v{i}".encode())
    for version in (2, 3, 4, 5):
        repo.put_alias(bsm=backend.bsm, name="app", alias="prod", version=version)
    repo.set_retention(
        bsm=backend.bsm, name="app", policy=RetentionPolicy(keep_last=1, keep_rollback_targets=2)
    )
    (plan,) = repo.plan_retention(bsm=backend.bsm, name="app")
    kept = {k.version: k.reasons for k in plan.keep}
    assert kept[4] == ("rollback target of prod",)
    assert kept[3] == ("rollback target of prod",)
    assert plan.delete == (2, 1)
