"""The S3 + DynamoDB layout: bytes in S3, metadata in one DynamoDB table.

S3 keys: ``{prefix}/{name}/LATEST{suffix}`` and ``{prefix}/{name}/{n:06d}{suffix}``.
Items (the seed's, with extra attributes its library ignores):

- artifact: pk=name, sk="LATEST" | "000001"; sha256, is_deleted, update_at; plus size,
  content_type, metadata. LATEST also carries the ETag of its bytes, the publish counter
  (latest_version, published_sha256) and a write queue (put_next, put_done, put_since and
  one ``tk_{token}`` attribute per waiting writer).
- alias: pk="__{name}-alias", sk=alias; version, secondary_version,
  secondary_version_weight, update_at; plus revision.
- the table's claim: pk="__versioned__", sk="repository": which bucket, prefix and suffix
  this table serves (a second repository is refused).

Protocol (docs/design.md): puts and publishes take turns in LATEST's queue; a turn held
longer than ``lease_secs`` is skipped and LATEST marked ``unverified`` until the next
holder reads the object's own metadata. Alias writes are transactions that bump their
targets' ``alias_epoch``; soft deletes are conditional on that epoch. Every write that may
be retried carries a token, so a retry recognises its own applied attempt.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from .. import _content, _dynamodb, _model, _pool, _s3, _transfer, constants
from .._model import LATEST, AliasTarget, VersionId
from .._retry import DEFAULT as DEFAULT_RETRY
from .._retry import RetryPolicy, attempts, pause
from .._s3 import Precondition
from .._session import Session
from .._transfer import TransferSettings
from ..exc import (
    ArtifactNotFoundError,
    ConcurrentModificationError,
    CorruptRecordError,
    RepositoryConflictError,
)
from ..verify import Problem
from . import (
    AliasRecord,
    BootstrapOptions,
    Chooser,
    Inventory,
    PutRequest,
    RetireResult,
    VersionRecord,
    owners,
)

CLAIM_KEY = ("__versioned__", "repository")
_NOT_DELETED = "(attribute_not_exists(is_deleted) OR is_deleted = :f)"
_IDLE = "(attribute_not_exists(put_next) OR put_done = put_next)"


def alias_pk(name: str) -> str:
    return f"__{name}-alias"


def ticket_attribute(token: str) -> str:
    return f"tk_{token}"


def dynamodb_time(moment: datetime) -> str:
    return _model.format_dynamodb_time(moment)


class DynamoDBLayout:
    """The S3 + DynamoDB storage protocol for one repository."""

    soft_deletes: ClassVar[bool] = True
    latest_deletable: ClassVar[bool] = True

    def __init__(
        self,
        bucket: str,
        prefix: str,
        suffix: str,
        table: str,
        transfer: TransferSettings,
        lease_secs: float,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self.retry = retry
        self.bucket = bucket
        self.prefix = prefix
        self.root = f"{prefix}/" if prefix else ""
        self.suffix = suffix
        self.table = table
        self.transfer = transfer
        self.lease_secs = lease_secs
        self._claimed = False
        self._claim_lock = threading.Lock()

    # ------------------------------------------------------------ keys (one place)
    def version_key(self, name: str, version: VersionId) -> str:
        return f"{self.root}{name}/{_model.zfill_version(version)}{self.suffix}"

    def classify(self, key: str) -> tuple[str, VersionId] | None:
        """(artifact name, version) of a key this layout owns, else None."""
        if not key.startswith(self.root):
            return None
        name, sep, file = key[len(self.root) :].partition("/")
        if not sep or "/" in file or not _model.is_artifact_name(name):
            return None
        if self.suffix:
            if not file.endswith(self.suffix):
                return None
            file = file[: -len(self.suffix)]
        version = _model.parse_zfilled(file)
        return None if version is None else (name, version)

    def owner(self, key: str) -> str | None:
        """The artifact a key of this layout belongs to."""
        kind = self.classify(key)
        return None if kind is None else kind[0]

    def is_other_layout(self, key: str) -> bool:
        """Keys of the S3-only layout (``{name}/versions/``, ``aliases/``, ``state.json``),
        which may share this prefix and are never touched here."""
        _, sep, tail = key[len(self.root) :].partition("/")
        return bool(sep) and (
            tail.startswith(("versions/", "aliases/", "trash/")) or tail == "state.json"
        )

    # ------------------------------------------------------------ the table's claim
    def bootstrap(self, session: Session, options: BootstrapOptions) -> None:
        """Create the bucket and the table unless they exist, then claim the table."""
        _s3.ensure_bucket(session.s3, self.bucket, options.region)
        _dynamodb.ensure_table(
            session.dynamodb, self.table, options.read_capacity, options.write_capacity
        )
        self._claim(session)

    def _claim(self, session: Session) -> None:
        """Record in the table which repository it serves, or refuse a different one
        (once per layout object: 1 request on first use)."""
        if self._claimed:
            return
        with self._claim_lock:
            if self._claimed:
                return
            served = {"bucket": self.bucket, "prefix": self.prefix, "suffix": self.suffix}
            item = _dynamodb.get(session.dynamodb, self.table, *CLAIM_KEY)
            if item is None:
                try:
                    _dynamodb.put(
                        session.dynamodb,
                        self.table,
                        {"pk": CLAIM_KEY[0], "sk": CLAIM_KEY[1], **served},
                        "attribute_not_exists(pk)",
                    )
                    item = {**served}
                except _dynamodb.ConditionFailed:
                    item = _dynamodb.get(session.dynamodb, self.table, *CLAIM_KEY) or {}
            found = {k: item.get(k, "") for k in served}
            if found != served:
                raise RepositoryConflictError(
                    f"DynamoDB table {self.table!r} serves the repository "
                    f"s3://{found['bucket']}/{found['prefix']} (suffix {found['suffix']!r}), "
                    f"not s3://{self.bucket}/{self.prefix} (suffix {self.suffix!r}); "
                    "nothing was read or written. Give this repository its own table."
                )
            self._claimed = True

    def _ready(self, session: Session) -> Session:
        self._claim(session)
        return session

    # ------------------------------------------------------------ records
    def _record(self, name: str, item: dict[str, Any]) -> VersionRecord:
        where = f"item pk={item.get('pk')!r} sk={item.get('sk')!r} in table {self.table!r}"
        try:
            version = _model.parse_zfilled(str(item["sk"]))
            if version is None:
                raise ValueError(f"sort key {item['sk']!r} is not a version")
            sha256 = item["sha256"]
            update_at = _model.parse_time(str(item["update_at"]))
            if not isinstance(sha256, str) or not sha256:
                raise ValueError(f"sha256 {sha256!r} is not a non-empty str")
            if not isinstance(item.get("is_deleted"), bool | None):
                raise ValueError(f"is_deleted {item['is_deleted']!r} is not a bool")
        except (KeyError, ValueError, TypeError) as error:
            raise CorruptRecordError(
                f"{where} is not a readable artifact item ({type(error).__name__}: {error}); "
                "Repository.verify() lists every such record"
            ) from error
        metadata = item.get("metadata")
        return VersionRecord(
            name=name,
            version=version,
            sha256=sha256,
            update_at=update_at,
            key=self.version_key(name, version),
            size=_int_or_none(item.get("content_length")),
            content_type=item.get("content_type"),
            metadata=dict(metadata) if isinstance(metadata, dict) else None,
        )

    def _alias(self, name: str, item: dict[str, Any]) -> AliasRecord:
        where = f"alias item pk={item.get('pk')!r} sk={item.get('sk')!r} in table {self.table!r}"
        try:
            target = _model.stored_target(
                item["version"],
                item.get("secondary_version"),
                item.get("secondary_version_weight"),
            )
            update_at = _model.parse_time(str(item["update_at"]))
        except (KeyError, ValueError, TypeError) as error:
            raise CorruptRecordError(
                f"{where} is not a readable alias ({type(error).__name__}: {error}); "
                "Repository.verify() lists every such record"
            ) from error
        return AliasRecord.of(name, str(item["sk"]), target, update_at, item.get("revision"))

    def _latest_truth(self, session: Session, name: str, item: dict[str, Any]) -> VersionRecord:
        """LATEST as its bytes describe themselves (used while the item is unverified)."""
        info = _s3.head(session.s3, self.bucket, self.version_key(name, LATEST))
        if info is None or not info.sha256:
            return self._record(name, item)
        record = self._record(name, {**item, "sha256": info.sha256})
        return VersionRecord(
            name=name,
            version=LATEST,
            sha256=info.sha256,
            update_at=record.update_at,
            key=record.key,
            size=info.size,
            content_type=info.content_type,
            metadata={
                k: v for k, v in info.metadata.items() if k not in _model.RESERVED_METADATA_KEYS
            },
        )

    @staticmethod
    def _visible(item: dict[str, Any] | None) -> bool:
        """Not deleted (an is_deleted that is not a bool counts as visible, so that reading
        the item names it as unreadable instead of hiding it or failing every deletion)."""
        return item is not None and item.get("is_deleted") is not True and "sha256" in item

    # ------------------------------------------------------------ reads
    def get_version(self, session: Session, name: str, version: VersionId) -> VersionRecord | None:
        session = self._ready(session)
        item = _dynamodb.get(session.dynamodb, self.table, name, _model.zfill_version(version))
        if not self._visible(item):
            return None
        assert item is not None
        if version == LATEST and item.get("unverified"):
            return self._latest_truth(session, name, item)
        return self._record(name, item)

    def _version_items(self, session: Session, name: str) -> list[dict[str, Any]]:
        items = _dynamodb.query(session.dynamodb, self.table, name)
        return [i for i in items if _model.parse_zfilled(str(i.get("sk"))) is not None]

    def list_versions(self, session: Session, name: str) -> list[VersionRecord]:
        session = self._ready(session)
        records = []
        for item in self._version_items(session, name):
            if not self._visible(item):
                continue
            if item["sk"] == LATEST and item.get("unverified"):
                records.append(self._latest_truth(session, name, item))
            else:
                records.append(self._record(name, item))
        return records

    def latest_published_number(self, session: Session, name: str) -> int:
        session = self._ready(session)
        items = self._version_items(session, name)
        numbers = [int(i["sk"]) for i in items if i["sk"] != LATEST and self._visible(i)]
        return max(numbers, default=0)

    def list_names(self, session: Session) -> list[str]:
        session = self._ready(session)
        listing = _s3.list_objects(session.s3, self.bucket, self.root, delimiter="/")
        candidates = sorted(
            name
            for prefix in listing.prefixes
            if _model.is_artifact_name(name := prefix[len(self.root) : -1])
        )
        items = _dynamodb.batch_get(
            session.dynamodb, self.table, [(name, LATEST) for name in candidates]
        )
        return sorted({str(item["pk"]) for item in items if "sha256" in item})

    def get_alias(self, session: Session, name: str, alias: str) -> AliasRecord | None:
        session = self._ready(session)
        item = _dynamodb.get(session.dynamodb, self.table, alias_pk(name), alias)
        return None if item is None else self._alias(name, item)

    def list_aliases(self, session: Session, name: str) -> list[AliasRecord]:
        session = self._ready(session)
        items = _dynamodb.query(session.dynamodb, self.table, alias_pk(name), descending=False)
        return [self._alias(name, item) for item in items]

    # ------------------------------------------------------------ the write queue
    def _take_ticket(
        self, session: Session, name: str, token: str, unchanged: str, **values: Any
    ) -> tuple[int | None, dict[str, Any]]:
        """Take a turn in LATEST's write queue unless ``unchanged`` holds (then nothing is
        written). Returns (our ticket, the item) or (None, the item as it is). A retry
        whose first attempt was applied finds its ticket under its token."""
        attribute = ticket_attribute(token)
        change = _dynamodb.Update(
            pk=name,
            sk=LATEST,
            expression=(
                "SET put_next = if_not_exists(put_next, :zero) + :one, "
                "#ticket = if_not_exists(put_next, :zero) + :one, "
                "put_done = if_not_exists(put_done, :zero), "
                "put_since = if_not_exists(put_since, :now)"
            ),
            condition=f"attribute_not_exists(#ticket) AND NOT ({unchanged})",
            values={"zero": 0, "one": 1, "now": dynamodb_time(_model.utc_now()), **values},
            names={"#ticket": attribute},
        )
        try:
            item = _dynamodb.update(session.dynamodb, self.table, change, return_new=True) or {}
        except _dynamodb.ConditionFailed as failed:
            old = failed.item if failed.known else None
            if old is None:  # a server that does not return the item
                old = _dynamodb.get(session.dynamodb, self.table, name, LATEST) or {}
            if attribute in old:
                return int(old[attribute]), old
            return None, old
        return int(item[attribute]), item

    def _wait_for_turn(
        self, session: Session, name: str, ticket: int, item: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Poll until the turn before ``ticket`` is done; skip a turn held longer than
        ``lease_secs``. None if our own turn was skipped (we were presumed dead).

        A turn's age is what this waiter has seen of it: ``put_since`` is when the turn
        before ended, which on an idle queue is long before the holder took its ticket.
        The holder of the turn after ``done`` took its ticket before ours, and ``done``
        was reached before we first saw it, so the turn is at least as old as the time
        since ``done`` was first seen here.

        Waiters sleep for about the time the turns ahead should take (measured from how
        fast the queue moves), so the queue is polled a few times per turn."""
        seconds_per_turn = 0.05
        last_done, last_time = int(item.get("put_done", 0)), time.monotonic()
        while True:
            done = int(item.get("put_done", 0))
            now = time.monotonic()
            if done > last_done:
                observed = (now - last_time) / (done - last_done)
                seconds_per_turn = 0.5 * seconds_per_turn + 0.5 * observed
                last_done, last_time = done, now
            if done == ticket - 1:
                return item
            if done >= ticket:
                return None
            since = _model.parse_time(item.get("put_since") or dynamodb_time(_model.utc_now()))
            if now - last_time > self.lease_secs and _model.utc_now() - since > timedelta(
                seconds=self.lease_secs
            ):
                self._skip_turn(session, name, done, item)
            else:
                ahead = ticket - 1 - done
                pause(min(2.0, max(0.005, ahead * seconds_per_turn * random.uniform(0.6, 0.9))))
            fresh = _dynamodb.get(session.dynamodb, self.table, name, LATEST)
            if fresh is None:
                return None
            item = fresh

    def _skip_turn(self, session: Session, name: str, done: int, item: dict[str, Any]) -> None:
        """End a turn whose holder is presumed dead. It may have written LATEST's bytes
        without recording them: mark LATEST unverified until the next holder checks."""
        dead = [k for k, v in item.items() if k.startswith("tk_") and v == done + 1]
        change = _dynamodb.Update(
            pk=name,
            sk=LATEST,
            expression="SET put_done = :next, put_since = :now, unverified = :t"
            + (" REMOVE " + ", ".join(f"#d{i}" for i in range(len(dead))) if dead else ""),
            condition="put_done = :done",
            values={
                "next": done + 1,
                "now": dynamodb_time(_model.utc_now()),
                "t": True,
                "done": done,
            },
            names={f"#d{i}": attribute for i, attribute in enumerate(dead)},
        )
        # someone else moved the queue on
        with contextlib.suppress(_dynamodb.ConditionFailed):
            _dynamodb.update(session.dynamodb, self.table, change)

    def _pass_turn(
        self, session: Session, name: str, ticket: int, token: str, *, unverified: bool = False
    ) -> None:
        """End our turn; ``unverified``: we may have written LATEST's bytes without
        recording them (the next holder looks at the object)."""
        change = _dynamodb.Update(
            pk=name,
            sk=LATEST,
            expression="SET put_done = :ticket, put_since = :now"
            + (", unverified = :t" if unverified else "")
            + " REMOVE #ticket",
            condition="put_done = :previous",
            values={
                "ticket": ticket,
                "previous": ticket - 1,
                "now": dynamodb_time(_model.utc_now()),
                **({"t": True} if unverified else {}),
            },
            names={"#ticket": ticket_attribute(token)},
        )
        # applied already (a retry), or our turn was skipped
        with contextlib.suppress(_dynamodb.ConditionFailed):
            _dynamodb.update(session.dynamodb, self.table, change)

    # ------------------------------------------------------------ LATEST
    def write_latest(
        self,
        session: Session,
        request: PutRequest,
        content: _content.Content,
        progress: _s3.Progress | None,
    ) -> VersionRecord:
        session = self._ready(session)
        name = request.name

        def unchanged(item: dict[str, Any]) -> VersionRecord:
            if progress:
                progress(content.size, content.size)
            return self._record(name, item)

        return self._in_turn(
            session,
            name,
            f"putting {name!r}",
            f"sha256 = :sha AND {_NOT_DELETED} AND attribute_not_exists(unverified) AND {_IDLE}",
            {"sha": content.sha256, "f": False},
            unchanged,
            lambda ticket, token, turn: self._put_turn(
                session, request, content, progress, ticket, token, turn
            ),
            writes_latest=True,
        )

    def _in_turn(
        self,
        session: Session,
        name: str,
        what: str,
        unchanged: str,
        values: dict[str, Any],
        when_unchanged: Callable[[dict[str, Any]], VersionRecord | None],
        work: Callable[[int, str, dict[str, Any]], VersionRecord | None],
        *,
        writes_latest: bool = False,
    ) -> VersionRecord:
        """Queue for LATEST's write turn unless ``unchanged`` holds (then
        ``when_unchanged(item)`` answers, or None to queue after all); do ``work`` in the
        turn (None: start over). A failing turn is passed on (LATEST marked unverified
        when ``work`` writes its bytes: they may have landed unrecorded); a skipped one
        queues again."""
        for _ in attempts(what):
            token = uuid.uuid4().hex
            ticket, item = self._take_ticket(session, name, token, unchanged, **values)
            if ticket is None:
                answer = when_unchanged(item)
                if answer is not None:
                    return answer
                continue
            turn = self._wait_for_turn(session, name, ticket, item)
            if turn is None:
                continue  # our turn was skipped (we were presumed dead): queue again
            try:
                result = work(ticket, token, turn)
            except BaseException:
                self._pass_turn(session, name, ticket, token, unverified=writes_latest)
                raise
            if result is not None:
                return result
        raise AssertionError("unreachable")

    def _put_turn(
        self,
        session: Session,
        request: PutRequest,
        content: _content.Content,
        progress: _s3.Progress | None,
        ticket: int,
        token: str,
        item: dict[str, Any],
    ) -> VersionRecord:
        """Holding LATEST's turn: write the bytes unless they are there, then commit."""
        name = request.name
        key = self.version_key(name, LATEST)
        current = _s3.head(session.s3, self.bucket, key) if self._needs_head(item) else None
        etag: str | None = item.get("etag") if current is None else current.etag
        already = current is not None and current.sha256 == content.sha256
        if not already and item.get("sha256") == content.sha256 and not item.get("unverified"):
            already = not item.get("is_deleted")
        if not already:
            etag = self._upload_latest(session, request, content, progress, etag)
        elif progress:
            progress(content.size, content.size)
        now = _model.utc_now()
        change = self._latest_commit(request, content, etag, ticket, token, now)
        # applied already (a retry), or our turn was skipped: the next holder checks
        with contextlib.suppress(_dynamodb.ConditionFailed):
            _dynamodb.update(session.dynamodb, self.table, change)
        return VersionRecord(
            name=name,
            version=LATEST,
            sha256=content.sha256,
            update_at=now,
            key=key,
            size=content.size,
            content_type=request.content_type,
            metadata=dict(request.metadata),
        )

    @staticmethod
    def _latest_commit(
        request: PutRequest,
        content: _content.Content,
        etag: str | None,
        ticket: int,
        token: str,
        now: datetime,
    ) -> _dynamodb.Update:
        """Record LATEST's new bytes and end our turn, if the turn is still ours."""
        sets, removes, present = _optional_fields(
            {"content_type": request.content_type, "metadata": request.metadata}
        )
        return _dynamodb.Update(
            pk=request.name,
            sk=LATEST,
            expression=(
                "SET sha256 = :sha, etag = :etag, update_at = :time, is_deleted = :f, "
                "content_length = :size, put_done = :ticket, put_since = :time"
                + sets
                + " REMOVE "
                + ", ".join(["unverified", "#ticket", *removes])
            ),
            condition="put_done = :previous",
            values={
                "sha": content.sha256,
                "etag": etag or "",
                "time": dynamodb_time(now),
                "f": False,
                "size": content.size,
                "ticket": ticket,
                "previous": ticket - 1,
                **present,
            },
            names={"#ticket": ticket_attribute(token)},
        )

    @staticmethod
    def _needs_head(item: dict[str, Any]) -> bool:
        """Whether LATEST's bytes must be looked at: a dead writer may have changed them
        (unverified), or the item comes from a client that records no ETag."""
        return bool(item.get("unverified")) or ("sha256" in item and not item.get("etag"))

    def _upload_latest(
        self,
        session: Session,
        request: PutRequest,
        content: _content.Content,
        progress: _s3.Progress | None,
        etag: str | None,
    ) -> str:
        key = self.version_key(request.name, LATEST)
        metadata = {
            **request.metadata,
            constants.METADATA_KEY_ARTIFACT_NAME: request.name,
            constants.METADATA_KEY_ARTIFACT_SHA256: content.sha256,
        }
        for _ in range(4):
            upload = _transfer.UploadRequest(
                self.bucket,
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
                current = _s3.head(session.s3, self.bucket, key)
                if current is not None and current.sha256 == content.sha256:
                    return current.etag
                etag = None if current is None else current.etag
        raise ArtifactNotFoundError(f"LATEST of {request.name!r} kept changing under this put")

    # ------------------------------------------------------------ publish
    def publish(self, session: Session, name: str) -> VersionRecord:
        session = self._ready(session)

        def unchanged(item: dict[str, Any]) -> VersionRecord | None:
            if not self._visible(item):
                raise ArtifactNotFoundError(f"artifact {name!r} has no LATEST to publish")
            return self._still_published(session, name, item)

        return self._in_turn(
            session,
            name,
            f"publishing {name!r}",
            f"attribute_not_exists(sha256) OR NOT {_NOT_DELETED} OR "
            f"(published_sha256 = sha256 AND attribute_not_exists(unverified) AND {_IDLE})",
            {"f": False},
            unchanged,
            lambda ticket, token, turn: self._publish_turn(session, name, ticket, token, turn),
        )

    def _still_published(
        self, session: Session, name: str, latest: dict[str, Any]
    ) -> VersionRecord | None:
        """The newest version, if its item still shows it (another client may have
        deleted it without telling LATEST: then LATEST forgets it, and None). None as well
        for an item that records a published sha256 but no number (written by hand)."""
        number = self._counter(name, latest)
        if not number:
            self._drop_published(session, name, "attribute_not_exists(latest_version)")
            return None
        item = _dynamodb.get(session.dynamodb, self.table, name, _model.zfill_version(number))
        if self._visible(item) and (item or {}).get("sha256") == latest.get("published_sha256"):
            return self._published(name, latest)
        self._forget_published(session, name, latest, [{"sk": _model.zfill_version(number)}])
        return None

    def _published(self, name: str, latest: dict[str, Any]) -> VersionRecord:
        """The newest version, as the LATEST item records it."""
        number = int(latest["latest_version"])
        update_at = latest.get("published_update_at") or latest["update_at"]
        return VersionRecord(
            name=name,
            version=number,
            sha256=str(latest["published_sha256"]),
            update_at=_model.parse_time(str(update_at)),
            key=self.version_key(name, number),
            size=_int_or_none(latest.get("content_length")),
            content_type=latest.get("content_type"),
            metadata=latest.get("metadata"),
        )

    def _publish_turn(
        self, session: Session, name: str, ticket: int, token: str, item: dict[str, Any]
    ) -> VersionRecord | None:
        """Holding LATEST's turn: copy LATEST to the next number and commit it."""
        if not self._visible(item):
            raise ArtifactNotFoundError(f"artifact {name!r} has no LATEST to publish")
        latest = self._latest_object(session, name, item)
        if "latest_version" in item and item.get("published_sha256") == latest.sha256:
            # the newest version, if its item still shows it (else it is forgotten here)
            newest = self._still_published(session, name, item)
            if newest is not None:
                self._pass_turn(session, name, ticket, token)
                return newest
        number = _model.next_version(self._newest_number(session, name, item))
        for _ in range(4):
            copied = self._copy_version(session, name, number, latest)
            if isinstance(copied, str):  # another object holds that number
                number = _model.next_version(number)
                continue
            if copied is not None:
                committed = self._commit_publish(
                    session, name, ticket, token, number, latest, copied
                )
                if committed is None:
                    self._pass_turn(session, name, ticket, token)
                return committed
            # LATEST's bytes are not what its item says (a writer died after writing, or
            # another client wrote them): copy what is there now.
            latest = self._latest_object(session, name, {**item, "unverified": True})
        self._pass_turn(session, name, ticket, token)
        return None

    def _latest_object(self, session: Session, name: str, item: dict[str, Any]) -> _s3.ObjectInfo:
        """LATEST's object as the item describes it, or as a HEAD finds it when the item
        cannot be trusted (unverified, or written by a client that records no ETag)."""
        key = self.version_key(name, LATEST)
        if (
            not self._needs_head(item)
            and item.get("etag")
            and isinstance(item.get("content_length"), int)
        ):
            return _s3.ObjectInfo(
                key=key,
                etag=str(item["etag"]),
                size=int(item["content_length"]),
                last_modified=_model.parse_time(str(item["update_at"])),
                metadata={
                    **(item.get("metadata") or {}),
                    constants.METADATA_KEY_ARTIFACT_NAME: name,
                    constants.METADATA_KEY_ARTIFACT_SHA256: str(item["sha256"]),
                },
                content_type=item.get("content_type"),
            )
        info = _s3.head(session.s3, self.bucket, key)
        if info is None or not info.sha256:
            raise ArtifactNotFoundError(f"artifact {name!r} has no LATEST bytes in S3")
        return info

    def _newest_number(self, session: Session, name: str, item: dict[str, Any]) -> int:
        """The highest number handed out: the counter, or a newer item another client
        (the seed's library) published without counting it."""
        span = ("000000", "999999")
        items = _dynamodb.query(session.dynamodb, self.table, name, limit=1, sk_between=span)
        if items and not isinstance(_model.parse_zfilled(str(items[0]["sk"])), int):
            # an item whose sort key only starts like a number ("000009-copy", written by
            # hand) sorts among the versions: look at all of them
            items = _dynamodb.query(session.dynamodb, self.table, name, sk_between=span)
        numbers = [_model.parse_zfilled(str(i["sk"])) for i in items]
        newest = max((n for n in numbers if isinstance(n, int)), default=0)
        return max(newest, self._counter(name, item))

    def _counter(self, name: str, item: dict[str, Any] | None) -> int:
        """The LATEST item's ``latest_version`` (0 when absent); CorruptRecordError naming
        the item when it holds something else than a version number."""
        value = (item or {}).get("latest_version")
        if value is None:
            return 0
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise CorruptRecordError(
                f"item pk={name!r} sk='LATEST' in table {self.table!r} records latest_version "
                f"{value!r}, which is not a version number; Repository.verify() lists every "
                "such record"
            )
        return int(value)

    def _copy_version(
        self, session: Session, name: str, number: int, latest: _s3.ObjectInfo
    ) -> tuple[str, datetime] | str | None:
        """Copy LATEST to ``number``: (sha256 of the copy, its time); "taken" when another
        object holds that number; None when LATEST is not what ``latest`` says."""
        key = self.version_key(name, number)
        try:
            result = _transfer.copy(
                session.s3,
                self.bucket,
                latest.key,
                key,
                source=latest,
                transfer=self.transfer,
                once=session.s3_once,
            )
        except Precondition:
            info = _s3.head(session.s3, self.bucket, key)
            if info is not None and info.sha256 and info.sha256 == latest.sha256:
                return info.sha256, _model.utc_now()  # left by an earlier attempt
            return None if info is None else "taken"
        sha = result.holds(latest)
        if sha is None:
            info = _s3.head(session.s3, self.bucket, key)
            sha = info.sha256 if info is not None else None
        if sha is None:
            return None
        return str(sha), _model.utc_now()

    def _commit_publish(
        self,
        session: Session,
        name: str,
        ticket: int,
        token: str,
        number: int,
        latest: _s3.ObjectInfo,
        copied: tuple[str, datetime],
    ) -> VersionRecord | None:
        """Write the version item and end our turn in one transaction; None when the turn
        was skipped or the number taken by another client (the caller starts over)."""
        sha, moment = copied
        version_item = {
            "pk": name,
            "sk": _model.zfill_version(number),
            "sha256": sha,
            "is_deleted": False,
            "update_at": dynamodb_time(moment),
            "content_length": latest.size,
            "content_type": latest.content_type,
            "metadata": {
                k: v for k, v in latest.metadata.items() if k not in _model.RESERVED_METADATA_KEYS
            }
            or None,
        }
        # LATEST as the copy found it: where it was HEADed (unverified: a dead writer's
        # bytes are adopted), its item is brought in line with the object whole.
        sets, removes, present = _optional_fields(
            {"content_type": latest.content_type, "metadata": version_item["metadata"]}
        )
        counter = _dynamodb.Update(
            pk=name,
            sk=LATEST,
            expression=(
                "SET latest_version = :n, published_sha256 = :sha, published_update_at = :t, "
                "put_done = :ticket, put_since = :t, sha256 = :latest_sha, etag = :etag, "
                "content_length = :size, update_at = :latest_time"
                + sets
                + " REMOVE "
                + ", ".join(["unverified", "#ticket", *removes])
            ),
            condition="put_done = :previous",
            values={
                "n": number,
                "sha": sha,
                "t": version_item["update_at"],
                "ticket": ticket,
                "previous": ticket - 1,
                "latest_sha": latest.sha256,
                "etag": latest.etag,
                "size": latest.size,
                "latest_time": dynamodb_time(latest.last_modified),
                **present,
            },
            names={"#ticket": ticket_attribute(token)},
        )
        actions = [
            _dynamodb.put_action(self.table, version_item, "attribute_not_exists(pk)"),
            _dynamodb.update_action(self.table, counter),
        ]
        canceled = self._transact(session, actions, f"publishing {name!r}")
        if canceled is not None:
            existing = (
                canceled.items[0] if canceled.reasons[0] == "ConditionalCheckFailed" else None
            )
            if existing is None or existing.get("sha256") != sha:
                if existing is not None:
                    self._raise_counter(session, name, number)
                return None  # our turn was skipped, or the number was taken: start over
            # else our earlier attempt was applied (its response was lost)
        return self._record(name, version_item)

    def _transact(
        self, session: Session, actions: list[dict[str, Any]], what: str
    ) -> _dynamodb.TransactionCanceled | None:
        """Run a transaction, again while only concurrent transactions interfere; None
        when applied, else the cancellation (a condition failed)."""
        for _ in attempts(what):
            try:
                _dynamodb.transact(session.dynamodb, self.table, actions, uuid.uuid4().hex)
                return None
            except _dynamodb.TransactionCanceled as canceled:
                if not canceled.conflict_only:
                    return canceled
        raise AssertionError("unreachable")

    def _raise_counter(self, session: Session, name: str, number: int) -> None:
        """Another client published ``number``: count it, so the next publish goes past."""
        change = _dynamodb.Update(
            pk=name,
            sk=LATEST,
            expression="SET latest_version = :n",
            condition="attribute_not_exists(latest_version) OR latest_version < :n",
            values={"n": number},
        )
        with contextlib.suppress(_dynamodb.ConditionFailed):
            _dynamodb.update(session.dynamodb, self.table, change)

    # ------------------------------------------------------------ deletion
    def retire(self, session: Session, name: str, choose: Chooser, *, strict: bool) -> RetireResult:
        session = self._ready(session)
        token = uuid.uuid4().hex
        retired: list[VersionRecord] = []
        remaining: list[VersionId] | None = None
        for _ in attempts(f"deleting versions of {name!r}"):
            # Items first, aliases second (never in parallel): an alias written after the
            # items were read has bumped its target's alias_epoch, which fails our
            # condition; one written before the aliases are read is seen.
            items = {str(i["sk"]): i for i in self._version_items(session, name)}
            aliases = self.list_aliases(session, name)
            users = _model.alias_users((a.alias, a.targets) for a in aliases)
            latest_users = sorted(a.alias for a in aliases if LATEST in a.targets)
            if remaining is None:
                published = [
                    self._record(name, item)
                    for sk, item in sorted(items.items(), reverse=True)
                    if sk != LATEST and self._visible(item)
                ]
                remaining = list(dict.fromkeys(choose(published, users)))
            in_use: dict[VersionId, list[str]] = {}
            doomed: list[dict[str, Any]] = []
            for version in remaining:
                item = items.get(_model.zfill_version(version))
                if item is not None and item.get("deleted_by") == token:
                    retired.append(self._record(name, item))  # ours, response lost
                    continue
                if not self._visible(item):
                    continue
                assert item is not None
                holders = latest_users if version == LATEST else users.get(int(version), [])
                if holders:
                    in_use[version] = sorted(holders)
                else:
                    doomed.append(item)
            if strict and in_use:
                return RetireResult(retired, in_use)
            self._forget_published(session, name, items.get(LATEST), doomed)
            outcomes = _pool.fan_out(lambda item: self._soft_delete(session, item, token), doomed)
            retired += [
                self._record(name, item) for item, ok in zip(doomed, outcomes, strict=True) if ok
            ]
            conflicted = [item for item, ok in zip(doomed, outcomes, strict=True) if not ok]
            if not conflicted:
                return RetireResult(retired, in_use)
            remaining = [_model.parse_zfilled(str(item["sk"])) or LATEST for item in conflicted]
        raise AssertionError("unreachable")

    def _forget_published(
        self,
        session: Session,
        name: str,
        latest: dict[str, Any] | None,
        doomed: list[dict[str, Any]],
    ) -> None:
        """Before the newest version is deleted, stop an unchanged publish from answering
        with it."""
        newest = self._counter(name, latest)
        if not newest or not any(i["sk"] == _model.zfill_version(newest) for i in doomed):
            return
        self._drop_published(session, name, "latest_version = :n", {"n": newest})

    def _drop_published(
        self, session: Session, name: str, condition: str, values: dict[str, Any] | None = None
    ) -> None:
        """Make an unchanged publish stop answering with the newest version the LATEST item
        records, if that item still meets ``condition``."""
        change = _dynamodb.Update(
            pk=name,
            sk=LATEST,
            expression="REMOVE published_sha256",
            condition=condition,
            values=values or {},
        )
        with contextlib.suppress(_dynamodb.ConditionFailed):
            _dynamodb.update(session.dynamodb, self.table, change)

    def _soft_delete(self, session: Session, item: dict[str, Any], token: str) -> bool:
        """Mark one version deleted unless an alias was pointed at it since it was read."""
        epoch = item.get("alias_epoch")
        change = _dynamodb.Update(
            pk=str(item["pk"]),
            sk=str(item["sk"]),
            expression="SET is_deleted = :t, deleted_by = :token",
            condition=f"{_NOT_DELETED} AND "
            + ("alias_epoch = :e" if epoch is not None else "attribute_not_exists(alias_epoch)"),
            values={
                "t": True,
                "f": False,
                "token": token,
                **({"e": epoch} if epoch is not None else {}),
            },
        )
        try:
            _dynamodb.update(session.dynamodb, self.table, change)
            return True
        except _dynamodb.ConditionFailed as failed:
            old = (
                failed.item
                if failed.known
                else _dynamodb.get(session.dynamodb, self.table, str(item["pk"]), str(item["sk"]))
            )
            return bool(old) and old.get("deleted_by") == token  # type: ignore[union-attr]

    # ------------------------------------------------------------ aliases
    def write_alias(
        self,
        session: Session,
        name: str,
        alias: str,
        target: AliasTarget,
        expected_revision: str | None,
    ) -> AliasRecord:
        session = self._ready(session)
        revision = uuid.uuid4().hex
        now = _model.utc_now()
        item = {
            "pk": alias_pk(name),
            "sk": alias,
            "version": _model.zfill_version(target.version),
            "secondary_version": (
                None
                if target.secondary_version is None
                else _model.zfill_version(target.secondary_version)
            ),
            "secondary_version_weight": target.secondary_version_weight,
            "update_at": dynamodb_time(now),
            "revision": revision,
        }
        actions = [
            _dynamodb.update_action(
                self.table,
                _dynamodb.Update(
                    pk=name,
                    sk=_model.zfill_version(version),
                    expression="SET alias_epoch = if_not_exists(alias_epoch, :zero) + :one",
                    condition=f"attribute_exists(sha256) AND {_NOT_DELETED}",
                    values={"zero": 0, "one": 1, "f": False},
                ),
            )
            for version in target.versions
        ]
        condition = "revision = :r" if expected_revision is not None else None
        put = _dynamodb.put_action(self.table, item, condition)
        if expected_revision is not None:
            put["Put"]["ExpressionAttributeValues"] = _dynamodb.values(r=expected_revision)
        actions.append(put)
        canceled = self._transact(session, actions, f"pointing alias {alias!r} of {name!r}")
        if canceled is not None:  # a refusal, unless it was our own applied earlier attempt
            self._alias_refused(name, alias, target, canceled, revision, expected_revision)
        return self._alias(name, item)

    @staticmethod
    def _alias_refused(
        name: str,
        alias: str,
        target: AliasTarget,
        canceled: _dynamodb.TransactionCanceled,
        revision: str,
        expected_revision: str | None,
    ) -> None:
        """Raise the error a cancelled alias transaction means; return when the cause is
        our own applied attempt (a retry after a lost response)."""
        last = len(canceled.reasons) - 1
        alias_item = (
            canceled.items[last] if canceled.reasons[last] == "ConditionalCheckFailed" else None
        )
        if alias_item is not None and alias_item.get("revision") == revision:
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

    def delete_alias(
        self, session: Session, name: str, alias: str, expected_revision: str | None
    ) -> bool:
        session = self._ready(session)
        if expected_revision is None:
            old = _dynamodb.delete_item(
                session.dynamodb, self.table, _dynamodb.Update(alias_pk(name), alias, "")
            )
            return old is not None
        change = _dynamodb.Update(
            pk=alias_pk(name),
            sk=alias,
            expression="",
            condition="revision = :r",
            values={"r": expected_revision},
        )
        try:
            _dynamodb.delete_item(session.dynamodb, self.table, change)
        except _dynamodb.ConditionFailed as failed:
            old = (
                failed.item
                if failed.known
                else _dynamodb.get(session.dynamodb, self.table, alias_pk(name), alias)
            )
            if old:  # absent: deleted already (a retry of ours)
                raise ConcurrentModificationError(
                    f"alias {alias!r} of {name!r} changed since revision {expected_revision}; "
                    "read it again and retry"
                ) from None
        return True

    # ------------------------------------------------------------ purge
    def purge_artifact(self, session: Session, name: str) -> None:
        session = self._ready(session)
        token = uuid.uuid4().hex
        items = _dynamodb.query(session.dynamodb, self.table, name)
        # Mark every version deleted first: an alias write that commits later fails its
        # condition, one that committed before is found by the alias query below.
        _pool.fan_out(lambda item: self._mark_purged(session, item, token), items)
        aliases = _dynamodb.query(session.dynamodb, self.table, alias_pk(name))
        _dynamodb.delete_keys(session.dynamodb, self.table, [(i["pk"], i["sk"]) for i in aliases])
        items = _dynamodb.query(session.dynamodb, self.table, name)
        _dynamodb.delete_keys(session.dynamodb, self.table, [(i["pk"], i["sk"]) for i in items])
        listing = _s3.list_objects(session.s3, self.bucket, f"{self.root}{name}/")
        owned = [o.key for o in listing.objects if self.classify(o.key) is not None]
        _s3.delete_many(session.s3, self.bucket, owned)

    def _mark_purged(self, session: Session, item: dict[str, Any], token: str) -> None:
        change = _dynamodb.Update(
            pk=str(item["pk"]),
            sk=str(item["sk"]),
            expression="SET is_deleted = :t, deleted_by = :token",
            values={"t": True, "token": token},
        )
        _dynamodb.update(session.dynamodb, self.table, change)

    def purge_all(self, session: Session) -> None:
        session = self._ready(session)
        names = set(self._names_in_table(session))
        listing = _s3.list_objects(session.s3, self.bucket, self.root)
        names |= {kind[0] for o in listing.objects if (kind := self.classify(o.key))}
        _pool.fan_out(lambda name: self.purge_artifact(session, name), sorted(names))

    def _names_in_table(self, session: Session) -> list[str]:
        names = set()
        for pk, _ in _dynamodb.scan_keys(session.dynamodb, self.table):
            if pk.startswith("__") and pk.endswith("-alias"):
                pk = pk[2 : -len("-alias")]
            if _model.is_artifact_name(pk):
                names.add(pk)
        return sorted(names)

    # ------------------------------------------------------------ verification
    def verify_names(self, session: Session) -> tuple[list[str], list[Problem]]:
        session = self._ready(session)
        names = set(self._names_in_table(session))
        listing = _s3.list_objects(session.s3, self.bucket, self.root)
        keys = [item.key for item in listing.objects]
        problems: list[Problem] = []
        names |= owners(keys, self.root, self.owner, self.is_other_layout, problems)
        return sorted(names), problems

    def inventory(self, session: Session, name: str) -> Inventory:
        session = self._ready(session)
        problems: list[Problem] = []
        items, alias_items, listing = _pool.parallel(
            lambda: _dynamodb.query(session.dynamodb, self.table, name),
            lambda: _dynamodb.query(session.dynamodb, self.table, alias_pk(name), descending=False),
            lambda: _s3.list_objects(session.s3, self.bucket, f"{self.root}{name}/"),
        )
        objects: dict[VersionId, str] = {}
        for obj in listing.objects:
            kind = self.classify(obj.key)
            if kind is not None:
                objects[kind[1]] = obj.key
            elif not self.is_other_layout(obj.key):
                problems.append(Problem("orphan_object", name, obj.key, "not part of the layout"))
        records, known, live = self._inventory_items(name, items, problems)
        for version, key in objects.items():
            if version not in known:
                label = f"version {_model.version_str(version)}"
                problems.append(
                    Problem("object_without_item", name, key, f"{label} has bytes but no item")
                )
        aliases: list[AliasRecord] = []
        for item in alias_items:
            try:
                aliases.append(self._alias(name, item))
            except CorruptRecordError as error:
                where = f"{alias_pk(name)}/{item.get('sk')}"
                problems.append(Problem("corrupt_record", name, where, str(error)))
        return Inventory(
            versions=records,
            aliases=aliases,
            live=live,
            alias_locations={a.alias: f"{alias_pk(name)}/{a.alias}" for a in aliases},
            problems=problems,
        )

    def _inventory_items(
        self, name: str, items: list[dict[str, Any]], problems: list[Problem]
    ) -> tuple[list[VersionRecord], set[VersionId], set[VersionId]]:
        """(records whose bytes verify checks, every version with an item, versions an
        alias may point at); unreadable or stale items go to ``problems``."""
        records: list[VersionRecord] = []
        known: set[VersionId] = set()
        live: set[VersionId] = set()
        for item in items:
            where = f"{name}/{item.get('sk')}"
            version = _model.parse_zfilled(str(item.get("sk")))
            if version is None:
                problems.append(Problem("corrupt_record", name, where, "not a version item"))
                continue
            known.add(version)
            try:
                record = self._record(name, item)
            except CorruptRecordError as error:
                problems.append(Problem("corrupt_record", name, where, str(error)))
                continue
            if item.get("is_deleted"):
                continue
            live.add(version)
            if version == LATEST and item.get("unverified"):
                detail = "LATEST's item is unverified (a writer died)"
                problems.append(Problem("stale_item", name, where, detail))
                continue
            records.append(record)
        return records, known, live


def _optional_fields(fields: dict[str, Any]) -> tuple[str, list[str], dict[str, Any]]:
    """For an UpdateItem: the SET clauses (``, name = :name``) of the optional attributes
    that have a value, the names of the empty ones to REMOVE, and the values to bind."""
    present = {field: value for field, value in fields.items() if value}
    sets = "".join(f", {field} = :{field}" for field in present)
    return sets, [field for field in fields if field not in present], present


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
