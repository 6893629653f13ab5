"""S3 + DynamoDB: a running rollout's record, one item in its own partition
(pk ``__{name}-rollout``, sk the alias) holding the JSON document and the token of the
write that stored it. Created only if absent (a second rollout is refused), replaced and
deleted on the condition that the token is the one read. A write whose answer was lost
and is refused on retry is recognised by its own token."""

from __future__ import annotations

from typing import Any

from .. import _dynamodb
from .._session import Session
from ..exc import ConcurrentModificationError
from .dynamodb_keys import DynamoDBPlace
from .rollout_record import TOKEN, RolloutDoc, decode, encode

#: attribute names (``token`` is a DynamoDB reserved word)
DOCUMENT, TAG = "rollout_document", "rollout_token"


def rollout_pk(name: str) -> str:
    return f"__{name}-rollout"


class DynamoDBRollouts:
    """The rollout records of one table."""

    def __init__(self, place: DynamoDBPlace) -> None:
        self.place = place

    def _doc(self, name: str, stored: dict[str, Any]) -> RolloutDoc:
        where = f"item pk={rollout_pk(name)!r} sk={stored.get(_dynamodb.SORT_KEY)!r}"
        raw = stored.get(DOCUMENT)
        body = decode(raw if isinstance(raw, str) else "", where)
        return RolloutDoc(body, str(stored.get(TAG, "")))

    def _item(self, name: str, alias: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            _dynamodb.PARTITION_KEY: rollout_pk(name),
            _dynamodb.SORT_KEY: alias,
            DOCUMENT: encode(body).decode("utf-8"),
            TAG: str(body[TOKEN]),
        }

    def read(self, session: Session, name: str, alias: str) -> RolloutDoc | None:
        """The record, or None. 1 request."""
        stored = _dynamodb.get(session.dynamodb, self.place.table, rollout_pk(name), alias)
        return None if stored is None else self._doc(name, stored)

    def create(
        self, session: Session, name: str, alias: str, body: dict[str, Any]
    ) -> RolloutDoc | None:
        """Store a new record; None when the alias has one already. 1 request."""
        condition = f"attribute_not_exists({_dynamodb.PARTITION_KEY})"
        try:
            _dynamodb.put(
                session.dynamodb, self.place.table, self._item(name, alias, body), condition
            )
        except _dynamodb.ConditionFailed:
            found = self.read(session, name, alias)
            if found is not None and found.token == body[TOKEN]:
                return found  # our own create, its answer lost
            return None
        return RolloutDoc(body, str(body[TOKEN]))

    def replace(
        self, session: Session, name: str, alias: str, body: dict[str, Any], tag: str
    ) -> RolloutDoc:
        """Replace the record read with ``tag``; ConcurrentModificationError when it
        changed or is gone. 1 request."""
        change = _dynamodb.Update(
            pk=rollout_pk(name),
            sk=alias,
            expression=f"SET {DOCUMENT} = :d, {TAG} = :new",
            condition=f"{TAG} = :old",
            values={"d": encode(body).decode("utf-8"), "new": str(body[TOKEN]), "old": tag},
        )
        try:
            _dynamodb.update(session.dynamodb, self.place.table, change)
        except _dynamodb.ConditionFailed:
            found = self.read(session, name, alias)
            if found is not None and found.token == body[TOKEN]:
                return found
            raise ConcurrentModificationError(
                f"the rollout record of alias {alias!r} of {name!r} changed or is gone"
            ) from None
        return RolloutDoc(body, str(body[TOKEN]))

    def remove(self, session: Session, name: str, alias: str, tag: str) -> None:
        """Delete the record read with ``tag`` (gone already is fine: a lost answer);
        ConcurrentModificationError when another copy replaced it. 1 request."""
        change = _dynamodb.Update(
            pk=rollout_pk(name),
            sk=alias,
            expression="",
            condition=f"{TAG} = :old",
            values={"old": tag},
        )
        try:
            _dynamodb.delete_item(session.dynamodb, self.place.table, change)
        except _dynamodb.ConditionFailed:
            if self.read(session, name, alias) is not None:
                raise ConcurrentModificationError(
                    f"the rollout record of alias {alias!r} of {name!r} changed"
                ) from None

    def listing(self, session: Session, name: str) -> list[RolloutDoc]:
        """Every rollout record of ``name``. 1 Query."""
        stored = _dynamodb.query(session.dynamodb, self.place.table, rollout_pk(name))
        return [self._doc(name, item) for item in stored]

    def purge(self, session: Session, name: str, retry: Any) -> None:
        """Delete every rollout record of ``name`` (with the artifact)."""
        stored = _dynamodb.query(session.dynamodb, self.place.table, rollout_pk(name))
        keys = [(rollout_pk(name), str(item[_dynamodb.SORT_KEY])) for item in stored]
        _dynamodb.delete_keys(session.dynamodb, self.place.table, keys, retry)
