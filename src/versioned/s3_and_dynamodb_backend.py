"""The S3 + DynamoDB layout: bytes in S3, metadata in DynamoDB.

S3 keys: ``{prefix}/{name}/LATEST{suffix}`` and ``{prefix}/{name}/{n:06d}{suffix}``.
Methods take the session as an optional keyword ``bsm`` (in the seed's position);
``bootstrap`` remembers its session for later calls. Versions are soft-deleted
(``is_deleted``); listing is served by DynamoDB alone. See docs/design.md for the protocol.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from . import _dynamodb, _fetch, _model, _rollout, _s3, _transfer, constants
from ._engine import Engine, check_root
from ._fetch import SignedURL
from ._layouts import AliasRecord, BootstrapOptions, VersionRecord
from ._layouts.dynamodb import DynamoDBLayout
from ._objects import AliasFields, ArtifactFields
from ._paths import S3Path
from ._retention_facades import DynamoDBRetention
from ._retry import DEFAULT as DEFAULT_RETRY
from ._retry import RetryPolicy
from ._watch import Watcher
from .exc import ValidationError
from .history import AliasChange
from .lifecycle import PurgePlan
from .rollout import RolloutProgress, RolloutStatus
from .verify import VerifyReport

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

__all__ = ["Alias", "Artifact", "Repository"]


@dataclasses.dataclass
class Artifact(ArtifactFields[datetime]):
    """One version of an artifact; ``update_at`` is a timezone-aware UTC datetime.
    ``size``, ``content_type`` and ``metadata`` (the user's) are filled where known."""

    @property
    def update_datetime(self) -> datetime:
        return self.update_at


@dataclasses.dataclass
class Alias(AliasFields[datetime]):
    """A named pointer to a version with optional weighted secondary version; ``revision``
    changes on every write (pass it back as ``expected_revision``)."""

    @property
    def update_datetime(self) -> datetime:
        return self.update_at


@dataclasses.dataclass
class Repository(DynamoDBRetention):
    """An artifact repository: bytes under ``s3://{s3_bucket}/{s3_prefix}/``, metadata in
    the DynamoDB table ``dynamodb_table_name`` (which serves this repository only)."""

    aws_region: str
    s3_bucket: str
    s3_prefix: str = constants.S3_PREFIX
    dynamodb_table_name: str = constants.DYNAMODB_TABLE_NAME
    suffix: str = ""
    _: dataclasses.KW_ONLY
    multipart_threshold: int = 16 * _s3.MiB
    part_size: int = 8 * _s3.MiB
    max_workers: int = 6
    single_copy_limit: int = 5 * 1024 * _s3.MiB
    #: a put or publish holding LATEST's write turn longer than this is presumed dead, and
    #: its turn is skipped (it must exceed the longest upload or copy you run)
    lease_secs: float = 30.0
    #: how long and how often a call retries against concurrent writers
    retry_policy: RetryPolicy = dataclasses.field(default=DEFAULT_RETRY, repr=False)
    _bsm: Any = dataclasses.field(default=None, repr=False, compare=False)

    #: deleting a version marks its item deleted; its bytes stay
    soft_delete: ClassVar[bool] = DynamoDBLayout.soft_deletes

    def __post_init__(self) -> None:
        if not isinstance(self.retry_policy, RetryPolicy):
            raise TypeError("retry_policy must be a versioned.api.RetryPolicy")
        if not isinstance(self.dynamodb_table_name, str) or not self.dynamodb_table_name:
            raise ValidationError("dynamodb_table_name must be a non-empty str")
        if isinstance(self.lease_secs, bool) or not isinstance(self.lease_secs, int | float):
            raise TypeError("lease_secs must be a number")
        if self.lease_secs < 0:
            raise ValidationError("lease_secs must be >= 0")
        self.s3_prefix = check_root(self.s3_bucket, self.s3_prefix, self.suffix)
        transfer = _transfer.TransferSettings(
            self.multipart_threshold, self.part_size, self.max_workers, self.single_copy_limit
        )
        self._layout = DynamoDBLayout(
            self.s3_bucket,
            self.s3_prefix,
            self.suffix,
            self.dynamodb_table_name,
            transfer,
            float(self.lease_secs),
            self.retry_policy,
        )
        self._engine = Engine(self._layout, transfer)
        self._consumer = _fetch.Consumer(self._engine)

    # ------------------------------------------------------------ sessions, conversions
    def _session(self, bsm: BotoSesManager | None) -> BotoSesManager:
        if bsm is not None:
            return bsm
        if self._bsm is None:
            from boto_session_manager import BotoSesManager

            self._bsm = BotoSesManager(region_name=self.aws_region)
        return self._bsm

    def _artifact(self, record: VersionRecord) -> Artifact:
        fields = self._engine.artifact_fields(record)
        return Artifact(**{**fields, "update_at": record.update_at})

    def _alias(self, record: AliasRecord) -> Alias:
        fields = self._engine.alias_fields(record)
        return Alias(**{**fields, "update_at": record.update_at})

    @property
    def s3dir_artifact_store(self) -> S3Path:
        """The repository's root folder."""
        return S3Path(self.s3_bucket, self._layout.root)

    def get_artifact_s3path(self, name: str, version: int | str | None) -> S3Path:
        """The S3 path of one version's bytes (no request)."""
        _model.validate_artifact_name(name)
        return S3Path.from_s3_uri(self._engine.uri(name, _model.parse_version(version)))

    # ------------------------------------------------------------ bootstrap
    def bootstrap(
        self,
        bsm: BotoSesManager | None = None,
        dynamodb_write_capacity_units: int | None = None,
        dynamodb_read_capacity_units: int | None = None,
    ) -> None:
        """Create the bucket and the table (on-demand, or provisioned when both capacities
        are given) unless they exist, wait until the table is active, record in the table
        which repository it serves, and remember ``bsm`` as the default session."""
        _dynamodb.check_capacity(dynamodb_read_capacity_units, dynamodb_write_capacity_units)
        session = self._session(bsm)
        options = BootstrapOptions(
            self.aws_region, dynamodb_read_capacity_units, dynamodb_write_capacity_units
        )
        self._engine.bootstrap(session, options)
        self._bsm = session

    # ------------------------------------------------------------ artifacts
    def put_artifact(
        self,
        name: str,
        content: Any,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        bsm: BotoSesManager | None = None,
        *,
        progress: _s3.Progress | None = None,
        resume: bool = False,
    ) -> Artifact:
        """Write ``content`` (bytes-like, a path or a binary file) as LATEST. Unchanged
        content writes nothing; new content takes LATEST's write turn, writes the bytes
        and commits the item. Requests: 1 when unchanged (the turn's condition); 3 when
        new (the turn, PUT, the commit).

        A file above ``multipart_threshold`` keeps a local journal while it uploads;
        ``resume=True`` continues the upload a crashed or interrupted put of the same
        file left, sending only the parts the server lacks (docs/resumable-uploads.md).
        ``resume=True`` with bytes or a stream raises ValidationError."""
        record = self._engine.put(
            self._session(bsm), name, content, content_type, metadata, tags, progress, resume
        )
        return self._artifact(record)

    def get_artifact_version(
        self, name: str, version: int | str | None = None, bsm: BotoSesManager | None = None
    ) -> Artifact:
        """One version (LATEST by default). Requests: 1. Raises ArtifactNotFoundError."""
        return self._artifact(self._engine.get_version(self._session(bsm), name, version))

    def list_artifact_versions(
        self, name: str, bsm: BotoSesManager | None = None, limit: int | None = None
    ) -> list[Artifact]:
        """LATEST first, then versions newest first; soft-deleted ones left out; with
        ``limit``, only the first ``limit`` of them (LATEST counts).
        Requests: 1 (a Query per MB of items, no S3 request)."""
        records = self._engine.list_versions(self._session(bsm), name, limit)
        return [self._artifact(r) for r in records]

    def get_latest_published_artifact_version_number(
        self, name: str, bsm: BotoSesManager | None = None
    ) -> int:
        """The newest published (not deleted) version number, 0 when none. Requests: 1
        (a Query)."""
        return self._engine.latest_published_number(self._session(bsm), name)

    def publish_artifact_version(self, name: str, bsm: BotoSesManager | None = None) -> Artifact:
        """Snapshot LATEST as the next version number; an unchanged LATEST returns the
        newest version. Requests: 2 when unchanged (the turn's condition, the newest
        version's item); 4 when new (a turn in LATEST's queue, the newest item, a
        server-side copy, one transaction). Raises ArtifactNotFoundError without LATEST."""
        return self._artifact(self._engine.publish(self._session(bsm), name))

    def delete_artifact_version(
        self, name: str, version: int | str | None = None, bsm: BotoSesManager | None = None
    ) -> None:
        """Soft-delete one version (LATEST when ``version`` is None): it disappears from get
        and list, its bytes stay. Refused with VersionInUseError while an alias points at
        it, VersionHeldError while it is held. A missing or already deleted version is
        fine; a version a running rollout names is kept (VersionInUseError). Requests: 5
        (in 3 round trips: the versions' Query, the running rollouts' Query and the
        holds together; the aliases' Query; 1 update; LATEST: no rollouts, no holds), + 1
        per newest version (LATEST's item then records that it went)."""
        self._engine.delete_version(self._session(bsm), name, version)

    def list_artifact_names(self, bsm: BotoSesManager | None = None) -> list[str]:
        """Every artifact name, sorted: folders whose LATEST item records bytes. Requests:
        2 (in 1 round trip: a LIST per 1000 folders beside a BatchGetItem per 100 names
        the previous listing found; one more after it for folders new since)."""
        return self._engine.list_names(self._session(bsm))

    # ------------------------------------------------------------ aliases
    def put_alias(
        self,
        name: str,
        alias: str,
        version: int | str | None = None,
        secondary_version: int | str | None = None,
        secondary_version_weight: int | None = None,
        bsm: BotoSesManager | None = None,
        *,
        expected_revision: str | None = None,
        reason: str | None = None,
        force: bool = False,
    ) -> Alias:
        """Point ``alias`` at ``version`` (LATEST when None), optionally sending
        ``secondary_version_weight``% (0..99) to ``secondary_version``. One transaction
        checks that the targets exist (ArtifactNotFoundError) and, with
        ``expected_revision``, that the alias is unchanged (ConcurrentModificationError).
        A protected alias (retention policy) needs ``force=True`` (ProtectedAliasError).
        Requests: 2 (a BatchGetItem of the retention documents, unless ``force``; the
        transaction)."""
        record = self._engine.put_alias(
            self._session(bsm),
            name,
            alias,
            version,
            secondary_version,
            secondary_version_weight,
            expected_revision,
            reason,
            force=force,
        )
        return self._alias(record)

    def get_alias(self, name: str, alias: str, bsm: BotoSesManager | None = None) -> Alias:
        """One alias. Requests: 1. Raises AliasNotFoundError."""
        return self._alias(self._engine.get_alias(self._session(bsm), name, alias))

    def list_aliases(self, name: str, bsm: BotoSesManager | None = None) -> list[Alias]:
        """Every alias of ``name``, sorted by alias. Requests: 1 (a Query)."""
        return [self._alias(r) for r in self._engine.list_aliases(self._session(bsm), name)]

    def delete_alias(
        self,
        name: str,
        alias: str,
        bsm: BotoSesManager | None = None,
        *,
        expected_revision: str | None = None,
        reason: str | None = None,
        force: bool = False,
    ) -> None:
        """Delete an alias (a missing one is fine unless ``expected_revision`` is given);
        a protected alias needs ``force=True``. Requests: 2 (a BatchGetItem of the
        retention documents, unless ``force``; the delete)."""
        self._engine.delete_alias(
            self._session(bsm), name, alias, expected_revision, reason, force=force
        )

    def list_alias_history(
        self, name: str, alias: str, limit: int | None = None, bsm: BotoSesManager | None = None
    ) -> list[AliasChange]:
        """Every change of ``alias`` (put, delete, rollback, rollout), newest first;
        at most ``limit``. Requests: 1 (a Query per MB of entries)."""
        return self._engine.list_alias_history(self._session(bsm), name, alias, limit)

    def alias_at(
        self, name: str, alias: str, when: datetime, bsm: BotoSesManager | None = None
    ) -> AliasChange | None:
        """What ``alias`` pointed to at ``when`` (a naive datetime is taken as UTC): the
        change in force then (``version`` None: the alias was deleted then), or None
        before its first recorded change."""
        return self._engine.alias_at(self._session(bsm), name, alias, when)

    def rollback_alias(
        self,
        name: str,
        alias: str,
        to_revision: str | None = None,
        reason: str | None = None,
        expected_revision: str | None = None,
        bsm: BotoSesManager | None = None,
    ) -> Alias:
        """Point ``alias`` back at the state before its newest change, or at the one
        recorded at ``to_revision`` (a ``rollback`` change). Writes nothing when a version
        of that state is gone (ArtifactNotFoundError) or there is no such state
        (ValidationError); ConcurrentModificationError on ``expected_revision``."""
        record = self._engine.rollback_alias(
            self._session(bsm), name, alias, to_revision, reason, expected_revision
        )
        return self._alias(record)

    # ------------------------------------------------------------ rollouts
    def rollout(
        self,
        name: str,
        alias: str,
        to_version: int | str,
        steps: Sequence[int] = (10, 50, 100),
        bake_secs: float = 300,
        check: Callable[[], bool] | None = None,
        reason: str | None = None,
        bsm: BotoSesManager | None = None,
        *,
        lease_secs: float = _rollout.DEFAULT_LEASE_SECS,
        on_progress: Callable[[RolloutProgress], None] | None = None,
    ) -> Alias:
        """Move ``alias`` to ``to_version`` in steps (percent of traffic; 100: primary),
        baking ``bake_secs`` and calling ``check`` 5 times between steps; a failed check
        restores the alias and raises RolloutAbortedError. Recorded in the table
        (``__{name}-rollout``): see docs/rollouts.md for status, resume and abort."""
        record = self._engine.rollouts.start(
            self._session(bsm), name, alias, to_version, steps=steps, bake_secs=bake_secs,
            check=check, reason=reason, lease_secs=lease_secs, on_progress=on_progress,
        )  # fmt: skip
        return self._alias(record)

    def rollout_status(
        self, name: str, alias: str, bsm: BotoSesManager | None = None
    ) -> RolloutStatus | None:
        """The alias's running rollout (plan, step, owner, times), or None."""
        return self._engine.rollouts.status(self._session(bsm), name, alias)

    def resume_rollout(
        self,
        name: str,
        alias: str,
        check: Callable[[], bool] | None = None,
        bsm: BotoSesManager | None = None,
        *,
        force: bool = False,
        bake_secs: float | None = None,
        on_progress: Callable[[RolloutProgress], None] | None = None,
    ) -> Alias:
        """Continue a rollout whose process died (its lease ran out; any with ``force``)
        from its recorded step, baking again (``bake_secs``; None: the recorded bake)."""
        record = self._engine.rollouts.resume(
            self._session(bsm), name, alias, check=check, force=force, bake_secs=bake_secs,
            on_progress=on_progress,
        )  # fmt: skip
        return self._alias(record)

    def abort_rollout(
        self,
        name: str,
        alias: str,
        reason: str | None = None,
        bsm: BotoSesManager | None = None,
        *,
        force: bool = False,
    ) -> Alias:
        """Put the alias back as the rollout found it and end the rollout (one whose
        process died; any with ``force``: its owner then stops at its next write)."""
        record = self._engine.rollouts.abort(
            self._session(bsm), name, alias, reason=reason, force=force
        )
        return self._alias(record)

    # ------------------------------------------------------------ lifecycle
    def plan_purge(
        self,
        name: str,
        keep_last_n: int = constants.DEFAULT_KEEP_LAST_N,
        purge_older_than_secs: int = constants.DEFAULT_PURGE_OLDER_THAN_SECS,
        bsm: BotoSesManager | None = None,
    ) -> PurgePlan[Artifact]:
        """What :meth:`purge_artifact_versions` would delete, and why each other version
        stays. Changes nothing."""
        plan = self._engine.plan_purge(self._session(bsm), name, keep_last_n, purge_older_than_secs)
        return plan.map(self._artifact)

    def purge_artifact_versions(
        self,
        name: str,
        keep_last_n: int = constants.DEFAULT_KEEP_LAST_N,
        purge_older_than_secs: int = constants.DEFAULT_PURGE_OLDER_THAN_SECS,
        bsm: BotoSesManager | None = None,
        *,
        dry_run: bool = False,
    ) -> tuple[datetime, list[Artifact]]:
        """Soft-delete versions beyond the newest ``keep_last_n`` that are older than
        ``purge_older_than_secs`` and not an alias's target nor named by a running rollout;
        LATEST always stays. Ages and the purge time are the server's clock (the Date of
        its answers). Returns (purge time, deleted versions); with ``dry_run``, what
        would be deleted. Held versions stay. Requests: 4 (the versions' Query, the
        running rollouts' Query and the holds together; then the aliases' Query), + 1 per
        version deleted (160 at a time: 1000 versions in 7 round trips; 1 more when the
        newest goes: LATEST's item records it)."""
        purge_time, records = self._engine.purge_versions(
            self._session(bsm), name, keep_last_n, purge_older_than_secs, dry_run
        )
        return purge_time, [self._artifact(r) for r in records]

    def purge_artifact(self, name: str, bsm: BotoSesManager | None = None) -> None:
        """Delete every alias, item and object of ``name``. Irreversible; refused
        (VersionHeldError) while a version is held."""
        self._engine.purge_artifact(self._session(bsm), name)

    def purge_all(self, bsm: BotoSesManager | None = None) -> None:
        """Delete every artifact of the repository (items, and objects of its layout).
        Irreversible."""
        self._engine.purge_all(self._session(bsm))

    # ------------------------------------------------------------ verification
    def verify(self, name: str | None = None, bsm: BotoSesManager | None = None) -> VerifyReport:
        """Report every inconsistency: objects outside the layout or without an item,
        items without an object, bytes that do not hash to the recorded sha256,
        unreadable records, aliases pointing at missing or deleted versions."""
        return self._engine.verify(self._session(bsm), name, self.max_workers)

    # ------------------------------------------------------------ consumers
    def fetch(
        self,
        name: str,
        alias: str | None = None,
        version: int | str | None = None,
        key: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        max_stale_secs: float | None = None,
        offline_fallback: bool = True,
        progress: _s3.Progress | None = None,
        bsm: BotoSesManager | None = None,
    ) -> pathlib.Path:
        """The path of the bytes of ``alias`` (routed by ``key``: the same key always gets
        the same version, see docs/consumers.md) or ``version`` (LATEST when neither), in
        the local cache (``cache_dir``, else ``$VERSIONED_CACHE_DIR``, else the user cache
        directory); read-only, checked against the recorded sha256 and size. Downloads
        only what the cache lacks (resuming a killed download). ``VERSIONED_OFFLINE=1``:
        from the cache alone (OfflineError when absent); storage unreachable: the last
        resolved bytes, at most ``max_stale_secs`` old, with a StaleCacheWarning (unless
        ``offline_fallback`` is False). Requests: 0 when cached version (a version number
        fetched before); 1 when warm alias (the alias unchanged: a conditional GET or one
        GetItem)."""
        wanted = _fetch.check_wanted(name, alias, version, key)
        options = _fetch.FetchOptions.of(cache_dir, max_stale_secs, offline_fallback, progress)
        return self._consumer.fetch(self._session(bsm), wanted, options)

    def watch(
        self,
        name: str,
        alias: str,
        on_change: Callable[[Alias], object],
        interval_secs: float = 30.0,
        on_error: Callable[[BaseException], object] | None = None,
        bsm: BotoSesManager | None = None,
    ) -> Watcher:
        """Poll ``alias`` every ``interval_secs`` in a daemon thread and call
        ``on_change(alias)`` after each change (1 GetItem per poll). Failed polls are
        retried with backoff and passed to ``on_error`` (default: a logged warning).
        ``Watcher.stop()`` ends it. AliasNotFoundError when missing."""
        _model.validate_artifact_name(name)
        _model.validate_alias_name(alias)
        return self._consumer.watch(
            self._session(bsm), name, alias, on_change, self._alias, interval_secs, on_error
        )

    def url(
        self,
        name: str,
        alias: str | None = None,
        version: int | str | None = None,
        key: str | None = None,
        expires_secs: int = 3600,
        bsm: BotoSesManager | None = None,
    ) -> SignedURL:
        """A presigned GET URL of the version ``alias`` (routed by ``key``) or ``version``
        resolves to, for consumers without AWS credentials, with its version, sha256,
        size and expiry."""
        wanted = _fetch.check_wanted(name, alias, version, key)
        return self._consumer.url(self._session(bsm), wanted, expires_secs)
