"""The typed surface both repositories share: ``Repository``, ``Artifact`` and ``Alias``.

``versioned.s3_only_backend.Repository`` and ``versioned.s3_and_dynamodb_backend.Repository``
differ where the seeds make them differ: S3-only takes the session (``bsm``) first and
requires it, S3 + DynamoDB takes it last and optionally; S3-only timestamps are ISO
strings, S3 + DynamoDB ones datetimes. These protocols hold what is the same, so code that
works with either (the command line, the tests, your own tools) is typed once::

    from versioned.api import Repository, s3_only_backend

    def newest(repo: Repository, bsm: BotoSesManager, name: str) -> int:
        return repo.get_latest_published_artifact_version_number(name=name, bsm=bsm)

    newest(s3_only_backend.Repository(aws_region="us-east-1", s3_bucket="b"), bsm, "model")

Every parameter here is keyword-only: pass ``name=``, ``version=``, ``bsm=`` ... by
keyword, which both facades accept. ``bsm`` is required (S3-only has no default session).
Where the facades behave differently the difference is a declared member, never a probe:
``soft_delete`` says whether deleting a version keeps its bytes. ``update_at`` is the
stored form (a str or a datetime); ``update_datetime`` is an aware UTC datetime in both.
The request budgets and errors of each method are documented on the facades.
"""

from __future__ import annotations

import io
import os
import pathlib
import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Protocol

from ._fetch import SignedURL
from ._retry import RetryPolicy
from ._watch import Watcher
from .history import AliasChange
from .lifecycle import PurgePlan
from .retention import Hold, RetentionPlan, RetentionPolicy, RetentionReport
from .rollout import RolloutProgress, RolloutStatus
from .verify import VerifyReport

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

    from ._paths import S3Path

__all__ = ["Alias", "Artifact", "ContentSource", "Progress", "Repository"]

#: ``progress(bytes_done, bytes_total)``, called as a transfer advances
Progress = Callable[[int, int], None]

#: what ``put_artifact`` stores: bytes-like, a path, or a readable binary file (a str is
#: refused: encode text first, or pass ``pathlib.Path(...)``)
ContentSource = bytes | bytearray | memoryview | os.PathLike[str] | IO[bytes]


class Artifact(Protocol):
    """One version of an artifact (LATEST or a published number), as both facades return it."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str:
        """LATEST or 1, 2, ... (as a str)."""

    @property
    def update_at(self) -> str | datetime:
        """The stored timestamp: an ISO string (S3-only) or a datetime (S3 + DynamoDB)."""

    @property
    def update_datetime(self) -> datetime:
        """``update_at`` as an aware UTC datetime."""

    @property
    def s3uri(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int | None: ...
    @property
    def content_type(self) -> str | None: ...
    @property
    def metadata(self) -> dict[str, str] | None: ...
    @property
    def s3path(self) -> S3Path: ...

    def get_content(self, bsm: BotoSesManager) -> bytes:
        """The bytes, checked against ``sha256`` (IntegrityError if they differ)."""

    def download(
        self, bsm: BotoSesManager, path: str | os.PathLike[str], progress: Progress | None = None
    ) -> str:
        """Stream the bytes to ``path`` (renamed into place only when they check out)."""

    def open(self, bsm: BotoSesManager) -> io.BufferedReader:
        """A streaming reader; the sha256 is checked at EOF."""


class Alias(Protocol):
    """A named pointer to a version, optionally sending ``secondary_version_weight``% of
    traffic to ``secondary_version``."""

    @property
    def name(self) -> str: ...
    @property
    def alias(self) -> str: ...
    @property
    def update_at(self) -> str | datetime: ...
    @property
    def update_datetime(self) -> datetime: ...
    @property
    def version(self) -> str: ...
    @property
    def secondary_version(self) -> str | None: ...
    @property
    def secondary_version_weight(self) -> int | None: ...
    @property
    def version_s3uri(self) -> str: ...
    @property
    def secondary_version_s3uri(self) -> str | None: ...
    @property
    def revision(self) -> str | None:
        """Changes on every write; pass it back as ``expected_revision``."""

    @property
    def s3path_version(self) -> S3Path: ...
    @property
    def s3path_secondary_version(self) -> S3Path: ...

    def get_version_content(self, bsm: BotoSesManager) -> bytes: ...
    def get_secondary_version_content(self, bsm: BotoSesManager) -> bytes: ...
    def download_version(
        self, bsm: BotoSesManager, path: str | os.PathLike[str], progress: Progress | None = None
    ) -> str: ...
    def download_secondary_version(
        self, bsm: BotoSesManager, path: str | os.PathLike[str], progress: Progress | None = None
    ) -> str: ...
    def random_artifact(self, rng: random.Random | None = None) -> str:
        """The S3 URI to serve for one request, drawn by the weight."""

    def route(self, key: str | None = None) -> str:
        """The version ``key`` is routed to, sticky (a sha256 of artifact, alias, canary
        and key); ``None`` draws at random by the weight."""


class Repository(Protocol):
    """An artifact repository of either layout; every argument is passed by keyword."""

    @property
    def aws_region(self) -> str: ...
    @property
    def s3_bucket(self) -> str: ...
    @property
    def s3_prefix(self) -> str: ...
    @property
    def suffix(self) -> str: ...
    @property
    def multipart_threshold(self) -> int: ...
    @property
    def part_size(self) -> int: ...
    @property
    def max_workers(self) -> int: ...
    @property
    def single_copy_limit(self) -> int: ...
    @property
    def retry_policy(self) -> RetryPolicy:
        """How long and how often a call retries against concurrent writers."""

    @property
    def soft_delete(self) -> bool:
        """True when deleting a version marks it deleted and keeps its bytes (S3 +
        DynamoDB); False when it removes the bytes (S3-only)."""

    @property
    def s3dir_artifact_store(self) -> S3Path:
        """The repository's root folder."""

    def bootstrap(self, *, bsm: BotoSesManager) -> None:
        """Create what the repository stores into, unless it exists. Idempotent."""

    # ------------------------------------------------------------ artifacts
    def put_artifact(
        self,
        *,
        name: str,
        content: ContentSource,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        progress: Progress | None = None,
        resume: bool = False,
        bsm: BotoSesManager,
    ) -> Artifact:
        """Write ``content`` (bytes-like, a path or a binary file) as LATEST.
        ``resume=True`` (a path only) continues the multipart upload an interrupted put
        of the same file left, sending only the parts the server lacks."""

    def get_artifact_version(
        self, *, name: str, version: int | str | None = None, bsm: BotoSesManager
    ) -> Artifact:
        """One version (LATEST by default); ArtifactNotFoundError when missing."""

    def list_artifact_versions(
        self, *, name: str, bsm: BotoSesManager, limit: int | None = None
    ) -> Sequence[Artifact]:
        """LATEST first, then published versions newest first; with ``limit``, only the
        first ``limit`` of them (LATEST counts)."""

    def get_latest_published_artifact_version_number(
        self, *, name: str, bsm: BotoSesManager
    ) -> int:
        """The newest published version number, 0 when none."""

    def publish_artifact_version(self, *, name: str, bsm: BotoSesManager) -> Artifact:
        """Snapshot LATEST as the next version (or return the newest when unchanged)."""

    def delete_artifact_version(
        self, *, name: str, version: int | str, bsm: BotoSesManager
    ) -> None:
        """Delete one published version (see ``soft_delete``); VersionInUseError while an
        alias points at it."""

    def list_artifact_names(self, *, bsm: BotoSesManager) -> list[str]:
        """Every artifact name, sorted."""

    # ------------------------------------------------------------ aliases
    def put_alias(
        self,
        *,
        name: str,
        alias: str,
        version: int | str | None = None,
        secondary_version: int | str | None = None,
        secondary_version_weight: int | None = None,
        expected_revision: str | None = None,
        reason: str | None = None,
        force: bool = False,
        bsm: BotoSesManager,
    ) -> Alias:
        """Point ``alias`` at ``version``; ConcurrentModificationError when
        ``expected_revision`` is given and no longer current."""

    def get_alias(self, *, name: str, alias: str, bsm: BotoSesManager) -> Alias:
        """One alias; AliasNotFoundError when missing."""

    def list_aliases(self, *, name: str, bsm: BotoSesManager) -> Sequence[Alias]:
        """Every alias of ``name``, sorted by alias."""

    def delete_alias(
        self,
        *,
        name: str,
        alias: str,
        expected_revision: str | None = None,
        reason: str | None = None,
        force: bool = False,
        bsm: BotoSesManager,
    ) -> None:
        """Delete an alias (a missing one is fine unless ``expected_revision`` is given)."""

    def list_alias_history(
        self, *, name: str, alias: str, limit: int | None = None, bsm: BotoSesManager
    ) -> list[AliasChange]:
        """Every change of ``alias``, newest first; at most ``limit``."""

    def alias_at(
        self, *, name: str, alias: str, when: datetime, bsm: BotoSesManager
    ) -> AliasChange | None:
        """The change of ``alias`` in force at ``when`` (naive: UTC); None before its
        first recorded change."""

    def rollback_alias(
        self,
        *,
        name: str,
        alias: str,
        to_revision: str | None = None,
        reason: str | None = None,
        expected_revision: str | None = None,
        bsm: BotoSesManager,
    ) -> Alias:
        """Point ``alias`` back at the state before its newest change, or at the one
        recorded at ``to_revision``; refuses, writing nothing, when a target version no
        longer exists."""

    # ------------------------------------------------------------ rollouts
    def rollout(
        self,
        *,
        name: str,
        alias: str,
        to_version: int | str,
        steps: Sequence[int] = (10, 50, 100),
        bake_secs: float = 300,
        check: Callable[[], bool] | None = None,
        reason: str | None = None,
        lease_secs: float = 60.0,
        on_progress: Callable[[RolloutProgress], None] | None = None,
        bsm: BotoSesManager,
    ) -> Alias:
        """Move ``alias`` to ``to_version`` in steps, baking and checking between them;
        RolloutAbortedError (alias restored) when the check fails."""

    def rollout_status(self, *, name: str, alias: str, bsm: BotoSesManager) -> RolloutStatus | None:
        """The alias's running rollout, or None."""

    def resume_rollout(
        self,
        *,
        name: str,
        alias: str,
        check: Callable[[], bool] | None = None,
        force: bool = False,
        bake_secs: float | None = None,
        on_progress: Callable[[RolloutProgress], None] | None = None,
        bsm: BotoSesManager,
    ) -> Alias:
        """Continue a rollout whose process died, from its recorded step."""

    def abort_rollout(
        self,
        *,
        name: str,
        alias: str,
        reason: str | None = None,
        force: bool = False,
        bsm: BotoSesManager,
    ) -> Alias:
        """Restore the alias's state from before the rollout and end it."""

    # ------------------------------------------------------------ lifecycle
    def plan_purge(
        self,
        *,
        name: str,
        keep_last_n: int = ...,
        purge_older_than_secs: int = ...,
        bsm: BotoSesManager,
    ) -> PurgePlan[Artifact]:
        """What ``purge_artifact_versions`` would delete, and why each other version stays."""

    def purge_artifact_versions(
        self,
        *,
        name: str,
        keep_last_n: int = ...,
        purge_older_than_secs: int = ...,
        dry_run: bool = False,
        bsm: BotoSesManager,
    ) -> tuple[datetime, Sequence[Artifact]]:
        """Delete old published versions; returns (purge time, deleted versions)."""

    def purge_artifact(self, *, name: str, bsm: BotoSesManager) -> None:
        """Delete every version and alias of ``name``. Irreversible."""

    def purge_all(self, *, bsm: BotoSesManager) -> None:
        """Delete every artifact of the repository. Irreversible."""

    # ------------------------------------------------------------ retention
    def set_retention(
        self, *, name: str | None, policy: RetentionPolicy | None, bsm: BotoSesManager
    ) -> None:
        """Store the retention policy of ``name`` (None: the repository default)."""

    def get_retention(self, *, name: str | None, bsm: BotoSesManager) -> RetentionPolicy | None:
        """The policy stored for ``name`` (None: the repository default)."""

    def hold_version(self, *, name: str, version: int, reason: str, bsm: BotoSesManager) -> Hold:
        """Hold a version: nothing deletes it until it is released."""

    def release_version(self, *, name: str, version: int, bsm: BotoSesManager) -> bool:
        """Release a hold; False when the version was not held."""

    def list_holds(self, *, name: str, bsm: BotoSesManager) -> list[Hold]:
        """The holds on versions of ``name``."""

    def plan_retention(
        self, *, name: str | None = None, bsm: BotoSesManager
    ) -> list[RetentionPlan]:
        """What ``apply_retention`` would delete, per artifact, and why the rest stays."""

    def apply_retention(
        self,
        *,
        name: str | None = None,
        dry_run: bool = False,
        delete_orphans: bool = False,
        upload_age_secs: float = ...,
        bsm: BotoSesManager,
    ) -> list[RetentionReport]:
        """Apply each artifact's retention policy; abort abandoned uploads; report orphans."""

    # ------------------------------------------------------------ verification
    def verify(self, *, name: str | None = None, bsm: BotoSesManager) -> VerifyReport:
        """Every inconsistency found, for the repository or one artifact."""

    # ------------------------------------------------------------ consumers
    def fetch(
        self,
        *,
        name: str,
        alias: str | None = None,
        version: int | str | None = None,
        key: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        max_stale_secs: float | None = None,
        offline_fallback: bool = True,
        progress: Progress | None = None,
        bsm: BotoSesManager,
    ) -> pathlib.Path:
        """A read-only path to the verified bytes of ``alias`` (routed by ``key``) or
        ``version``, in the local cache (see docs/consumers.md)."""

    def watch(
        self,
        *,
        name: str,
        alias: str,
        on_change: Callable[[Any], object],
        interval_secs: float = 30.0,
        on_error: Callable[[BaseException], object] | None = None,
        bsm: BotoSesManager,
    ) -> Watcher:
        """Poll ``alias`` in a daemon thread; ``on_change(alias)`` after each change."""

    def url(
        self,
        *,
        name: str,
        alias: str | None = None,
        version: int | str | None = None,
        key: str | None = None,
        expires_secs: int = 3600,
        bsm: BotoSesManager,
    ) -> SignedURL:
        """A presigned GET URL of the version resolved, with its sha256, size, expiry."""
