"""One repository never destroys (or lists, or calls orphans) what
belongs to another: the two layouts on one prefix, two DynamoDB repositories on one
table, and an empty prefix in a bucket that holds other things."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Ops, Outcome, Place, RawStore, attempt
from _testkit import LAYOUTS, unique

from versioned.exc import VersionedError

V1, V2, LATEST = b"version one " * 20, b"version two " * 20, b"unpublished latest " * 20


def populate(ops: Ops, name: str) -> None:
    ops.publish_contents(name, [V1, V2])
    ops.put(name, LATEST)
    ops.put_alias(name, "prod", version=1)


def run_until_refused(steps: list[Callable[[], Any]]) -> Outcome | None:
    """Run the steps in order; the first library error stops them (and is returned)."""
    for step in steps:
        outcome = attempt(step)
        if not outcome.ok:
            return outcome
    return None


def intact(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What of ``before`` (a RawStore.snapshot) is missing or changed in ``after``."""
    lost = [
        f"object {key} {'deleted' if key not in after['objects'] else 'changed'}"
        for key, digest in before["objects"].items()
        if after["objects"].get(key) != digest
    ]
    lost += [
        f"item {key} {'deleted' if key not in after['items'] else 'changed'}"
        for key, item in before["items"].items()
        if after["items"].get(key) != item
    ]
    return lost


def orphans_naming(report: Any, keys: set[str]) -> list[str]:
    return [
        p.location
        for p in report.problems
        if p.kind == "orphan_object" and any(p.location.endswith(key) for key in keys)
    ]


# ---------------------------------------------------------------- two layouts on one prefix
@pytest.mark.parametrize("operation", ["purge_artifact", "purge_all"])
@pytest.mark.parametrize("victim", LAYOUTS)
def test_layouts_sharing_bucket_and_prefix_never_destroy_each_other(
    victim: str,
    operation: str,
    make_bsm: Callable[[], Any],
    raw: RawStore,
) -> None:
    """The victim layout holds "model"; the other layout, on the same bucket, prefix and
    suffix, is used for "model" too and then purges. Refusing the configuration with a
    library error is fine; destroying the victim's data, or calling it orphaned, is not."""
    bsm = make_bsm()
    bucket, table = unique("bkt"), unique("tbl")
    places = {
        "s3_only": Place("s3_only", bucket),
        "s3_dynamodb": Place("s3_dynamodb", bucket, table=table),
    }
    attacker_kind = "s3_dynamodb" if victim == "s3_only" else "s3_only"
    victim_ops, attacker = Ops(places[victim], bsm), Ops(places[attacker_kind], bsm)
    victim_ops.bootstrap()
    populate(victim_ops, "model")
    victim_table = table if victim == "s3_dynamodb" else None
    before = raw.snapshot(bucket, table=victim_table)

    problems: list[str] = []
    refused = run_until_refused([attacker.bootstrap, lambda: populate(attacker, "model")])
    if refused is None:
        ours = set(before["objects"])
        theirs = set(raw.snapshot(bucket)["objects"]) - ours
        victim_report = attempt(victim_ops.verify)
        if victim_report.ok:
            problems += [
                f"{victim} verify() calls {key} an orphan"
                for key in orphans_naming(victim_report.value, theirs)
            ]
        attacker_report = attempt(attacker.verify)
        if attacker_report.ok:
            problems += [
                f"{attacker_kind} verify() calls {key} an orphan"
                for key in orphans_naming(attacker_report.value, ours)
            ]
        destroy = (
            (lambda: attacker.purge_artifact("model"))
            if operation == "purge_artifact"
            else attacker.purge_all
        )
        refused = run_until_refused([destroy])
    losses = [
        f"{attacker_kind} {operation}: {loss}"
        for loss in intact(before, raw.snapshot(bucket, table=victim_table))
    ]
    problems = losses + problems
    assert problems == [], (
        f"{len(losses)} of the {victim} layout's objects/items destroyed, "
        f"{len(problems) - len(losses)} wrong orphan reports "
        f"(refused: {refused and refused.describe()}): {problems[:10]}"
    )


# ---------------------------------------------------------------- two repositories on one table
def _repositories_sharing_a_table(variant: str, bsm: Any) -> tuple[Ops, Ops]:
    """Two DynamoDB repositories on one table, in two buckets or at two prefixes of one
    bucket; the first bootstrapped and holding an artifact "app", the second untouched."""
    table = unique("tbl")
    first_place = Place("s3_dynamodb", unique("bkt"), table=table)
    if variant == "bucket":
        second_place = Place("s3_dynamodb", unique("bkt"), table=table)
    else:
        second_place = Place("s3_dynamodb", first_place.bucket, prefix="elsewhere", table=table)
    first, second = Ops(first_place, bsm), Ops(second_place, bsm)
    first.bootstrap()
    populate(first, "app")
    return first, second


@pytest.mark.parametrize("variant", ["bucket", "prefix"])
def test_second_repository_on_a_shared_table_is_refused(
    variant: str, make_bsm: Callable[[], Any], raw: RawStore
) -> None:
    first, second = _repositories_sharing_a_table(variant, make_bsm())
    first_place, second_place = first.place, second.place
    before = raw.snapshot(first_place.bucket, table=first_place.table)

    def bootstrap_and_list() -> list[Any]:
        second.bootstrap()
        return second.versions("app")

    outcome = attempt(bootstrap_and_list)
    assert not outcome.ok, (
        f"a repository on s3://{second_place.bucket}/{second_place.prefix} sharing table "
        f"{first_place.table!r} listed the other repository's versions: "
        f"{[a.version for a in outcome.value]}"
    )
    assert isinstance(outcome.error, VersionedError), outcome.describe()
    assert str(first_place.table) in str(outcome.error), outcome.describe()
    assert intact(before, raw.snapshot(first_place.bucket, table=first_place.table)) == []


@pytest.mark.parametrize("variant", ["bucket", "prefix"])
def test_purge_all_never_deletes_another_repositorys_items(
    variant: str, make_bsm: Callable[[], Any], raw: RawStore
) -> None:
    first, second = _repositories_sharing_a_table(variant, make_bsm())
    second_place = second.place
    refused = run_until_refused([second.bootstrap, lambda: populate(second, "other")])
    if refused is not None:  # refused: it has nothing A could delete
        assert isinstance(refused.error, VersionedError)
        return
    theirs = {
        key: item
        for key, item in raw.snapshot(second_place.bucket, table=second_place.table)[
            "items"
        ].items()
        if key[0] in ("other", "__other-alias")
    }
    assert theirs, "B wrote no items: the test proves nothing"
    first.purge_all()
    after = raw.snapshot(second_place.bucket, table=second_place.table)["items"]
    deleted = sorted(str(key) for key in theirs if key not in after)
    assert deleted == [], f"A.purge_all() deleted B's items {deleted}"


# ---------------------------------------------------------------- an empty prefix
@pytest.mark.parametrize("prefix", ["", "/"], ids=["empty", "slash"])
@pytest.mark.parametrize("kind", LAYOUTS)
def test_root_prefix_lists_and_purges_only_artifacts(
    kind: str, prefix: str, make_bsm: Callable[[], Any], raw: RawStore, raw_s3: Any
) -> None:
    bsm = make_bsm()
    place = Place(
        kind, unique("bkt"), prefix=prefix, table=unique("tbl") if kind != "s3_only" else None
    )
    ops = Ops(place, bsm)
    ops.bootstrap()
    for key in ("outside.txt", "other/thing"):
        raw_s3.put_object(Bucket=place.bucket, Key=key, Body=b"not an artifact")
    ops.publish_contents("app", [V1])
    problems: list[str] = []
    names = ops.names()
    if names != ["app"]:
        problems.append(f"list_artifact_names() -> {names}")
    ops.purge_all()
    survivors = set(raw.keys(place.bucket))
    for key in ("outside.txt", "other/thing"):
        if key not in survivors:
            problems.append(f"purge_all() deleted {key}")
    if raw.versions(place, "app"):
        problems.append("purge_all() left app's versions")
    assert problems == [], problems
