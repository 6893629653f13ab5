"""The library's exceptions: one base class, and a subclass per kind of failure.

Expected conditions (not found, conflicts, bad input) never surface as botocore errors.
"""

from __future__ import annotations


class VersionedError(Exception):
    """Base class of every error raised by ``versioned``."""


class ValidationError(VersionedError, ValueError):
    """An argument is invalid; nothing was sent to AWS."""


class ArtifactNotFoundError(VersionedError, LookupError):
    """The artifact, or the requested version of it, does not exist (or is deleted)."""


class AliasNotFoundError(VersionedError, LookupError):
    """The alias does not exist."""


class ConflictError(VersionedError):
    """The operation conflicts with the repository's current state."""


class ConcurrentModificationError(ConflictError):
    """The alias changed since it was read (``expected_revision`` did not match)."""


class VersionInUseError(ConflictError):
    """The version cannot be deleted because an alias points at it."""


class ContentionError(ConflictError):
    """Too many concurrent writers: the bounded retries were spent. Safe to retry later."""


class VersionLimitError(VersionedError):
    """The artifact already has the highest possible version number (999999)."""


class IntegrityError(VersionedError):
    """Stored bytes do not hash to the sha256 recorded for them."""


class BackendError(VersionedError):
    """AWS refused or failed a request in a way the library cannot handle."""


class ArtifactS3BackendError(BackendError):
    """An S3 request failed (missing bucket, access denied, service error...)."""


class ArtifactDynamoDBBackendError(BackendError):
    """A DynamoDB request failed (missing table, access denied, service error...)."""
