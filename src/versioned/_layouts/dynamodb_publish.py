"""publish: LATEST copied to the next number, its item and the counter in one transaction."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import Any

from .. import _dynamodb, _model, _s3, _transfer, constants
from .._model import LATEST
from .._retry import RetryPolicy
from .._s3 import Precondition
from .._session import Session
from .._transfer import TransferSettings
from ..exc import ArtifactNotFoundError
from . import VersionRecord
from .dynamodb_items import (
    CONTENT_LENGTH,
    CONTENT_TYPE,
    CREATE_ONLY,
    ETAG,
    LATEST_VERSION,
    METADATA,
    NOT_DELETED,
    PUBLISHED_SHA256,
    PUBLISHED_UPDATE_AT,
    QUEUE_IDLE,
    SHA256,
    UNVERIFIED,
    UPDATE_AT,
    ArtifactItem,
    LatestItem,
    VersionSource,
    optional_fields,
    read_artifact,
    recorded_sha256,
    sort_key_version,
    stored_time,
    user_metadata,
    version_item,
)
from .dynamodb_keys import DynamoDBPlace
from .dynamodb_latest import needs_head
from .dynamodb_queue import Turn, TurnQueue

logger = logging.getLogger(__name__)

#: a publish of a LATEST whose bytes the newest version holds publishes nothing
UNCHANGED_PUBLISH = (
    f"attribute_not_exists({SHA256}) OR NOT {NOT_DELETED} OR ({PUBLISHED_SHA256} = {SHA256} "
    f"AND attribute_not_exists({UNVERIFIED}) AND {QUEUE_IDLE})"
)
#: (sha256 of a landed copy, its time); "taken": another object holds the number
Copied = tuple[str, datetime] | str | None


class Publisher:
    """Publishes LATEST, and keeps the counter's "published" answer true."""

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

    def publish(self, session: Session, name: str) -> VersionRecord:
        """Copy LATEST to the next version number.

        Concurrency: takes LATEST's write turn; the number is the one after both the
        counter and the newest item (another client may publish without counting); the
        version item (create-only), the counter and the end of the turn are one
        transaction, so numbers are never handed out twice. An unchanged LATEST returns
        the newest version if its item still shows it. Raises ArtifactNotFoundError
        (no LATEST), ContentionError (retry policy spent), CorruptRecordError (LATEST's
        counter damaged), VersionLimitError, BackendError.
        Requests: 2 unchanged (ticket, newest item); 4 new (ticket, newest item query,
        copy, transaction)."""

        def unchanged(latest: LatestItem) -> VersionRecord | None:
            if not latest.artifact.visible:
                raise ArtifactNotFoundError(f"artifact {name!r} has no LATEST to publish")
            return self._still_published(session, name, latest)

        return self.queue.run(
            session,
            name,
            f"publishing {name!r}",
            (UNCHANGED_PUBLISH, {"f": False}, unchanged),
            lambda turn: self._publish_turn(session, turn),
        )

    def _still_published(
        self, session: Session, name: str, latest: LatestItem
    ) -> VersionRecord | None:
        """The newest version, if its item still shows it (another client may have
        deleted it without telling LATEST: then LATEST forgets it, and None). None as well
        for an item that records a published sha256 but no number (written by hand)."""
        counter = latest.counter
        number = counter.latest_version
        if not number:
            self._drop_published(session, name, f"attribute_not_exists({LATEST_VERSION})")
            return None
        sort_key = _model.zfill_version(number)
        stored = _dynamodb.get(session.dynamodb, self.place.table, name, sort_key)
        item = None if stored is None else read_artifact(name, stored, self.place.table)
        if item is not None and item.visible and item.sha256 == counter.published_sha256:
            return self._published(name, latest)
        self.forget_published(session, name, latest, [number])
        return None

    def _published(self, name: str, latest: LatestItem) -> VersionRecord:
        """The newest version, as the LATEST item records it."""
        counter, artifact = latest.counter, latest.artifact
        number = counter.latest_version
        update_at = counter.published_update_at or artifact.update_at
        if counter.published_sha256 is None or update_at is None:
            raise AssertionError("only called for a counter that records a publish")
        return VersionRecord(
            name=name,
            version=number,
            sha256=counter.published_sha256,
            update_at=update_at,
            key=self.place.version_key(name, number),
            size=artifact.content_length,
            content_type=artifact.content_type,
            metadata=artifact.metadata,
        )

    def _publish_turn(self, session: Session, turn: Turn) -> VersionRecord | None:
        """Holding LATEST's turn: copy LATEST to the next number and commit it (None: the
        number was taken or our turn skipped, start over)."""
        name, artifact = turn.name, turn.latest.artifact
        if not artifact.visible:
            raise ArtifactNotFoundError(f"artifact {name!r} has no LATEST to publish")
        source = self._latest_object(session, name, artifact)
        counter = turn.latest.counter
        if counter.latest_version and counter.published_sha256 == source.sha256:
            newest = self._still_published(session, name, turn.latest)
            if newest is not None:
                self.queue.pass_turn(session, turn)
                return newest
        number = _model.next_version(self._newest_number(session, name, turn.latest))
        record = self.place.version_key(name, number)
        for attempt in self.retry.attempts(f"publishing {name!r}", record):
            copied = self._copy_version(session, name, number, source)
            if isinstance(copied, str):  # another object holds that number
                attempt.conflict(f"version {number} is taken by another object")
                number = _model.next_version(number)
                continue
            if copied is not None:
                committed = self._commit(session, turn, number, source, copied)
                if committed is None:
                    self.queue.pass_turn(session, turn)
                return committed
            # LATEST's bytes are not what its item says (a writer died after writing, or
            # another client wrote them): copy what is there now.
            attempt.conflict("LATEST's bytes changed under the copy")
            source = self._latest_object(session, name, artifact, force_head=True)
        raise AssertionError("unreachable")

    def _latest_object(
        self, session: Session, name: str, artifact: ArtifactItem, *, force_head: bool = False
    ) -> _s3.ObjectInfo:
        """LATEST's object as the item describes it, or as a HEAD finds it when the item
        cannot be trusted (unverified, or written by a client that records no ETag)."""
        key = self.place.version_key(name, LATEST)
        if (
            not force_head
            and not needs_head(artifact)
            and artifact.etag
            and artifact.content_length is not None
            and artifact.update_at is not None
            and artifact.sha256 is not None
        ):
            return _s3.ObjectInfo(
                key=key,
                etag=artifact.etag,
                size=artifact.content_length,
                last_modified=artifact.update_at,
                metadata={
                    **(artifact.metadata or {}),
                    constants.METADATA_KEY_ARTIFACT_NAME: name,
                    constants.METADATA_KEY_ARTIFACT_SHA256: artifact.sha256,
                },
                content_type=artifact.content_type,
            )
        info = _s3.head(session.s3, self.place.bucket, key)
        if info is None or not info.sha256:
            raise ArtifactNotFoundError(f"artifact {name!r} has no LATEST bytes in S3")
        return info

    def _newest_number(self, session: Session, name: str, latest: LatestItem) -> int:
        """The highest number handed out: the counter, or a newer item another client
        (the seed's library) published without counting it."""
        span = ("000000", "999999")
        dynamodb, table = session.dynamodb, self.place.table
        items = _dynamodb.query(dynamodb, table, name, limit=1, sk_between=span)
        if items and not isinstance(sort_key_version(items[0]), int):
            # an item whose sort key only starts like a number ("000009-copy", written by
            # hand) sorts among the versions: look at all of them
            items = _dynamodb.query(dynamodb, table, name, sk_between=span)
        numbers = [sort_key_version(item) for item in items]
        newest = max((n for n in numbers if isinstance(n, int)), default=0)
        return max(newest, latest.counter.latest_version)

    def _copy_version(
        self, session: Session, name: str, number: int, latest: _s3.ObjectInfo
    ) -> Copied:
        """Copy LATEST to ``number``: (sha256 of the copy, its time); "taken" when another
        object holds that number; None when LATEST is not what ``latest`` says.

        The time is the copy's LastModified, the server's clock (as the S3-only layout
        records it): a publisher whose clock is wrong does not move its version's age."""
        key = self.place.version_key(name, number)
        try:
            result = _transfer.copy(
                session.s3,
                self.place.bucket,
                latest.key,
                key,
                source=latest,
                transfer=self.transfer,
                once=session.s3_once,
            )
        except Precondition:
            info = _s3.head(session.s3, self.place.bucket, key)
            if info is not None and info.sha256 and info.sha256 == latest.sha256:
                return info.sha256, _model.whole_seconds(info.last_modified)  # an earlier try's
            return None if info is None else "taken"
        sha, moment = result.holds(latest), result.last_modified
        if sha is None:
            info = _s3.head(session.s3, self.place.bucket, key)
            sha = info.sha256 if info is not None else None
            moment = info.last_modified if info is not None else None
        if sha is None:
            return None
        if moment is None:
            logger.debug("publishing %s: the copy's answer has no time: using the local clock", key)
            moment = _model.utc_now()
        # whole seconds, as the Date the age rule compares it with (SeaweedFS answers a
        # copy's LastModified in milliseconds: a version would look newer than "now")
        return str(sha), _model.whole_seconds(moment)

    def _commit(
        self,
        session: Session,
        turn: Turn,
        number: int,
        source: _s3.ObjectInfo,
        copied: tuple[str, datetime],
    ) -> VersionRecord | None:
        """Write the version item and end our turn in one transaction; None when the turn
        was skipped or the number taken by another client (the caller starts over)."""
        sha, moment = copied
        origin = VersionSource(source.size, source.content_type, user_metadata(source.metadata))
        item = version_item(turn.name, number, sha, moment, origin)
        actions = [
            _dynamodb.put_action(self.place.table, item, CREATE_ONLY),
            _dynamodb.update_action(
                self.place.table, _counter_update(turn, number, sha, source, moment)
            ),
        ]
        canceled = _dynamodb.transact_retrying(
            session.dynamodb,
            self.place.table,
            actions,
            self.retry,
            f"publishing {turn.name!r}",
            self.place.version_key(turn.name, number),
        )
        if canceled is not None:
            failed = canceled.reasons[0] == "ConditionalCheckFailed"
            existing = canceled.items[0] if failed else None
            if existing is None or recorded_sha256(existing) != sha:
                if existing is not None:
                    self._raise_counter(session, turn.name, number)
                return None  # our turn was skipped, or the number was taken: start over
            # else our earlier attempt was applied (its response was lost)
        key = self.place.version_key(turn.name, number)
        return read_artifact(turn.name, item, self.place.table).record(key, self.place.table)

    def _raise_counter(self, session: Session, name: str, number: int) -> None:
        """Another client published ``number``: count it, so the next publish goes past."""
        change = _dynamodb.Update(
            pk=name,
            sk=LATEST,
            expression=f"SET {LATEST_VERSION} = :n",
            condition=f"attribute_not_exists({LATEST_VERSION}) OR {LATEST_VERSION} < :n",
            values={"n": number},
        )
        with contextlib.suppress(_dynamodb.ConditionFailed):
            _dynamodb.update(session.dynamodb, self.place.table, change)

    def forget_published(
        self, session: Session, name: str, latest: LatestItem | None, doomed: list[int]
    ) -> None:
        """Before the newest version is deleted, stop an unchanged publish from answering
        with it (CorruptRecordError when LATEST's counter is damaged)."""
        newest = 0 if latest is None else latest.counter.latest_version
        if not newest or newest not in doomed:
            return
        self._drop_published(session, name, f"{LATEST_VERSION} = :n", {"n": newest})

    def _drop_published(
        self, session: Session, name: str, condition: str, values: dict[str, Any] | None = None
    ) -> None:
        """Make an unchanged publish stop answering with the newest version the LATEST item
        records, if that item still meets ``condition``."""
        change = _dynamodb.Update(
            pk=name,
            sk=LATEST,
            expression=f"REMOVE {PUBLISHED_SHA256}",
            condition=condition,
            values=values or {},
        )
        with contextlib.suppress(_dynamodb.ConditionFailed):
            _dynamodb.update(session.dynamodb, self.place.table, change)


def _counter_update(
    turn: Turn, number: int, sha: str, source: _s3.ObjectInfo, moment: datetime
) -> _dynamodb.Update:
    """The counter's new number, and LATEST as the copy found it (where it was HEADed,
    a dead writer's bytes are adopted: the item is brought in line with the object whole),
    ending our turn."""
    sets, removes, present = optional_fields(
        {CONTENT_TYPE: source.content_type, METADATA: user_metadata(source.metadata) or None}
    )
    time = stored_time(moment)
    return turn.ending(
        [
            f"{LATEST_VERSION} = :n",
            f"{PUBLISHED_SHA256} = :sha",
            f"{PUBLISHED_UPDATE_AT} = :t",
            f"{SHA256} = :latest_sha",
            f"{ETAG} = :etag",
            f"{CONTENT_LENGTH} = :size",
            f"{UPDATE_AT} = :latest_time{sets}",
        ],
        [UNVERIFIED, *removes],
        {
            "n": number,
            "sha": sha,
            "t": time,
            "latest_sha": source.sha256,
            "etag": source.etag,
            "size": source.size,
            "latest_time": stored_time(source.last_modified),
            **present,
        },
        since=time,
    )
