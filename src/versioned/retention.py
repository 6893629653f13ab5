"""Retention as code: a policy stored with each artifact (and a repository default),
holds on single versions, and plans that say what a run would delete and why the rest
stays (``Repository.plan_retention`` / ``apply_retention``). See docs/retention.md.

Never deleted, whatever a policy says: LATEST, any version an alias points at (primary
or canary), any version a running rollout names, any held version. Rules combine as
keep-wins: a version goes only when the policy selects it and no rule keeps it.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime


@dataclasses.dataclass(frozen=True)
class RetentionPolicy:
    """What a retention run may delete for one artifact.

    - ``keep_last``: keep the newest N published versions.
    - ``keep_younger_than_secs``: keep versions younger than this age.
    - ``delete_older_than_secs``: only versions older than this age may go.
    - ``protected_aliases``: these aliases cannot be moved or deleted without
      ``force=True``; their targets are kept (as every alias target is).
    - ``keep_rollback_targets``: keep the last K earlier targets of every alias's history.

    A policy deletes only when it sets at least one of ``keep_last``,
    ``keep_younger_than_secs`` or ``delete_older_than_secs`` (an empty policy deletes
    nothing). Ages are measured on the server's clock."""

    keep_last: int | None = None
    keep_younger_than_secs: float | None = None
    delete_older_than_secs: float | None = None
    protected_aliases: tuple[str, ...] = ()
    keep_rollback_targets: int = 0

    @property
    def deletes(self) -> bool:
        """Whether this policy selects anything for deletion at all."""
        return (
            self.keep_last is not None
            or self.keep_younger_than_secs is not None
            or self.delete_older_than_secs is not None
        )


@dataclasses.dataclass(frozen=True)
class Hold:
    """A legal or incident hold on one version: never deleted while held."""

    name: str
    version: int
    reason: str
    held_by: str
    held_at: datetime


@dataclasses.dataclass(frozen=True)
class KeptVersion:
    """A version a retention run keeps, with every reason ("LATEST", "newest 10",
    "younger than 30 days", "alias prod", "rollback target of prod", "hold: ...")."""

    version: int | str
    reasons: tuple[str, ...]
    size: int | None = None


@dataclasses.dataclass(frozen=True)
class RetentionPlan:
    """What a retention run would do to one artifact, computed at ``planned_at`` (the
    server's clock). ``delete``: version numbers, newest first. ``bytes_deleted``: the
    sizes of those versions; ``bytes_freed``: what the storage frees by deleting them
    (the same on S3-only; 0 on S3 + DynamoDB, whose deletes keep the bytes).
    ``policy`` is the one applied (the artifact's own, else the repository default,
    else None: nothing is deleted)."""

    name: str
    planned_at: datetime
    policy: RetentionPolicy | None
    delete: tuple[int, ...]
    keep: tuple[KeptVersion, ...]
    bytes_deleted: int
    bytes_freed: int


@dataclasses.dataclass(frozen=True)
class AbortedUpload:
    """A multipart upload under the repository abandoned for longer than the bound."""

    key: str
    upload_id: str
    initiated: datetime


@dataclasses.dataclass(frozen=True)
class OrphanObject:
    """An object under the repository that belongs to no version (verify's
    ``orphan_object``), its size, and whether this run deleted it."""

    key: str
    size: int
    deleted: bool = False


@dataclasses.dataclass(frozen=True)
class RetentionReport:
    """What ``apply_retention`` did to one artifact: the versions it ``deleted`` (newest
    first), every version it ``kept`` with reasons (a version the plan chose but the
    deletion found in use is kept with that reason), ``bytes_freed``, and ``errors``
    (what went wrong, as messages; the run went on with the next artifact). ``name`` is
    None for the repository's own report (orphans outside any artifact's folder)."""

    name: str | None
    dry_run: bool
    deleted: tuple[int, ...]
    kept: tuple[KeptVersion, ...]
    bytes_freed: int
    errors: tuple[str, ...] = ()
    aborted_uploads: tuple[AbortedUpload, ...] = ()
    orphans: tuple[OrphanObject, ...] = ()
