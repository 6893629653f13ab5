"""Round trips on the critical path, counted without a clock: every request of the call
is held at the proxy, and the requests a round trip must hold are all waited for before
any of them is answered. A library that sent one of them only after another's answer
would never send it while that one is held: the wait times out and the test fails.

Rows of docs/design.md's request budget table (issue 19): S3-only put_alias and
delete_alias read the retention guard's two documents with the state; a deletion reads
the running rollouts and the holds with its own first reads (both layouts)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Ops, Outcome, Place, attempt
from _faultproxy import FaultProxy
from _testkit import ServerFeatures, design_round_trips

WAIT_SECS = 10.0
COLUMNS = {"s3_only": "S3-only", "s3_dynamodb": "S3 + DynamoDB"}


def stated(row: str, kind: str, sizes: list[int]) -> list[int]:
    """``sizes``, once docs/design.md's budget table states as many round trips."""
    assert design_round_trips()[row][COLUMNS[kind]] == len(sizes), (row, kind, sizes)
    return sizes


def round_trips(proxy: FaultProxy, call: Callable[[], Any], sizes: list[int]) -> list[list[str]]:
    """Run ``call`` with every request held; answer them in rounds of ``sizes`` requests,
    each round only once all its requests have arrived. Returns each round's operations
    (sorted); fails when the call sends more than ``sum(sizes)`` requests, or fails."""
    rule = proxy.add("hold", times=None)
    outcome: list[Outcome] = []
    thread = threading.Thread(target=lambda: outcome.append(attempt(call)), daemon=True)
    thread.start()
    rounds: list[list[str]] = []
    try:
        for size in sizes:
            held = [rule.wait(WAIT_SECS) for _ in range(size)]
            rounds.append(sorted(h.request.operation for h in held))
            for one in held:
                one.release()
        thread.join(WAIT_SECS)
        assert not thread.is_alive(), f"the call sent more requests than {sizes}: {rounds}"
    finally:
        proxy.remove(rule)
        rule.release_all()
    assert outcome and outcome[0].ok, (outcome, rounds)
    extra = rule.poll(0)
    assert extra is None, f"a request beyond {sizes}: {extra.request.operation}"
    return rounds


@pytest.fixture
def through(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[str], tuple[Ops, Ops, FaultProxy]]:
    """through(kind) -> (direct ops, ops through a proxy whose repository record is
    checked already, the proxy); an artifact "app" with versions 1..3, alias prod on 1."""
    monkeypatch.setenv("VERSIONED_ACTOR", "tester")  # no STS lookup in the counts

    def make(kind: str) -> tuple[Ops, Ops, FaultProxy]:
        ops = make_repo(kind)
        ops.publish_contents("app", [b"one", b"two", b"three"])
        ops.put_alias("app", "prod", version=1)
        proxy = make_proxy()
        proxied = via(ops.place, proxy)
        proxied.names()  # the repository record (and the table's claim), checked once
        return ops, proxied, proxy

    return make


def test_s3_only_put_alias_reads_the_guard_with_the_state(through: Any) -> None:
    _, proxied, proxy = through("s3_only")
    rounds = round_trips(
        proxy,
        lambda: proxied.put_alias("app", "prod", version=2),
        stated("put alias", "s3_only", [3, 1, 1, 1]),
    )
    assert rounds[0] == ["s3.GetObject"] * 3  # state.json and the 2 retention documents
    assert rounds[1:] == [["s3.PutObject"]] * 3  # register, the alias object, landed


def test_s3_only_delete_alias_reads_the_guard_with_the_state(through: Any) -> None:
    _, proxied, proxy = through("s3_only")
    rounds = round_trips(
        proxy,
        lambda: proxied.delete_alias("app", "prod"),
        stated("delete alias", "s3_only", [4, 1, 1, 1]),
    )
    assert rounds[0] == ["s3.GetObject"] * 3 + ["s3.HeadObject"]
    assert rounds[1:] == [["s3.PutObject"], ["s3.DeleteObject"], ["s3.PutObject"]]


def test_a_protected_alias_is_refused_before_anything_is_written(through: Any, raw: Any) -> None:
    ops, proxied, proxy = through("s3_only")
    ops.set_retention("app", protected_aliases=["prod"])
    before = raw.snapshot(ops.place.bucket)
    rule = proxy.add("hold", times=None, when=lambda request: request.is_write)
    outcome = attempt(lambda: proxied.put_alias("app", "prod", version=2))
    proxy.remove(rule)
    assert type(outcome.error).__name__ == "ProtectedAliasError", outcome.describe()
    assert rule.matched == 0  # not one write was sent
    assert raw.snapshot(ops.place.bucket) == before


@pytest.mark.parametrize("kind", ["s3_only", "s3_dynamodb"])
def test_a_deletion_reads_rollouts_and_holds_with_its_first_reads(kind: str, through: Any) -> None:
    """S3-only: the rollouts' LIST and the holds beside the state GET and the two LISTs,
    then the CAS and the delete; DynamoDB: the rollouts' Query and the holds beside the
    versions' Query, then the aliases' Query, then the soft delete."""
    _, proxied, proxy = through(kind)
    sizes = stated("delete version", kind, [3, 1, 1] if kind == "s3_dynamodb" else [5, 1, 1])
    rounds = round_trips(proxy, lambda: proxied.delete_version("app", 2), sizes)
    if kind == "s3_dynamodb":
        assert rounds[0] == ["dynamodb.BatchGetItem", "dynamodb.Query", "dynamodb.Query"]
        assert rounds[1:] == [["dynamodb.Query"], ["dynamodb.UpdateItem"]]
    else:
        assert rounds[0] == ["s3.GetObject"] * 2 + ["s3.ListObjects"] * 3
        assert rounds[1:] == [["s3.PutObject"], ["s3.DeleteObjects"]]


def test_dynamodb_list_names_reads_known_names_with_the_listing(through: Any) -> None:
    """A listing sends its LIST and the BatchGetItem of the LATEST items of the folders
    the previous listing found together; a folder new since then costs one more."""
    ops, proxied, proxy = through("s3_dynamodb")
    rounds = round_trips(proxy, proxied.names, stated("list names", "s3_dynamodb", [2]))
    assert rounds == [["dynamodb.BatchGetItem", "s3.ListObjects"]]
    ops.put("new", b"bytes")
    rounds = round_trips(proxy, proxied.names, [2, 1])
    assert rounds == [["dynamodb.BatchGetItem", "s3.ListObjects"], ["dynamodb.BatchGetItem"]]
    assert proxied.names() == ["app", "new"]


def test_dynamodb_list_names_never_shows_a_folder_without_latest_item(
    through: Any, raw_s3: Any, raw_dynamodb: Any, server_features: ServerFeatures
) -> None:
    """Whatever the previous listing found: a folder of orphan objects only, a name whose
    items are gone, and a name whose folder is gone are not artifacts."""
    ops, proxied, _ = through("s3_dynamodb")
    ops.put("gone", b"bytes")
    place = ops.place
    raw_s3.put_object(Bucket=place.bucket, Key=f"{place.root}orphan/000001.bin", Body=b"x")
    assert proxied.names() == ["app", "gone"]  # the first listing: every folder read after
    assert proxied.names() == ["app", "gone"]  # known folders, read beside the LIST
    raw_dynamodb.delete_item(
        TableName=place.table, Key={"pk": {"S": "gone"}, "sk": {"S": "LATEST"}}
    )
    assert proxied.names() == ["app"]  # its objects stay; its LATEST item is gone
    for listed in raw_s3.list_objects_v2(Bucket=place.bucket, Prefix=f"{place.root}app/")[
        "Contents"
    ]:
        raw_s3.delete_object(Bucket=place.bucket, Key=listed["Key"])
    # its items stay; its folder is gone (SeaweedFS still lists an emptied folder)
    assert proxied.names() == (["app"] if server_features.s3_lists_emptied_folders else [])


# ---------------------------------------------------------------- put_alias onto a fresh version
def fresh_version(through: Any) -> tuple[Ops, Ops, FaultProxy]:
    """through("s3_only"), then version 4 published through the proxy: the repository
    object behind it stored the state that reserves 4 (3 and below are confirmed)."""
    ops, proxied, proxy = through("s3_only")
    proxied.put("app", b"four")
    assert proxied.publish("app").version == "4"
    return ops, proxied, proxy


def split_onto_4(proxied: Ops) -> Callable[[], Any]:
    return lambda: proxied.put_alias(
        "app", "prod", version=4, secondary_version=3, secondary_version_weight=20
    )


def onto_4(proxied: Ops) -> Callable[[], Any]:
    return lambda: proxied.put_alias("app", "prod", version=4)


def test_s3_only_put_alias_heads_a_fresh_version_with_the_state(through: Any) -> None:
    """The HEAD of a version published a moment ago goes with the state read: 4 round
    trips, as for a confirmed version."""
    ops, proxied, proxy = fresh_version(through)
    rounds = round_trips(proxy, split_onto_4(proxied), stated("put alias", "s3_only", [4, 1, 1, 1]))
    assert rounds[0] == ["s3.GetObject"] * 3 + ["s3.HeadObject"]
    assert rounds[1:] == [["s3.PutObject"]] * 3
    assert ops.get_alias("app", "prod").version == "4"


def test_s3_only_put_alias_heads_after_the_read_when_the_state_moved(through: Any) -> None:
    """Another writer changed the state since this repository object saw it: the HEAD
    made beside the read does not count (nothing proves no deletion ran in between), and
    the version is HEADed again after the read: one round trip more, nothing unsafe."""
    ops, proxied, proxy = fresh_version(through)
    ops.put_alias("app", "other", version=2)  # the state changes behind proxied's back
    rounds = round_trips(proxy, split_onto_4(proxied), [4, 1, 1, 1, 1])
    assert rounds[0] == ["s3.GetObject"] * 3 + ["s3.HeadObject"]
    assert rounds[1:] == [["s3.HeadObject"]] + [["s3.PutObject"]] * 3
    assert ops.get_alias("app", "prod").version == "4"


STATE_JSON = r"/app/state\.json$"
VERSION_4 = r"/app/versions/[^/]*_0*4(\.[^/]*)?$"


def hold_read_after_head(proxy: FaultProxy, call: Callable[[], Any]) -> tuple[Any, Any]:
    """Start ``call`` with its state GET held and its first version HEAD answered by the
    server but not yet delivered; returns (release, outcome) once both are held."""
    read = proxy.add("hold", method="GET", path=STATE_JSON)
    head = proxy.add("hold_response", method="HEAD", path=VERSION_4)
    outcome: list[Outcome] = []
    thread = threading.Thread(target=lambda: outcome.append(attempt(call)), daemon=True)
    thread.start()
    held = [read.wait(WAIT_SECS), head.wait(WAIT_SECS)]

    def release() -> Outcome:
        proxy.remove(read)
        proxy.remove(head)
        for one in held:
            one.release()
        thread.join(WAIT_SECS)
        assert outcome, "put_alias did not finish"
        return outcome[0]

    return release, held


def assert_not_pointing_at_4(raw: Any, ops: Ops, outcome: Outcome) -> None:
    assert type(outcome.error).__name__ == "ArtifactNotFoundError", outcome.describe()
    assert 4 not in raw.versions(ops.place, "app")
    assert raw.aliases(ops.place, "app")["prod"] == ["1"]  # unchanged
    assert raw.dangling(ops.place, "app") == []


def test_a_deletion_between_the_early_head_and_the_read_is_seen(through: Any, raw: Any) -> None:
    """The HEAD saw version 4; a deletion of 4 then runs to the end (marks, deletes the
    object) before the state read is answered. The state read is not the document the
    HEAD was vouched by, so 4 is HEADed again: gone, put_alias refuses."""
    ops, proxied, proxy = fresh_version(through)
    release, _ = hold_read_after_head(proxy, split_onto_4(proxied))
    ops.delete_version("app", 4)
    assert 4 not in raw.versions(ops.place, "app")
    assert_not_pointing_at_4(raw, ops, release())


def test_a_deletion_right_after_the_read_fails_the_registration(through: Any, raw: Any) -> None:
    """The early HEAD and the state read both answered (4 exists, reserved); a deletion
    of 4 runs to the end before the registration is sent: its If-Match fails, the next
    pass reads the deletion's mark and put_alias refuses."""
    ops, proxied, proxy = fresh_version(through)
    register = proxy.add("hold", method="PUT", path=STATE_JSON)
    outcome: list[Outcome] = []
    thread = threading.Thread(
        target=lambda: outcome.append(attempt(split_onto_4(proxied))), daemon=True
    )
    thread.start()
    held = register.wait(WAIT_SECS)
    proxy.remove(register)
    ops.delete_version("app", 4)
    held.release()
    thread.join(WAIT_SECS)
    assert outcome, "put_alias did not finish"
    assert_not_pointing_at_4(raw, ops, outcome[0])


def test_a_purge_and_a_new_artifact_between_the_head_and_the_read(through: Any, raw: Any) -> None:
    """The HEAD saw version 4; the artifact is then purged and put and published again
    (version 1 only: 4 is above the new state's high-water mark) before the state read
    is answered. A high-water mark alone would vouch for the stale HEAD; the state is
    not the document this repository object saw, so 4 is HEADed again and refused."""
    ops, proxied, proxy = fresh_version(through)
    release, _ = hold_read_after_head(proxy, onto_4(proxied))
    ops.purge_artifact("app")
    ops.put("app", b"again")
    assert ops.publish("app").version == "1"
    outcome = release()
    assert type(outcome.error).__name__ == "ArtifactNotFoundError", outcome.describe()
    assert sorted(raw.versions(ops.place, "app")) == [1]
    assert "prod" not in raw.aliases(ops.place, "app")
    assert raw.dangling(ops.place, "app") == []


def test_a_purge_and_a_new_reservation_of_4_between_the_head_and_the_read(
    through: Any, raw: Any, make_proxy: Callable[[], FaultProxy], via: Any
) -> None:
    """The HEAD saw version 4; the artifact is then purged and published again up to a
    new reservation of 4 whose copy has not landed (4 is pending in the new state, its
    key empty) before the state read is answered. A pending entry alone would vouch for
    the stale HEAD; the state is not the document this repository object saw, so 4 is
    HEADed again and refused."""
    ops, proxied, proxy = fresh_version(through)
    release, _ = hold_read_after_head(proxy, onto_4(proxied))
    ops.purge_artifact("app")
    ops.publish_contents("app", [b"1", b"2", b"3"])
    other = make_proxy()
    copy = other.add("hold", method="PUT", path=VERSION_4)
    fourth = via(ops.place, other)
    fourth.put("app", b"4")
    publishing = threading.Thread(target=lambda: attempt(lambda: fourth.publish("app")))
    publishing.start()
    held = copy.wait(WAIT_SECS)
    try:
        state = json.loads(raw.data(ops.place.bucket, f"{ops.place.root}app/state.json"))
        assert state["versions"]["4"]["status"] == "pending"  # reserved, the key empty
        outcome = release()
        assert type(outcome.error).__name__ == "ArtifactNotFoundError", outcome.describe()
        assert sorted(raw.versions(ops.place, "app")) == [1, 2, 3]
        assert "prod" not in raw.aliases(ops.place, "app")
    finally:
        other.remove(copy)
        held.release()
        publishing.join(WAIT_SECS)


def test_s3_only_put_alias_heads_latest_with_the_state(through: Any) -> None:
    """LATEST is never vouched for by the state: its HEAD goes with the state read once
    this repository object has seen the state (here, by its previous alias write)."""
    ops, proxied, proxy = through("s3_only")
    proxied.put_alias("app", "prod", version=2)
    proxied.put("app", b"newest")
    rounds = round_trips(
        proxy,
        lambda: proxied.put_alias("app", "prod"),
        stated("put alias", "s3_only", [4, 1, 1, 1]),
    )
    assert rounds[0] == ["s3.GetObject"] * 3 + ["s3.HeadObject"]
    assert ops.get_alias("app", "prod").version == "LATEST"


# ------------------------------------------------------- the first alias write of a process
@pytest.mark.parametrize("kind", ["s3_only", "s3_dynamodb"])
def test_the_first_alias_write_looks_up_its_actor_beside_the_repository_check(
    kind: str,
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new process's first alias write (the CLI's every one): the caller's identity
    (STS GetCallerIdentity, for alias history's actor) and the repository record's read
    go together, then the write's own round trips. (Where S3 is not moto, the STS request
    is answered with an error: the OS user is recorded; it still counts here.)"""
    monkeypatch.delenv("VERSIONED_ACTOR", raising=False)
    ops = make_repo(kind)
    ops.publish_contents("app", [b"one", b"two"])
    ops.put_alias("app", "prod", version=1)
    proxy = make_proxy()
    fresh = via(ops.place, proxy)  # a new repository object and session: nothing known
    first = ["s3.GetObject", "s3.Post"] + (["dynamodb.GetItem"] if kind == "s3_dynamodb" else [])
    # then the write's own round trips: S3-only one more (the HEAD of version 2: this new
    # repository object has not seen the state: test_s3_only_put_alias_heads_after_...)
    own = design_round_trips()["put alias"][COLUMNS[kind]]
    then = [3, 1, 1, 1, 1] if kind == "s3_only" else [1] * own
    assert kind == "s3_dynamodb" or own == 4
    sizes = [len(first), *then]
    rounds = round_trips(proxy, lambda: fresh.put_alias("app", "prod", version=2), sizes)
    assert rounds[0] == sorted(first)
    assert ops.get_alias("app", "prod").version == "2"
