"""The S3-only layout: bytes, metadata and aliases all live in S3.

Layout under ``s3://{bucket}/{prefix}/{name}/``::

    versions/000000_LATEST{suffix}     LATEST (mutable)
    versions/999999_000001{suffix}     version 1 (newest versions list first)
    aliases/{alias}.json               alias routing rule
    state.json                         the artifact's state (numbers, index, alias writes)

Every method takes the boto session (``bsm``) as its first argument. Every metadata change
is a compare-and-swap on ``state.json``, so concurrent publishers never share a number,
numbers are never reused, and no alias is left on deleted bytes; see docs/design.md.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from . import _fetch, _model, _rollout, _s3, _transfer, constants
from ._engine import Engine, check_root
from ._fetch import SignedURL
from ._layouts import AliasRecord, BootstrapOptions, VersionRecord
from ._layouts.s3_only import S3OnlyLayout
from ._model import decode_filename, encode_filename, validate_alias_name
from ._objects import AliasFields, ArtifactFields
from ._retention_facades import S3OnlyRetention
from ._retry import DEFAULT as DEFAULT_RETRY
from ._retry import RetryPolicy
from ._watch import Watcher
from .history import AliasChange
from .lifecycle import PurgePlan
from .rollout import RolloutProgress, RolloutStatus
from .verify import VerifyReport

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

__all__ = [
    "Alias",
    "Artifact",
    "Repository",
    "decode_filename",
    "encode_filename",
    "validate_alias_name",
]


@dataclasses.dataclass
class Artifact(ArtifactFields[str]):
    """One version of an artifact. ``version`` is "LATEST" or "1", "2", ...;
    ``update_at`` is an ISO-8601 UTC string (the object's LastModified). ``size``,
    ``content_type`` and ``metadata`` (the user's) are filled where already at hand."""

    @property
    def update_datetime(self) -> datetime:
        return _model.parse_time(self.update_at)


@dataclasses.dataclass
class Alias(AliasFields[str]):
    """A named pointer to a version, optionally sending ``secondary_version_weight``% of
    traffic to ``secondary_version``. ``revision`` changes on every write (pass it back as
    ``expected_revision`` for optimistic concurrency)."""

    @property
    def update_datetime(self) -> datetime:
        return _model.parse_time(self.update_at)


@dataclasses.dataclass
class Repository(S3OnlyRetention):
    """An S3-only artifact repository rooted at ``s3://{s3_bucket}/{s3_prefix}/``.

    ``multipart_threshold``, ``part_size``, ``max_workers`` and ``single_copy_limit`` tune
    large transfers.
    """

    aws_region: str
    s3_bucket: str
    s3_prefix: str = constants.S3_PREFIX
    suffix: str = ""
    _: dataclasses.KW_ONLY
    multipart_threshold: int = 16 * _s3.MiB
    part_size: int = 8 * _s3.MiB
    max_workers: int = 6
    single_copy_limit: int = 5 * 1024 * _s3.MiB
    #: how long and how often a call retries against concurrent writers
    retry_policy: RetryPolicy = dataclasses.field(default=DEFAULT_RETRY, repr=False)

    #: deleting a version removes its bytes
    soft_delete: ClassVar[bool] = S3OnlyLayout.soft_deletes

    def __post_init__(self) -> None:
        if not isinstance(self.retry_policy, RetryPolicy):
            raise TypeError("retry_policy must be a versioned.api.RetryPolicy")
        self.s3_prefix = check_root(self.s3_bucket, self.s3_prefix, self.suffix)
        transfer = _transfer.TransferSettings(
            self.multipart_threshold, self.part_size, self.max_workers, self.single_copy_limit
        )
        self._layout = S3OnlyLayout(
            self.s3_bucket, self.s3_prefix, self.suffix, transfer, self.retry_policy
        )
        self._engine = Engine(self._layout, transfer)
        self._consumer = _fetch.Consumer(self._engine)

    # ------------------------------------------------------------ conversions
    def _artifact(self, record: VersionRecord) -> Artifact:
        fields = self._engine.artifact_fields(record)
        return Artifact(**{**fields, "update_at": record.update_at.isoformat()})

    def _alias(self, record: AliasRecord) -> Alias:
        fields = self._engine.alias_fields(record)
        return Alias(**{**fields, "update_at": record.update_at.isoformat()})

    @property
    def s3dir_artifact_store(self) -> Any:
        """The repository's root folder (an ``s3pathlib.S3Path``)."""
        from ._paths import S3Path

        return S3Path(self.s3_bucket, self._layout.root)

    # ------------------------------------------------------------ bootstrap
    def bootstrap(self, bsm: BotoSesManager) -> None:
        """Create the bucket in ``aws_region`` if it does not exist. Idempotent."""
        self._engine.bootstrap(bsm, BootstrapOptions(self.aws_region))

    # ------------------------------------------------------------ artifacts
    def put_artifact(
        self,
        bsm: BotoSesManager,
        name: str,
        content: Any,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        progress: _s3.Progress | None = None,
        *,
        resume: bool = False,
    ) -> Artifact:
        """Write ``content`` (bytes-like, a path or a binary file) as LATEST. Unchanged
        content (same sha256) writes nothing. Requests: 1 when unchanged (HEAD); 3 when
        new (HEAD, PUT, HEAD; a multipart upload above ``multipart_threshold``).

        A file above ``multipart_threshold`` keeps a local journal while it uploads;
        ``resume=True`` continues the upload a crashed or interrupted put of the same
        file left, sending only the parts the server lacks (docs/resumable-uploads.md).
        ``resume=True`` with bytes or a stream raises ValidationError."""
        record = self._engine.put(
            bsm, name, content, content_type, metadata, tags, progress, resume
        )
        return self._artifact(record)

    def get_artifact_version(
        self, bsm: BotoSesManager, name: str, version: int | str | None = None
    ) -> Artifact:
        """One version (LATEST by default). Requests: 1. Raises ArtifactNotFoundError."""
        return self._artifact(self._engine.get_version(bsm, name, version))

    def list_artifact_versions(
        self, bsm: BotoSesManager, name: str, limit: int | None = None
    ) -> list[Artifact]:
        """LATEST first, then published versions newest first; with ``limit``, only the
        first ``limit`` of them (LATEST counts). Requests: 3 together (LIST, the state's
        index, LATEST; the LIST is 1 request per 1000 versions listed), + 1 per version
        the index lacks (a HEAD)."""
        return [self._artifact(r) for r in self._engine.list_versions(bsm, name, limit)]

    def get_latest_published_artifact_version_number(self, bsm: BotoSesManager, name: str) -> int:
        """The newest published version number, 0 when none. Requests: 1 (LIST)."""
        return self._engine.latest_published_number(bsm, name)

    def publish_artifact_version(self, bsm: BotoSesManager, name: str) -> Artifact:
        """Snapshot LATEST as the next version number; when LATEST already equals the
        newest version, that version is returned. Requests: 3 together when unchanged
        (the state, LATEST, the newest version keys); 6 when new (those 3, the number
        reserved, one server-side copy, the state read again)."""
        return self._artifact(self._engine.publish(bsm, name))

    def delete_artifact_version(self, bsm: BotoSesManager, name: str, version: int | str) -> None:
        """Delete one published version. LATEST cannot be deleted (ArtifactS3BackendError),
        nor a version an alias points at (VersionInUseError). A missing version is fine.
        A held version raises VersionHeldError; a version a running rollout names is kept
        (VersionInUseError). Requests: 7 (in 3 round trips: 5 reads together, the state,
        2 LISTs, the running rollouts' LIST and the holds; the deletion marked; DELETE)."""
        self._engine.delete_version(bsm, name, version)

    def list_artifact_names(self, bsm: BotoSesManager) -> list[str]:
        """Every artifact name in the repository, sorted. Requests: 1 (a LIST per 1000
        names)."""
        return self._engine.list_names(bsm)

    # ------------------------------------------------------------ aliases
    def put_alias(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        version: int | str | None = None,
        secondary_version: int | str | None = None,
        secondary_version_weight: int | None = None,
        expected_revision: str | None = None,
        *,
        reason: str | None = None,
        force: bool = False,
    ) -> Alias:
        """Point ``alias`` at ``version`` (LATEST when None), optionally sending
        ``secondary_version_weight``% (0..99) of traffic to ``secondary_version``. Both
        versions must exist (ArtifactNotFoundError). With ``expected_revision`` the write
        happens only if the alias is still at that revision (ConcurrentModificationError).
        A protected alias (retention policy) needs ``force=True`` (ProtectedAliasError).
        Requests: 6 (in 4 round trips: the state and the retention documents together,
        unless ``force``: 2 fewer; the write registered, the alias object, the write
        recorded), + 1 per target not yet confirmed (a HEAD, with the state read for LATEST
        and a version this object published while the state is unchanged since)."""
        record = self._engine.put_alias(
            bsm,
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

    def get_alias(self, bsm: BotoSesManager, name: str, alias: str) -> Alias:
        """One alias. Requests: 1. Raises AliasNotFoundError."""
        return self._alias(self._engine.get_alias(bsm, name, alias))

    def list_aliases(self, bsm: BotoSesManager, name: str) -> list[Alias]:
        """Every alias of ``name``, sorted by alias. Requests: 1 (LIST), + 1 per alias
        (the GETs together)."""
        return [self._alias(r) for r in self._engine.list_aliases(bsm, name)]

    def delete_alias(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        expected_revision: str | None = None,
        *,
        reason: str | None = None,
        force: bool = False,
    ) -> None:
        """Delete an alias; a missing alias is fine unless ``expected_revision`` is given
        (then any change since that revision raises ConcurrentModificationError). A
        protected alias needs ``force=True``. Requests: 7 (in 4 round trips: the state,
        the alias and the retention documents together, unless ``force``: 2 fewer; the
        deletion registered, DELETE, the deletion recorded)."""
        self._engine.delete_alias(bsm, name, alias, expected_revision, reason, force=force)

    def list_alias_history(
        self, bsm: BotoSesManager, name: str, alias: str, limit: int | None = None
    ) -> list[AliasChange]:
        """Every change of ``alias`` (put, delete, rollback, rollout), newest first;
        at most ``limit``. Requests: 1 (the state; + a HEAD while the alias's newest write
        is not recorded as landed, + a GET per page of 20 older entries needed: at most 3
        for the newest 20)."""
        return self._engine.list_alias_history(bsm, name, alias, limit)

    def alias_at(
        self, bsm: BotoSesManager, name: str, alias: str, when: datetime
    ) -> AliasChange | None:
        """What ``alias`` pointed to at ``when`` (a naive datetime is taken as UTC): the
        change in force then (``version`` None: the alias was deleted then), or None
        before its first recorded change."""
        return self._engine.alias_at(bsm, name, alias, when)

    def rollback_alias(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        to_revision: str | None = None,
        reason: str | None = None,
        expected_revision: str | None = None,
    ) -> Alias:
        """Point ``alias`` back at the state before its newest change, or at the state
        recorded at ``to_revision``; recorded as a change of its own (``rollback``).
        Refuses, writing nothing, when a version of that state no longer exists
        (ArtifactNotFoundError) or there is no such state (ValidationError);
        ConcurrentModificationError when ``expected_revision`` is given and the alias
        changed since."""
        record = self._engine.rollback_alias(
            bsm, name, alias, to_revision, reason, expected_revision
        )
        return self._alias(record)

    # ------------------------------------------------------------ rollouts
    def rollout(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        to_version: int | str,
        steps: Sequence[int] = (10, 50, 100),
        bake_secs: float = 300,
        check: Callable[[], bool] | None = None,
        reason: str | None = None,
        *,
        lease_secs: float = _rollout.DEFAULT_LEASE_SECS,
        on_progress: Callable[[RolloutProgress], None] | None = None,
    ) -> Alias:
        """Move ``alias`` from its current version to ``to_version`` in steps: each step
        sends its share (percent) of traffic to ``to_version``, the last (100) makes it
        the primary. Between steps it bakes ``bake_secs``, calling ``check`` 5 times;
        a check returning False or raising puts the alias back as it was and raises
        RolloutAbortedError. A record beside the alias (``rollouts/{alias}.json``) shows
        the rollout to every process (``rollout_status``), refuses a second one
        (RolloutInProgressError) and lets another process ``resume_rollout`` or
        ``abort_rollout`` once this one stops renewing it for ``lease_secs``."""
        record = self._engine.rollouts.start(
            bsm, name, alias, to_version, steps=steps, bake_secs=bake_secs, check=check,
            reason=reason, lease_secs=lease_secs, on_progress=on_progress,
        )  # fmt: skip
        return self._alias(record)

    def rollout_status(self, bsm: BotoSesManager, name: str, alias: str) -> RolloutStatus | None:
        """The alias's running rollout (plan, step, owner, times), or None."""
        return self._engine.rollouts.status(bsm, name, alias)

    def resume_rollout(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        check: Callable[[], bool] | None = None,
        *,
        force: bool = False,
        bake_secs: float | None = None,
        on_progress: Callable[[RolloutProgress], None] | None = None,
    ) -> Alias:
        """Continue a rollout whose process died (its lease ran out; any with ``force``)
        from its recorded step, baking again (``bake_secs``, the recorded bake when
        None) before the next one."""
        record = self._engine.rollouts.resume(
            bsm, name, alias, check=check, force=force, bake_secs=bake_secs, on_progress=on_progress
        )
        return self._alias(record)

    def abort_rollout(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        reason: str | None = None,
        *,
        force: bool = False,
    ) -> Alias:
        """Put the alias back as the rollout found it and end the rollout (one whose
        process died; any with ``force``: its owner then stops at its next write)."""
        record = self._engine.rollouts.abort(bsm, name, alias, reason=reason, force=force)
        return self._alias(record)

    # ------------------------------------------------------------ lifecycle
    def plan_purge(
        self,
        bsm: BotoSesManager,
        name: str,
        keep_last_n: int = constants.DEFAULT_KEEP_LAST_N,
        purge_older_than_secs: int = constants.DEFAULT_PURGE_OLDER_THAN_SECS,
    ) -> PurgePlan[Artifact]:
        """What :meth:`purge_artifact_versions` would delete, and why each other version
        stays. Changes nothing."""
        plan = self._engine.plan_purge(bsm, name, keep_last_n, purge_older_than_secs)
        return plan.map(self._artifact)

    def purge_artifact_versions(
        self,
        bsm: BotoSesManager,
        name: str,
        keep_last_n: int = constants.DEFAULT_KEEP_LAST_N,
        purge_older_than_secs: int = constants.DEFAULT_PURGE_OLDER_THAN_SECS,
        dry_run: bool = False,
    ) -> tuple[datetime, list[Artifact]]:
        """Delete published versions that are not among the newest ``keep_last_n``, are
        older than ``purge_older_than_secs`` and are not an alias's target nor named by a
        running rollout; LATEST stays. Ages and the purge time are the server's clock
        (the Date of its answers).
        Returns (purge time, deleted versions); with ``dry_run``, what would be deleted.
        Held versions stay. Requests: 7 (in 3 round trips: 5 reads together, the state,
        2 LISTs, the running rollouts' LIST and the holds; the deletions marked; a batch
        DELETE per 1000)."""
        purge_time, records = self._engine.purge_versions(
            bsm, name, keep_last_n, purge_older_than_secs, dry_run
        )
        return purge_time, [self._artifact(r) for r in records]

    def purge_artifact(self, bsm: BotoSesManager, name: str) -> None:
        """Delete every version, alias and the state of ``name``. Irreversible; refused
        (VersionHeldError) while a version is held.

        The artifact is marked first: until the purge ends, writes to it raise
        ArtifactNotFoundError. A purge that dies half-way is settled by the next write
        after its deadline (120 s): finished, or undone if it had deleted nothing."""
        self._engine.purge_artifact(bsm, name)

    def purge_all(self, bsm: BotoSesManager) -> None:
        """Delete every artifact of the repository (only keys of its layout). Irreversible."""
        self._engine.purge_all(bsm)

    # ------------------------------------------------------------ verification
    def verify(self, bsm: BotoSesManager, name: str | None = None) -> VerifyReport:
        """Report every inconsistency: objects outside the layout, bytes that do not hash
        to their recorded sha256, unreadable records, aliases on missing versions."""
        return self._engine.verify(bsm, name, self.max_workers)

    # ------------------------------------------------------------ consumers
    def fetch(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str | None = None,
        version: int | str | None = None,
        key: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        max_stale_secs: float | None = None,
        offline_fallback: bool = True,
        progress: _s3.Progress | None = None,
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
        return self._consumer.fetch(bsm, wanted, options)

    def watch(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        on_change: Callable[[Alias], object],
        interval_secs: float = 30.0,
        on_error: Callable[[BaseException], object] | None = None,
    ) -> Watcher:
        """Poll ``alias`` every ``interval_secs`` in a daemon thread and call
        ``on_change(alias)`` after each change (1 request per poll: 304 when unchanged).
        Failed polls are retried with backoff and passed to ``on_error`` (default: a
        logged warning). ``Watcher.stop()`` ends it. AliasNotFoundError when missing."""
        _model.validate_artifact_name(name)
        validate_alias_name(alias)
        return self._consumer.watch(
            bsm, name, alias, on_change, self._alias, interval_secs, on_error
        )

    def url(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str | None = None,
        version: int | str | None = None,
        key: str | None = None,
        expires_secs: int = 3600,
    ) -> SignedURL:
        """A presigned GET URL of the version ``alias`` (routed by ``key``) or ``version``
        resolves to, for consumers without AWS credentials, with its version, sha256,
        size and expiry."""
        wanted = _fetch.check_wanted(name, alias, version, key)
        return self._consumer.url(bsm, wanted, expires_secs)
