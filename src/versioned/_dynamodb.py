"""The only module that speaks DynamoDB: the item codec, table creation, and error mapping.

Items (compatible with the seed's PynamoDB models):

- artifact: pk=name, sk="LATEST" | "000001"; sha256 (S), is_deleted (BOOL), update_at (S).
  LATEST also carries: etag and content_length of its bytes; latest_version (N, the newest
  published number) with published_sha256 / published_update_at; and its write queue,
  put_next / put_serving (N tickets) and put_since (when the current turn began).
  Version items carry alias_epoch (N), bumped by every alias write that targets them.
- alias: pk="__{name}-alias", sk=alias; version, secondary_version, secondary_version_weight
  (N), update_at, revision.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from .exc import ArtifactDynamoDBBackendError, ValidationError

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def alias_pk(name: str) -> str:
    return f"__{name}-alias"


def encode(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _SERIALIZER.serialize(value) for key, value in item.items() if value is not None}


def decode(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not item:
        return None
    out: dict[str, Any] = {}
    for key, value in item.items():
        plain = _DESERIALIZER.deserialize(value)
        if isinstance(plain, Decimal):
            plain = int(plain) if plain == plain.to_integral_value() else float(plain)
        out[key] = plain
    return out


def values(**named: Any) -> dict[str, Any]:
    """ExpressionAttributeValues from keyword arguments: values(s="x") -> {":s": {"S": "x"}}."""
    return {f":{key}": _SERIALIZER.serialize(value) for key, value in named.items()}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_condition_failed(error: ClientError) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


def cancellation_codes(error: ClientError) -> list[str]:
    """Per-item reasons of a cancelled transaction ("None", "ConditionalCheckFailed", ...)."""
    return [str(r.get("Code", "None")) for r in error.response.get("CancellationReasons", [])]


def backend_error(error: Exception, action: str, table: str) -> ArtifactDynamoDBBackendError:
    if isinstance(error, ClientError):
        code = error_code(error)
        message = error.response.get("Error", {}).get("Message", "")
        hint = ""
        if code == "ResourceNotFoundException":
            hint = " The table does not exist: run Repository.bootstrap() first."
        elif code in ("AccessDeniedException", "UnrecognizedClientException"):
            hint = " Check the session's credentials and its DynamoDB permissions."
        detail = f"{code} {message}".strip().rstrip(".")
        return ArtifactDynamoDBBackendError(f"{action} on table {table!r} failed: {detail}.{hint}")
    return ArtifactDynamoDBBackendError(
        f"{action} on table {table!r} failed: {type(error).__name__}: {error}"
    )


@contextlib.contextmanager
def translate(action: str, table: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        raise backend_error(error, action, table) from error
    except BotoCoreError as error:
        raise backend_error(error, action, table) from error


def ensure_table(
    dynamodb: Any, table: str, read_capacity: int | None, write_capacity: int | None
) -> None:
    """Create the table (pk/sk strings) unless it exists, then wait until it is ACTIVE."""
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
    try:
        status = dynamodb.describe_table(TableName=table)["Table"]["TableStatus"]
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise backend_error(error, "DescribeTable", table) from error
        status = None
    if status is None:
        billing: dict[str, Any] = {"BillingMode": "PAY_PER_REQUEST"}
        if read_capacity is not None:
            billing = {
                "BillingMode": "PROVISIONED",
                "ProvisionedThroughput": {
                    "ReadCapacityUnits": read_capacity,
                    "WriteCapacityUnits": write_capacity,
                },
            }
        try:
            dynamodb.create_table(
                TableName=table,
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                **billing,
            )
        except ClientError as error:
            if error_code(error) != "ResourceInUseException":
                raise backend_error(error, "CreateTable", table) from error
    if status != "ACTIVE":
        with translate("wait for table", table):
            dynamodb.get_waiter("table_exists").wait(
                TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
            )


def get(dynamodb: Any, table: str, pk: str, sk: str) -> dict[str, Any] | None:
    with translate("GetItem", table):
        response = dynamodb.get_item(TableName=table, Key=key(pk, sk), ConsistentRead=True)
    return decode(response.get("Item"))


def query(
    dynamodb: Any,
    table: str,
    pk: str,
    *,
    descending: bool = True,
    limit: int | None = None,
    sk_between: tuple[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every item of a partition (1 request per MB), strongly consistent."""
    condition = "pk = :pk"
    expression = values(pk=pk)
    if sk_between:
        condition += " AND sk BETWEEN :low AND :high"
        expression.update(values(low=sk_between[0], high=sk_between[1]))
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": expression,
        "ScanIndexForward": not descending,
        "ConsistentRead": True,
    }
    if limit:
        kwargs["Limit"] = limit
    items: list[dict[str, Any]] = []
    with translate("Query", table):
        while True:
            response = dynamodb.query(**kwargs)
            items.extend(d for d in map(decode, response.get("Items", [])) if d)
            last = response.get("LastEvaluatedKey")
            if not last or (limit and len(items) >= limit):
                return items
            kwargs["ExclusiveStartKey"] = last


def scan_keys(dynamodb: Any, table: str) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ProjectionExpression": "pk, sk"}
    with translate("Scan", table):
        while True:
            response = dynamodb.scan(**kwargs)
            keys.extend((i["pk"]["S"], i["sk"]["S"]) for i in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                return keys
            kwargs["ExclusiveStartKey"] = last


def delete_keys(dynamodb: Any, table: str, keys: list[tuple[str, str]]) -> None:
    """Delete items 25 at a time (BatchWriteItem), retrying unprocessed ones."""
    for start in range(0, len(keys), 25):
        requests = [{"DeleteRequest": {"Key": key(pk, sk)}} for pk, sk in keys[start : start + 25]]
        pending: dict[str, Any] = {table: requests}
        with translate("BatchWriteItem", table):
            for _ in range(10):
                response = dynamodb.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
