"""DynamoDB attribute values to Python and back: the item codec of :mod:`._dynamodb`.

Numbers are read exactly and become ``int`` when integral (``float`` otherwise, including
the non-finite numbers some servers store); the item readers judge each value's range and
type. An attribute that holds no readable value raises
:class:`~versioned.exc.CorruptRecordError` naming the item: no stored value reaches a
caller as a bare decimal or type error.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from .exc import CorruptRecordError

Item = dict[str, Any]


class _ExactDeserializer(TypeDeserializer):  # type: ignore[misc]  # boto3 has no hints
    """boto3's deserializer, except that a number is read exactly: boto3's own decimal
    context traps rounding, so a legal DynamoDB number of more than 38 digits (a hand
    edit, or a server that expands ``1E+125`` into 126 digits) would raise a bare
    ``decimal.Rounded``. The item readers then judge the value's range."""

    def _deserialize_n(self, value: str) -> Decimal:
        return Decimal(value)


_SERIALIZER = TypeSerializer()
_DESERIALIZER = _ExactDeserializer()

#: the table's key schema: every item is addressed by these two string attributes
PARTITION_KEY, SORT_KEY = "pk", "sk"


def encode(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _SERIALIZER.serialize(value) for key, value in item.items() if value is not None}


def decode(item: Mapping[str, Any] | None) -> Item | None:
    if not item:
        return None
    out: Item = {}
    for key, value in item.items():
        try:
            plain = _DESERIALIZER.deserialize(value)
        except (ArithmeticError, TypeError, ValueError) as error:
            pk, sk = (item.get(name, {}).get("S") for name in (PARTITION_KEY, SORT_KEY))
            raise CorruptRecordError(
                f"DynamoDB item pk={pk!r} sk={sk!r}: attribute {key!r} holds no readable"
                f" value ({error!r})"
            ) from error
        out[key] = _plain(plain)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        # at most 40 digits become an int: DynamoDB's own limit is 38, and a longer
        # number (a server expanding 1E+125) must not cost a giant int to judge
        if value.is_finite() and value.adjusted() < 40 and value == value.to_integral_value():
            return int(value)
        return float(value)  # a fraction, or a non-finite number some servers store
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def values(**named: Any) -> dict[str, Any]:
    """ExpressionAttributeValues from keyword arguments: values(s="x") -> {":s": {"S": "x"}}."""
    return {f":{key}": _SERIALIZER.serialize(value) for key, value in named.items()}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}}
