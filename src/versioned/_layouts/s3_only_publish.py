"""Put and publish in the S3-only layout.

A put writes LATEST's object (unconditionally: the last put wins). A publish reserves its
number in ``state.json`` (one compare-and-swap, :meth:`StateStore.update_state`) before it
copies LATEST there, so numbers are never shared or reused; a copy whose LATEST changed
meanwhile is made again from LATEST as it is now.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from .. import _content, _model, _pool, _s3, _transfer, constants
from .._model import LATEST
from .._retry import RetryPolicy
from .._s3 import Precondition, same_etag
from .._session import Session
from .._transfer import TransferSettings
from ..exc import ArtifactNotFoundError, ContentionError
from . import PutRequest, VersionRecord
from .s3_only_keys import S3OnlyPlace
from .s3_only_state import DELETING, LIVE, PENDING, ArtifactState, VersionEntry
from .s3_only_store import (
    Done,
    Retry,
    StateStore,
    Write,
    entry_record,
    new_token,
    record,
)

logger = logging.getLogger(__name__)


class Publisher:
    """Writes LATEST and publishes it as numbered versions, for one place."""

    def __init__(
        self,
        place: S3OnlyPlace,
        store: StateStore,
        transfer: TransferSettings,
        retry: RetryPolicy,
    ) -> None:
        self.place = place
        self.store = store
        self.transfer = transfer
        self.retry = retry

    # ------------------------------------------------------------ LATEST
    def write_latest(
        self,
        session: Session,
        request: PutRequest,
        content: _content.Content,
        progress: _s3.Progress | None,
    ) -> VersionRecord:
        s3, name, bucket = session.s3, request.name, self.place.bucket
        key = self.place.version_key(name, LATEST)
        current = _s3.head(s3, bucket, key)
        if current is not None and current.sha256 == content.sha256:
            if progress:
                progress(content.size, content.size)
            return record(self.place, name, LATEST, current)
        metadata = {
            **request.metadata,
            constants.METADATA_KEY_ARTIFACT_NAME: name,
            constants.METADATA_KEY_ARTIFACT_SHA256: content.sha256,
        }
        upload = _transfer.UploadRequest(bucket, key, metadata, request.content_type, request.tags)
        try:
            written = _transfer.upload(s3, upload, content, self.transfer, progress)
        except Precondition as error:  # only conditional writes can fail this way
            raise ContentionError(f"writing LATEST of {name!r} was refused: {error}") from error
        # The object's own time (S3 sets it; the response does not say it): read it back,
        # unless another put replaced the object already.
        info = _s3.head(s3, bucket, key, if_match=written.etag)
        if info is not None:
            return record(self.place, name, LATEST, info)
        return VersionRecord(
            name=name,
            version=LATEST,
            sha256=content.sha256,
            update_at=_model.whole_seconds(_model.utc_now()),
            key=key,
            size=content.size,
            content_type=request.content_type,
            metadata=dict(request.metadata),
        )

    # ------------------------------------------------------------ publish
    def publish(self, session: Session, name: str) -> VersionRecord:
        operation = f"publishing {name!r}"
        return self.store.update_state(
            session.s3, name, lambda: self._reserve(session, name, operation), operation
        )

    def _reserve(
        self, session: Session, name: str, operation: str
    ) -> Done[VersionRecord] | Write[VersionRecord]:
        """One pass of publish: the newest version when it holds LATEST's bytes already,
        else a reservation of the next number, to be copied once stored."""
        s3, place = session.s3, self.place
        loaded, latest, newest = _pool.parallel(
            lambda: self.store.load(s3, name, rebuild=False, operation=operation),
            lambda: _s3.head(s3, place.bucket, place.version_key(name, LATEST)),
            lambda: self._newest_listed(s3, name),
        )
        if latest is None:
            raise ArtifactNotFoundError(f"artifact {name!r} has no LATEST to publish")
        latest_record = record(place, name, LATEST, latest)
        state = loaded.state
        if state.purging:
            raise ArtifactNotFoundError(f"artifact {name!r} is being purged")
        self._confirm_listed(state, newest)
        unchanged = self._unchanged(s3, name, state, latest, newest)
        if unchanged is not None:
            return Done(unchanged)
        entry = VersionEntry(
            status=PENDING,
            sha256=latest_record.sha256,
            size=latest.size,
            etag=latest.etag,
            update_at=None,
            content_type=latest.content_type,
            token=new_token(),
        )
        number = state.reserve(entry)

        def copy(_: object) -> VersionRecord | Retry:
            published = self._copy_latest(session, name, number, latest, latest_record)
            if published is None:
                return Retry(f"version {number} is held by another client's object")
            return published

        return Write(loaded, state, copy)

    def _newest_listed(self, s3: Any, name: str) -> dict[int, _s3.ListedObject]:
        """The newest version keys (numbered keys sort newest first, after LATEST's): the
        numbers another client may have published since the state last saw them."""
        directory = self.place.versions_dir(name)
        listing = _s3.list_objects(
            s3, self.place.bucket, directory, start_after=f"{directory}000000~", max_keys=20
        )
        found: dict[int, _s3.ListedObject] = {}
        for item in listing.objects:
            number = self.place.numbered(name, item.key)
            if number is not None:
                found[number] = item
        return found

    @staticmethod
    def _confirm_listed(state: ArtifactState, listed: dict[int, _s3.ListedObject]) -> None:
        """Count listed numbers as handed out, and confirm reserved copies the listing
        shows (same ETag as their source: the same bytes)."""
        state.hwm = max([state.hwm, *listed])
        for number, item in listed.items():
            entry = state.versions.get(number)
            if entry is not None and entry.status == PENDING and same_etag(entry.etag, item.etag):
                entry.status = LIVE
                entry.etag = item.etag
                entry.update_at = _model.whole_seconds(item.last_modified).isoformat()

    def _unchanged(
        self,
        s3: Any,
        name: str,
        state: ArtifactState,
        latest: _s3.ObjectInfo,
        listed: dict[int, _s3.ListedObject],
    ) -> VersionRecord | None:
        """The newest version when it already holds LATEST's bytes (the listing says which
        versions exist; the index, what a confirmed one holds)."""
        if not listed:
            return None
        number = max(listed)
        entry = state.versions.get(number)
        if entry is not None and entry.status == DELETING:
            # Being deleted (or left marked by a deletion that died): the next deletion
            # removes it, so it is not handed out again; a new number holds the bytes.
            return None
        if entry is not None and entry.status == LIVE:
            if entry.sha256 != latest.sha256:
                return None
            return entry_record(self.place, name, number, entry, None)
        # Written by another client, or a copy the listing did not confirm: its own
        # metadata says what it holds. (A reservation's sha256 is what LATEST held when
        # the number was reserved; the copy may hold newer bytes: LATEST changed before
        # it landed, or the server ignored CopySourceIfMatch.)
        info = _s3.head(s3, self.place.bucket, self.place.version_key(name, number))
        if info is None or info.sha256 != latest.sha256:
            return None
        return record(self.place, name, number, info)

    def _copy_latest(
        self,
        session: Session,
        name: str,
        number: int,
        latest: _s3.ObjectInfo,
        latest_record: VersionRecord,
    ) -> VersionRecord | None:
        """Copy LATEST to the reserved ``number``. If LATEST changed since it was read, the
        copy is refused and made again from LATEST as it is now (the number is not handed
        out until its object exists, so nobody has seen it name other bytes), for as long
        as the retry policy allows: a reserved number given up would be a gap no later
        publish fills. None when the number cannot be used (another client's object holds
        it): the caller reserves another."""
        s3, bucket = session.s3, self.place.bucket
        key = self.place.version_key(name, number)
        for attempt in self.retry.attempts(f"publishing {name!r} as version {number}", key):
            try:
                result = _transfer.copy(
                    s3,
                    bucket,
                    latest.key,
                    key,
                    source=latest,
                    transfer=self.transfer,
                    once=session.s3_once,
                )
            except Precondition:
                info = _s3.head(s3, bucket, key)
                if info is not None:
                    if info.sha256 == latest_record.sha256:  # our earlier attempt landed
                        self._check_not_purged(s3, name, number, key, info.etag)
                        return record(self.place, name, number, info)
                    return None  # another client's object holds this number
                fresh = _s3.head(s3, bucket, latest.key)
                if fresh is None:
                    raise ArtifactNotFoundError(
                        f"artifact {name!r} lost its LATEST while it was being published"
                    ) from None
                latest, latest_record = fresh, record(self.place, name, LATEST, fresh)
                attempt.conflict("LATEST changed since it was read")
                continue
            self._check_not_purged(s3, name, number, key, result.etag)
            return self._copied(s3, name, number, key, result, latest, latest_record)
        raise AssertionError("unreachable")

    def _check_not_purged(self, s3: Any, name: str, number: int, key: str, etag: str) -> None:
        """A copy may land after a whole ``purge_artifact`` ran (a long copy, or a publisher
        paused after its reservation), which would bring the purged artifact back. The
        state, read once the copy landed, must still be there, not purging, with our
        number below its high-water mark; else the copy is taken back and nothing is
        published. (Costs one GET per publish; a purge that starts after this read lists
        the copy and deletes it like any other version.)"""
        loaded = self.store.load(s3, name, rebuild=False)
        if loaded.etag is not None and not loaded.state.purging and loaded.state.hwm >= number:
            return
        with contextlib.suppress(Precondition):
            _s3.delete(s3, self.place.bucket, key, if_match=etag)
        logger.debug(
            "publishing %r: took back version %d, copied after the artifact was purged",
            name,
            number,
        )
        raise ArtifactNotFoundError(
            f"artifact {name!r} was purged while version {number} was being published; "
            "nothing was published"
        )

    def _copied(
        self,
        s3: Any,
        name: str,
        number: int,
        key: str,
        result: _transfer.CopyResult,
        latest: _s3.ObjectInfo,
        latest_record: VersionRecord,
    ) -> VersionRecord | None:
        """The record of a landed copy, from what the server reported or a HEAD."""
        sha = result.holds(latest)
        if sha != latest_record.sha256 or result.last_modified is None:
            # LATEST changed under a server that ignores CopySourceIfMatch, or the server
            # reported too little: the copy is self-consistent, so read what it holds.
            info = _s3.head(s3, self.place.bucket, key)
            return None if info is None else record(self.place, name, number, info)
        return VersionRecord(
            name=name,
            version=number,
            sha256=sha,
            update_at=_model.whole_seconds(result.last_modified),
            key=key,
            size=latest.size,
            content_type=latest.content_type,
            metadata=latest_record.metadata,
        )
