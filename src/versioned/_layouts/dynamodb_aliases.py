"""Aliases: one transaction per write that bumps its targets' ``alias_epoch``."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

from .. import _dynamodb, _model
from .._model import AliasTarget
from .._retry import RetryPolicy
from .._session import Session
from ..exc import ArtifactNotFoundError, ConcurrentModificationError
from ..history import AliasChange
from . import AliasPoll, AliasRecord, ChangeNote
from . import dynamodb_history as history
from .dynamodb_items import (
    ALIAS_EPOCH,
    NOT_DELETED,
    PK,
    REVISION,
    SHA256,
    SK,
    UPDATE_AT,
    Stored,
    alias_item,
    alias_pk,
    alias_revision,
    corrupt,
    read_alias,
)
from .dynamodb_keys import DynamoDBPlace

logger = logging.getLogger(__name__)


class Aliases:
    """Reads and writes the alias items of one table."""

    def __init__(self, place: DynamoDBPlace, retry: RetryPolicy) -> None:
        self.place = place
        self.retry = retry

    def get(self, session: Session, name: str, alias: str) -> AliasRecord | None:
        """One alias, or None. CorruptRecordError naming a damaged item. 1 request."""
        stored = _dynamodb.get(session.dynamodb, self.place.table, alias_pk(name), alias)
        return None if stored is None else read_alias(name, stored, self.place.table).record()

    def poll(self, session: Session, name: str, alias: str, revision: str | None) -> AliasPoll:
        """Has the alias changed since ``revision`` (its fingerprint)? One GetItem."""
        record = self.get(session, name, alias)
        changed = record is None or record.fingerprint != revision
        return AliasPoll(changed=changed, record=record)

    def listing(self, session: Session, name: str) -> list[AliasRecord]:
        """Every alias of ``name`` (CorruptRecordError naming a damaged item). 1 Query."""
        stored = _dynamodb.query(
            session.dynamodb, self.place.table, alias_pk(name), descending=False
        )
        return [read_alias(name, item, self.place.table).record() for item in stored]

    def write(
        self,
        session: Session,
        name: str,
        alias: str,
        target: AliasTarget,
        expected_revision: str | None,
        note: ChangeNote,
    ) -> AliasRecord:
        """Point ``alias`` at ``target``, recording the change in its history.

        Concurrency: one transaction whose conditions require each target's item to hold
        bytes and not be deleted, and bumps its ``alias_epoch`` (so a deletion that read
        the version before fails its condition); with ``expected_revision`` the alias
        item's revision must match. The same transaction puts the history entry and moves
        the alias's history head (see :mod:`.dynamodb_history`): a writer whose clock is
        behind the head's, or that finds an alias item another client wrote (recorded
        first), tries again. A retry after a lost response recognises its own new
        revision. Raises ArtifactNotFoundError (a target is missing or deleted),
        ConcurrentModificationError (revision changed), ContentionError (only concurrent
        transactions interfered until the retry policy was spent), BackendError.
        Requests: 1 transaction."""
        revision = uuid.uuid4().hex
        now = _model.utc_now()
        item = alias_item(name, alias, target, now, revision)
        entry = history.Entry(revision, history.stamp_of(now), target, note)
        foreign: Stored | None = None
        low = 0  # the history head's stamp, once a refusal showed it
        operation = f"pointing alias {alias!r} of {name!r}"
        where = f"{alias_pk(name)}/{alias}"
        tried: list[int] = []  # the stamps of our entries in earlier attempts
        for attempt in self.retry.attempts(operation, where):
            actions = self._target_updates(name, target)
            actions += self._recorded(name, alias, entry, foreign, low)
            actions += history.not_recorded(self.place.table, name, alias, tried)
            actions.append(self._alias_put(item, expected_revision, foreign))
            canceled = _dynamodb.transact_retrying(
                session.dynamodb, self.place.table, actions, self.retry, operation, where
            )
            if canceled is None or _applied(canceled, revision):
                if canceled is not None:
                    logger.debug("%s: our earlier attempt was applied", operation)
                return read_alias(name, item, self.place.table).record()
            _refused(name, alias, target, canceled, expected_revision)
            head = canceled.items[len(target.versions)]
            tried.append(entry.stamp)
            foreign, entry, low = _again(head, canceled, entry, foreign)
            attempt.conflict("the alias or its history head changed since it was read")
        raise AssertionError("unreachable")

    def _target_updates(self, name: str, target: AliasTarget) -> list[dict[str, Any]]:
        return [
            _dynamodb.update_action(
                self.place.table,
                _dynamodb.Update(
                    pk=name,
                    sk=_model.zfill_version(version),
                    expression=f"SET {ALIAS_EPOCH} = if_not_exists({ALIAS_EPOCH}, :zero) + :one",
                    condition=f"attribute_exists({SHA256}) AND {NOT_DELETED}",
                    values={"zero": 0, "one": 1, "f": False},
                ),
            )
            for version in target.versions
        ]

    def _recorded(
        self, name: str, alias: str, entry: history.Entry, foreign: Stored | None, low: int
    ) -> list[dict[str, Any]]:
        """The history head's update and the entries (another client's state first)."""
        entries = [entry]
        if foreign is not None:
            record = read_alias(name, foreign, self.place.table).record()
            entries.insert(0, history.foreign_entry(record, low, entry.stamp))
        return history.actions(self.place.table, name, alias, entries)

    def _alias_put(
        self, item: Stored, expected_revision: str | None, foreign: Stored | None
    ) -> dict[str, Any]:
        if expected_revision is not None:
            put = _dynamodb.put_action(self.place.table, item, f"{REVISION} = :r")
            put["Put"]["ExpressionAttributeValues"] = _dynamodb.values(r=expected_revision)
            return put
        condition, values = _ours_or_seen(foreign)
        put = _dynamodb.put_action(self.place.table, item, condition)
        if values:
            put["Put"]["ExpressionAttributeValues"] = _dynamodb.values(**values)
        return put

    def delete(
        self,
        session: Session,
        name: str,
        alias: str,
        expected_revision: str | None,
        note: ChangeNote,
    ) -> bool:
        """Delete ``alias``, recording the deletion in its history; False when there was
        none (without ``expected_revision``).

        One transaction: the history head and entry, and the alias item's Delete on the
        condition that it is ours (an item another client wrote is recorded first, then
        deleted), or, with ``expected_revision``, that its revision matches: raises
        ConcurrentModificationError when the alias changed; True when it is gone (a
        retry of ours finds it deleted already). Requests: 1 transaction."""
        revision = uuid.uuid4().hex
        entry = history.Entry(revision, history.stamp_of(_model.utc_now()), None, note)
        foreign: Stored | None = None
        low = 0  # the history head's stamp, once a refusal showed it
        operation = f"deleting alias {alias!r} of {name!r}"
        where = f"{alias_pk(name)}/{alias}"
        tried: list[int] = []  # the stamps of our entries in earlier attempts
        for attempt in self.retry.attempts(operation, where):
            actions = self._recorded(name, alias, entry, foreign, low)
            actions += history.not_recorded(self.place.table, name, alias, tried)
            actions.append(self._alias_delete(name, alias, expected_revision, foreign))
            canceled = _dynamodb.transact_retrying(
                session.dynamodb, self.place.table, actions, self.retry, operation, where
            )
            if canceled is None or _applied(canceled, revision):
                return True
            if canceled.reasons[-1] == "ConditionalCheckFailed":
                if canceled.items[-1] is None:  # nothing to delete (or a retry of ours)
                    return expected_revision is not None
                if expected_revision is not None:
                    raise ConcurrentModificationError(
                        f"alias {alias!r} of {name!r} changed since revision "
                        f"{expected_revision}; read it again and retry"
                    )
            tried.append(entry.stamp)
            foreign, entry, low = _again(canceled.items[0], canceled, entry, foreign)
            attempt.conflict("the alias or its history head changed since it was read")
        raise AssertionError("unreachable")

    def _alias_delete(
        self, name: str, alias: str, expected_revision: str | None, foreign: Stored | None
    ) -> dict[str, Any]:
        if expected_revision is not None:
            condition, values = f"{REVISION} = :r", {"r": expected_revision}
        elif foreign is None:
            condition, values = f"attribute_exists({REVISION})", {}
        else:
            condition, values = _ours_or_seen(foreign)
        action: dict[str, Any] = {
            "TableName": self.place.table,
            "Key": _dynamodb.key(alias_pk(name), alias),
            "ConditionExpression": condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            action["ExpressionAttributeValues"] = _dynamodb.values(**values)
        return {"Delete": action}

    # ------------------------------------------------------------ history
    def history(
        self, session: Session, name: str, alias: str, limit: int | None
    ) -> list[AliasChange]:
        """The alias's changes, newest first. CorruptRecordError naming a damaged entry.
        Requests: 1 Query (per MB)."""
        found = history.query(session.dynamodb, self.place.table, name, alias, limit)
        changes: list[AliasChange] = []
        for stored in found:
            try:
                changes.append(history.change(name, alias, stored))
            except (KeyError, TypeError, ValueError) as error:
                raise corrupt(
                    stored.get(PK), stored.get(SK), self.place.table, "history entry", error
                ) from error
        return changes


def _again(
    head: Stored | None,
    canceled: _dynamodb.TransactionCanceled,
    entry: history.Entry,
    foreign: Stored | None,
) -> tuple[Stored | None, history.Entry, int]:
    """What the next attempt records, after a refusal by the history head (a stamp not
    older than ours: ours moves past it) or by the alias item (another client's item is
    there: recorded first; or it is ours again: nothing more to record)."""
    if canceled.reasons[-1] == "ConditionalCheckFailed":
        old = canceled.items[-1]
        foreign = old if old is not None and alias_revision(old) is None else None
    low = history.head_stamp(head) or 0
    floor = max(low, entry.stamp) + (4 if foreign is not None else 1)
    stamp = max(history.stamp_of(_model.utc_now()), floor)
    return foreign, dataclasses.replace(entry, stamp=stamp), low


def _ours_or_seen(foreign: Stored | None) -> tuple[str, dict[str, Any]]:
    """The alias Put's condition without an expected revision: the item is absent or
    ours (it has a revision); once another client's item was seen, still that one."""
    if foreign is None:
        return f"attribute_not_exists({PK}) OR attribute_exists({REVISION})", {}
    return f"attribute_not_exists({REVISION}) AND {UPDATE_AT} = :seen", {
        "seen": foreign.get(UPDATE_AT)
    }


def _applied(canceled: _dynamodb.TransactionCanceled, revision: str) -> bool:
    """Whether the refusal is our own earlier attempt, applied (a lost response): the
    alias item or the history head holds our revision."""
    return any(alias_revision(item) == revision for item in canceled.items)


def _refused(
    name: str,
    alias: str,
    target: AliasTarget,
    canceled: _dynamodb.TransactionCanceled,
    expected_revision: str | None,
) -> None:
    """Raise the error a cancelled alias transaction means; return when it only asks
    for another attempt (the history head, or an item another client wrote)."""
    for index, version in enumerate(target.versions):
        if canceled.reasons[index] == "ConditionalCheckFailed":
            raise ArtifactNotFoundError(
                f"artifact {name!r} has no version "
                f"{_model.version_str(version)}; alias {alias!r} was not changed"
            )
    if expected_revision is not None and canceled.reasons[-1] == "ConditionalCheckFailed":
        raise ConcurrentModificationError(
            f"alias {alias!r} of {name!r} changed since revision {expected_revision}; "
            "read it again and retry"
        )
