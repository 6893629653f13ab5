"""The retention methods of the two facades (thin: the engine's RetentionService does
the work), kept apart so that each facade stays a page shorter. Each facade inherits its
class: S3-only takes ``bsm`` first, S3 + DynamoDB last and optional."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._retention_orphans import DEFAULT_UPLOAD_AGE_SECS
from .retention import Hold, RetentionPlan, RetentionPolicy, RetentionReport

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

    from ._engine import Engine


class S3OnlyRetention:
    """``set_retention`` ... ``apply_retention`` of the S3-only facade."""

    if TYPE_CHECKING:
        _engine: Engine

    def set_retention(
        self, bsm: BotoSesManager, name: str | None, policy: RetentionPolicy | None
    ) -> None:
        """Store the retention policy of ``name`` (None: the repository default); None
        removes it. A nonsense policy raises ValidationError before any request."""
        self._engine.retention.set_policy(bsm, name, policy)

    def get_retention(self, bsm: BotoSesManager, name: str | None) -> RetentionPolicy | None:
        """The policy stored for ``name`` (None: the repository default); one read."""
        return self._engine.retention.get_policy(bsm, name)

    def hold_version(self, bsm: BotoSesManager, name: str, version: int, reason: str) -> Hold:
        """Hold a version: nothing deletes it until it is released."""
        return self._engine.retention.hold(bsm, name, version, reason)

    def release_version(self, bsm: BotoSesManager, name: str, version: int) -> bool:
        """Release a hold; False when the version was not held."""
        return self._engine.retention.release(bsm, name, version)

    def list_holds(self, bsm: BotoSesManager, name: str) -> list[Hold]:
        """The holds on versions of ``name``; one read."""
        return self._engine.retention.holds(bsm, name)

    def plan_retention(self, bsm: BotoSesManager, name: str | None = None) -> list[RetentionPlan]:
        """What :meth:`apply_retention` would delete, per artifact, and why the rest
        stays. Changes nothing."""
        return self._engine.retention.plan(bsm, name)

    def apply_retention(
        self,
        bsm: BotoSesManager,
        name: str | None = None,
        dry_run: bool = False,
        *,
        delete_orphans: bool = False,
        upload_age_secs: float = DEFAULT_UPLOAD_AGE_SECS,
    ) -> list[RetentionReport]:
        """Apply each artifact's retention policy (see docs/retention.md); abort multipart
        uploads older than ``upload_age_secs``; report verify()'s orphan objects (whole
        repository only; deleted with ``delete_orphans``)."""
        return self._engine.retention.run(bsm, name, dry_run, delete_orphans, upload_age_secs)


class DynamoDBRetention:
    """``set_retention`` ... ``apply_retention`` of the S3 + DynamoDB facade."""

    if TYPE_CHECKING:
        _engine: Engine

        def _session(self, bsm: BotoSesManager | None) -> BotoSesManager: ...

    def set_retention(
        self, name: str | None, policy: RetentionPolicy | None, bsm: BotoSesManager | None = None
    ) -> None:
        """Store the retention policy of ``name`` (None: the repository default); None
        removes it. A nonsense policy raises ValidationError before any request."""
        self._engine.retention.set_policy(self._session(bsm), name, policy)

    def get_retention(
        self, name: str | None, bsm: BotoSesManager | None = None
    ) -> RetentionPolicy | None:
        """The policy stored for ``name`` (None: the repository default); one read."""
        return self._engine.retention.get_policy(self._session(bsm), name)

    def hold_version(
        self, name: str, version: int, reason: str, bsm: BotoSesManager | None = None
    ) -> Hold:
        """Hold a version: nothing deletes it until it is released."""
        return self._engine.retention.hold(self._session(bsm), name, version, reason)

    def release_version(self, name: str, version: int, bsm: BotoSesManager | None = None) -> bool:
        """Release a hold; False when the version was not held."""
        return self._engine.retention.release(self._session(bsm), name, version)

    def list_holds(self, name: str, bsm: BotoSesManager | None = None) -> list[Hold]:
        """The holds on versions of ``name``; one read."""
        return self._engine.retention.holds(self._session(bsm), name)

    def plan_retention(
        self, name: str | None = None, bsm: BotoSesManager | None = None
    ) -> list[RetentionPlan]:
        """What :meth:`apply_retention` would delete, per artifact, and why the rest
        stays. Changes nothing."""
        return self._engine.retention.plan(self._session(bsm), name)

    def apply_retention(
        self,
        name: str | None = None,
        dry_run: bool = False,
        bsm: BotoSesManager | None = None,
        *,
        delete_orphans: bool = False,
        upload_age_secs: float = DEFAULT_UPLOAD_AGE_SECS,
    ) -> list[RetentionReport]:
        """Apply each artifact's retention policy (deletes are soft: ``bytes_freed`` is 0);
        abort multipart uploads older than ``upload_age_secs``; report verify()'s orphan
        objects (whole repository only; deleted with ``delete_orphans``)."""
        return self._engine.retention.run(
            self._session(bsm), name, dry_run, delete_orphans, upload_age_secs
        )
