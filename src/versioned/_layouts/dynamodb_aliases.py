"""Aliases: one transaction per write that bumps its targets' ``alias_epoch``."""

from __future__ import annotations

import logging
import uuid

from .. import _dynamodb, _model
from .._model import AliasTarget
from .._retry import RetryPolicy
from .._session import Session
from ..exc import ArtifactNotFoundError, ConcurrentModificationError
from . import AliasPoll, AliasRecord
from .dynamodb_items import (
    ALIAS_EPOCH,
    NOT_DELETED,
    REVISION,
    SHA256,
    alias_item,
    alias_pk,
    alias_revision,
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
    ) -> AliasRecord:
        """Point ``alias`` at ``target``.

        Concurrency: one transaction whose conditions require each target's item to hold
        bytes and not be deleted, and bumps its ``alias_epoch`` (so a deletion that read
        the version before fails its condition); with ``expected_revision`` the alias
        item's revision must match. A retry after a lost response recognises its own new
        revision. Raises ArtifactNotFoundError (a target is missing or deleted),
        ConcurrentModificationError (revision changed), ContentionError (only concurrent
        transactions interfered until the retry policy was spent), BackendError.
        Requests: 1 transaction."""
        revision = uuid.uuid4().hex
        item = alias_item(name, alias, target, _model.utc_now(), revision)
        actions = [
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
        condition = f"{REVISION} = :r" if expected_revision is not None else None
        put = _dynamodb.put_action(self.place.table, item, condition)
        if expected_revision is not None:
            put["Put"]["ExpressionAttributeValues"] = _dynamodb.values(r=expected_revision)
        actions.append(put)
        canceled = _dynamodb.transact_retrying(
            session.dynamodb,
            self.place.table,
            actions,
            self.retry,
            f"pointing alias {alias!r} of {name!r}",
            f"{alias_pk(name)}/{alias}",
        )
        if canceled is not None:  # a refusal, unless it was our own applied earlier attempt
            _refused(name, alias, target, canceled, revision, expected_revision)
        return read_alias(name, item, self.place.table).record()

    def delete(
        self, session: Session, name: str, alias: str, expected_revision: str | None
    ) -> bool:
        """Delete ``alias``; False when there was none (without ``expected_revision``).

        With ``expected_revision`` the deletion is conditional on it: raises
        ConcurrentModificationError when the alias changed; True when it is gone (a retry
        of ours finds it deleted already). Requests: 1 (+ a GetItem on a server that
        does not return the refused item)."""
        pk, table = alias_pk(name), self.place.table
        if expected_revision is None:
            old = _dynamodb.delete_item(session.dynamodb, table, _dynamodb.Update(pk, alias, ""))
            return old is not None
        change = _dynamodb.Update(
            pk=pk,
            sk=alias,
            expression="",
            condition=f"{REVISION} = :r",
            values={"r": expected_revision},
        )
        try:
            _dynamodb.delete_item(session.dynamodb, table, change)
        except _dynamodb.ConditionFailed as failed:
            old = failed.item if failed.known else _dynamodb.get(session.dynamodb, table, pk, alias)
            if old:  # absent: deleted already (a retry of ours)
                raise ConcurrentModificationError(
                    f"alias {alias!r} of {name!r} changed since revision {expected_revision}; "
                    "read it again and retry"
                ) from None
        return True


def _refused(
    name: str,
    alias: str,
    target: AliasTarget,
    canceled: _dynamodb.TransactionCanceled,
    revision: str,
    expected_revision: str | None,
) -> None:
    """Raise the error a cancelled alias transaction means; return when the cause is our
    own applied attempt (a retry after a lost response)."""
    last = len(canceled.reasons) - 1
    refused_item = (
        canceled.items[last] if canceled.reasons[last] == "ConditionalCheckFailed" else None
    )
    if refused_item is not None and alias_revision(refused_item) == revision:
        logger.debug("pointing alias %r of %r: our earlier attempt was applied", alias, name)
        return
    for index, reason in enumerate(canceled.reasons[:last]):
        if reason == "ConditionalCheckFailed":
            raise ArtifactNotFoundError(
                f"artifact {name!r} has no version "
                f"{_model.version_str(target.versions[index])}; alias {alias!r} was not changed"
            )
    raise ConcurrentModificationError(
        f"alias {alias!r} of {name!r} changed since revision {expected_revision}; "
        "read it again and retry"
    )
