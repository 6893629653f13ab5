"""The storage side: one small interface, one module per layout.

A layout owns its concurrency protocol whole (how a version number is allocated, how an
alias write and a deletion exclude each other, what a retried write recognises) and
speaks to storage only through :mod:`versioned._s3` (with :mod:`versioned._transfer` and
:mod:`versioned._verified`) and :mod:`versioned._dynamodb`. It
returns neutral records; the engine turns them into the public dataclasses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import ClassVar, Protocol

from .. import _verified
from .._content import Content
from .._model import AliasTarget, VersionId
from .._s3 import Progress
from .._session import Session
from ..history import AliasChange
from ..verify import Problem
from . import marker
from .rollout_record import RolloutStore


@dataclasses.dataclass(frozen=True)
class LatestDeletion:
    """LATEST is marked deleted: ``at`` is when (None: the item does not say)."""

    at: datetime | None


@dataclasses.dataclass(frozen=True)
class VersionRecord:
    """One version as stored. ``update_at`` is the layout's one definition of its time."""

    name: str
    version: VersionId
    sha256: str
    update_at: datetime
    key: str
    size: int | None = None
    content_type: str | None = None
    metadata: dict[str, str] | None = None


@dataclasses.dataclass(frozen=True)
class AliasRecord:
    name: str
    alias: str
    version: VersionId
    secondary_version: int | None
    secondary_version_weight: int | None
    update_at: datetime
    revision: str | None = None

    @property
    def targets(self) -> list[VersionId]:
        if self.secondary_version is None:
            return [self.version]
        return [self.version, self.secondary_version]

    @property
    def fingerprint(self) -> str:
        """What changes whenever the alias does: its revision, or, for an alias another
        client wrote without one (the seed's DynamoDB items), its target and time."""
        if self.revision is not None:
            return self.revision
        return (
            f"{self.version}|{self.secondary_version}|{self.secondary_version_weight}|"
            f"{self.update_at.isoformat()}"
        )

    @classmethod
    def of(
        cls, name: str, alias: str, target: AliasTarget, update_at: datetime, revision: str | None
    ) -> AliasRecord:
        return cls(
            name=name,
            alias=alias,
            version=target.version,
            secondary_version=target.secondary_version,
            secondary_version_weight=target.secondary_version_weight,
            update_at=update_at,
            revision=revision,
        )


@dataclasses.dataclass(frozen=True)
class ChangeNote:
    """What an alias write records in the alias's history besides its target: the
    action (one of ``versioned.history.ACTIONS``), who and why."""

    action: str
    actor: str
    reason: str | None = None


@dataclasses.dataclass(frozen=True)
class AliasPoll:
    """What a cheap alias read found: ``changed`` is False when the alias still has the
    revision asked about; otherwise ``record`` is the alias now (None: it is gone)."""

    changed: bool
    record: AliasRecord | None = None


@dataclasses.dataclass(frozen=True)
class PutRequest:
    """A validated put: the user's content type, metadata and tags."""

    name: str
    content_type: str | None
    metadata: dict[str, str]
    tags: dict[str, str]


#: Picks the versions to delete from the published versions that exist and the aliases
#: that use them ({version: [aliases]}); called once, on what a deletion read.
Chooser = Callable[[list[VersionRecord], dict[int, list[str]]], list[VersionId]]


#: Reads the engine needs made with a layout's first reads of a call (an alias write's
#: retention guard; a deletion's running rollouts and holds). A layout runs it at most
#: once per call, in the same round trip as its own first reads, and writes nothing when
#: it raises: its exception (a refusal) is the call's.
Beside = Callable[[], None]


def once(beside: Beside | None) -> Beside:
    """``beside`` the first time it is called, nothing after (a layout's later passes
    read only what they read themselves)."""
    pending = [] if beside is None else [beside]

    def run() -> None:
        if pending:
            pending.pop()()

    return run


def these(versions: list[VersionId]) -> Chooser:
    """A chooser of exactly ``versions``."""
    return lambda records, users: list(versions)


@dataclasses.dataclass
class RetireResult:
    """What a deletion did: the versions it removed, and those it kept because an alias
    routes to them ({version: [aliases]})."""

    retired: list[VersionRecord]
    in_use: dict[VersionId, list[str]]


@dataclasses.dataclass
class Inventory:
    """Everything ``verify`` checks for one artifact, as the layout found it."""

    versions: list[VersionRecord]
    aliases: list[AliasRecord]
    #: versions an alias may point at (present and not deleted)
    live: set[VersionId]
    #: where each alias is stored, for reports
    alias_locations: dict[str, str]
    problems: list[Problem]


@dataclasses.dataclass(frozen=True)
class ByteCheck:
    """The sha256 of a version's stored bytes and what the object's own metadata records
    (None: nothing recorded there); ``None`` as a whole when the bytes are missing."""

    actual: str
    object_sha256: str | None


#: the S3 key (under the repository's root) of the repository's default retention
#: document in the S3-only layout: a file beside the repository record, never a folder
RETENTION_DEFAULT_FILE = ".versioned-retention.json"


@dataclasses.dataclass(frozen=True)
class StoredDocument:
    """A retention document as stored: its text, the token a conditional write names
    (an ETag, a revision), and where it is (for messages)."""

    body: str
    revision: str
    location: str


class DocumentConflict(Exception):
    """A conditional write of a retention document found another one there (written
    since it was read, or created meanwhile)."""


@dataclasses.dataclass(frozen=True)
class BootstrapOptions:
    """What ``bootstrap`` may be asked for: the region of a bucket it creates, and the
    provisioned capacity of a DynamoDB table (None: on-demand)."""

    region: str
    read_capacity: int | None = None
    write_capacity: int | None = None


class Layout(Protocol):
    """What the engine needs from a storage layout."""

    bucket: str
    #: the prefix with its trailing "/" ("" at the bucket's root), and the version suffix
    root: str
    suffix: str
    #: deleting a version marks it deleted and keeps its bytes (False: the bytes go)
    soft_deletes: ClassVar[bool]
    #: ``retire`` may delete LATEST (False: the engine refuses before asking)
    latest_deletable: ClassVar[bool]

    def bootstrap(self, session: Session, options: BootstrapOptions) -> None: ...

    def peek(self, session: Session) -> None:
        """The reads of the layout object's first-use check, sent by the engine beside
        the repository record's read (one round trip for both); nothing is written or
        refused here: the check itself still runs before the layout's first request."""
        ...

    def version_key(self, name: str, version: VersionId) -> str: ...

    # reads
    def get_version(
        self, session: Session, name: str, version: VersionId
    ) -> VersionRecord | None: ...

    def list_versions(
        self, session: Session, name: str, limit: int | None = None
    ) -> list[VersionRecord]:
        """Newest first (LATEST first); at most ``limit`` records (LATEST counts)."""
        ...

    def latest_published_number(self, session: Session, name: str) -> int: ...

    def latest_deletion(self, session: Session, name: str) -> LatestDeletion | None:
        """Whether LATEST was deleted (kept, marked deleted), and when if known; None when
        it was not (absent, or never deletable). At most 1 request."""
        ...

    def list_names(self, session: Session) -> list[str]: ...

    def get_alias(self, session: Session, name: str, alias: str) -> AliasRecord | None: ...

    def list_aliases(self, session: Session, name: str) -> list[AliasRecord]: ...

    def poll_alias(
        self, session: Session, name: str, alias: str, revision: str | None
    ) -> AliasPoll:
        """Has ``alias`` changed since ``revision`` (an :attr:`AliasRecord.fingerprint`)?
        1 request, and no repository check
        (a consumer asks only about an alias a checked read resolved before): S3-only, a
        conditional GET (If-None-Match on the alias object's ETag, 304 when unchanged);
        S3 + DynamoDB, one GetItem."""
        ...

    # writes
    def write_latest(
        self, session: Session, request: PutRequest, content: Content, progress: Progress | None
    ) -> VersionRecord: ...

    def publish(self, session: Session, name: str) -> VersionRecord: ...

    def retire(
        self,
        session: Session,
        name: str,
        choose: Chooser,
        *,
        strict: bool,
        beside: Beside | None = None,
    ) -> RetireResult: ...

    def write_alias(
        self,
        session: Session,
        name: str,
        alias: str,
        target: AliasTarget,
        expected_revision: str | None,
        note: ChangeNote,
        beside: Beside | None = None,
    ) -> AliasRecord: ...

    def delete_alias(
        self,
        session: Session,
        name: str,
        alias: str,
        expected_revision: str | None,
        note: ChangeNote,
        beside: Beside | None = None,
    ) -> bool: ...

    def list_alias_history(
        self, session: Session, name: str, alias: str, limit: int | None
    ) -> list[AliasChange]:
        """The alias's changes, newest first (at most ``limit``)."""
        ...

    # retention documents (the policy and holds of an artifact; name None: the
    # repository default), stored where the seed's library never lists them
    def read_retention(
        self, session: Session, names: list[str | None]
    ) -> dict[str | None, StoredDocument | None]:
        """The documents of ``names`` (None when absent), read together: S3-only, one GET
        each in parallel (one round trip); S3 + DynamoDB, one BatchGetItem."""
        ...

    def write_retention(
        self, session: Session, name: str | None, body: str, expected_revision: str | None
    ) -> None:
        """Write a document only if it is still at ``expected_revision`` (None: only if
        there is none); DocumentConflict otherwise. 1 request."""
        ...

    def purge_artifact(self, session: Session, name: str) -> None: ...

    @property
    def rollouts(self) -> RolloutStore:
        """The records of running rollouts (``s3_only_rollouts``, ``dynamodb_rollouts``)."""
        ...

    def purge_all(self, session: Session) -> None: ...

    # verification
    def verify_names(self, session: Session) -> tuple[list[str], list[Problem]]: ...

    def inventory(self, session: Session, name: str) -> Inventory: ...


def stray(root: str, key: str, detail: str = "not part of the repository layout") -> Problem:
    """A key under the repository's root that belongs to no artifact of either layout."""
    return Problem("orphan_object", key[len(root) :].partition("/")[0], key, detail)


def owners(
    keys: Iterable[str],
    root: str,
    owner: Callable[[str], str | None],
    other_layout: Callable[[str], bool],
    problems: list[Problem],
) -> set[str]:
    """The artifacts that own ``keys`` (``owner`` names a key's artifact); keys of the
    other layout (another repository) go to ``problems`` once per artifact, keys of
    neither layout one by one. The repository record is no stray."""
    names: set[str] = set()
    shared: set[Problem] = set()
    for key in keys:
        name = owner(key)
        if name is not None:
            names.add(name)
        elif other_layout(key):
            shape = marker.key_shape(root, key)
            if shape is not None:
                shared.add(marker.shared_problem(root, shape, other_layout=True))
        elif key not in (marker.marker_key(root), f"{root}{RETENTION_DEFAULT_FILE}"):
            problems.append(stray(root, key))
    problems.extend(sorted(shared, key=lambda problem: problem.location))
    return names


def check_bytes(session: Session, bucket: str, record: VersionRecord) -> ByteCheck | None:
    """Hash a version's stored bytes (streaming); None when they are missing."""
    found = _verified.hash_object(session.s3, bucket, record.key)
    return None if found is None else ByteCheck(*found)
