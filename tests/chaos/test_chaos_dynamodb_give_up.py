"""Every retrying loop of the S3 + DynamoDB layout gives up loudly: forced to exhaustion
(a repository with ``RetryPolicy(max_attempts=2, base_secs=0)`` behind the fault proxy,
or a turn held by another writer), each raises ContentionError naming its operation, its
record and the attempts made, and leaves nothing stuck. Batch calls whose keys DynamoDB
keeps leaving unprocessed (throttling) raise instead of returning short."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Ops, Place, RawStore, attempt
from _faultproxy import FaultProxy, Request, s3_error
from _testkit import sha256_hex

from versioned.api import RetryPolicy
from versioned.exc import ContentionError

POLICY = RetryPolicy(max_attempts=2, base_secs=0)
V1, V2 = b"version one", b"version two"
JSON = [("Content-Type", "application/x-amz-json-1.0")]

MakeRepo = Callable[..., Ops]
Via = Callable[[Place, FaultProxy], Ops]


def gave_up(call: Callable[[], Any], operation: str, record: str) -> ContentionError:
    """Run ``call``; it must raise ContentionError for ``operation`` on ``record``, after
    the policy's two attempts."""
    outcome = attempt(call)
    assert isinstance(outcome.error, ContentionError), outcome.describe()
    error = outcome.error
    assert error.operation is not None and error.operation.startswith(operation), error
    assert error.record == record, error
    assert error.attempts == 2, error
    return error


def dynamodb(operation: str) -> Callable[[Request], bool]:
    return lambda request: request.target == operation


def dynamodb_refusal(code: str, **fields: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    document = {
        "__type": f"com.amazonaws.dynamodb.v20120810#{code}",
        "message": "injected by the fault proxy",
        **fields,
    }
    return 400, JSON, json.dumps(document).encode()


def queue_idle(raw: RawStore, place: Place, name: str) -> bool:
    assert place.table is not None
    latest = next(i for i in raw.partition(place.table, name) if i["sk"] == "LATEST")
    return bool(latest.get("put_done") == latest.get("put_next"))


@pytest.fixture
def through_proxy(
    make_repo: MakeRepo, make_proxy: Callable[[], FaultProxy], via: Via
) -> tuple[Ops, FaultProxy, Ops]:
    """(the repository direct, a fault proxy, the same repository through it), both with
    a policy of two attempts and no pause."""
    ops = make_repo("s3_dynamodb", retry_policy=POLICY)
    proxy = make_proxy()
    return ops, proxy, via(ops.place, proxy)


class _LeftUnprocessed:
    """Rewrites a batch answer into "nothing processed": every key (or write) of the
    request comes back unprocessed (the request itself is forwarded)."""

    def __init__(self, operation: str, field: str) -> None:
        self.operation, self.field = operation, field
        self.requests = threading.local()

    def when(self, request: Request) -> bool:
        if request.target != self.operation:
            return False
        self.requests.body = json.loads(request.body)
        return True

    def rewrite(
        self, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        document = {"Responses": {}, self.field: self.requests.body["RequestItems"]}
        return status, headers, json.dumps(document).encode()


# ---------------------------------------------------------------- batches
def test_list_names_raises_when_keys_stay_unprocessed(
    through_proxy: tuple[Ops, FaultProxy, Ops],
) -> None:
    ops, proxy, client = through_proxy
    ops.put("app", V1)
    ops.put("other", V2)
    throttled = _LeftUnprocessed("BatchGetItem", "UnprocessedKeys")
    proxy.add("rewrite_response", when=throttled.when, rewrite=throttled.rewrite, times=None)

    error = gave_up(client.names, "BatchGetItem", f"table {ops.place.table!r}")

    assert "unprocessed" in str(error) and "2 keys" in str(error)
    assert [r.target for r in proxy.seen()].count("BatchGetItem") == 2


def test_list_names_retries_keys_left_unprocessed_once(
    through_proxy: tuple[Ops, FaultProxy, Ops],
) -> None:
    ops, proxy, client = through_proxy
    ops.put("app", V1)
    ops.put("other", V2)
    throttled = _LeftUnprocessed("BatchGetItem", "UnprocessedKeys")
    proxy.add("rewrite_response", when=throttled.when, rewrite=throttled.rewrite, times=1)

    assert client.names() == ["app", "other"]
    assert [r.target for r in proxy.seen()].count("BatchGetItem") == 2


def test_purge_all_raises_when_deletions_stay_unprocessed(
    through_proxy: tuple[Ops, FaultProxy, Ops],
) -> None:
    ops, proxy, client = through_proxy
    ops.publish_contents("app", [V1, V2])
    throttled = _LeftUnprocessed("BatchWriteItem", "UnprocessedItems")
    proxy.add("rewrite_response", when=throttled.when, rewrite=throttled.rewrite, times=None)

    error = gave_up(client.purge_all, "BatchWriteItem", f"table {ops.place.table!r}")

    assert "run the call again" in str(error)


# ---------------------------------------------------------------- writes
def test_put_alias_gives_up_when_transactions_keep_conflicting(
    through_proxy: tuple[Ops, FaultProxy, Ops], raw: RawStore
) -> None:
    ops, proxy, client = through_proxy
    ops.publish_contents("app", [V1])
    reasons = [{"Code": "None"}, {"Code": "TransactionConflict"}]
    refusal = dynamodb_refusal("TransactionCanceledException", CancellationReasons=reasons)
    proxy.add("respond", when=dynamodb("TransactWriteItems"), response=refusal, times=None)

    gave_up(
        lambda: client.put_alias("app", "prod", version=1), "pointing alias", "__app-alias/prod"
    )

    assert ops.place.table is not None
    assert raw.partition(ops.place.table, "__app-alias") == []


def test_publish_gives_up_when_its_number_is_always_taken(
    through_proxy: tuple[Ops, FaultProxy, Ops], raw: RawStore
) -> None:
    ops, proxy, client = through_proxy
    ops.publish_contents("app", [V1])
    ops.put("app", V2)
    taken = {"pk": {"S": "app"}, "sk": {"S": "000002"}, "sha256": {"S": "0" * 64}}
    reasons = [{"Code": "ConditionalCheckFailed", "Item": taken}, {"Code": "None"}]
    refusal = dynamodb_refusal("TransactionCanceledException", CancellationReasons=reasons)
    proxy.add("respond", when=dynamodb("TransactWriteItems"), response=refusal, times=None)

    gave_up(lambda: client.publish("app"), "publishing 'app'", "app/LATEST")

    assert queue_idle(raw, ops.place, "app")
    proxy.clear_rules()
    assert client.publish("app").sha256 == sha256_hex(V2)


def test_publish_gives_up_when_its_copy_never_lands(
    through_proxy: tuple[Ops, FaultProxy, Ops], raw: RawStore
) -> None:
    ops, proxy, client = through_proxy
    ops.put("app", V1)
    proxy.add(
        "respond",
        when=lambda r: r.operation == "s3.CopyObject",
        response=s3_error("PreconditionFailed", 412),
        times=None,
    )
    key = raw.version_key(ops.place, "app", 1)

    gave_up(lambda: client.publish("app"), "publishing 'app'", key)

    assert queue_idle(raw, ops.place, "app")
    proxy.clear_rules()
    assert client.publish("app").version == "1"


def test_put_gives_up_when_latest_keeps_changing(
    through_proxy: tuple[Ops, FaultProxy, Ops], raw: RawStore
) -> None:
    ops, proxy, client = through_proxy
    ops.put("app", V1)
    proxy.add(
        "respond",
        when=lambda r: r.operation == "s3.PutObject" and r.key.endswith("LATEST.bin"),
        response=s3_error("PreconditionFailed", 412),
        times=None,
    )
    key = raw.version_key(ops.place, "app", "LATEST")

    gave_up(lambda: client.put("app", V2), "putting 'app'", key)

    assert queue_idle(raw, ops.place, "app")
    proxy.clear_rules()
    assert client.put("app", V2).sha256 == sha256_hex(V2)
    assert client.get("app").sha256 == sha256_hex(V2)


def test_delete_gives_up_when_aliases_keep_changing_under_it(
    through_proxy: tuple[Ops, FaultProxy, Ops],
) -> None:
    ops, proxy, client = through_proxy
    ops.publish_contents("app", [V1, V2])
    old = {"pk": {"S": "app"}, "sk": {"S": "000001"}, "sha256": {"S": sha256_hex(V1)}}
    refusal = dynamodb_refusal("ConditionalCheckFailedException", Item=old)
    proxy.add(
        "respond",
        when=lambda r: r.target == "UpdateItem" and b"deleted_by" in r.body,
        response=refusal,
        times=None,
    )

    gave_up(lambda: client.delete_version("app", 1), "deleting versions of 'app'", "app")

    assert [v.version for v in ops.versions("app")] == ["LATEST", "2", "1"]


# ---------------------------------------------------------------- the turn queue
def _hold_turn(raw: RawStore, place: Place, name: str) -> None:
    """Another writer takes LATEST's turn, and keeps it."""
    assert place.table is not None
    raw.dynamodb.update_item(
        TableName=place.table,
        Key={"pk": {"S": name}, "sk": {"S": "LATEST"}},
        UpdateExpression="SET put_next = :one, put_done = :zero, tk_other = :one, put_since = :now",
        ExpressionAttributeValues={
            ":one": {"N": "1"},
            ":zero": {"N": "0"},
            ":now": {"S": "2999-01-01T00:00:00.000000+0000"},
        },
    )


def test_waiting_for_a_held_turn_is_bounded_by_the_deadline(
    make_repo: MakeRepo, raw: RawStore
) -> None:
    ops = make_repo("s3_dynamodb", retry_policy=RetryPolicy(deadline_secs=0.3), lease_secs=60)
    ops.put("app", V1)
    _hold_turn(raw, ops.place, "app")

    outcome = attempt(lambda: ops.put("app", V2))

    assert isinstance(outcome.error, ContentionError), outcome.describe()
    assert outcome.error.operation == "putting 'app' (waiting for a turn)"
    assert outcome.error.record == "app/LATEST"
    assert "turn 1 was still held" in str(outcome.error)


def test_a_skipped_turn_is_logged(
    make_repo: MakeRepo, raw: RawStore, caplog: pytest.LogCaptureFixture
) -> None:
    ops = make_repo("s3_dynamodb", lease_secs=0)
    ops.put("app", V1)
    _hold_turn(raw, ops.place, "app")
    # the holder's turn looks fresh (put_since in the future): only the time this writer
    # watched it counts, and the lease is 0
    assert ops.place.table is not None
    raw.dynamodb.update_item(
        TableName=ops.place.table,
        Key={"pk": {"S": "app"}, "sk": {"S": "LATEST"}},
        UpdateExpression="SET put_since = :then",
        ExpressionAttributeValues={":then": {"S": "2000-01-01T00:00:00.000000+0000"}},
    )

    with caplog.at_level(logging.DEBUG, logger="versioned"):
        assert ops.put("app", V2).sha256 == sha256_hex(V2)

    assert any("skipping turn 1 of 'app'" in r.getMessage() for r in caplog.records)


def test_a_turn_whose_put_since_is_in_the_future_is_skipped_after_the_lease(
    make_repo: MakeRepo, raw: RawStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A dead holder's turn that ended in the year 2999 by some writer's clock: the
    lease counts only the time this writer saw the queue unchanged (monotonic), so the
    put skips it after the lease, long before its deadline."""
    ops = make_repo("s3_dynamodb", retry_policy=RetryPolicy(deadline_secs=30), lease_secs=0.2)
    ops.put("app", V1)
    _hold_turn(raw, ops.place, "app")  # put_since in 2999

    with caplog.at_level(logging.DEBUG, logger="versioned"):
        assert ops.put("app", V2).sha256 == sha256_hex(V2)

    assert any("skipping turn 1 of 'app'" in r.getMessage() for r in caplog.records)
    assert raw.torn(ops.place, "app") == []
