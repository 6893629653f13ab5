"""The library's exceptions: one base class, and a subclass per kind of failure.

Expected conditions (not found, conflicts, bad input) never surface as botocore errors.
Where the seed's library raised a built-in type (TypeError for a bad weight,
ArtifactS3BackendError for deleting LATEST), the error raised here is also of that type.
"""

from __future__ import annotations

from datetime import datetime


class VersionedError(Exception):
    """Base class of every error raised by ``versioned``."""


class ValidationError(VersionedError, ValueError):
    """An argument is invalid; nothing was sent to AWS."""


class ArgumentTypeError(ValidationError, TypeError):
    """An argument has the wrong type (also a TypeError, as in the seed's library)."""


class ArtifactNotFoundError(VersionedError, LookupError):
    """The artifact, or the requested version of it, does not exist (or is deleted)."""


class LatestDeletedError(ArtifactNotFoundError):
    """LATEST was deleted (the S3 + DynamoDB layout soft-deletes it): nothing to read,
    publish or point an alias at until the next put. ``deleted_at`` is when, if known."""

    def __init__(self, message: str, *, deleted_at: datetime | None = None) -> None:
        super().__init__(message)
        self.deleted_at = deleted_at


class AliasNotFoundError(VersionedError, LookupError):
    """The alias does not exist."""


class ConflictError(VersionedError):
    """The operation conflicts with the repository's current state."""


class ConcurrentModificationError(ConflictError):
    """The alias changed since it was read (``expected_revision`` did not match)."""


class VersionInUseError(ConflictError):
    """The version cannot be deleted because an alias points at it."""


class VersionHeldError(VersionInUseError):
    """The version cannot be deleted because it is held (``hold_version``); release it
    first (``release_version``)."""


class ProtectedAliasError(ConflictError):
    """The alias is protected by the artifact's retention policy: moving or deleting it
    needs ``force=True``."""


class RolloutInProgressError(ConflictError):
    """The alias has a running rollout (``status`` describes it: its owner, its step): a
    second rollout is refused, and a live owner's rollout is not resumed or aborted
    elsewhere unless forced."""

    def __init__(self, message: str, status: object = None) -> None:
        super().__init__(message)
        self.status = status


class RolloutNotFoundError(VersionedError, LookupError):
    """The alias has no running rollout to resume or abort."""


class RolloutAbortedError(VersionedError):
    """A progressive rollout stopped: its health check failed or raised, it was aborted,
    or the alias was changed by someone else. ``step`` is the 1-based step it stopped at
    (0: before the first), ``reason`` why; ``restored`` tells whether the alias was put
    back to the state the rollout started from."""

    def __init__(self, message: str, *, step: int, reason: str, restored: bool) -> None:
        super().__init__(message)
        self.step = step
        self.reason = reason
        self.restored = restored


class ContentionError(ConflictError):
    """Too many concurrent writers: the bounded retries were spent. Safe to retry later.
    ``operation``, ``record`` and ``attempts`` say which loop gave up, on what, after how
    many tries."""

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        record: str | None = None,
        attempts: int | None = None,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.record = record
        self.attempts = attempts


class RepositoryConflictError(ConflictError):
    """The bucket prefix or the DynamoDB table already serves another repository. For a
    prefix, ``location`` is its S3 URI and ``found`` describes the repository there (its
    layout, suffix, table, and the artifacts seen when it has no record). ``found_suffix``
    is the suffix of the repository found when it differs from the one asked for only in
    its suffix (the same repository, opened with the wrong suffix)."""

    def __init__(
        self,
        message: str,
        *,
        location: str | None = None,
        found: str | None = None,
        found_suffix: str | None = None,
    ) -> None:
        super().__init__(message)
        self.location = location
        self.found = found
        self.found_suffix = found_suffix


class VersionLimitError(VersionedError):
    """The artifact already has the highest possible version number (999999)."""


class IntegrityError(VersionedError):
    """Stored bytes do not hash to the sha256 recorded for them, or the content changed
    while it was being uploaded."""


class CorruptRecordError(VersionedError):
    """A stored record (alias document, DynamoDB item, state object) cannot be read; the
    message names it. ``Repository.verify()`` lists every such record."""


class BackendError(VersionedError):
    """AWS refused or failed a request in a way the library cannot handle. ``code`` is
    AWS's error code ("NoSuchBucket", "ResourceNotFoundException", "AccessDenied"...) or
    the kind of failure ("EndpointConnectionError", "NoCredentialsError"...)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class ArtifactS3BackendError(BackendError):
    """An S3 request failed (missing bucket, access denied, service error...)."""


class ArtifactDynamoDBBackendError(BackendError):
    """A DynamoDB request failed (missing table, access denied, service error...)."""


class StorageNotFoundError(BackendError):
    """The bucket or the DynamoDB table does not exist: ``Repository.bootstrap()`` creates
    it."""


class CredentialsError(BackendError):
    """AWS credentials are missing (``missing`` is True: none were found) or AWS rejected
    them (expired, unknown key, bad signature)."""

    def __init__(self, message: str, code: str | None = None, *, missing: bool = False) -> None:
        super().__init__(message, code)
        self.missing = missing


class EndpointUnreachableError(BackendError):
    """The service's endpoint could not be reached (connection refused or timed out)."""


class BucketNotFoundError(StorageNotFoundError, ArtifactS3BackendError):
    """The S3 bucket does not exist."""


class TableNotFoundError(StorageNotFoundError, ArtifactDynamoDBBackendError):
    """The DynamoDB table does not exist."""


class ProfileNotFoundError(CredentialsError):
    """The session names an AWS profile (``profile``) that no AWS config or credentials
    file defines."""

    def __init__(self, profile: str) -> None:
        super().__init__(
            f"the AWS profile {profile!r} could not be found", "ProfileNotFound", missing=True
        )
        self.profile = profile


class S3CredentialsError(CredentialsError, ArtifactS3BackendError):
    """An S3 request had no credentials, or S3 rejected them."""


class DynamoDBCredentialsError(CredentialsError, ArtifactDynamoDBBackendError):
    """A DynamoDB request had no credentials, or DynamoDB rejected them."""


class S3EndpointUnreachableError(EndpointUnreachableError, ArtifactS3BackendError):
    """The S3 endpoint could not be reached."""


class DynamoDBEndpointUnreachableError(EndpointUnreachableError, ArtifactDynamoDBBackendError):
    """The DynamoDB endpoint could not be reached."""


class LatestNotDeletableError(ValidationError, ArtifactS3BackendError):
    """The S3-only layout cannot delete LATEST (the seed raised ArtifactS3BackendError)."""


class OfflineError(VersionedError, LookupError):
    """What a fetch asked for is not in the local cache, and storage may not be asked
    (``VERSIONED_OFFLINE`` is set) or cannot be reached."""


class StaleCacheWarning(UserWarning):
    """A fetch served what the local cache last resolved because storage could not be
    reached (within ``max_stale_secs``)."""
