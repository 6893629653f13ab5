"""Reads of versions and artifact names (strongly consistent; never write)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from .. import _dynamodb, _model, _pool, _s3
from .._model import LATEST, VersionId
from .._retry import RetryPolicy
from .._session import Session
from . import LatestDeletion, VersionRecord
from .dynamodb_items import (
    NAMES_WITH_BYTES_READS,
    ArtifactItem,
    deleted_at,
    is_deleted,
    names_with_bytes,
    read_artifact,
    sort_key_version,
    user_metadata,
)
from .dynamodb_keys import DynamoDBPlace


class Versions:
    """Reads the artifact items of one table."""

    def __init__(self, place: DynamoDBPlace, retry: RetryPolicy) -> None:
        self.place = place
        self.retry = retry
        #: the folders the last listing found (this object's own: read beside the next
        #: listing's LIST, so that a listing of known names takes one round trip)
        self._folders: tuple[str, ...] = ()

    def get(self, session: Session, name: str, version: VersionId) -> VersionRecord | None:
        """One version, None when absent or deleted. LATEST marked unverified (a writer
        died) is described by its object's own metadata. CorruptRecordError naming a
        damaged item. Requests: 1 (+ a HEAD for an unverified LATEST)."""
        stored = _dynamodb.get(
            session.dynamodb, self.place.table, name, _model.zfill_version(version)
        )
        if stored is None:
            return None
        item = read_artifact(name, stored, self.place.table)
        return self._describe(session, item) if item.visible else None

    def latest_deletion(self, session: Session, name: str) -> LatestDeletion | None:
        """LATEST's item marked deleted (by ``delete_version``): when, if it says (the
        seed's library does not record it). 1 GetItem."""
        stored = _dynamodb.get(
            session.dynamodb, self.place.table, name, _model.zfill_version(LATEST)
        )
        if stored is None or not is_deleted(stored):
            return None
        return LatestDeletion(deleted_at(stored))

    def listing(self, session: Session, name: str, limit: int | None = None) -> list[VersionRecord]:
        """Every version not deleted, newest first (LATEST first); at most ``limit`` of
        them (LATEST counts). CorruptRecordError naming a damaged item. Requests: 1 Query
        per MB (limited: usually 1) (+ a HEAD for an unverified LATEST)."""
        if limit is None:
            items = [item for item in self.items(session, name) if item.visible]
        else:
            items = self.newest(session, name, limit)
        return [self._describe(session, item) for item in items]

    def newest(self, session: Session, name: str, limit: int) -> list[ArtifactItem]:
        """The first ``limit`` visible items, newest first (sort keys descending: LATEST,
        then the numbers); pages a little larger than ``limit``, for deleted ones."""
        found: list[ArtifactItem] = []
        pages = _dynamodb.query_pages(
            session.dynamodb, self.place.table, name, page_size=limit + limit // 4 + 4
        )
        for page in pages:
            for stored in page:
                if sort_key_version(stored) is None:
                    continue
                item = read_artifact(name, stored, self.place.table)
                if item.visible:
                    found.append(item)
            if len(found) >= limit:
                break
        return found[:limit]

    def latest_published_number(self, session: Session, name: str) -> int:
        """The highest version number not deleted (0: none). 1 Query per MB."""
        items = self.items(session, name)
        numbers = [int(i.version) for i in items if i.version != LATEST and i.visible]
        return max(numbers, default=0)

    def items(self, session: Session, name: str) -> list[ArtifactItem]:
        """The artifact items of ``name`` (items whose sort key names no version are left
        out), each read whole."""
        stored = _dynamodb.query(session.dynamodb, self.place.table, name)
        return [
            read_artifact(name, item, self.place.table)
            for item in stored
            if sort_key_version(item) is not None
        ]

    def names(self, session: Session) -> list[str]:
        """The artifacts whose LATEST item records bytes, among the folders of the bucket
        (a folder without such an item, e.g. only orphan objects or a purge's leftovers,
        is no artifact). The LATEST items of the folders the previous listing found are
        read beside the LIST (one round trip); a folder new since then costs one more
        BatchGetItem after it. Requests: 1 LIST per 1000 folders + 1 BatchGetItem per 100
        names, sent together (+ one per retry of keys left unprocessed; ContentionError
        when some remain once the retry policy is spent: a name is never left out
        silently)."""
        root = self.place.root
        known = self._folders
        listing, found = _pool.parallel(
            lambda: _s3.list_objects(session.s3, self.place.bucket, root, delimiter="/"),
            lambda: self._latest_items(session, known),
        )
        folders = tuple(
            sorted(
                name
                for prefix in listing.prefixes
                if _model.is_artifact_name(name := prefix[len(root) : -1])
            )
        )
        self._folders = folders  # one assignment: threads may race, either is a guess
        new = sorted(set(folders) - set(known))
        if new:
            found += self._latest_items(session, new)
        listed = set(folders)
        return [name for name in names_with_bytes(found) if name in listed]

    def _latest_items(self, session: Session, names: Iterable[str]) -> list[_dynamodb.Item]:
        """Their LATEST items, only what ``names_with_bytes`` reads (whole items cost
        moto ~3 ms more to send for three names, and the client more to decode)."""
        keys = [(name, LATEST) for name in names]
        return _dynamodb.batch_get(
            session.dynamodb, self.place.table, keys, self.retry, attributes=NAMES_WITH_BYTES_READS
        )

    def _describe(self, session: Session, item: ArtifactItem) -> VersionRecord:
        key = self.place.version_key(item.name, item.version)
        if item.version == LATEST and item.unverified:
            return self._latest_truth(session, item, key)
        return item.record(key, self.place.table)

    def _latest_truth(self, session: Session, item: ArtifactItem, key: str) -> VersionRecord:
        """LATEST as its bytes describe themselves (used while the item is unverified)."""
        info = _s3.head(session.s3, self.place.bucket, key)
        if info is None or not info.sha256:
            return item.record(key, self.place.table)
        record = dataclasses.replace(item, sha256=info.sha256).record(key, self.place.table)
        return dataclasses.replace(
            record,
            size=info.size,
            content_type=info.content_type,
            metadata=user_metadata(info.metadata),
        )
