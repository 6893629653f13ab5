"""The S3-only layout's state.json protocol: interleavings, lost responses and SIGKILLs
that each broke one of the layout's promises once. Every test forces its interleaving
with proxy holds, never with sleeps."""

from __future__ import annotations

from collections.abc import Callable

from _chaoskit import Background, Ops, Place, RawStore, Worker
from _faultproxy import FaultProxy
from _testkit import MiB, unique
from _testkit import sha256_hex as sha

from versioned.exc import ArtifactNotFoundError

V1, V2, V3 = b"version one " * 20, b"version two " * 20, b"version three " * 20

STATE_PUT = {"method": "PUT", "path": r"/state\.json$"}


def test_lost_register_response_does_not_roll_back_a_later_registration(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    """Promise (c). prod -> 1; versions 1 and 2.

    1. A: put_alias(qa -> 1). Its registering CAS on state.json is applied by the server,
       but the response is lost (held, then the connection dropped).
    2. B: put_alias(prod -> 2) registers in state.json (CAS on A's document) and is paused
       before it writes the alias object.
    3. A's botocore retries the CAS: 412; A reads state.json back, finds its token and
       takes that document's ETag, which already holds B's registration, as the ETag of
       its *own* write. Its "landed" CAS then writes A's local state (without B's
       registration) If-Match that ETag: B's registration is rolled back.
    4. delete_version(2) reads a state in which nothing routes to 2, and deletes it.
    5. B goes on, writes prod -> 2 and returns success: prod points at a deleted version.
    """
    ops = make_repo("s3_only")
    place = ops.place
    name = unique("clobber")
    ops.publish_contents(name, [V1, V2])
    ops.put_alias(name, "prod", version=1)

    proxy_a, proxy_b = make_proxy(), make_proxy()
    client_a, client_b = via(place, proxy_a), via(place, proxy_b)

    lost = proxy_a.add("hold_response", **STATE_PUT)
    a = Background(lambda: client_a.put_alias(name, "qa", version=1), "A")
    a_held = lost.wait(30)  # applied by the server; A has no answer yet

    paused = proxy_b.add("hold", method="PUT", path=r"/aliases/prod\.json$")
    b = Background(lambda: client_b.put_alias(name, "prod", version=2), "B")
    b_held = paused.wait(30)  # B registered prod -> 2 and is about to write the object

    a_held.release("drop")  # A's answer is lost: botocore retries the CAS
    a_outcome = a.result(60)
    assert a_outcome is not None and a_outcome.ok, a_outcome

    deleted = Background(lambda: ops.delete_version(name, 2), "delete")
    delete_outcome = deleted.result(60)
    assert delete_outcome is not None

    b_held.release("forward")
    b_outcome = b.result(60)
    assert b_outcome is not None

    aliases = raw.aliases(place, name)
    dangling = raw.dangling(place, name)
    assert dangling == [], (
        f"put_alias(prod -> 2): {b_outcome.describe()}; delete_version(2): "
        f"{delete_outcome.describe()}; aliases {aliases}, versions "
        f"{sorted(raw.versions(place, name))}"
    )


def test_publish_after_a_killed_delete_does_not_hand_out_the_doomed_version(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    raw: RawStore,
) -> None:
    """Promises (g) and (c). Versions 1 and 2, LATEST holds version 2's bytes.

    1. A worker's delete_version(2) marks 2 ``deleting`` in state.json and is SIGKILLed
       before its DeleteObjects reaches the server: version 2 stays, marked.
    2. publish() finds LATEST unchanged since the newest listed version, 2, and returns
       it, though it is doomed: put_alias refuses it ("has no version 2"), and the next
       deletion of anything (here delete_version(1)) deletes it as a leftover. A version
       publish handed out is then gone without anyone deleting it, and since LATEST is
       unchanged every later publish hands out the same doomed number.
    """
    ops = make_repo("s3_only")
    place = ops.place
    name = unique("doomed")
    ops.publish_contents(name, [V1, V2])
    proxy = make_proxy()
    worker = Worker()
    try:
        before_delete = proxy.add("hold", method="POST", query="delete")
        worker.send(place, proxy.url, "delete_version", name=name, version=2)
        held = before_delete.wait(60)  # marked "deleting"; the delete is not sent yet
        worker.kill()
        held.release("discard")
    finally:
        worker.kill()
    assert sorted(raw.versions(place, name)) == [1, 2]

    published = ops.publish(name)
    assert published.sha256 == sha(V2)
    alias = Background(lambda: ops.put_alias(name, "prod", version=published.version))
    alias_outcome = alias.result(60)
    assert alias_outcome is not None
    ops.delete_version(name, 1)
    stored = raw.versions(place, name).get(int(published.version))
    assert alias_outcome.ok and stored is not None and stored.actual == sha(V2), (
        f"publish returned version {published.version}; put_alias to it: "
        f"{alias_outcome.describe()}; after delete_version(1) it is "
        f"{'gone' if stored is None else 'there'}; aliases {raw.aliases(place, name)}"
    )
    assert raw.dangling(place, name) == []


BIG = {"multipart_threshold": 5 * MiB, "part_size": 5 * MiB, "single_copy_limit": 5 * MiB}


def test_large_publish_landing_after_purge_artifact_leaves_nothing_behind(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    """purge_artifact. LATEST holds X, above single_copy_limit (a multipart copy).

    1. publish() reserves 2, copies X's parts and HEADs LATEST (unchanged); its
       CompleteMultipartUpload is held before it reaches the server.
    2. purge_artifact() runs whole: marks the state purging, deletes LATEST, lists and
       deletes every key, deletes the state; it returns.
    3. The held request creates version 2 (its key is free).

    Before the fix publish returned version 2: the purged artifact was back, with a
    version and no LATEST, no state. Now publish reads the state after its copy landed,
    finds the artifact purged, takes its copy back and raises ArtifactNotFoundError.
    (On AWS one long CopyObject, up to 5 GiB, can land after a purge the same way: it
    reads its source before the purge deletes LATEST. Here a held CopyObject reaches
    the server after LATEST is gone and fails, so that case cannot be staged.)
    """
    ops = make_repo("s3_only", **BIG)
    place = ops.place
    name = unique("revenant")
    x = bytes(range(256)) * (6 * MiB // 256)
    ops.publish_contents(name, [V1])
    ops.put(name, x)
    proxy = make_proxy()
    publisher = via(place, proxy)
    rule = proxy.add("hold", method="POST", query="uploadId", path=r"/versions/\d{6}_\d{6}")
    publish = Background(lambda: publisher.publish(name), "publish")
    held = rule.wait(60)
    ops.purge_artifact(name)
    assert raw.keys(place.bucket, f"{place.root}{name}/") == []
    held.release("forward")
    outcome = publish.result(120)
    assert outcome is not None
    left = raw.keys(place.bucket, f"{place.root}{name}/")
    assert left == [], (
        f"purge_artifact returned; then publish: {outcome.describe()}; keys left {left}; "
        f"names {ops.names()}"
    )
    assert isinstance(outcome.error, ArtifactNotFoundError), outcome.describe()
    assert name not in ops.names()


def test_lost_create_response_still_yields_to_a_later_deletion(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    """Promise (f). qa does not exist.

    1. W: put_alias(qa -> 1) registers (seq n) and is held before its create (PutObject
       If-None-Match) reaches the server.
    2. D: delete_alias(qa) sees no object but W's registration, registers the deletion
       (seq n+1), has nothing to delete, records it landed and returns True.
    3. W's create is applied but its response is lost; botocore retries it: 412. W reads
       the object, finds its own token, and reports "nothing created". Its landed step
       would take back a create that landed after a later deletion, but now believes it
       created nothing: qa stays, and D's deletion is silently undone. With the response
       delivered, the same interleaving ends without qa.
    """
    ops = make_repo("s3_only")
    place = ops.place
    name = unique("undeleted")
    ops.publish_contents(name, [V1])
    proxy = make_proxy()
    writer = via(place, proxy)
    rule = proxy.add("hold", method="PUT", path=r"/aliases/qa\.json$")
    put = Background(lambda: writer.put_alias(name, "qa", version=1), "W")
    held = rule.wait(30)
    deleted = Background(lambda: ops.delete_alias(name, "qa"), "D")
    delete_outcome = deleted.result(60)
    assert delete_outcome is not None and delete_outcome.ok, delete_outcome
    held.release("drop")  # applied, answer lost: botocore retries the create
    put_outcome = put.result(60)
    assert put_outcome is not None
    assert "qa" not in raw.aliases(place, name), (
        f"delete_alias(qa) registered after put_alias(qa) and returned; put_alias: "
        f"{put_outcome.describe()}; qa still exists: {raw.aliases(place, name)}"
    )


def test_a_copy_retried_after_its_lost_response_never_renames_a_handed_out_number(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    """Found by benchmarks/stress.py (chaos, seed 9): one number handed out for two
    contents. LATEST holds V2; version 1 exists.

    1. P1 publishes: reserves 2 and copies V2 there. The server applies the copy; its
       response is held, then lost.
    2. P2 publishes: lists version 2 (reserved for V2's sha256, and its object holds V2)
       and returns version 2 = V2.
    3. V3 is put.
    4. P1's client retries its CopyObject. AWS refuses it (IfNoneMatch: version 2
       exists); moto ignores both IfNoneMatch and CopySourceIfMatch on CopyObject and
       copied V3 over version 2, so version 2, handed out as V2, named V3. A copy is
       never sent again blindly: version 2 must still hold V2, and P1 answers V2 too.
    """
    ops = make_repo("s3_only")
    place = ops.place
    name = unique("retried")
    ops.publish_contents(name, [V1])
    ops.put(name, V2)
    proxy = make_proxy()
    p1 = via(place, proxy)
    rule = proxy.add("hold_response", method="PUT", path=r"/versions/\d{6}_\d{6}")
    first = Background(lambda: p1.publish(name), "P1")
    held = rule.wait(60)
    second = ops.publish(name)
    assert (second.version, second.sha256) == ("2", sha(V2))
    ops.put(name, V3)
    held.release("drop")
    outcome = first.result(120)
    assert outcome is not None
    stored = raw.versions(place, name)[2]
    assert stored.actual == stored.recorded == sha(V2), "version 2 now names other bytes"
    assert outcome.ok, outcome.describe()
    assert (outcome.value.version, outcome.value.sha256) == ("2", sha(V2)), outcome.describe()


def test_publish_racing_puts_keeps_its_number_and_leaves_no_gap(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    """Numbers are consecutive. Version 1 exists; LATEST holds other bytes.

    publish() reserves 2 and copies LATEST there, CopySourceIfMatch its ETag. Each time
    its CopyObject is about to reach the server, another client puts new content, so
    the copy is refused (the source changed) five times in a row; then it goes through.

    Before the fix publish gave the reserved number up after three refused copies and
    reserved the next one: the given-up number never got an object, a gap in the
    numbering that no later publish fills (SeaweedFS showed one under 16 threads of put
    and publish). Now the reserved number is copied to until it lands or the call's
    deadline passes; publish returns 2, holding what LATEST held when the copy landed.
    """
    ops = make_repo("s3_only")
    place = ops.place
    name = unique("gapless")
    ops.publish_contents(name, [V1])
    ops.put(name, V2)
    proxy = make_proxy()
    publisher = via(place, proxy)
    rule = proxy.add(
        "hold",
        method="PUT",
        path=r"/versions/\d{6}_\d{6}",
        headers={"x-amz-copy-source": "."},
        times=None,
    )
    publish = Background(lambda: publisher.publish(name), "publish")
    last, refused = V2, 0
    while refused < 5 and publish.running:
        held = rule.poll(0.2)
        if held is None:
            continue  # a server that ignores CopySourceIfMatch copied the new content
        last = f"racing put {refused} ".encode() * 20
        ops.put(name, last)
        held.release("forward")
        refused += 1
    proxy.remove(rule)
    rule.release_all()
    outcome = publish.result(120)
    assert outcome is not None and outcome.ok, outcome
    published = outcome.value
    numbers = sorted(raw.versions(place, name))
    assert numbers == list(range(1, max(numbers) + 1)), f"gap in {numbers}"
    assert int(published.version) == 2, (published.version, numbers)
    stored = raw.versions(place, name)[2]
    assert stored.actual == published.sha256 == sha(last)
    assert int(ops.publish(name).version) == 2  # LATEST unchanged: the same version
