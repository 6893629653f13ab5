"""Alias history in the S3 + DynamoDB layout: one more Put in each alias transaction.

Items live in their own partition, ``pk="__{name}-history"`` (no artifact name starts
with ``__``, and no alias partition ``__{name}-alias`` ends in ``-history``, so neither
can collide with it):

- one entry per change, ``sk="{alias}#{stamp:017d}"`` (``stamp``: microseconds since the
  epoch): ``revision``, ``changed_at``, ``version``, ``secondary_version``,
  ``secondary_version_weight`` (none after a delete), ``action``, ``actor``, ``reason``.
  Alias names hold no ``#``, so ``{alias}#`` selects exactly one alias's entries; a Query
  with ScanIndexForward=False and Limit=N returns its newest N in one request.
- one head per alias, ``sk="{alias}"``: the ``stamp`` and ``revision`` of its newest
  entry. Every alias transaction updates it on the condition that the stored stamp is
  older than the new one, so entries are committed in stamp order (a writer whose clock
  is behind moves its stamp past the stored one and tries again): the history's order is
  the order in which the alias's changes were applied.

An alias item written by another client (the seed's library writes no ``revision``) is
found by the next write's condition (an alias item without a revision); that write then
records it first, as an entry by ``unknown (another client)``. A deletion by another
client between two of our writes leaves no trace to find, so it is not recorded.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from .. import _dynamodb, _model
from .._model import AliasTarget
from ..history import AliasChange
from . import AliasRecord, ChangeNote
from .dynamodb_items import PK, REVISION, SK, Stored, stored_time

STAMP, CHANGED_AT, ACTION, ACTOR, REASON = "stamp", "changed_at", "action", "actor", "reason"
VERSION, SECONDARY, WEIGHT = "version", "secondary_version", "secondary_version_weight"
#: who changed an alias written by a client that records no history
ANOTHER_CLIENT = "unknown (another client)"
#: the head's condition: its newest entry is older than the one written now
HEAD_OLDER = f"attribute_not_exists({STAMP}) OR {STAMP} < :stamp"


def history_pk(name: str) -> str:
    return f"__{name}-history"


def entry_sk(alias: str, stamp: int) -> str:
    return f"{alias}#{stamp:017d}"


def stamp_of(moment: datetime) -> int:
    """Microseconds since the epoch."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds


def moment_of(stamp: int) -> datetime:
    return datetime.fromtimestamp(stamp // 1_000_000, UTC).replace(microsecond=stamp % 1_000_000)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One change to record: the target after it (None: deleted) and its note."""

    revision: str
    stamp: int
    target: AliasTarget | None
    note: ChangeNote

    def item(self, name: str, alias: str) -> Stored:
        target = self.target
        return {
            PK: history_pk(name),
            SK: entry_sk(alias, self.stamp),
            REVISION: self.revision,
            STAMP: self.stamp,
            CHANGED_AT: stored_time(moment_of(self.stamp)),
            VERSION: None if target is None else _model.zfill_version(target.version),
            SECONDARY: (
                None
                if target is None or target.secondary_version is None
                else _model.zfill_version(target.secondary_version)
            ),
            WEIGHT: None if target is None else target.secondary_version_weight,
            ACTION: self.note.action,
            ACTOR: self.note.actor,
            REASON: self.note.reason,
        }


def foreign_entry(record: AliasRecord, after: int, before: int) -> Entry:
    """The entry of an alias item another client wrote: stamped by its own time, kept
    between the alias's newest recorded entry (``after``) and the change found it."""
    target = AliasTarget(record.version, record.secondary_version, record.secondary_version_weight)
    stamp = max(min(stamp_of(record.update_at), before - 1), after + 1)
    note = ChangeNote(action="put", actor=ANOTHER_CLIENT)
    return Entry(record.fingerprint, stamp, target, note)


def actions(table: str, name: str, alias: str, entries: list[Entry]) -> list[dict[str, Any]]:
    """The head update (conditional on its stamp being older than the first entry's)
    and a Put per entry, for one alias transaction."""
    newest = entries[-1]
    head = _dynamodb.Update(
        pk=history_pk(name),
        sk=alias,
        expression=f"SET {STAMP} = :new, {REVISION} = :revision",
        condition=HEAD_OLDER,
        values={"new": newest.stamp, "revision": newest.revision, "stamp": entries[0].stamp},
    )
    return [
        _dynamodb.update_action(table, head),
        *(_dynamodb.put_action(table, entry.item(name, alias)) for entry in entries),
    ]


def not_recorded(table: str, name: str, alias: str, stamps: list[int]) -> list[dict[str, Any]]:
    """A ConditionCheck per entry an earlier attempt of this call wrote under ``stamps``:
    absent. A retry whose earlier attempt was applied after all (its answer lost, and
    another writer's change since) is refused, the entry returned names our revision,
    so it is not recorded twice (DynamoDB's request token covers a retry of the same
    request for ten minutes; servers that ignore it, and retries after that, need this)."""
    return [
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": _dynamodb.key(history_pk(name), entry_sk(alias, stamp)),
                "ConditionExpression": f"attribute_not_exists({PK})",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        for stamp in stamps
    ]


def head_stamp(stored: Stored | None) -> int | None:
    """The stamp a refused head item holds (None: no head, or not a readable one)."""
    value = (stored or {}).get(STAMP)
    if isinstance(value, bool):
        return None
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def head_revision(stored: Stored | None) -> str | None:
    value = (stored or {}).get(REVISION)
    return value if isinstance(value, str) else None


def query(
    dynamodb: Any, table: str, name: str, alias: str, limit: int | None
) -> list[dict[str, Any]]:
    """The alias's entries, newest first: one Query per MB (one for ``limit`` <= ~4000)."""
    return _dynamodb.query(
        dynamodb,
        table,
        history_pk(name),
        descending=True,
        limit=limit,
        sk_between=(f"{alias}#", f"{alias}#~"),
    )[:limit]


def change(name: str, alias: str, stored: Stored) -> AliasChange:
    """An entry item as a public AliasChange (ValueError/TypeError when damaged)."""
    version = stored.get(VERSION)
    secondary = stored.get(SECONDARY)
    weight = stored.get(WEIGHT)
    reason = stored.get(REASON)
    return AliasChange(
        name=name,
        alias=alias,
        revision=str(stored[REVISION]),
        changed_at=moment_of(int(stored[STAMP])),
        version=None if version is None else _model.parse_version(version),
        secondary_version=None if secondary is None else int(_model.parse_version(secondary)),
        secondary_version_weight=None if weight is None else int(weight),
        action=str(stored[ACTION]),
        actor=str(stored[ACTOR]),
        reason=None if reason is None else str(reason),
    )
