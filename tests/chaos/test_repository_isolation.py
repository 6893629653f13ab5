"""One repository per bucket and prefix: a second repository there (another table,
suffix or layout) is refused before it reads or writes anything, whether the first one
recorded itself or was made by the seed's library (adopted from its keys); the record is
written create-only, so of two repositories starting at once exactly one wins."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Ops, Place, RawStore, attempt, interleave_at
from _faultproxy import FaultProxy
from _testkit import LAYOUTS, RequestCounter, make_session, unique

from versioned.exc import CorruptRecordError, RepositoryConflictError

V1, V2, LATEST = b"version one " * 20, b"version two " * 20, b"unpublished latest " * 20
MARKER = ".versioned-repository.json"


def populate(ops: Ops, name: str = "model") -> None:
    ops.publish_contents(name, [V1, V2])
    ops.put(name, LATEST)
    ops.put_alias(name, "prod", version=1)


def every_operation(ops: Ops) -> dict[str, Callable[[], Any]]:
    """Each public operation of ``ops`` on artifact "model"."""
    return {
        "bootstrap": ops.bootstrap,
        "put": lambda: ops.put("model", b"intruder"),
        "publish": lambda: ops.publish("model"),
        "get": lambda: ops.get("model"),
        "versions": lambda: ops.versions("model"),
        "names": ops.names,
        "put_alias": lambda: ops.put_alias("model", "prod", version=1),
        "get_alias": lambda: ops.get_alias("model", "prod"),
        "delete_version": lambda: ops.delete_version("model", 1),
        "purge_versions": lambda: ops.purge_versions("model", 0, 0),
        "purge_artifact": lambda: ops.purge_artifact("model"),
        "purge_all": ops.purge_all,
        "verify": ops.verify,
    }


def second_repositories(first: Place) -> dict[str, Place]:
    """Other repositories on the first one's bucket and prefix."""
    table = unique("tbl")
    return {
        "other_table": Place("s3_dynamodb", first.bucket, suffix=first.suffix, table=table),
        "other_suffix": dataclasses.replace(first, suffix=".txt"),
        "other_layout": (
            Place("s3_dynamodb", first.bucket, suffix=first.suffix, table=table)
            if first.kind == "s3_only"
            else Place("s3_only", first.bucket, suffix=first.suffix)
        ),
    }


def refused_everything(intruder: Ops, first: Place) -> list[str]:
    problems = []
    for operation, call in every_operation(intruder).items():
        outcome = attempt(call)
        if outcome.ok or not isinstance(outcome.error, RepositoryConflictError):
            problems.append(f"{operation}: {outcome.describe()}")
        elif f"s3://{first.bucket}/{first.root}" not in str(outcome.error):
            problems.append(f"{operation} does not name the prefix: {outcome.error}")
    return problems


SECONDS = [
    (kind, second)
    for kind in LAYOUTS
    for second in ("other_table", "other_suffix", "other_layout")
    if (kind, second) != ("s3_only", "other_table")  # an S3-only repository has no table
]


@pytest.mark.parametrize(("kind", "second"), SECONDS)
@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "seed_made"])
def test_a_second_repository_on_a_prefix_is_refused_and_harms_nothing(
    kind: str, second: str, recorded: bool, make_bsm: Callable[[], Any], raw: RawStore
) -> None:
    """Every operation of the second repository raises RepositoryConflictError naming
    the prefix; the first repository's objects and items are untouched (without a record,
    as the seed's library leaves its prefix, the first one is recognised by its keys)."""
    bsm = make_bsm()
    first = Place(kind, unique("bkt"), table=unique("tbl") if kind == "s3_dynamodb" else None)
    owner = Ops(first, bsm)
    owner.bootstrap()
    populate(owner)
    if not recorded:
        raw.s3.delete_object(Bucket=first.bucket, Key=f"{first.root}{MARKER}")
    before = raw.snapshot(first.bucket, table=first.table)
    intruder_place = second_repositories(first)[second]
    problems = refused_everything(Ops(intruder_place, bsm), first)
    after = raw.snapshot(first.bucket, table=first.table)
    changed = sorted(
        k for k in before["objects"] if after["objects"].get(k) != before["objects"][k]
    )
    changed += sorted(
        str(k) for k in before["items"] if after["items"].get(k) != before["items"][k]
    )
    assert problems == [] and changed == [], (problems, changed)
    if intruder_place.table is not None and intruder_place.table != first.table:
        assert intruder_place.table not in raw.dynamodb.list_tables()["TableNames"]
    assert owner.get_alias("model", "prod").version == "1"


@pytest.mark.parametrize("kind", LAYOUTS)
def test_a_repository_the_seed_made_is_adopted_on_first_use(
    kind: str, make_bsm: Callable[[], Any], raw: RawStore
) -> None:
    """No record but artifacts of this repository: the first call records it (the layout
    inferred from the keys), and the repository works as before."""
    bsm = make_bsm()
    place = Place(kind, unique("bkt"), table=unique("tbl") if kind == "s3_dynamodb" else None)
    Ops(place, bsm).bootstrap()
    populate(Ops(place, bsm))
    raw.s3.delete_object(Bucket=place.bucket, Key=f"{place.root}{MARKER}")
    fresh = Ops(place, bsm)
    assert fresh.names() == ["model"]
    stored = raw.data(place.bucket, f"{place.root}{MARKER}")
    assert stored is not None, "a read of the seed's artifacts did not record the repository"
    record = json.loads(stored)
    layout = "s3_and_dynamodb" if place.ddb else "s3_only"
    assert (record["layout"], record["suffix"], record["table"]) == (
        layout,
        place.suffix,
        place.table,
    )


def test_a_read_of_an_empty_prefix_writes_nothing(
    make_bsm: Callable[[], Any], raw: RawStore
) -> None:
    place = Place("s3_only", unique("bkt"))
    raw.s3.create_bucket(Bucket=place.bucket)
    assert Ops(place, make_bsm()).names() == []
    assert raw.keys(place.bucket) == []


@pytest.mark.parametrize("kind", LAYOUTS)
def test_the_record_is_no_artifact_no_orphan_and_survives_purge_all(
    kind: str, make_bsm: Callable[[], Any], raw: RawStore
) -> None:
    bsm = make_bsm()
    place = Place(kind, unique("bkt"), table=unique("tbl") if kind == "s3_dynamodb" else None)
    ops = Ops(place, bsm)
    ops.bootstrap()
    populate(ops)
    assert ops.names() == ["model"]
    assert ops.verify().problems == []
    ops.purge_all()
    assert raw.keys(place.bucket) == [f"{place.root}{MARKER}"]
    intruder = second_repositories(place)["other_layout"]
    assert not attempt(Ops(intruder, bsm).bootstrap).ok, "purge_all freed the prefix"


@pytest.mark.parametrize("kind", LAYOUTS)
def test_the_record_costs_one_request_once_per_repository_object(
    kind: str, make_bsm: Callable[[], Any]
) -> None:
    """A new repository object on a recorded prefix: one GET on its first call, none after
    (beside the DynamoDB table claim's GetItem: the layout's own first-use read)."""
    place = Place(kind, unique("bkt"), table=unique("tbl") if kind == "s3_dynamodb" else None)
    Ops(place, make_bsm()).bootstrap()
    bsm = make_bsm()
    counter = RequestCounter.attach(bsm)
    ops = Ops(place, bsm)
    ops.names()
    first = list(counter.operations)
    counter.reset()
    ops.names()
    again = list(counter.operations)
    # the record's GET first (on S3 + DynamoDB sent together with the table claim's GetItem)
    together = ["dynamodb.GetItem", "s3.GetObject"] if kind == "s3_dynamodb" else ["s3.GetObject"]
    assert sorted(first[: len(together)]) == together, first
    assert first.count("s3.GetObject") == 1 and "s3.GetObject" not in again, (first, again)
    assert "s3.PutObject" not in first, first
    assert first.count("s3.ListObjectsV2") == again.count("s3.ListObjectsV2"), (first, again)


@pytest.mark.parametrize("kind", LAYOUTS)
def test_two_repositories_starting_on_one_prefix_at_once_exactly_one_wins(
    kind: str, endpoints: Any, make_proxy: Callable[[], FaultProxy], raw: RawStore
) -> None:
    """A is held just before it writes the record (after reading that none exists); B,
    another repository, records itself meanwhile; A's create-only write loses and A is
    refused, writing nothing."""
    bucket = unique("bkt")
    raw.s3.create_bucket(Bucket=bucket)
    a_place = Place(kind, bucket, table=unique("tbl") if kind == "s3_dynamodb" else None)
    b_table = unique("tbl") if kind == "s3_dynamodb" else None
    b_place = dataclasses.replace(a_place, suffix=".txt", table=b_table)
    proxy = make_proxy()
    a_ops = Ops(a_place, make_session(proxy.url))
    b_ops = Ops(b_place, make_session(endpoints))
    # A's bootstrap: GET record (absent), LIST prefix, PUT record <- held at the 3rd
    a, b, reached = interleave_at(proxy, a_ops.bootstrap, 3, b_ops.bootstrap)
    assert reached
    assert b is not None and b.ok, b and b.describe()
    assert a is not None and isinstance(a.error, RepositoryConflictError), a and a.describe()
    b_ops.put("model", V2)
    assert isinstance(attempt(lambda: a_ops.put("model", V1)).error, RepositoryConflictError)
    record = json.loads(raw.data(bucket, f"{a_place.root}{MARKER}") or b"{}")
    assert record["suffix"] == ".txt"
    assert not any(key.endswith(".bin") for key in raw.keys(bucket))
    if a_place.table is not None:
        assert a_place.table not in raw.dynamodb.list_tables()["TableNames"]


@pytest.mark.parametrize("kind", LAYOUTS)
def test_verify_reports_a_prefix_shared_with_another_repository(
    kind: str, make_bsm: Callable[[], Any], raw: RawStore
) -> None:
    """Keys of the other layout or of another suffix written beside ours (by the seed's
    library, which checks no record): one shared_prefix problem per artifact, no orphans."""
    bsm = make_bsm()
    place = Place(kind, unique("bkt"), table=unique("tbl") if kind == "s3_dynamodb" else None)
    ops = Ops(place, bsm)
    ops.bootstrap()
    populate(ops)
    if kind == "s3_only":
        foreign = ["model/000001.bin", "model/LATEST.bin", "model/versions/999999_000001.txt"]
    else:
        foreign = ["model/versions/999999_000001.bin", "model/state.json", "model/000001.txt"]
    for key in foreign:
        raw.s3.put_object(Bucket=place.bucket, Key=f"{place.root}{key}", Body=b"x")
    problems = ops.verify().problems
    kinds = sorted((p.kind, p.name) for p in problems)
    assert kinds == [("shared_prefix", "model")] * 2, problems


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"layout": "zip", "suffix": ".bin"}'])
def test_an_unreadable_record_is_named_and_verify_reports_it(
    body: bytes, make_bsm: Callable[[], Any], raw: RawStore
) -> None:
    bsm = make_bsm()
    place = Place("s3_only", unique("bkt"))
    ops = Ops(place, bsm)
    ops.bootstrap()
    populate(ops)
    key = f"{place.root}{MARKER}"
    raw.s3.put_object(Bucket=place.bucket, Key=key, Body=body)
    fresh = Ops(place, bsm)
    outcome = attempt(lambda: fresh.get("model"))
    assert isinstance(outcome.error, CorruptRecordError) and key in str(outcome.error)
    report = fresh.verify()
    assert [(p.kind, p.location) for p in report.problems] == [("corrupt_record", key)]
