"""No alias is ever lost or left pointing at a missing version, under
forced interleavings, unforced races and SIGKILLed deleters."""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import (
    Background,
    Interleaver,
    Ops,
    Outcome,
    Place,
    RawStore,
    Worker,
    attempt,
    first_write,
    interleave_at,
)
from _faultproxy import FaultProxy
from _testkit import LAYOUTS, sha256_hex, unique

from versioned.exc import VersionedError

V1, V2, V3 = b"version one " * 20, b"version two " * 20, b"version three " * 20


def two_versions_prod_on_1(ops: Ops, name: str) -> None:
    ops.publish_contents(name, [V1, V2])
    ops.put_alias(name, "prod", version=1)


def requests_of(proxy: FaultProxy, call: Callable[[], Any]) -> int:
    """How many requests ``call`` sends through ``proxy`` when nothing interferes."""
    proxy.reset_log()
    call()
    return len(proxy.seen())


def check_prod_survives(raw: RawStore, place: Place, name: str, alias_outcome: Outcome) -> str:
    """'' when prod still exists and points at an existing version (at 1 when put_alias
    raised, at 2 when it succeeded), else a description of what went wrong."""
    aliases = raw.aliases(place, name)
    if "prod" not in aliases:
        return f"prod was removed (put_alias: {alias_outcome.describe()})"
    dangling = raw.dangling(place, name)
    if dangling:
        return f"dangling: {dangling} (put_alias: {alias_outcome.describe()})"
    expected = ["2"] if alias_outcome.ok else ["1"]
    if aliases["prod"] != expected:
        return f"prod -> {aliases['prod']}, expected {expected} ({alias_outcome.describe()})"
    return ""


# ---------------------------------------------------------------- put_alias racing delete
def test_s3_only_put_alias_racing_delete_never_loses_prod_forced(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    """prod -> 1; put_alias(prod -> 2) and delete_artifact_version(2), each paused at each
    of its requests while the other runs whole."""
    ops = make_repo("s3_only")
    place = ops.place
    proxy = make_proxy()
    slow = via(place, proxy)
    two_versions_prod_on_1(ops, "calibrate")
    alias_requests = requests_of(proxy, lambda: slow.put_alias("calibrate", "prod", version=2))
    ops.put_alias("calibrate", "prod", version=1)
    delete_requests = requests_of(proxy, lambda: slow.delete_version("calibrate", 2))
    assert alias_requests >= 1 and delete_requests >= 1

    failures: list[str] = []
    scenarios = [("put_alias paused", k) for k in range(1, alias_requests + 1)]
    scenarios += [("delete paused", k) for k in range(1, delete_requests + 1)]
    for label, k in scenarios:
        name = unique("race")
        two_versions_prod_on_1(ops, name)
        alias_call = (slow if label == "put_alias paused" else ops).put_alias
        delete_call = (slow if label == "delete paused" else ops).delete_version

        def put_alias(call: Any = alias_call, name: str = name) -> Any:
            return call(name, "prod", version=2)

        def delete(call: Any = delete_call, name: str = name) -> Any:
            return call(name, 2)

        first, second = (put_alias, delete) if label == "put_alias paused" else (delete, put_alias)
        a, b, _ = interleave_at(proxy, first, k, second)
        alias_outcome = a if label == "put_alias paused" else b
        assert alias_outcome is not None
        problem = check_prod_survives(raw, place, name, alias_outcome)
        if problem:
            failures.append(f"{label} at request {k}: {problem}")
    assert failures == [], failures


def test_s3_only_put_alias_racing_delete_never_loses_prod_unforced(
    make_repo: Callable[..., Ops], raw: RawStore
) -> None:
    """The same race in two threads, unforced: put_alias starts a seeded random 0-60 ms
    after the delete."""
    ops = make_repo("s3_only")
    rng = random.Random(9004)
    failures: list[str] = []
    rounds = 20
    for round_ in range(rounds):
        name = f"unforced-{round_}"
        two_versions_prod_on_1(ops, name)
        barrier = threading.Barrier(2)
        results: dict[str, Outcome] = {}
        skew = {"alias": rng.uniform(0, 0.06), "delete": 0.0}

        def run(
            label: str,
            call: Callable[[], Any],
            barrier: threading.Barrier = barrier,
            results: dict[str, Outcome] = results,
            skew: dict[str, float] = skew,
        ) -> None:
            barrier.wait()
            time.sleep(skew[label])
            results[label] = attempt(call)

        calls = {
            "alias": lambda n=name: ops.put_alias(n, "prod", version=2),
            "delete": lambda n=name: ops.delete_version(n, 2),
        }
        threads = [threading.Thread(target=run, args=item) for item in calls.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        problem = check_prod_survives(raw, ops.place, name, results["alias"])
        if problem:
            failures.append(f"round {round_}: {problem}")
    assert failures == [], f"{len(failures)} of {rounds} rounds: {failures}"


# ---------------------------------------------------------------- purge_artifact racing put_alias
@pytest.mark.parametrize("kind", LAYOUTS)
def test_purge_artifact_paused_after_reading_leaves_no_dangling_alias(
    kind: str,
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    ops = make_repo(kind)
    ops.publish_contents("app", [V1, V2])
    proxy = make_proxy()
    purger = via(ops.place, proxy)
    rule = proxy.add("hold", when=first_write())  # its first delete: it has read everything
    purge = Background(lambda: purger.purge_artifact("app"), "purge")
    held = rule.wait(30)
    alias = Background(lambda: ops.put_alias("app", "prod", version=2), "put_alias")
    alias_outcome = alias.result(5)
    held.release("forward")
    purge_outcome = purge.result(60)
    assert purge_outcome is not None  # it may also refuse (a library error)
    if alias_outcome is None:  # put_alias waited for the purge
        alias_outcome = alias.result(60)
    assert alias_outcome is not None
    assert raw.dangling(ops.place, "app") == [], (
        f"put_alias: {alias_outcome.describe()}; aliases {raw.aliases(ops.place, 'app')}, "
        f"versions {sorted(raw.versions(ops.place, 'app'))}"
    )


def test_dynamodb_repository_wide_verify_reports_a_dangling_alias(
    make_repo: Callable[..., Ops], raw_dynamodb: Any
) -> None:
    """An alias item left behind by a purge (its artifact has no item and no object left)
    is reported by verify() without a name, not only by verify(name)."""
    ops = make_repo("s3_dynamodb")
    ops.publish_contents("app", [V1])
    raw_dynamodb.put_item(
        TableName=ops.place.table,
        Item={
            "pk": {"S": "__ghost-alias"},
            "sk": {"S": "prod"},
            "version": {"S": "000002"},
            "update_at": {"S": "2024-01-01T00:00:00.000000+0000"},
            "revision": {"S": "r1"},
        },
    )
    by_name = ops.verify("ghost")
    assert "dangling_alias" in by_name.kinds()  # what verify(name) already finds
    report = ops.verify()
    found = [p for p in report.problems if p.kind == "dangling_alias" and "ghost" in p.name]
    assert found, f"verify() reported {report.problems}"


# ------------------------------------------------------------ a deleter killed while put_alias runs
def _kill_scenario(
    ops: Ops,
    proxy: FaultProxy,
    worker: Worker,
    raw: RawStore,
    name: str,
    first_hold: int | None,
    kill_after: int,
    discard: bool,
) -> str:
    """The worker deletes version 2 through ``proxy``: paused at its first write (or at
    its ``first_hold``-th request), put_alias(prod -> 2) runs whole, then the worker goes on
    and is SIGKILLed at its ``kill_after``-th next request (which is then discarded or
    forwarded). Returns a description of a broken invariant, or ''."""
    place = ops.place
    two_versions_prod_on_1(ops, name)
    if first_hold is None:
        rule = proxy.add("hold", when=first_write())
    else:
        rule = proxy.add("hold", skip=first_hold - 1)
    worker.send(place, proxy.url, "delete_version", name=name, version=2)
    held = rule.wait(60)
    alias = Background(lambda: ops.put_alias(name, "prod", version=2), "put_alias")
    alias_outcome = alias.result(5)
    kill_rule = proxy.add("hold", skip=kill_after - 1)
    held.release("forward")
    killed = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        killed = kill_rule.poll(0.02)
        if killed is not None:
            worker.kill()
            killed.release("discard" if discard else "forward")
            killed.done.wait(10)
            break
        if worker.result(0) is not None:  # it finished before the kill point
            break
    proxy.remove(rule)
    proxy.remove(kill_rule)
    if alias_outcome is None:
        alias_outcome = alias.result(60)
    assert alias_outcome is not None
    aliases = raw.aliases(place, name)
    versions = raw.versions(place, name)
    where = f"(hold {first_hold or 'first write'}, kill after {kill_after}, killed={bool(killed)})"
    if aliases.get("prod") == ["2"]:
        stored = versions.get(2)
        if stored is None or stored.actual != sha256_hex(V2):
            trash = [k for k in raw.keys(place.bucket, f"{place.root}{name}/") if "trash" in k]
            return f"{where}: prod -> 2 but version 2 is gone; leftovers {trash}"
    dangling = raw.dangling(place, name)
    return f"{where}: dangling {dangling}" if dangling else ""


def test_s3_only_delete_killed_while_put_alias_runs_leaves_no_dangling_alias(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    raw: RawStore,
) -> None:
    ops = make_repo("s3_only")
    proxy = make_proxy()
    rng = random.Random(9006)
    # a sweep of kill points after the pause at the first write, then seeded random ones
    plan: list[tuple[int | None, int, bool]] = [(None, j, j % 2 == 0) for j in range(1, 7)]
    plan += [(rng.randint(1, 6), rng.randint(1, 6), rng.random() < 0.5) for _ in range(3)]
    failures: list[str] = []
    spares = [Worker(), Worker()]
    try:
        for index, (first_hold, kill_after, discard) in enumerate(plan):
            worker = spares.pop(0)
            spares.append(Worker())
            try:
                problem = _kill_scenario(
                    ops, proxy, worker, raw, f"killed-{index}", first_hold, kill_after, discard
                )
            finally:
                worker.kill()
            if problem:
                failures.append(problem)
    finally:
        for spare in spares:
            spare.kill()
    assert failures == [], f"{len(failures)} of {len(plan)} kill scenarios: {failures}"


# ---------------------------------------------------------------- two purges and put_alias
def _two_purges_plans() -> list[tuple[int, list[tuple[str, int | str | None]] | None]]:
    """(seed, script) per round. Scripted rounds: both purges read (each stops before its
    first write), put_alias runs whole, purge A goes on for ``n`` requests, purge B for 2,
    then A, then B finish. Then seeded random interleavings."""
    plans: list[tuple[int, list[tuple[str, int | str | None]] | None]] = []
    for n in range(2, 7):
        script: list[tuple[str, int | str | None]] = [
            ("purge_a", "write"),
            ("purge_b", "write"),
            ("alias", None),
            ("purge_a", n),
            ("purge_b", 2),
            ("purge_a", None),
            ("purge_b", None),
        ]
        plans.append((7000 + n, script))
    plans += [(7100 + r, None) for r in range(6)]
    return plans


def _summary(outcome: Outcome) -> str:
    if not outcome.ok:
        return outcome.describe()[:120]
    if isinstance(outcome.value, tuple):  # a purge: (time, deleted versions)
        return f"purged {[a.version for a in outcome.value[1]]}"
    return f"ok -> {getattr(outcome.value, 'version', outcome.value)}"


def test_s3_only_two_purges_and_put_alias_keep_the_alias_target(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    """Two purge_artifact_versions that both remove v1 and one put_alias(prod -> 1), their
    requests interleaved in scripted and seeded random orders: prod's target always
    exists."""
    ops = make_repo("s3_only")
    place = ops.place
    proxies = {label: make_proxy() for label in ("purge_a", "purge_b", "alias")}
    clients = {label: via(place, proxy) for label, proxy in proxies.items()}
    failures: list[str] = []
    plans = _two_purges_plans()
    for round_, (seed, script) in enumerate(plans):
        name = f"purged-{round_}"
        ops.publish_contents(name, [V1, V2])
        actors = {
            "purge_a": (
                proxies["purge_a"],
                functools.partial(clients["purge_a"].purge_versions, name, 1, 0),
            ),
            "purge_b": (
                proxies["purge_b"],
                functools.partial(clients["purge_b"].purge_versions, name, 1, 0),
            ),
            "alias": (
                proxies["alias"],
                functools.partial(clients["alias"].put_alias, name, "prod", version=1),
            ),
        }
        interleaver = Interleaver(actors, random.Random(seed), script=script)
        outcomes = interleaver.run(timeout=30)
        dangling = raw.dangling(place, name)
        if dangling:
            summary = {k: _summary(v) for k, v in outcomes.items()}
            kind = "scripted" if script else "random"
            failures.append(f"round {round_} ({kind}, seed {seed}): {dangling}; {summary}")
        for label, outcome in outcomes.items():
            if not outcome.ok and not isinstance(outcome.error, VersionedError):
                failures.append(f"round {round_}: {label} raised {outcome.describe()}")
    assert failures == [], f"{len(failures)} of {len(plans)} rounds: {failures}"
