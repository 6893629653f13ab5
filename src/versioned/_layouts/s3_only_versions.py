"""Reads of the S3-only layout's versions: one object, the listing (through the index in
``state.json`` where the listed ETag vouches for it), the newest number, the names."""

from __future__ import annotations

from typing import Any

from .. import _model, _pool, _s3
from .._model import LATEST, VersionId
from .._s3 import same_etag
from .._session import Session
from ..exc import CorruptRecordError
from . import VersionRecord
from .s3_only_keys import S3OnlyPlace
from .s3_only_state import ArtifactState, VersionEntry
from .s3_only_store import entry_record, record


def vouched(entry: VersionEntry, item: _s3.ListedObject) -> bool:
    """Whether an index entry describes the listed object: the ETag and size it recorded
    are the listed ones (the same bytes: a copy keeps its source's ETag), and the entry is
    as the layout wrote it (its fingerprint holds: an entry edited by hand, say its
    sha256, is not believed over the object's own metadata)."""
    return same_etag(entry.etag, item.etag) and entry.size == item.size and entry.trusted


class Versions:
    """The version reads of one place."""

    def __init__(self, place: S3OnlyPlace) -> None:
        self.place = place

    def get(self, session: Session, name: str, version: VersionId) -> VersionRecord | None:
        info = _s3.head(session.s3, self.place.bucket, self.place.version_key(name, version))
        return None if info is None else record(self.place, name, version, info)

    def listing(self, session: Session, name: str, limit: int | None = None) -> list[VersionRecord]:
        """LATEST, then the versions newest first; at most ``limit`` (LATEST counts):
        numbered keys sort newest first, so a limited listing reads only its first page."""
        s3, place = session.s3, self.place
        listing, document, latest = _pool.parallel(
            lambda: self.numbered_keys(s3, name, limit),
            lambda: _s3.get_document(s3, place.bucket, place.state_key(name)),
            lambda: _s3.head(s3, place.bucket, place.version_key(name, LATEST)),
        )
        if limit is not None and latest is not None:
            listing.objects = listing.objects[: limit - 1]
        index: dict[int, VersionEntry] = {}
        if document is not None:
            try:
                index = ArtifactState.from_bytes(document.body, "").versions
            except CorruptRecordError:
                index = {}  # an unreadable index only costs a HEAD per version here
        found = self.listed(s3, name, listing, index)
        records = [found[n][0] for n in sorted(found, reverse=True)]
        return ([record(place, name, LATEST, latest)] if latest else []) + records

    def numbered_keys(self, s3: Any, name: str, limit: int | None) -> _s3.Listing:
        """The version keys, newest first: all of them (1 LIST per 1000), or the first
        ``limit`` numbered ones (1 LIST for up to 1000)."""
        directory = self.place.versions_dir(name)
        if limit is None:
            return _s3.list_objects(s3, self.place.bucket, directory)
        found = _s3.Listing([], [])
        start = f"{directory}000000~"  # after LATEST's keys: the numbered ones, newest first
        while True:
            page = _s3.list_objects(
                s3, self.place.bucket, directory, start_after=start, max_keys=limit
            )
            numbered = [o for o in page.objects if self.place.numbered(name, o.key) is not None]
            found.objects += numbered
            if len(found.objects) >= limit or len(page.objects) < limit:
                found.objects = found.objects[:limit]
                return found
            start = page.objects[-1].key

    def listed(
        self, s3: Any, name: str, listing: _s3.Listing, index: dict[int, VersionEntry]
    ) -> dict[int, tuple[VersionRecord, str]]:
        """{number: (record, ETag)} of the listed version keys: from the index where the
        listing vouches for its entry (see :func:`vouched`), else from a HEAD. A version
        being deleted stays visible until its key is gone (a deletion that died half-way
        is finished by the next one)."""
        found: dict[int, tuple[VersionRecord, str]] = {}
        unknown: list[tuple[int, str]] = []
        for item in listing.objects:
            number = self.place.numbered(name, item.key)
            if number is None:
                continue
            entry = index.get(number)
            if entry is not None and vouched(entry, item):
                found[number] = (
                    entry_record(self.place, name, number, entry, item.last_modified),
                    item.etag,
                )
            else:
                unknown.append((number, item.key))
        keys = [key for _, key in unknown]
        infos = _s3.head_many(s3, self.place.bucket, keys)
        for (number, _), info in zip(unknown, infos, strict=True):
            if info is not None:
                found[number] = (record(self.place, name, number, info), info.etag)
        return found

    def latest_published_number(self, session: Session, name: str) -> int:
        directory = self.place.versions_dir(name)
        # Numbered keys sort after "000000_LATEST..." and its neighbours, newest first.
        listing = _s3.list_objects(
            session.s3, self.place.bucket, directory, start_after=f"{directory}000000~", max_keys=50
        )
        if len(listing.objects) >= 50:
            listing = _s3.list_objects(session.s3, self.place.bucket, directory)
        numbers = [
            number
            for item in listing.objects
            if (number := self.place.numbered(name, item.key)) is not None
        ]
        return max(numbers, default=0)

    def names(self, session: Session) -> list[str]:
        # One LIST: keys are grouped by "/versions/", so each artifact that holds version
        # files comes back once as "{root}{name}/versions/", and other keys are ignored.
        root = self.place.root
        listing = _s3.list_objects(session.s3, self.place.bucket, root, delimiter="/versions/")
        names = {prefix[len(root) : -len("/versions/")] for prefix in listing.prefixes}
        return sorted(n for n in names if _model.is_artifact_name(n))
