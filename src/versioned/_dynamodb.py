"""The only module that speaks DynamoDB: table creation, reads, conditional
writes, transactions, and the one translation of botocore errors.

A failed condition surfaces as :class:`ConditionFailed` carrying the item as it was when
the server returned it (``None`` where a server does not implement
``ReturnValuesOnConditionCheckFailure``); a cancelled transaction as
:class:`TransactionCanceled` with per-action reasons. Every other failure goes through one
table (:data:`ERROR_TABLE`, like s3fs's ``translate_boto_error``) to a library exception.

Batch calls retry the keys DynamoDB leaves unprocessed (throttling) through the caller's
:class:`~versioned._retry.RetryPolicy`, with backoff and jitter, and raise
:class:`~versioned.exc.ContentionError` if any remain: a batch never returns short.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ._dynamodb_values import PARTITION_KEY as PARTITION_KEY
from ._dynamodb_values import SORT_KEY as SORT_KEY
from ._dynamodb_values import decode as decode
from ._dynamodb_values import encode as encode
from ._dynamodb_values import key as key
from ._dynamodb_values import values as values
from ._pool import fan_out
from ._retry import RetryPolicy
from ._s3 import Translation, connection_failures, lookup
from .exc import (
    ArtifactDynamoDBBackendError,
    BackendError,
    ContentionError,
    DynamoDBCredentialsError,
    DynamoDBEndpointUnreachableError,
    TableNotFoundError,
    ValidationError,
)

logger = logging.getLogger(__name__)


Item = dict[str, Any]


# ------------------------------------------------------------------ errors
class ConditionFailed(Exception):
    """A conditional write was refused; ``item`` is the item as it was, when known."""

    def __init__(self, item: Item | None, known: bool) -> None:
        super().__init__("condition failed")
        self.item = item
        #: whether the server returned the item (False: it ignores the request for it)
        self.known = known


class TransactionCanceled(Exception):
    """A transaction was cancelled; ``reasons[i]`` is action i's code ("None",
    "ConditionalCheckFailed", "TransactionConflict", ...) and ``items[i]`` its old item."""

    def __init__(self, reasons: list[str], items: list[Item | None]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons
        self.items = items

    @property
    def conflict_only(self) -> bool:
        """True when no condition failed: only concurrent transactions interfered."""
        return "ConditionalCheckFailed" not in self.reasons


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


_PERMISSIONS = " Check the session's credentials and its DynamoDB permissions."
_REJECTED = Translation(DynamoDBCredentialsError, _PERMISSIONS)
_THROTTLED = Translation(
    ArtifactDynamoDBBackendError, " The table is throttled: retry later, or raise its capacity."
)

#: The one translation of DynamoDB failures into the library's errors (anything not named
#: here is an ArtifactDynamoDBBackendError carrying its code).
ERROR_TABLE: Mapping[str, Translation] = {
    "ResourceNotFoundException": Translation(
        TableNotFoundError, " The table does not exist: run Repository.bootstrap() first."
    ),
    "AccessDeniedException": Translation(ArtifactDynamoDBBackendError, _PERMISSIONS),
    "UnrecognizedClientException": _REJECTED,
    "InvalidSignatureException": _REJECTED,
    "ExpiredTokenException": _REJECTED,
    "ProvisionedThroughputExceededException": _THROTTLED,
    "ThrottlingException": _THROTTLED,
    "RequestLimitExceeded": Translation(
        ArtifactDynamoDBBackendError, " The account's request limit is exceeded: retry later."
    ),
    **connection_failures(DynamoDBCredentialsError, DynamoDBEndpointUnreachableError),
}


def backend_error(error: Exception, action: str, table: str) -> BackendError:
    """The one translation of a botocore failure into the library's error (an
    ArtifactDynamoDBBackendError, of the subclass :data:`ERROR_TABLE` names)."""
    if isinstance(error, ClientError):
        code = error_code(error)
        message = error.response.get("Error", {}).get("Message", "")
        detail = f"{code} {message}".strip().rstrip(".") + "."
    else:
        code = type(error).__name__
        detail = f"{code}: {error}"
    translation = lookup(ERROR_TABLE, error) or Translation(ArtifactDynamoDBBackendError)
    failure = translation.error(
        f"{action} on table {table!r} failed: {detail}{translation.hint}", code
    )
    logger.debug("%s on table %r failed: %s (%s)", action, table, detail, type(failure).__name__)
    return failure


@contextlib.contextmanager
def translate(action: str, table: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise backend_error(error, action, table) from error


# ------------------------------------------------------------------ table
def ensure_table(
    dynamodb: Any, table: str, read_capacity: int | None, write_capacity: int | None
) -> None:
    """Create the table (pk/sk strings) unless it exists, then wait until it is ACTIVE."""
    check_capacity(read_capacity, write_capacity)
    try:
        status = dynamodb.describe_table(TableName=table)["Table"]["TableStatus"]
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise backend_error(error, "DescribeTable", table) from error
        status = None
    except BotoCoreError as error:
        raise backend_error(error, "DescribeTable", table) from error
    if status is None:
        _create_table(dynamodb, table, read_capacity, write_capacity)
    if status != "ACTIVE":
        with translate("wait for table", table):
            dynamodb.get_waiter("table_exists").wait(
                TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
            )


def _create_table(
    dynamodb: Any, table: str, read_capacity: int | None, write_capacity: int | None
) -> None:
    """CreateTable: on demand, or provisioned with both capacities; one created
    meanwhile by someone else is fine."""
    billing: dict[str, Any] = {"BillingMode": "PAY_PER_REQUEST"}
    if read_capacity is not None:
        throughput = {"ReadCapacityUnits": read_capacity, "WriteCapacityUnits": write_capacity}
        billing = {"BillingMode": "PROVISIONED", "ProvisionedThroughput": throughput}
    keys = ((PARTITION_KEY, "HASH"), (SORT_KEY, "RANGE"))
    try:
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind in keys],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name, _ in keys
            ],
            **billing,
        )
    except ClientError as error:
        if error_code(error) != "ResourceInUseException":
            raise backend_error(error, "CreateTable", table) from error
    except BotoCoreError as error:
        raise backend_error(error, "CreateTable", table) from error


def check_capacity(read_capacity: object, write_capacity: object) -> None:
    """Both capacities (provisioned) or neither (on-demand); positive ints."""
    if (read_capacity is None) != (write_capacity is None):
        raise ValidationError(
            "give both dynamodb_read_capacity_units and dynamodb_write_capacity_units "
            "(provisioned) or neither (on-demand)"
        )
    for label, capacity in (("read", read_capacity), ("write", write_capacity)):
        if capacity is not None and (
            isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1
        ):
            raise ValidationError(f"dynamodb_{label}_capacity_units must be a positive int")


# ------------------------------------------------------------------ reads
def get(dynamodb: Any, table: str, pk: str, sk: str) -> Item | None:
    """One item, strongly consistent; None when absent. 1 request."""
    with translate("GetItem", table):
        response = dynamodb.get_item(TableName=table, Key=key(pk, sk), ConsistentRead=True)
    return decode(response.get("Item"))


def batch_get(
    dynamodb: Any,
    table: str,
    keys: list[tuple[str, str]],
    retry: RetryPolicy,
    attributes: Sequence[str] = (),
) -> list[Item]:
    """Many items by key, strongly consistent (1 request per 100 keys, all sent together,
    and one per retry of unprocessed keys); absent ones are left out; with
    ``attributes``, only those (less for the server to send, the client to decode).
    Raises ContentionError when keys stay unprocessed once ``retry`` is spent (nothing is
    ever left out silently)."""

    def chunk_of(start: int) -> list[Item]:
        found: list[Item] = []
        chunk = keys[start : start + 100]
        request = {"Keys": [key(pk, sk) for pk, sk in chunk], "ConsistentRead": True}
        if attributes:
            request["ProjectionExpression"] = ", ".join(attributes)
        pending: dict[str, Any] = {table: request}

        def send(request: dict[str, Any]) -> dict[str, Any]:
            with translate("BatchGetItem", table):
                response = dict(dynamodb.batch_get_item(RequestItems=request))
            found.extend(d for d in map(decode, response.get("Responses", {}).get(table, [])) if d)
            return dict(response.get("UnprocessedKeys") or {})

        _until_processed("BatchGetItem", table, pending, send, retry, "nothing was returned")
        return found

    chunks = fan_out(chunk_of, range(0, len(keys), 100))
    return [item for found in chunks for item in found]


def _until_processed(
    action: str,
    table: str,
    pending: dict[str, Any],
    send: Callable[[dict[str, Any]], dict[str, Any]],
    retry: RetryPolicy,
    consequence: str,
) -> None:
    """Send a batch, then what DynamoDB left unprocessed, through ``retry``; raise
    ContentionError naming the batch when some is still left."""
    try:
        for attempt in retry.attempts(action, f"table {table!r}"):
            pending = send(pending)
            if not pending:
                return
            attempt.conflict(f"{_count_requests(pending)} keys left unprocessed (throttled)")
    except ContentionError as spent:
        raise ContentionError(
            f"{action} on table {table!r}: {_count_requests(pending)} keys were still "
            f"unprocessed after {spent.attempts} attempts (the table is throttled); {consequence}. "
            "Retry later, or raise the table's capacity.",
            operation=action,
            record=f"table {table!r}",
            attempts=spent.attempts,
        ) from spent


def _count_requests(pending: dict[str, Any]) -> int:
    """How many keys (BatchGetItem) or writes (BatchWriteItem) a request holds."""
    return sum(len(r["Keys"]) if isinstance(r, dict) else len(r) for r in pending.values())


def query(
    dynamodb: Any,
    table: str,
    pk: str,
    *,
    descending: bool = True,
    limit: int | None = None,
    sk_between: tuple[str, str] | None = None,
) -> list[Item]:
    """Every item of a partition (1 request per MB), strongly consistent; with ``limit``,
    pages of ``limit`` items until at least ``limit`` are read."""
    items: list[Item] = []
    for page in query_pages(
        dynamodb, table, pk, descending=descending, page_size=limit, sk_between=sk_between
    ):
        items.extend(page)
        if limit and len(items) >= limit:
            break
    return items


def query_pages(
    dynamodb: Any,
    table: str,
    pk: str,
    *,
    descending: bool = True,
    page_size: int | None = None,
    sk_between: tuple[str, str] | None = None,
) -> Iterator[list[Item]]:
    """The items of a partition, one page per request (at most ``page_size`` items, and
    at most 1 MB), strongly consistent: the caller stops reading when it has enough."""
    condition = f"{PARTITION_KEY} = :pk"
    expression = values(pk=pk)
    if sk_between:
        condition += f" AND {SORT_KEY} BETWEEN :low AND :high"
        expression.update(values(low=sk_between[0], high=sk_between[1]))
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": expression,
        "ScanIndexForward": not descending,
        "ConsistentRead": True,
    }
    if page_size:
        kwargs["Limit"] = page_size
    while True:
        with translate("Query", table):
            response = dynamodb.query(**kwargs)
        yield [d for d in map(decode, response.get("Items", [])) if d]
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last


def scan_keys(dynamodb: Any, table: str) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "ProjectionExpression": f"{PARTITION_KEY}, {SORT_KEY}",
    }
    with translate("Scan", table):
        while True:
            response = dynamodb.scan(**kwargs)
            found = response.get("Items", [])
            keys.extend((i[PARTITION_KEY]["S"], i[SORT_KEY]["S"]) for i in found)
            last = response.get("LastEvaluatedKey")
            if not last:
                return keys
            kwargs["ExclusiveStartKey"] = last


# ------------------------------------------------------------------ writes
@dataclasses.dataclass
class Update:
    """One UpdateItem: expressions with named values (``:name``) and names (``#name``)."""

    pk: str
    sk: str
    expression: str
    condition: str | None = None
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    names: dict[str, str] = dataclasses.field(default_factory=dict)

    def arguments(self, table: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TableName": table,
            "Key": key(self.pk, self.sk),
            "UpdateExpression": self.expression,
        }
        if self.condition:
            kwargs["ConditionExpression"] = self.condition
        if self.values:
            kwargs["ExpressionAttributeValues"] = values(**self.values)
        if self.names:
            kwargs["ExpressionAttributeNames"] = dict(self.names)
        return kwargs


def _write(call: Any, action: str, table: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Send one (possibly conditional) write; a failed condition raises ConditionFailed
    with the old item when the server returns it."""
    if "ConditionExpression" in kwargs:
        kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    try:
        return dict(call(**kwargs))
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            raw = error.response.get("Item")
            raise ConditionFailed(decode(raw), known="Item" in error.response) from error
        raise backend_error(error, action, table) from error
    except BotoCoreError as error:
        raise backend_error(error, action, table) from error


def update(dynamodb: Any, table: str, change: Update, *, return_new: bool = False) -> Item | None:
    """Apply one UpdateItem (ConditionFailed as for :func:`_write`); returns the new item
    with ``return_new``."""
    kwargs = change.arguments(table)
    if return_new:
        kwargs["ReturnValues"] = "ALL_NEW"
    response = _write(dynamodb.update_item, "UpdateItem", table, kwargs)
    return decode(response.get("Attributes")) if return_new else None


def put(dynamodb: Any, table: str, item: Mapping[str, Any], condition: str | None = None) -> None:
    """PutItem, optionally conditional (ConditionFailed as for :func:`update`)."""
    kwargs: dict[str, Any] = {"TableName": table, "Item": encode(item)}
    if condition:
        kwargs["ConditionExpression"] = condition
    _write(dynamodb.put_item, "PutItem", table, kwargs)


def delete_item(dynamodb: Any, table: str, change: Update) -> Item | None:
    """DeleteItem (``change.expression`` unused), optionally conditional; returns the
    deleted item (None: there was none)."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "Key": key(change.pk, change.sk),
        "ReturnValues": "ALL_OLD",
    }
    if change.condition:
        kwargs["ConditionExpression"] = change.condition
        if change.values:
            kwargs["ExpressionAttributeValues"] = values(**change.values)
        if change.names:
            kwargs["ExpressionAttributeNames"] = dict(change.names)
    response = _write(dynamodb.delete_item, "DeleteItem", table, kwargs)
    return decode(response.get("Attributes"))


def transact(dynamodb: Any, table: str, actions: list[dict[str, Any]], token: str) -> None:
    """TransactWriteItems with an idempotency token (a retry after a lost response is
    recognised by DynamoDB itself); raises TransactionCanceled."""
    try:
        dynamodb.transact_write_items(TransactItems=actions, ClientRequestToken=token)
    except ClientError as error:
        if error_code(error) == "TransactionCanceledException":
            reasons = error.response.get("CancellationReasons", [])
            raise TransactionCanceled(
                [str(r.get("Code", "None")) for r in reasons],
                [decode(r.get("Item")) for r in reasons],
            ) from error
        if error_code(error) in ("TransactionConflictException", "TransactionInProgressException"):
            raise TransactionCanceled(["TransactionConflict"], [None]) from error
        raise backend_error(error, "TransactWriteItems", table) from error
    except BotoCoreError as error:
        raise backend_error(error, "TransactWriteItems", table) from error


def transact_retrying(
    dynamodb: Any,
    table: str,
    actions: list[dict[str, Any]],
    retry: RetryPolicy,
    operation: str,
    record: str,
) -> TransactionCanceled | None:
    """Run a transaction (a fresh token per attempt), again while only concurrent
    transactions interfere; None when applied, else the cancellation (a condition
    failed). ContentionError (``operation``, ``record``) once ``retry`` is spent."""
    for attempt in retry.attempts(operation, record):
        try:
            transact(dynamodb, table, actions, uuid.uuid4().hex)
            return None
        except TransactionCanceled as canceled:
            if not canceled.conflict_only:
                return canceled
            attempt.conflict(f"transaction conflict ({canceled})")
    raise AssertionError("unreachable")


def update_action(table: str, change: Update) -> dict[str, Any]:
    arguments = change.arguments(table)
    if change.condition:
        arguments["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {"Update": arguments}


def put_action(table: str, item: Mapping[str, Any], condition: str | None = None) -> dict[str, Any]:
    action: dict[str, Any] = {"TableName": table, "Item": encode(item)}
    if condition:
        action["ConditionExpression"] = condition
        action["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {"Put": action}


def delete_keys(dynamodb: Any, table: str, keys: list[tuple[str, str]], retry: RetryPolicy) -> None:
    """Delete items 25 at a time (BatchWriteItem), retrying unprocessed ones through
    ``retry``; ContentionError when some remain once it is spent (the items not deleted
    are still there: the call can be repeated)."""
    for start in range(0, len(keys), 25):
        requests = [{"DeleteRequest": {"Key": key(pk, sk)}} for pk, sk in keys[start : start + 25]]

        def send(request: dict[str, Any]) -> dict[str, Any]:
            with translate("BatchWriteItem", table):
                response = dynamodb.batch_write_item(RequestItems=request)
            return dict(response.get("UnprocessedItems") or {})

        _until_processed(
            "BatchWriteItem",
            table,
            {table: requests},
            send,
            retry,
            "the items not deleted remain: run the call again",
        )
