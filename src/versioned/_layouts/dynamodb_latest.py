"""put: LATEST's bytes and item, written while holding LATEST's write turn."""

from __future__ import annotations

import logging
from datetime import datetime

from .. import _content, _dynamodb, _model, _s3, _transfer, constants
from .._model import LATEST
from .._retry import RetryPolicy
from .._s3 import Precondition
from .._session import Session
from .._transfer import TransferSettings
from . import PutRequest, VersionRecord
from .dynamodb_items import (
    CONTENT_LENGTH,
    CONTENT_TYPE,
    ETAG,
    IS_DELETED,
    METADATA,
    NOT_DELETED,
    QUEUE_IDLE,
    SHA256,
    UNVERIFIED,
    UPDATE_AT,
    ArtifactItem,
    LatestItem,
    optional_fields,
    stored_time,
)
from .dynamodb_keys import DynamoDBPlace
from .dynamodb_queue import Turn, TurnQueue

logger = logging.getLogger(__name__)

#: a put of content LATEST already holds writes nothing
UNCHANGED_PUT = (
    f"{SHA256} = :sha AND {NOT_DELETED} AND attribute_not_exists({UNVERIFIED}) AND {QUEUE_IDLE}"
)


def needs_head(artifact: ArtifactItem) -> bool:
    """Whether LATEST's bytes must be looked at: a dead writer may have changed them
    (unverified), or the item comes from a client that records no ETag."""
    return artifact.unverified or (artifact.sha256 is not None and not artifact.etag)


class LatestWriter:
    """Writes LATEST (``put``)."""

    def __init__(
        self,
        place: DynamoDBPlace,
        queue: TurnQueue,
        transfer: TransferSettings,
        retry: RetryPolicy,
    ) -> None:
        self.place = place
        self.queue = queue
        self.transfer = transfer
        self.retry = retry

    def write(
        self,
        session: Session,
        request: PutRequest,
        content: _content.Content,
        progress: _s3.Progress | None,
    ) -> VersionRecord:
        """Make ``content`` LATEST's bytes.

        Concurrency: puts and publishes of one artifact take turns in LATEST's queue; the
        bytes are written ``If-Match`` the recorded ETag (create-only when none), and the
        item committed while the turn ends. A retry after a lost response finds its own
        ticket. Unchanged content (LATEST holds it, nothing queued) writes nothing.
        Raises ContentionError when the retry policy is spent, CorruptRecordError when
        LATEST's item is damaged, BackendError for a failed request.
        Requests: 1 unchanged; 3 new (ticket, PUT, commit), + a HEAD when LATEST is
        unverified or its item records no ETag."""
        name = request.name

        def unchanged(latest: LatestItem) -> VersionRecord:
            if progress:
                progress(content.size, content.size)
            return latest.artifact.record(self.place.version_key(name, LATEST), self.place.table)

        return self.queue.run(
            session,
            name,
            f"putting {name!r}",
            (UNCHANGED_PUT, {"sha": content.sha256, "f": False}, unchanged),
            lambda turn: self._put_turn(session, request, content, progress, turn),
            writes_latest=True,
        )

    def _put_turn(
        self,
        session: Session,
        request: PutRequest,
        content: _content.Content,
        progress: _s3.Progress | None,
        turn: Turn,
    ) -> VersionRecord:
        """Holding LATEST's turn: write the bytes unless they are there, then commit."""
        key = self.place.version_key(request.name, LATEST)
        artifact = turn.latest.artifact
        current = _s3.head(session.s3, self.place.bucket, key) if needs_head(artifact) else None
        etag = artifact.etag if current is None else current.etag
        already = current is not None and current.sha256 == content.sha256
        if not already and artifact.sha256 == content.sha256 and not artifact.unverified:
            already = not artifact.is_deleted
        if not already:
            etag = self._upload(session, request, content, progress, etag)
        elif progress:
            progress(content.size, content.size)
        now = _model.utc_now()
        replaced = self.queue.commit(session, turn, self._commit(request, content, etag, turn, now))
        if replaced is not None:
            self._repair(session, request, content, replaced, now)
        return VersionRecord(
            name=request.name,
            version=LATEST,
            sha256=content.sha256,
            update_at=now,
            key=key,
            size=content.size,
            content_type=request.content_type,
            metadata=dict(request.metadata),
        )

    @staticmethod
    def _commit(
        request: PutRequest, content: _content.Content, etag: str | None, turn: Turn, now: datetime
    ) -> _dynamodb.Update:
        """Record LATEST's new bytes and end our turn, if the turn is still ours."""
        sets, removes, present = optional_fields(
            {CONTENT_TYPE: request.content_type, METADATA: request.metadata}
        )
        time = stored_time(now)
        return turn.ending(
            [
                f"{SHA256} = :sha",
                f"{ETAG} = :etag",
                f"{UPDATE_AT} = :time",
                f"{IS_DELETED} = :f",
                f"{CONTENT_LENGTH} = :size{sets}",
            ],
            [UNVERIFIED, *removes],
            {
                "sha": content.sha256,
                "etag": etag or "",
                "time": time,
                "f": False,
                "size": content.size,
                **present,
            },
            since=time,
        )

    def _repair(
        self,
        session: Session,
        request: PutRequest,
        content: _content.Content,
        latest: LatestItem,
        now: datetime,
    ) -> None:
        """Our commit was refused: another client (the seed's library, which writes
        without conditions) replaced LATEST's item under our turn, and may record other
        bytes than the object holds (ours, written after). Look at the object and record
        what it really holds, if the item is still the one read (a later write records
        its own bytes). An item gone or deleted is left alone (a purge). 2 requests."""
        artifact = latest.artifact
        if not latest.exists or not artifact.visible:
            return
        key = self.place.version_key(request.name, LATEST)
        current = _s3.head(session.s3, self.place.bucket, key)
        if not current or not current.sha256 or current.sha256 == artifact.sha256:
            return  # no bytes this library wrote, or the item records them
        ours = current.sha256 == content.sha256
        fields = {CONTENT_TYPE: request.content_type, METADATA: request.metadata}
        sets, removes, present = optional_fields(fields if ours else {})
        time = stored_time(now if ours else current.last_modified)
        change = _dynamodb.Update(
            pk=request.name,
            sk=LATEST,
            expression=f"SET {SHA256} = :sha, {ETAG} = :etag, {UPDATE_AT} = :time, "
            f"{IS_DELETED} = :f, {CONTENT_LENGTH} = :size{sets}"
            + f" REMOVE {', '.join([UNVERIFIED, *removes])}",
            condition=f"{SHA256} = :seen AND {NOT_DELETED}",
            values={
                "sha": current.sha256,
                "etag": current.etag,
                "time": time,
                "f": False,
                "size": current.size,
                "seen": artifact.sha256,
                **present,
            },
        )
        logger.debug("putting %r: LATEST's item was replaced under our turn", request.name)
        try:
            _dynamodb.update(session.dynamodb, self.place.table, change)
        except _dynamodb.ConditionFailed:
            logger.debug("putting %r: LATEST's item changed again", request.name)

    def _upload(
        self,
        session: Session,
        request: PutRequest,
        content: _content.Content,
        progress: _s3.Progress | None,
        etag: str | None,
    ) -> str:
        """Write LATEST's bytes over the object with ``etag`` (None: create it); ETag of
        the bytes. ContentionError when the object keeps changing under us (at most 4
        attempts, and the policy's)."""
        key = self.place.version_key(request.name, LATEST)
        metadata = {
            **request.metadata,
            constants.METADATA_KEY_ARTIFACT_NAME: request.name,
            constants.METADATA_KEY_ARTIFACT_SHA256: content.sha256,
        }
        for attempt in self.retry.attempts(f"putting {request.name!r}", key, max_attempts=4):
            upload = _transfer.UploadRequest(
                self.place.bucket,
                key,
                metadata,
                request.content_type,
                request.tags,
                if_match=etag,
                if_none_match=etag is None,
            )
            try:
                return _transfer.upload(session.s3, upload, content, self.transfer, progress).etag
            except Precondition:
                # A writer whose turn was skipped wrote after all (or this is a retry of
                # ours): we hold the turn, so write over what is there now.
                current = _s3.head(session.s3, self.place.bucket, key)
                if current is not None and current.sha256 == content.sha256:
                    return current.etag
                etag = None if current is None else current.etag
                logger.debug("putting %r: took back LATEST from a skipped writer", request.name)
                attempt.conflict("LATEST's object changed under this put")
        raise AssertionError("unreachable")
