"""The S3-only layout: bytes, metadata and aliases all live in S3.

A thin composition of one module per protocol (docs/design.md, "S3-only layout"):

- :mod:`.s3_only_keys`: the key scheme under ``s3://{bucket}/{prefix}/{name}/``; pure.
- :mod:`.s3_only_state`: the ``state.json`` codec (versions, aliases, the ops log); pure.
- :mod:`.s3_only_store`: the state store: load, rebuild, and the one compare-and-swap
  loop every metadata change goes through (``update_state``).
- :mod:`.s3_only_versions`: version reads (through the index where the listing vouches).
- :mod:`.s3_only_publish`: put (LATEST) and publish (reserve a number, then copy).
- :mod:`.s3_only_aliases`: the alias registration protocol (register, write, land).
- :mod:`.s3_only_targets`: an alias write's target check (HEADs beside the state read
  when the read proves them, after it otherwise).
- :mod:`.s3_only_retire`: deletion of versions (marks first).
- :mod:`.s3_only_purge`: purges (a mark with an owner and a deadline first), and settling
  a purge whose owner died (undone if it deleted nothing, else finished).
- :mod:`.s3_only_verify`: what verify reads and reports.

Protocol: every metadata change of one artifact is a compare-and-swap on ``state.json``.
A publish reserves its number there before it copies, so numbers are never shared or
reused; an alias write registers there before it writes the alias object, and a deletion
marks its versions there before it deletes them, so one of the two always sees the
other. Objects the seed's library writes (no state, or alias objects it changed) are
validated against listings and honoured. Every loop retries through ``retry`` (a
:class:`~versioned._retry.RetryPolicy`) and raises ContentionError when it is spent.
"""

from __future__ import annotations

from typing import ClassVar

from .. import _content, _s3
from .._model import AliasTarget, VersionId
from .._retry import DEFAULT as DEFAULT_RETRY
from .._retry import RetryPolicy
from .._session import Session
from .._transfer import TransferSettings
from ..history import AliasChange
from ..verify import Problem
from . import (
    AliasPoll,
    AliasRecord,
    Beside,
    BootstrapOptions,
    ChangeNote,
    Chooser,
    Inventory,
    LatestDeletion,
    PutRequest,
    RetireResult,
    StoredDocument,
    VersionRecord,
)
from .s3_only_aliases import Aliases
from .s3_only_keys import S3OnlyPlace
from .s3_only_publish import Publisher
from .s3_only_purge import Purges
from .s3_only_retention import RetentionDocuments
from .s3_only_retire import Retirer
from .s3_only_rollouts import S3Rollouts
from .s3_only_store import StateStore
from .s3_only_verify import Verifier
from .s3_only_versions import Versions


class S3OnlyLayout:
    """The S3-only storage protocol for one repository root (the ``Layout`` protocol)."""

    soft_deletes: ClassVar[bool] = False
    latest_deletable: ClassVar[bool] = False

    def __init__(
        self,
        bucket: str,
        prefix: str,
        suffix: str,
        transfer: TransferSettings,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self.place = S3OnlyPlace(bucket, prefix, suffix)
        self.bucket = bucket
        self.retry = retry
        self.root = self.place.root
        self.suffix = suffix
        self.transfer = transfer
        self.store = StateStore(self.place, retry)
        self.purges = Purges(self.place, self.store)
        self.versions = Versions(self.place)
        self.aliases = Aliases(self.place, self.store, retry, self.purges)
        self.publisher = Publisher(self.place, self.store, transfer, retry, self.purges)
        self.retirer = Retirer(self.place, self.store, self.versions, self.aliases, self.purges)
        self.verifier = Verifier(self.place, self.aliases)
        self.retention = RetentionDocuments(self.place)
        self.rollouts = S3Rollouts(self.place)

    def bootstrap(self, session: Session, options: BootstrapOptions) -> None:
        """Create the bucket unless it exists. Idempotent."""
        _s3.ensure_bucket(session.s3, self.bucket, options.region)

    def peek(self, session: Session) -> None:
        """Nothing: this layout has no first-use check of its own."""

    def version_key(self, name: str, version: VersionId) -> str:
        return self.place.version_key(name, version)

    # ------------------------------------------------------------ reads
    def get_version(self, session: Session, name: str, version: VersionId) -> VersionRecord | None:
        return self.versions.get(session, name, version)

    def list_versions(
        self, session: Session, name: str, limit: int | None = None
    ) -> list[VersionRecord]:
        return self.versions.listing(session, name, limit)

    def latest_published_number(self, session: Session, name: str) -> int:
        return self.versions.latest_published_number(session, name)

    def latest_deletion(self, session: Session, name: str) -> LatestDeletion | None:
        """Never: LATEST cannot be deleted here (only purged, with the artifact)."""
        return None

    def list_names(self, session: Session) -> list[str]:
        return self.versions.names(session)

    def get_alias(self, session: Session, name: str, alias: str) -> AliasRecord | None:
        return self.aliases.get(session, name, alias)

    def list_aliases(self, session: Session, name: str) -> list[AliasRecord]:
        return self.aliases.listing(session, name)

    def poll_alias(
        self, session: Session, name: str, alias: str, revision: str | None
    ) -> AliasPoll:
        return self.aliases.poll(session, name, alias, revision)

    # ------------------------------------------------------------ writes
    def write_latest(
        self,
        session: Session,
        request: PutRequest,
        content: _content.Content,
        progress: _s3.Progress | None,
    ) -> VersionRecord:
        return self.publisher.write_latest(session, request, content, progress)

    def publish(self, session: Session, name: str) -> VersionRecord:
        return self.publisher.publish(session, name)

    def retire(
        self,
        session: Session,
        name: str,
        choose: Chooser,
        *,
        strict: bool,
        beside: Beside | None = None,
    ) -> RetireResult:
        return self.retirer.retire(session, name, choose, strict=strict, beside=beside)

    def write_alias(
        self,
        session: Session,
        name: str,
        alias: str,
        target: AliasTarget,
        expected_revision: str | None,
        note: ChangeNote,
        beside: Beside | None = None,
    ) -> AliasRecord:
        return self.aliases.write(session, name, alias, target, expected_revision, note, beside)

    def delete_alias(
        self,
        session: Session,
        name: str,
        alias: str,
        expected_revision: str | None,
        note: ChangeNote,
        beside: Beside | None = None,
    ) -> bool:
        return self.aliases.delete(session, name, alias, expected_revision, note, beside)

    def list_alias_history(
        self, session: Session, name: str, alias: str, limit: int | None
    ) -> list[AliasChange]:
        """Requests: the state (1 GET), a HEAD of the alias object while its latest
        write's landing is not recorded, and a GET per page of 20 older entries needed
        (none for the newest 10)."""
        loaded = self.store.load(session.s3, name, rebuild=False)
        return self.aliases.recorder.listing(session.s3, name, alias, loaded.state, limit)

    def read_retention(
        self, session: Session, names: list[str | None]
    ) -> dict[str | None, StoredDocument | None]:
        return self.retention.read(session, names)

    def write_retention(
        self, session: Session, name: str | None, body: str, expected_revision: str | None
    ) -> None:
        self.retention.write(session, name, body, expected_revision)

    def purge_artifact(self, session: Session, name: str) -> None:
        self.purges.purge_artifact(session, name)

    def purge_all(self, session: Session) -> None:
        self.purges.purge_all(session)

    # ------------------------------------------------------------ verification
    def verify_names(self, session: Session) -> tuple[list[str], list[Problem]]:
        return self.verifier.names(session)

    def inventory(self, session: Session, name: str) -> Inventory:
        return self.verifier.inventory(session, name)
