"""The S3 + DynamoDB protocol (LATEST's write queue, publish, adopted writes):
interleavings, crash points and lost responses that broke a promise of the layout (each
test failed on the code it was written against)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from _chaoskit import Background, Ops, Place, RawStore, attempt, encode_content, workers
from _faultproxy import FaultProxy, Request
from _testkit import sha256_hex as sha

V1, V2, V3 = b"version one " * 20, b"version two " * 20, b"version three " * 20


def _set_latest(raw: RawStore, place: Place, name: str, expression: str, **values: Any) -> None:
    """A raw UpdateItem of the artifact's LATEST item (plain boto3, not the library)."""
    assert place.table is not None
    from boto3.dynamodb.types import TypeSerializer

    serialize = TypeSerializer().serialize
    raw.dynamodb.update_item(
        TableName=place.table,
        Key={"pk": {"S": name}, "sk": {"S": "LATEST"}},
        UpdateExpression=expression,
        ExpressionAttributeValues={f":{k}": serialize(v) for k, v in values.items()},
    )


def _hour_ago() -> str:
    moment = datetime.now(UTC) - timedelta(hours=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _latest_put(place: Place) -> Callable[[Request], bool]:
    key = f"/{place.bucket}/{place.root}app/LATEST{place.suffix}"

    def predicate(request: Request) -> bool:
        return request.service == "s3" and request.method == "PUT" and request.path == key

    return predicate


# ---------------------------------------------------------------- the lease's clock
def test_a_turn_taken_on_an_idle_queue_is_not_skipped_at_once(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    """The artifact was last written an hour ago (put_since is that old; here written
    raw rather than waited for). Put A takes its turn on the idle queue and is paused at
    its S3 write; put B queues behind it. B must wait for A's turn (lease 30 s), not skip
    it at once because put_since is an hour old: a skipped A later writes its bytes over
    B's, and LATEST's item records B's sha256 over A's bytes."""
    ops = make_repo("s3_dynamodb")  # lease_secs = 30
    place = ops.place
    ops.put("app", V1)
    _set_latest(raw, place, "app", "SET put_since = :old", old=_hour_ago())

    proxy = make_proxy()
    a_client = via(place, proxy)
    rule = proxy.add("hold", when=_latest_put(place))
    a = Background(lambda: a_client.put("app", V2), "A")
    held = rule.wait(30)
    b = Background(lambda: ops.put("app", V3), "B")
    b_early = b.result(5)  # B is expected to be waiting for A's turn
    held.release("forward")
    a_outcome = a.result(60)
    b_outcome = b_early or b.result(60)
    assert a_outcome is not None and a_outcome.ok, a_outcome
    assert b_outcome is not None and b_outcome.ok, b_outcome
    torn = raw.torn(place, "app")
    assert torn == [], f"recorded sha256 does not describe LATEST's bytes: {torn}"
    assert b_early is None, "B finished while A still held its turn (A's turn was skipped)"


# ---------------------------------------------------------------- a failed put turn
def test_a_put_whose_s3_write_landed_but_raised_leaves_latest_unverified(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    """Every answer to the put's S3 write of LATEST is lost (the first attempt is applied,
    botocore's retries get no answer either): the put raises. The bytes are V2 now, so
    what reads report for LATEST must be V2's sha256, and an "unchanged" put of V1 must
    not be trusted."""
    ops = make_repo("s3_dynamodb")
    place = ops.place
    ops.put("app", V1)
    proxy = make_proxy()
    client = via(place, proxy)
    rule = proxy.add("drop_response", when=_latest_put(place), times=None)
    failed = attempt(lambda: client.put("app", V2))
    proxy.remove(rule)
    assert rule.fired >= 1
    assert not failed.ok, "the put was expected to raise (every answer lost)"
    assert raw.data(place.bucket, f"{place.root}app/LATEST{place.suffix}") == V2

    reported = ops.get("app").sha256
    assert reported == sha(V2), (
        f"LATEST holds V2's bytes, reads report {'V1' if reported == sha(V1) else reported}"
    )
    ops.put("app", V1)
    stored = raw.data(place.bucket, f"{place.root}app/LATEST{place.suffix}")
    assert stored == V1, "put(V1) answered 'unchanged' while LATEST holds V2's bytes"


# ---------------------------------------------------------------- publish's shortcut
def test_publish_in_turn_does_not_answer_with_a_deleted_newest_version(
    make_repo: Callable[..., Ops],
    raw: RawStore,
) -> None:
    """Version 1 holds LATEST's content; another client (the seed's library) soft-deletes
    its item without touching LATEST, and LATEST is unverified (a writer's turn was
    skipped). publish takes a turn (the unchanged condition excludes unverified) and must
    not answer version 1, which no longer exists."""
    ops = make_repo("s3_dynamodb")
    place = ops.place
    ops.put("app", V1)
    assert ops.publish("app").version == "1"
    assert place.table is not None
    raw.dynamodb.update_item(
        TableName=place.table,
        Key={"pk": {"S": "app"}, "sk": {"S": "000001"}},
        UpdateExpression="SET is_deleted = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )
    _set_latest(raw, place, "app", "SET unverified = :t", t=True)
    published = ops.publish("app")
    found = attempt(lambda: ops.get("app", version=published.version))
    assert found.ok, f"publish answered version {published.version}: {found.describe()}"


# ---------------------------------------------------------------- a dead publisher's copy
def test_a_publisher_killed_after_its_copy_leaves_a_gap_never_a_reused_number(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    """A publish of V1 is SIGKILLed after its copy to 000001 and before its transaction.
    Then V2 is put and published. Where CopyObject honours IfNoneMatch (AWS, SeaweedFS;
    moto overwrites, so the proxy answers the refusal AWS would give while the dead
    publisher's object is there), the object at 1 may be the seed's library half-way
    through its own publish, so 1 is not written over: V2 becomes version 2. Numbers may
    have gaps, never repeats (as in the S3-only layout): 1 is not listed, not handed out
    again, and verify() reports the dead copy so that it can be cleaned up."""
    ops = make_repo("s3_dynamodb", lease_secs=1)
    place = ops.place
    ops.put("app", V1)
    proxy = make_proxy()
    with workers(1) as (worker,):
        worker.ready()
        rule = proxy.add(
            "hold", when=lambda r: r.service == "dynamodb" and r.target == "TransactWriteItems"
        )
        worker.send(place, proxy.url, "publish", name="app")
        held = rule.wait(60)
        worker.kill()
        held.release("discard")
    version_1 = f"{place.root}app/000001{place.suffix}"
    assert raw.data(place.bucket, version_1) == V1, "the dead publisher left no copy"

    ops.put("app", V2)  # waits out the dead turn's lease (1 s)
    aws = make_proxy()
    aws.add(
        "respond",
        when=lambda r: r.operation == "s3.CopyObject" and r.key == version_1,
        response=(412, [("Content-Type", "application/xml")], _precondition_failed()),
    )
    client = via(place, aws)
    published = client.publish("app")
    assert published.version == "2", f"V2 was published as {published.version}"
    stored = raw.versions(place, "app")
    assert sorted(stored) == [2]
    assert stored[2].actual == stored[2].recorded == sha(V2)
    assert [v.version for v in ops.versions("app")] == ["LATEST", "2"]
    assert raw.data(place.bucket, version_1) == V1, "the dead copy was written over"
    ops.put("app", V3)
    assert client.publish("app").version == "3", "a number was handed out again"
    report = ops.verify("app")
    assert [(p.kind, p.location.endswith(version_1)) for p in report.problems] == [
        ("object_without_item", True)
    ], report.problems


def _precondition_failed() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code>'
        b"<Message>At least one of the pre-conditions you specified did not hold</Message>"
        b"<Condition>If-None-Match</Condition></Error>"
    )


def test_a_publish_adopting_a_dead_writers_bytes_records_what_latest_holds(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    raw: RawStore,
) -> None:
    """A put of Y (its own size, content type and metadata) is SIGKILLed after S3 applied
    its write and before its DynamoDB commit. The next publish finds LATEST unverified,
    HEADs the object and publishes Y. LATEST's item must then describe Y whole: not Y's
    sha256 beside X's size, content type, metadata and time."""
    x = b"content X " * 40
    y = b"content Y, the dead writer's, longer " * 60
    ops = make_repo("s3_dynamodb", lease_secs=1)
    place = ops.place
    ops.put("app", x, content_type="text/x", metadata={"which": "x"})
    proxy = make_proxy()
    with workers(1) as (worker,):
        worker.ready()
        rule = proxy.add("hold_response", method="PUT", body=y[:200])
        worker.send(
            place,
            proxy.url,
            "put",
            name="app",
            content=encode_content(y),
            content_type="text/y",
            metadata={"which": "y"},
        )
        held = rule.wait(60)
        worker.kill()
        held.release("drop")
    published = attempt(lambda: ops.publish("app"))
    assert published.ok, published.describe()
    assert published.value.sha256 == sha(y)
    latest = ops.get("app")
    described = (latest.sha256, latest.size, latest.content_type, latest.metadata)
    assert described == (sha(y), len(y), "text/y", {"which": "y"}), described
    version = ops.get("app", published.value.version)
    assert (version.size, version.content_type, version.metadata) == (
        len(y),
        "text/y",
        {"which": "y"},
    )
    assert ops.verify("app").ok


def test_a_latest_item_with_a_published_sha256_but_no_number_is_published_over(
    make_repo: Callable[..., Ops], raw: RawStore
) -> None:
    """Odd record: a LATEST item written by hand (or by another tool) with
    ``published_sha256`` equal to its sha256 but no ``latest_version``. An unchanged
    publish must not fail on the missing number (it raised a bare KeyError): it publishes
    the next number, and reads and verify stay clean."""
    ops = make_repo("s3_dynamodb")
    place = ops.place
    assert place.table is not None
    ops.publish_contents("app", [V1])
    raw.dynamodb.update_item(
        TableName=place.table,
        Key={"pk": {"S": "app"}, "sk": {"S": "LATEST"}},
        UpdateExpression="SET published_sha256 = sha256 REMOVE latest_version",
    )
    published = attempt(lambda: ops.publish("app"))
    assert published.ok, published.describe()
    assert published.value.version == "2"
    assert published.value.sha256 == sha(V1)
    assert [v.version for v in ops.versions("app")] == ["LATEST", "2", "1"]
