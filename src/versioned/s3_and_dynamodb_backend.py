"""The S3 + DynamoDB layout: bytes in S3, metadata in DynamoDB (see :mod:`._dynamodb`).

S3 keys: ``{prefix}/{name}/LATEST{suffix}`` and ``{prefix}/{name}/{n:06d}{suffix}``.
Methods take the session as an optional last keyword ``bsm``; ``bootstrap`` remembers its
session for later calls. Versions are soft-deleted (``is_deleted``); listing is served by
DynamoDB alone. Version numbers come from an atomic counter on the LATEST item; alias writes
are transactions that mark their targets, and soft deletes are conditional on that mark, so
concurrent writers never share a number and an alias never points at a deleted version.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from . import _dynamodb as D
from . import _model, _s3
from . import constants as C
from ._model import validate_alias_name
from ._objects import AliasMethods, ArtifactMethods
from ._paths import S3Path
from ._repository import PutRequest, RepositoryBase
from .exc import (
    AliasNotFoundError,
    ArtifactNotFoundError,
    ConcurrentModificationError,
    ContentionError,
    IntegrityError,
    ValidationError,
    VersionInUseError,
)
from .verify import Problem, VerifyReport

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

__all__ = ["Alias", "Artifact", "Repository"]

OPT: Any = None
T = TypeVar("T")
ATTEMPTS = 60
#: how long put and publish keep waiting for concurrent writers before ContentionError
DEADLINE_SECS = 120.0


@dataclasses.dataclass
class Artifact(ArtifactMethods):
    """One version of an artifact; ``update_at`` is a timezone-aware UTC datetime."""

    name: str
    version: str
    update_at: datetime
    s3uri: str
    sha256: str

    @property
    def update_datetime(self) -> datetime:
        return self.update_at


@dataclasses.dataclass
class Alias(AliasMethods):
    """A named pointer to a version with optional weighted secondary version; ``revision``
    changes on every write (pass it back as ``expected_revision``)."""

    name: str
    alias: str
    update_at: datetime
    version: str
    secondary_version: str | None
    secondary_version_weight: int | None
    version_s3uri: str
    secondary_version_s3uri: str | None
    revision: str | None = None

    @property
    def update_datetime(self) -> datetime:
        return self.update_at


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.5, 0.005 * 2**attempt)))


def _until_done(attempt: Callable[[], T | None], failure: str) -> T:
    """Call ``attempt`` until it returns a result, backing off between tries, for at most
    DEADLINE_SECS; then raise ContentionError(failure)."""
    deadline = time.monotonic() + DEADLINE_SECS
    tries = 0
    while True:
        result = attempt()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise ContentionError(failure)
        _backoff(tries)
        tries += 1


@dataclasses.dataclass
class Repository(RepositoryBase):
    """An artifact repository: bytes under ``s3://{s3_bucket}/{s3_prefix}/``, metadata in
    the DynamoDB table ``dynamodb_table_name``."""

    aws_region: str
    s3_bucket: str
    s3_prefix: str = C.S3_PREFIX
    dynamodb_table_name: str = C.DYNAMODB_TABLE_NAME
    suffix: str = ""
    _: dataclasses.KW_ONLY
    multipart_threshold: int = 16 * _s3.MiB
    part_size: int = 8 * _s3.MiB
    max_workers: int = 6
    single_copy_limit: int = 5 * 1024 * _s3.MiB
    #: a put or publish holding LATEST's write turn longer than this is presumed dead, and
    #: its turn is skipped (it must exceed the longest upload or copy you run)
    lease_secs: float = 30.0
    _bsm: Any = dataclasses.field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.dynamodb_table_name, str) or not self.dynamodb_table_name:
            raise ValidationError("dynamodb_table_name must be a non-empty str")
        self._check_settings()

    # ------------------------------------------------------------ layout and sessions
    def _key(self, name: str, version: int | str) -> str:
        return f"{self._artifact_dir(name)}{_model.zfill_version(version)}{self.suffix}"

    def _uri(self, name: str, version: int | str) -> str:
        return f"s3://{self.s3_bucket}/{self._key(name, version)}"

    def get_artifact_s3path(self, name: str, version: int | str | None) -> S3Path:
        """The S3 path of one version's bytes (no request)."""
        _model.validate_artifact_name(name)
        return S3Path.from_s3_uri(self._uri(name, _model.parse_version(version)))

    def _session(self, bsm: BotoSesManager | None) -> BotoSesManager:
        if bsm is not None:
            return bsm
        if self._bsm is None:
            from boto_session_manager import BotoSesManager

            self._bsm = BotoSesManager(region_name=self.aws_region)
        return self._bsm

    def _clients(self, bsm: BotoSesManager | None) -> tuple[Any, Any]:
        session = self._session(bsm)
        return _s3.client(session, "s3"), _s3.client(session, "dynamodb")

    @property
    def _table(self) -> str:
        return self.dynamodb_table_name

    def _artifact(self, name: str, item: dict[str, Any]) -> Artifact:
        version = _model.version_str(_model.parse_version(item["sk"]))
        return Artifact(
            name=name,
            version=version,
            update_at=_model.parse_time(item["update_at"]),
            s3uri=self._uri(name, version),
            sha256=item.get("sha256", ""),
        )

    def _alias(self, name: str, item: dict[str, Any]) -> Alias:
        version = _model.version_str(_model.parse_version(item.get("version")))
        secondary = item.get("secondary_version")
        secondary = (
            None if secondary in (None, "") else _model.version_str(_model.parse_version(secondary))
        )
        weight = item.get("secondary_version_weight")
        return Alias(
            name=name,
            alias=item["sk"],
            update_at=_model.parse_time(item["update_at"]),
            version=version,
            secondary_version=secondary,
            secondary_version_weight=None if secondary is None else weight,
            version_s3uri=self._uri(name, version),
            secondary_version_s3uri=None if secondary is None else self._uri(name, secondary),
            revision=item.get("revision"),
        )

    # ------------------------------------------------------------ bootstrap
    def bootstrap(
        self,
        bsm: BotoSesManager | None = None,
        dynamodb_write_capacity_units: int | None = None,
        dynamodb_read_capacity_units: int | None = None,
    ) -> None:
        """Create the bucket and the table (on-demand, or provisioned when both capacities
        are given) unless they exist, wait until the table is active, and remember ``bsm``
        as this repository's default session. Idempotent."""
        if (dynamodb_write_capacity_units is None) != (dynamodb_read_capacity_units is None):
            raise ValidationError(
                "give both dynamodb_write_capacity_units and dynamodb_read_capacity_units "
                "(provisioned) or neither (on-demand)"
            )
        session = self._session(bsm)
        s3, dynamodb = self._clients(session)
        _s3.ensure_bucket(s3, self.s3_bucket, self.aws_region)
        D.ensure_table(
            dynamodb, self._table, dynamodb_read_capacity_units, dynamodb_write_capacity_units
        )
        self._bsm = session

    # ------------------------------------------------------------ artifacts
    def put_artifact(
        self,
        name: str,
        content: Any,
        content_type: str = OPT,
        metadata: dict[str, str] = OPT,
        tags: dict[str, str] = OPT,
        progress: _s3.Progress | None = None,
        bsm: BotoSesManager | None = None,
    ) -> Artifact:
        """Write ``content`` (bytes-like, a path or a binary file) as LATEST.

        Unchanged content writes nothing (1 request). Otherwise 3 requests: take a ticket in
        LATEST's write queue (a conditional update that also reads the item and fails when
        the content is unchanged), write the bytes (If-Match on the ETag the item records),
        then commit sha256/ETag and pass the turn on in one conditional update. Concurrent
        writers queue in ticket order (fair, few polls); a turn held longer than
        ``lease_secs`` (its writer presumed dead) is skipped.
        """
        request = self._put_request(name, content, content_type, metadata, tags)
        try:
            s3, dynamodb = self._clients(bsm)
            return _until_done(
                lambda: self._put_once(s3, dynamodb, request, progress),
                f"putting {name!r} waited {DEADLINE_SECS:.0f}s for concurrent writers; retry later",
            )
        finally:
            request.source.close()

    def _put_once(
        self, s3: Any, dynamodb: Any, request: PutRequest, progress: _s3.Progress | None
    ) -> Artifact | None:
        """Take a ticket for LATEST's write queue (unless the content is unchanged), wait for
        its turn, write the bytes and commit the item, which passes the turn on. None: our
        turn was skipped (we were presumed dead); take a new ticket."""
        name, source = request.name, request.source
        now = _model.utc_now()
        item, old = self._take_ticket(
            dynamodb,
            name,
            "attribute_not_exists(sha256) OR sha256 <> :sha OR is_deleted = :t",
            sha=source.sha256,
            t=True,
        )
        if item is None:  # unchanged: nothing to write
            if progress:
                progress(source.size, source.size)
            return self._artifact(name, old or {})
        ticket = int(item["put_next"])
        turn = self._wait_for_turn(dynamodb, name, ticket, item)
        if turn is None:
            return None
        item = turn
        if item.get("sha256") == source.sha256 and not item.get("is_deleted"):
            self._pass_turn(dynamodb, name, ticket)  # an earlier writer put the same bytes
            return self._artifact(name, item)
        key = self._key(name, C.LATEST_VERSION)
        metadata = request.object_metadata(D_time(now))
        expected_etag = item.get("etag")
        for _ in range(3):
            try:
                etag = _s3.put_source(
                    s3,
                    self.s3_bucket,
                    key,
                    source,
                    metadata=metadata,
                    content_type=request.content_type,
                    tags=request.tags,
                    transfer=self._transfer,
                    if_match=expected_etag,
                    progress=progress,
                )
                break
            except ClientError as error:
                if not (_s3.is_precondition_failed(error) or _s3.is_not_found(error)):
                    raise _s3.backend_error(error, "PUT", self.s3_bucket, key) from error
                # A writer whose turn was skipped wrote after all: write over it.
                current = _s3.head(s3, self.s3_bucket, key)
                expected_etag = current.etag if current else None
        else:
            self._pass_turn(dynamodb, name, ticket)
            return None
        now = _model.utc_now()
        try:
            dynamodb.update_item(
                TableName=self._table,
                Key=D.key(name, C.LATEST_VERSION),
                UpdateExpression=(
                    "SET sha256 = :s, etag = :e, update_at = :t, is_deleted = :f, "
                    "content_length = :z, latest_version = if_not_exists(latest_version, :zero), "
                    "put_serving = :next, put_since = :t"
                ),
                ConditionExpression=_turn_condition(ticket),
                ExpressionAttributeValues=D.values(
                    s=source.sha256,
                    e=etag,
                    t=D_time(now),
                    f=False,
                    z=source.size,
                    zero=0,
                    next=ticket + 1,
                    ticket=ticket,
                ),
            )
        except ClientError as error:
            if not D.is_condition_failed(error):
                raise D.backend_error(error, "UpdateItem", self._table) from error
            # Our turn was skipped meanwhile; the writer after us writes over these bytes.
        return Artifact(
            name, C.LATEST_VERSION, now, self._uri(name, C.LATEST_VERSION), source.sha256
        )

    def _take_ticket(
        self, dynamodb: Any, name: str, condition: str, **values: Any
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Take a ticket in LATEST's write queue if ``condition`` holds (one conditional
        update). Returns (the item with our ticket in ``put_next``, None), or (None, the
        item as it is) when the condition failed and nothing was written."""
        try:
            response = dynamodb.update_item(
                TableName=self._table,
                Key=D.key(name, C.LATEST_VERSION),
                UpdateExpression=(
                    "SET put_next = if_not_exists(put_next, :zero) + :one, "
                    "put_since = if_not_exists(put_since, :now)"
                ),
                ConditionExpression=condition,
                ExpressionAttributeValues=D.values(
                    zero=0, one=1, now=D_time(_model.utc_now()), **values
                ),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not D.is_condition_failed(error):
                raise D.backend_error(error, "UpdateItem", self._table) from error
            return None, D.decode(error.response.get("Item"))
        return D.decode(response.get("Attributes")) or {}, None

    def _wait_for_turn(
        self, dynamodb: Any, name: str, ticket: int, item: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Poll until ``put_serving`` reaches ``ticket``; skip a turn whose holder exceeded
        ``lease_secs``. None if our own turn was skipped.

        Waiters sleep for about the time the turns ahead of them should take (measured
        from how fast the queue moves), so the queue is polled a few times per turn, not
        once per waiter per turn."""
        seconds_per_turn = 0.05
        last_serving, last_time = int(item.get("put_serving", 1)), time.monotonic()
        while True:
            serving = int(item.get("put_serving", 1))
            now = time.monotonic()
            if serving > last_serving:
                observed = (now - last_time) / (serving - last_serving)
                seconds_per_turn = 0.5 * seconds_per_turn + 0.5 * observed
                last_serving, last_time = serving, now
            if serving == ticket:
                return item
            if serving > ticket:
                return None
            since = _model.parse_time(item.get("put_since") or D_time(_model.utc_now()))
            if _model.utc_now() - since > timedelta(seconds=self.lease_secs):
                self._skip_turn(dynamodb, name, serving)
            else:
                ahead = ticket - serving
                pause = ahead * seconds_per_turn * random.uniform(0.6, 0.9)
                time.sleep(min(2.0, max(0.005, pause)))
            fresh = D.get(dynamodb, self._table, name, C.LATEST_VERSION)
            if fresh is None:
                return None
            item = fresh

    def _skip_turn(self, dynamodb: Any, name: str, serving: int) -> None:
        with contextlib.suppress(ClientError):
            dynamodb.update_item(
                TableName=self._table,
                Key=D.key(name, C.LATEST_VERSION),
                UpdateExpression="SET put_serving = :next, put_since = :now",
                ConditionExpression=_turn_condition(serving),
                ExpressionAttributeValues=D.values(
                    next=serving + 1, now=D_time(_model.utc_now()), ticket=serving
                ),
            )

    def _pass_turn(self, dynamodb: Any, name: str, ticket: int) -> None:
        self._skip_turn(dynamodb, name, ticket)

    def get_artifact_version(
        self, name: str, version: int | str | None = None, bsm: BotoSesManager | None = None
    ) -> Artifact:
        """One version (LATEST by default). 1 request. Raises ArtifactNotFoundError."""
        _model.validate_artifact_name(name)
        parsed = _model.parse_version(version)
        _, dynamodb = self._clients(bsm)
        item = D.get(dynamodb, self._table, name, _model.zfill_version(parsed))
        if not item or item.get("is_deleted") or "sha256" not in item:
            raise ArtifactNotFoundError(
                f"artifact {name!r} has no version {_model.version_str(parsed)}"
            )
        return self._artifact(name, item)

    def _version_items(self, dynamodb: Any, name: str) -> list[dict[str, Any]]:
        items = D.query(dynamodb, self._table, name)
        return [item for item in items if _is_version_sk(item["sk"]) and "sha256" in item]

    def list_artifact_versions(
        self, name: str, bsm: BotoSesManager | None = None
    ) -> list[Artifact]:
        """LATEST first, then versions newest first; soft-deleted ones left out.
        One Query per MB of items, no S3 request."""
        _model.validate_artifact_name(name)
        _, dynamodb = self._clients(bsm)
        return [
            self._artifact(name, item)
            for item in self._version_items(dynamodb, name)
            if not item.get("is_deleted")
        ]

    def publish_artifact_version(self, name: str, bsm: BotoSesManager | None = None) -> Artifact:
        """Snapshot LATEST as the next version number; an unchanged LATEST (same sha256 as
        the newest version) returns that version instead: 1 request.

        New: 3 requests. Publishes queue with puts in LATEST's write queue: a ticket (the
        conditional update that also detects an unchanged LATEST), a server-side copy to
        the next number (S3 reports the sha256 of what it copied, which the version
        records), then one transaction that writes the version item, advances the counter
        and passes the turn on. A publish that dies consumes no number.
        Raises ArtifactNotFoundError without LATEST.
        """
        _model.validate_artifact_name(name)
        s3, dynamodb = self._clients(bsm)
        return _until_done(
            lambda: self._publish_once(s3, dynamodb, name),
            f"publishing {name!r} waited {DEADLINE_SECS:.0f}s for concurrent writers; retry later",
        )

    def _publish_once(self, s3: Any, dynamodb: Any, name: str) -> Artifact | None:
        taken, old = self._take_ticket(
            dynamodb,
            name,
            "attribute_exists(sha256) "
            "AND (attribute_not_exists(is_deleted) OR is_deleted = :f) AND "
            "(attribute_not_exists(published_sha256) OR published_sha256 <> sha256)",
            f=False,
        )
        if taken is None:
            if not old or old.get("is_deleted") or "sha256" not in old:
                raise ArtifactNotFoundError(f"artifact {name!r} has no LATEST to publish")
            return self._published(name, old)  # unchanged since the last publish
        ticket = int(taken["put_next"])
        item = self._wait_for_turn(dynamodb, name, ticket, taken)
        if item is None:
            return None
        try:
            return self._publish_turn(s3, dynamodb, name, ticket, item)
        except BaseException:
            self._pass_turn(dynamodb, name, ticket)
            raise

    def _published(self, name: str, latest: dict[str, Any]) -> Artifact:
        """The newest version, as the LATEST item records it."""
        number = int(latest["latest_version"])
        return Artifact(
            name=name,
            version=str(number),
            update_at=_model.parse_time(latest.get("published_update_at") or latest["update_at"]),
            s3uri=self._uri(name, number),
            sha256=latest["published_sha256"],
        )

    def _publish_turn(
        self, s3: Any, dynamodb: Any, name: str, ticket: int, item: dict[str, Any]
    ) -> Artifact | None:
        """Holding the write turn: copy LATEST to the next number and commit it."""
        if item.get("is_deleted") or "sha256" not in item:
            raise ArtifactNotFoundError(f"artifact {name!r} has no LATEST to publish")
        if "latest_version" in item and item.get("published_sha256") == item["sha256"]:
            self._pass_turn(dynamodb, name, ticket)  # another publisher got there first
            return self._published(name, item)
        newest = item.get("latest_version")
        if newest is None:  # an artifact written by another client: find its newest number
            found = D.query(dynamodb, self._table, name, limit=1, sk_between=("000000", "999999"))
            newest = int(found[0]["sk"]) if found else 0
        number = _model.next_version(int(newest))
        source_key, key = self._key(name, C.LATEST_VERSION), self._key(name, number)
        size = item.get("content_length")
        if size is None:
            info = _s3.head(s3, self.s3_bucket, source_key)
            if info is None:
                raise ArtifactNotFoundError(f"artifact {name!r} has no LATEST bytes in S3")
            size = info.size
        sha: str | None
        try:
            _, sha = _s3.copy_object(
                s3,
                self.s3_bucket,
                source_key,
                key,
                size=int(size),
                transfer=self._transfer,
                if_none_match=True,
            )
        except ClientError as error:
            if not _s3.is_precondition_failed(error):
                raise _s3.backend_error(error, "COPY", self.s3_bucket, key) from error
            sha = None  # left by a writer whose turn was skipped: describe what is there
        if sha is None:
            copied = _s3.head(s3, self.s3_bucket, key)
            sha = copied.sha256 if copied else None
            if sha is None:
                raise IntegrityError(f"{key} has no recorded sha256; run verify()")
        now = D_time(_model.utc_now())
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": D.encode(
                                {
                                    "pk": name,
                                    "sk": _model.zfill_version(number),
                                    "sha256": sha,
                                    "is_deleted": False,
                                    "update_at": now,
                                }
                            ),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": D.key(name, C.LATEST_VERSION),
                            "UpdateExpression": (
                                "SET latest_version = :n, published_sha256 = :s, "
                                "published_update_at = :t, put_serving = :next, put_since = :t"
                            ),
                            "ConditionExpression": _turn_condition(ticket),
                            "ExpressionAttributeValues": D.values(
                                n=number, s=sha, t=now, next=ticket + 1, ticket=ticket
                            ),
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return None  # our turn was skipped (presumed dead): queue again
            raise D.backend_error(error, "TransactWriteItems", self._table) from error
        return Artifact(name, str(number), _model.parse_time(now), self._uri(name, number), sha)

    def delete_artifact_version(
        self, name: str, version: int | str | None = None, bsm: BotoSesManager | None = None
    ) -> None:
        """Soft-delete one version (LATEST when ``version`` is None): it disappears from get
        and list, its bytes stay. Refused with VersionInUseError while an alias points at
        it. A missing or already deleted version is fine."""
        _model.validate_artifact_name(name)
        parsed = _model.parse_version(version)
        _, dynamodb = self._clients(bsm)
        for attempt in range(ATTEMPTS):
            _, conflicted = self._soft_delete(dynamodb, name, [parsed], strict=True)
            if not conflicted:
                return
            _backoff(attempt)
        raise ContentionError(f"deleting {name!r} kept conflicting with alias writes")

    def _soft_delete(
        self, dynamodb: Any, name: str, versions: list[int | str], *, strict: bool
    ) -> tuple[list[dict[str, Any]], bool]:
        """Soft-delete ``versions``, each with one conditional update (sent in parallel)
        that fails if an alias was pointed at the version since it was read (put_alias
        bumps ``alias_epoch`` in its transaction). Returns (deleted items, whether any
        conflicted: the caller re-reads and retries those)."""
        # Items first, aliases second (not in parallel): an alias written after the items
        # were read has bumped the target's alias_epoch since, which fails our condition;
        # one written before the aliases are read is seen. Read the other way round, an
        # alias written in between would be missed and its target deleted.
        items = {item["sk"]: item for item in D.query(dynamodb, self._table, name)}
        aliases = [
            self._alias(name, item) for item in D.query(dynamodb, self._table, D.alias_pk(name))
        ]
        used = {target for alias in aliases for target in _alias_targets(alias)}
        doomed = []
        for version in versions:
            sk = _model.zfill_version(version)
            if _model.version_str(version) in used:
                if strict:
                    users = [
                        a.alias for a in aliases if _model.version_str(version) in _alias_targets(a)
                    ]
                    raise VersionInUseError(
                        f"version {_model.version_str(version)} of {name!r} is used by "
                        f"alias(es) {', '.join(users)}; point them elsewhere first"
                    )
                continue
            item = items.get(sk)
            if item and not item.get("is_deleted"):
                doomed.append(item)
        latest = items.get(C.LATEST_VERSION) or {}
        newest = latest.get("latest_version")
        if newest is not None and any(
            int(i["sk"]) == newest for i in doomed if i["sk"] != "LATEST"
        ):
            # First forget that the newest version holds LATEST's content, so an unchanged
            # publish cannot answer with a version that is about to be deleted.
            with contextlib.suppress(ClientError):
                dynamodb.update_item(
                    TableName=self._table,
                    Key=D.key(name, C.LATEST_VERSION),
                    UpdateExpression="REMOVE published_sha256",
                    ConditionExpression="latest_version = :n",
                    ExpressionAttributeValues=D.values(n=newest),
                )

        def soft_delete(item: dict[str, Any]) -> bool:
            epoch = item.get("alias_epoch")
            condition = "is_deleted = :f AND " + (
                "alias_epoch = :e" if epoch is not None else "attribute_not_exists(alias_epoch)"
            )
            expression = D.values(t=True, f=False)
            if epoch is not None:
                expression.update(D.values(e=epoch))
            try:
                dynamodb.update_item(
                    TableName=self._table,
                    Key=D.key(name, item["sk"]),
                    UpdateExpression="SET is_deleted = :t",
                    ConditionExpression=condition,
                    ExpressionAttributeValues=expression,
                )
                return True
            except ClientError as error:
                if D.is_condition_failed(error):
                    return False  # an alias was pointed at it since it was read
                raise D.backend_error(error, "UpdateItem", self._table) from error

        if len(doomed) <= 1:
            outcomes = [soft_delete(item) for item in doomed]
        else:
            with ThreadPoolExecutor(max_workers=min(_s3.FANOUT_WORKERS, len(doomed))) as pool:
                outcomes = list(pool.map(soft_delete, doomed))
        deleted = [item for item, ok in zip(doomed, outcomes, strict=True) if ok]
        return deleted, not all(outcomes)

    def list_artifact_names(self, bsm: BotoSesManager | None = None) -> list[str]:
        """Every artifact name (from the bucket's folder structure), sorted. 1 request."""
        s3, _ = self._clients(bsm)
        return sorted(_s3.list_folders(s3, self.s3_bucket, self._root))

    # ------------------------------------------------------------ aliases
    def put_alias(
        self,
        name: str,
        alias: str,
        version: int | str | None = None,
        secondary_version: int | str | None = None,
        secondary_version_weight: int | None = None,
        expected_revision: str | None = None,
        bsm: BotoSesManager | None = None,
    ) -> Alias:
        """Point ``alias`` at ``version`` (LATEST when None), optionally sending
        ``secondary_version_weight``% (0..99) to ``secondary_version``.

        One transaction checks that the target versions exist and are not deleted (and
        marks them, so a concurrent delete fails) and writes the alias; with
        ``expected_revision`` it also requires the alias to be unchanged
        (ConcurrentModificationError). Missing versions raise ArtifactNotFoundError.
        """
        _model.validate_artifact_name(name)
        validate_alias_name(alias)
        target = _model.validate_alias_target(version, secondary_version, secondary_version_weight)
        if expected_revision is not None and not isinstance(expected_revision, str):
            raise TypeError("expected_revision must be a str")
        _, dynamodb = self._clients(bsm)
        targets = [target.version] + (
            [target.secondary_version] if target.secondary_version is not None else []
        )
        now = _model.utc_now()
        revision = uuid.uuid4().hex
        item = {
            "pk": D.alias_pk(name),
            "sk": alias,
            "version": _model.zfill_version(target.version),
            "secondary_version": (
                None
                if target.secondary_version is None
                else _model.zfill_version(target.secondary_version)
            ),
            "secondary_version_weight": target.secondary_version_weight,
            "update_at": D_time(now),
            "revision": revision,
        }
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": D.key(name, _model.zfill_version(v)),
                    "UpdateExpression": "SET alias_epoch = if_not_exists(alias_epoch, :z) + :one",
                    "ConditionExpression": (
                        "attribute_exists(pk) AND "
                        "(attribute_not_exists(is_deleted) OR is_deleted = :f)"
                    ),
                    "ExpressionAttributeValues": D.values(z=0, one=1, f=False),
                }
            }
            for v in targets
        ]
        put: dict[str, Any] = {"TableName": self._table, "Item": D.encode(item)}
        if expected_revision is not None:
            put["ConditionExpression"] = "revision = :r"
            put["ExpressionAttributeValues"] = D.values(r=expected_revision)
        actions.append({"Put": put})
        for attempt in range(ATTEMPTS):
            try:
                dynamodb.transact_write_items(TransactItems=actions)
                break
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise D.backend_error(error, "TransactWriteItems", self._table) from error
                codes = D.cancellation_codes(error)
                for index, code in enumerate(codes):
                    if code != "ConditionalCheckFailed":
                        continue
                    if index < len(targets):
                        raise ArtifactNotFoundError(
                            f"artifact {name!r} has no version "
                            f"{_model.version_str(targets[index])}; alias {alias!r} unchanged"
                        ) from error
                    raise ConcurrentModificationError(
                        f"alias {alias!r} of {name!r} changed since revision "
                        f"{expected_revision}; read it again and retry"
                    ) from error
                _backoff(attempt)  # a transaction conflict: retry
        else:
            raise ContentionError(f"alias {alias!r} of {name!r}: too many conflicting writers")
        return self._alias(name, item)

    def get_alias(self, name: str, alias: str, bsm: BotoSesManager | None = None) -> Alias:
        """One alias. 1 request. Raises AliasNotFoundError."""
        _model.validate_artifact_name(name)
        validate_alias_name(alias)
        _, dynamodb = self._clients(bsm)
        item = D.get(dynamodb, self._table, D.alias_pk(name), alias)
        if not item:
            raise AliasNotFoundError(f"artifact {name!r} has no alias {alias!r}")
        return self._alias(name, item)

    def list_aliases(self, name: str, bsm: BotoSesManager | None = None) -> list[Alias]:
        """Every alias of ``name``, sorted by alias. 1 request."""
        _model.validate_artifact_name(name)
        _, dynamodb = self._clients(bsm)
        items = D.query(dynamodb, self._table, D.alias_pk(name), descending=False)
        return [self._alias(name, item) for item in items]

    def delete_alias(
        self,
        name: str,
        alias: str,
        expected_revision: str | None = None,
        bsm: BotoSesManager | None = None,
    ) -> None:
        """Delete an alias (a missing one is fine unless ``expected_revision`` is given)."""
        _model.validate_artifact_name(name)
        validate_alias_name(alias)
        _, dynamodb = self._clients(bsm)
        kwargs: dict[str, Any] = {}
        if expected_revision is not None:
            kwargs = {
                "ConditionExpression": "revision = :r",
                "ExpressionAttributeValues": D.values(r=expected_revision),
            }
        try:
            dynamodb.delete_item(
                TableName=self._table, Key=D.key(D.alias_pk(name), alias), **kwargs
            )
        except ClientError as error:
            if D.is_condition_failed(error):
                raise ConcurrentModificationError(
                    f"alias {alias!r} of {name!r} changed since revision {expected_revision}"
                ) from error
            raise D.backend_error(error, "DeleteItem", self._table) from error

    # ------------------------------------------------------------ lifecycle
    def purge_artifact_versions(
        self,
        name: str,
        keep_last_n: int = C.DEFAULT_KEEP_LAST_N,
        purge_older_than_secs: int = C.DEFAULT_PURGE_OLDER_THAN_SECS,
        bsm: BotoSesManager | None = None,
    ) -> tuple[datetime, list[Artifact]]:
        """Soft-delete versions beyond the newest ``keep_last_n`` that are older than
        ``purge_older_than_secs`` and not an alias's target; LATEST always stays. Two
        Queries (versions, then aliases), then one conditional update per version, sent in
        parallel."""
        _model.validate_artifact_name(name)
        _model.check_retention_args(keep_last_n, purge_older_than_secs)
        _, dynamodb = self._clients(bsm)
        purge_time = _model.utc_now()
        deleted: list[dict[str, Any]] = []
        for attempt in range(ATTEMPTS):
            live = [
                self._artifact(name, item)
                for item in self._version_items(dynamodb, name)
                if not item.get("is_deleted") and item["sk"] != C.LATEST_VERSION
            ]
            doomed = _model.select_versions_to_purge(
                [(int(a.version), a.update_at) for a in live],
                keep_last_n=keep_last_n,
                purge_older_than_secs=purge_older_than_secs,
                now=purge_time,
            )
            removed, conflicted = self._soft_delete(dynamodb, name, list(doomed), strict=False)
            deleted.extend(removed)
            if not conflicted:
                ordered = sorted(deleted, key=lambda item: item["sk"], reverse=True)
                return purge_time, [self._artifact(name, item) for item in ordered]
            _backoff(attempt)
        raise ContentionError(f"purging {name!r} kept conflicting with concurrent writers")

    def purge_artifact(self, name: str, bsm: BotoSesManager | None = None) -> None:
        """Delete every alias, item and object of ``name``. Irreversible."""
        _model.validate_artifact_name(name)
        s3, dynamodb = self._clients(bsm)
        aliases = D.query(dynamodb, self._table, D.alias_pk(name))
        D.delete_keys(dynamodb, self._table, [(i["pk"], i["sk"]) for i in aliases])
        items = D.query(dynamodb, self._table, name)
        D.delete_keys(dynamodb, self._table, [(i["pk"], i["sk"]) for i in items])
        _s3.delete_prefix(s3, self.s3_bucket, self._artifact_dir(name))

    def purge_all(self, bsm: BotoSesManager | None = None) -> None:
        """Delete every artifact of the repository (items and objects). Irreversible."""
        s3, dynamodb = self._clients(bsm)
        keys = D.scan_keys(dynamodb, self._table)
        aliases = [k for k in keys if k[0].startswith("__")]
        D.delete_keys(dynamodb, self._table, aliases)
        D.delete_keys(dynamodb, self._table, [k for k in keys if not k[0].startswith("__")])
        _s3.delete_prefix(s3, self.s3_bucket, self._root)

    # ------------------------------------------------------------ verification
    def verify(self, name: str | None = None, bsm: BotoSesManager | None = None) -> VerifyReport:
        """Walk the repository (or one artifact) and report every inconsistency: objects
        outside the layout or without an item, live items without an object, bytes that
        do not hash to the recorded sha256, aliases pointing at missing/deleted versions."""
        s3, dynamodb = self._clients(bsm)
        if name is not None:
            names = [_model.validate_artifact_name(name)]
        else:
            found = set(_s3.list_folders(s3, self.s3_bucket, self._root))
            found |= {pk for pk, _ in D.scan_keys(dynamodb, self._table) if not pk.startswith("__")}
            names = sorted(found)
        report = VerifyReport()
        for artifact_name in names:
            self._verify_artifact(s3, dynamodb, artifact_name, report)
        return report

    def _verify_artifact(self, s3: Any, dynamodb: Any, name: str, report: VerifyReport) -> None:
        items = {item["sk"]: item for item in self._version_items(dynamodb, name)}
        base = self._artifact_dir(name)
        objects: dict[str, str] = {}
        for listed in _s3.list_objects(s3, self.s3_bucket, base):
            stem = listed.key[len(base) :]
            if self.suffix and stem.endswith(self.suffix):
                stem = stem[: -len(self.suffix)]
            if _is_version_sk(stem) and (stem == C.LATEST_VERSION or len(stem) == 6):
                objects[stem] = listed.key
            else:
                report.add(Problem("orphan_object", name, listed.key, "not part of the layout"))
        for sk, key in objects.items():
            if sk not in items:
                report.add(
                    Problem(
                        "object_without_item",
                        name,
                        key,
                        f"version {sk} has bytes but no DynamoDB item",
                    )
                )
        live = {sk: item for sk, item in items.items() if not item.get("is_deleted")}

        def check(sk: str) -> Problem | None:
            key = self._key(name, sk)
            response = _s3.get_object(s3, self.s3_bucket, key)
            if response is None:
                return Problem(
                    "item_without_object",
                    name,
                    key,
                    f"version {sk} has an item but its bytes are missing",
                )
            digest = hashlib.sha256()
            with _s3.translate("GET", self.s3_bucket, key):
                for chunk in response["Body"].iter_chunks(_s3.CHUNK):
                    digest.update(chunk)
            recorded = live[sk].get("sha256")
            if recorded != digest.hexdigest():
                return Problem(
                    "sha256_mismatch",
                    name,
                    key,
                    f"version {sk} records {str(recorded)[:12]}..., bytes hash to "
                    f"{digest.hexdigest()[:12]}...",
                )
            return None

        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            for problem in pool.map(check, list(live)):
                if problem:
                    report.add(problem)
        for alias_item in D.query(dynamodb, self._table, D.alias_pk(name)):
            alias = self._alias(name, alias_item)
            for target in _alias_targets(alias):
                if _model.zfill_version(_model.parse_version(target)) not in live:
                    report.add(
                        Problem(
                            "dangling_alias",
                            name,
                            f"{D.alias_pk(name)}/{alias.alias}",
                            f"alias {alias.alias!r} points at missing or deleted version {target}",
                        )
                    )


def D_time(moment: datetime) -> str:
    return _model.format_dynamodb_time(moment)


def _turn_condition(ticket: int) -> str:
    """The condition that ``ticket`` holds LATEST's write turn (absent counter = turn 1)."""
    if ticket == 1:
        return "attribute_not_exists(put_serving) OR put_serving = :ticket"
    return "put_serving = :ticket"


def _is_number_sk(sk: str) -> bool:
    return len(sk) == 6 and sk.isdigit()


def _is_version_sk(sk: str) -> bool:
    return sk == C.LATEST_VERSION or _is_number_sk(sk)


def _alias_targets(alias: Alias) -> list[str]:
    return [v for v in (alias.version, alias.secondary_version) if v is not None]
