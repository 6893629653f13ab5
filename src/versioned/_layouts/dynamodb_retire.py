"""Deletion: soft deletes conditional on the alias epoch read, and purges."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor

from .. import _dynamodb, _model, _pool, _s3
from .._model import LATEST, VersionId
from .._retry import RetryPolicy
from .._session import Session
from . import Beside, Chooser, RetireResult, VersionRecord, once
from .dynamodb_aliases import Aliases
from .dynamodb_history import history_pk
from .dynamodb_items import (
    ALIAS_EPOCH,
    DELETED_AT,
    DELETED_BY,
    IS_DELETED,
    NOT_DELETED,
    ArtifactItem,
    LatestItem,
    alias_pk,
    artifact_of_pk,
    deleted_by,
    item_key,
    read_artifact,
    read_latest,
    sort_key_version,
    stored_time,
)
from .dynamodb_keys import DynamoDBPlace
from .dynamodb_publish import Publisher
from .dynamodb_retention import SORT_KEY as RETENTION_SK
from .dynamodb_retention import retention_pk

logger = logging.getLogger(__name__)

#: soft deletes of one purge sent at once (each its own connection: see _s3.RETRY_CONFIG)
PURGE_WORKERS = 160


@dataclasses.dataclass
class _Reading:
    """One artifact's version items, then its aliases (read in that order)."""

    items: dict[VersionId, ArtifactItem]
    latest: LatestItem | None
    users: dict[int, list[str]]
    latest_users: list[str]

    def published(self) -> list[ArtifactItem]:
        """The numbered versions that exist, newest first."""
        numbered = [i for v, i in self.items.items() if v != LATEST and i.visible]
        return sorted(numbered, key=lambda item: int(item.version), reverse=True)

    def holders(self, version: VersionId) -> list[str]:
        return self.latest_users if version == LATEST else self.users.get(int(version), [])


@dataclasses.dataclass
class _Plan:
    """What one pass of a deletion does with the versions still to delete."""

    ours: list[ArtifactItem] = dataclasses.field(default_factory=list)
    in_use: dict[VersionId, list[str]] = dataclasses.field(default_factory=dict)
    doomed: list[ArtifactItem] = dataclasses.field(default_factory=list)


class Retirer:
    """Deletes versions (soft) and purges artifacts."""

    def __init__(
        self, place: DynamoDBPlace, publisher: Publisher, aliases: Aliases, retry: RetryPolicy
    ) -> None:
        self.place = place
        self.publisher = publisher
        self.aliases = aliases
        self.retry = retry

    def retire(
        self,
        session: Session,
        name: str,
        choose: Chooser,
        *,
        strict: bool,
        beside: Beside | None = None,
    ) -> RetireResult:
        """Mark the versions ``choose`` picks deleted, except those an alias routes to.

        Concurrency: version items are read first, aliases second (never in parallel);
        each soft delete is conditional on the ``alias_epoch`` read, so an alias written
        in between fails it and the version is looked at again. ``strict``: delete
        nothing when a chosen version is in use. A retry recognises its own applied
        deletes (``deleted_by``). Raises ContentionError (aliases kept changing until the
        retry policy was spent), CorruptRecordError (a damaged item), BackendError.
        Requests: 2 Queries + 1 conditional update per version (160 at a time), + 1
        update of LATEST's item when the newest version goes; ``beside`` (the engine's
        rollouts and holds) is read with the first pass's version Query."""
        token = uuid.uuid4().hex
        retired: list[VersionRecord] = []
        remaining: list[VersionId] | None = None
        first = once(beside)
        for attempt in self.retry.attempts(f"deleting versions of {name!r}", name):
            reading = self._read(session, name, first)
            if remaining is None:
                records = [self._record(item) for item in reading.published()]
                remaining = list(dict.fromkeys(choose(records, reading.users)))
            plan = _plan(reading, remaining, token)
            retired += [self._record(item) for item in plan.ours]
            if strict and plan.in_use:
                return RetireResult(retired, plan.in_use)
            doomed_numbers = [int(i.version) for i in plan.doomed if i.version != LATEST]
            self.publisher.forget_published(session, name, reading.latest, doomed_numbers)
            outcomes = self._soft_delete_all(session, plan.doomed, token)
            retired += [self._record(i) for i, ok in zip(plan.doomed, outcomes, strict=True) if ok]
            conflicted = [i for i, ok in zip(plan.doomed, outcomes, strict=True) if not ok]
            if not conflicted:
                return RetireResult(retired, plan.in_use)
            remaining = [item.version for item in conflicted]
            versions = ", ".join(_model.version_str(v) for v in remaining)
            attempt.conflict(f"an alias was pointed at version(s) {versions} since they were read")
        raise AssertionError("unreachable")

    def _record(self, item: ArtifactItem) -> VersionRecord:
        return item.record(self.place.version_key(item.name, item.version), self.place.table)

    def _read(self, session: Session, name: str, beside: Beside) -> _Reading:
        """The version items (``beside`` with them), then the aliases (an alias written
        after the items were read has bumped its target's epoch, which fails our
        condition; one written before the aliases are read is seen)."""
        table = self.place.table
        _, stored = _pool.parallel(beside, lambda: _dynamodb.query(session.dynamodb, table, name))
        items: dict[VersionId, ArtifactItem] = {}
        latest: LatestItem | None = None
        for raw in stored:
            version = sort_key_version(raw)
            if version is None:
                continue
            items[version] = read_artifact(name, raw, table)
            if version == LATEST:
                latest = read_latest(name, raw, table)
        aliases = self.aliases.listing(session, name)
        return _Reading(
            items=items,
            latest=latest,
            users=_model.alias_users((a.alias, a.targets) for a in aliases),
            latest_users=sorted(a.alias for a in aliases if LATEST in a.targets),
        )

    def _soft_delete_all(
        self, session: Session, items: list[ArtifactItem], token: str
    ) -> list[bool]:
        """Soft-delete ``items`` (each True when deleted by us): one conditional update
        each, up to PURGE_WORKERS at once (1000 versions: 7 round trips). Not
        TransactWriteItems, not BatchWriteItem: see docs/design.md, "Purging many
        versions on DynamoDB"."""
        if len(items) <= 1:
            return [self._soft_delete(session, item, token) for item in items]
        with ThreadPoolExecutor(max_workers=min(PURGE_WORKERS, len(items))) as pool:
            return list(pool.map(lambda item: self._soft_delete(session, item, token), items))

    def _soft_delete(self, session: Session, item: ArtifactItem, token: str) -> bool:
        """Mark one version deleted unless an alias was pointed at it since it was read
        (True: deleted by us, now or by an earlier attempt whose answer was lost)."""
        change = _deletion(item, token, stored_time(session.clock.now()))
        table = self.place.table
        try:
            _dynamodb.update(session.dynamodb, table, change)
            return True
        except _dynamodb.ConditionFailed as failed:
            old = (
                failed.item
                if failed.known
                else _dynamodb.get(session.dynamodb, table, item.name, item.sort_key)
            )
            if deleted_by(old) == token:
                return True
            logger.debug(
                "deleting version %s of %r: an alias changed since it was read",
                _model.version_str(item.version),
                item.name,
            )
            return False

    # ------------------------------------------------------------ purge
    def purge_artifact(self, session: Session, name: str) -> None:
        """Delete every item, alias, alias history entry, retention policy and object of ``name``.

        Concurrency: every version item is marked deleted first (an alias transaction
        committing later fails its condition; one committed before is found by the alias
        query that follows), then aliases, this layout's objects and the items go. Never
        reads the items' contents, so damaged items are purged too. Raises
        ContentionError when BatchWriteItem leaves items unprocessed until the retry
        policy is spent (the rest remain: purge again), BackendError.
        Requests: 4 Queries, 1 GetItem, N updates (16 at a time), a BatchWriteItem per 25 items,
        a LIST per 1000 objects and a DeleteObjects per 1000."""
        dynamodb, table = session.dynamodb, self.place.table
        token = uuid.uuid4().hex
        keys = [item_key(item) for item in _dynamodb.query(dynamodb, table, name)]
        _pool.fan_out(lambda key: self._mark_purged(session, key, token), keys)
        aliases = _dynamodb.query(dynamodb, table, alias_pk(name))
        _dynamodb.delete_keys(dynamodb, table, [item_key(i) for i in aliases], self.retry)
        recorded = _dynamodb.query(dynamodb, table, history_pk(name))
        # the history, and the artifact's retention policy (S3-only's goes with its folder)
        kept = [item_key(i) for i in recorded]
        if _dynamodb.get(dynamodb, table, retention_pk(name), RETENTION_SK) is not None:
            kept.append((retention_pk(name), RETENTION_SK))
        _dynamodb.delete_keys(dynamodb, table, kept, self.retry)
        # objects before items: a version another client (the seed's library) records
        # meanwhile loses its item too, or keeps bytes no item names (an orphan verify
        # reports); never an item whose bytes are gone
        folder = self.place.artifact_folder(name)
        listing = _s3.list_objects(session.s3, self.place.bucket, folder)
        owned = [o.key for o in listing.objects if self.place.classify(o.key) is not None]
        _s3.delete_many(session.s3, self.place.bucket, owned)
        items = _dynamodb.query(dynamodb, table, name)
        _dynamodb.delete_keys(dynamodb, table, [item_key(i) for i in items], self.retry)

    def _mark_purged(self, session: Session, key: tuple[str, str], token: str) -> None:
        change = _dynamodb.Update(
            pk=key[0],
            sk=key[1],
            expression=f"SET {IS_DELETED} = :t, {DELETED_BY} = :token",
            values={"t": True, "token": token},
        )
        _dynamodb.update(session.dynamodb, self.place.table, change)

    def purge_all(self, session: Session) -> None:
        """Purge every artifact the table or the bucket knows (see
        :meth:`purge_artifact`). Requests: a Scan per MB, a LIST per 1000 objects, then
        each artifact's purge (16 at a time)."""
        names = set(self.names_in_table(session))
        listing = _s3.list_objects(session.s3, self.place.bucket, self.place.root)
        names |= {kind[0] for o in listing.objects if (kind := self.place.classify(o.key))}
        _pool.fan_out(lambda name: self.purge_artifact(session, name), sorted(names))

    def names_in_table(self, session: Session) -> list[str]:
        """Every artifact an item of the table belongs to. A Scan per MB."""
        keys = _dynamodb.scan_keys(session.dynamodb, self.place.table)
        return sorted({name for pk, _ in keys if (name := artifact_of_pk(pk)) is not None})


def _deletion(item: ArtifactItem, token: str, at: str) -> _dynamodb.Update:
    """The soft delete of one version at ``at``: conditional on the alias epoch read
    with it."""
    epoch = item.alias_epoch
    return _dynamodb.Update(
        pk=item.name,
        sk=item.sort_key,
        expression=f"SET {IS_DELETED} = :t, {DELETED_BY} = :token, {DELETED_AT} = :at",
        condition=f"{NOT_DELETED} AND "
        + (f"{ALIAS_EPOCH} = :e" if epoch is not None else f"attribute_not_exists({ALIAS_EPOCH})"),
        values={
            "t": True,
            "f": False,
            "token": token,
            "at": at,
            **({"e": epoch} if epoch is not None else {}),
        },
    )


def _plan(reading: _Reading, remaining: list[VersionId], token: str) -> _Plan:
    """Sort the versions still to delete: deleted by us already (a lost answer), in use
    by an alias, or to delete now; versions gone already are left out."""
    plan = _Plan()
    for version in remaining:
        item = reading.items.get(version)
        if item is not None and item.deleted_by == token:
            plan.ours.append(item)  # ours, response lost
        elif item is not None and item.visible:
            holders = reading.holders(version)
            if holders:
                plan.in_use[version] = sorted(holders)
            else:
                plan.doomed.append(item)
    return plan
