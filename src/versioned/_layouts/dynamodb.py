"""The S3 + DynamoDB layout: bytes in S3, metadata in one DynamoDB table.

A thin composition of one module per protocol (docs/design.md, "S3 + DynamoDB layout"):

- :mod:`.dynamodb_keys`: where things are (S3 keys, the table); pure.
- :mod:`.dynamodb_items`: the item schema, attribute names, typed readers and builders;
  pure.
- :mod:`.dynamodb_queue`: LATEST's write queue (puts and publishes take turns).
- :mod:`.dynamodb_latest`, :mod:`.dynamodb_publish`: put and publish, in a turn.
- :mod:`.dynamodb_aliases`: alias transactions that bump their targets' ``alias_epoch``.
- :mod:`.dynamodb_history`: alias history, one more Put in each alias transaction.
- :mod:`.dynamodb_retire`: soft deletes conditional on that epoch; purges.
- :mod:`.dynamodb_versions`, :mod:`.dynamodb_verify`: reads; what verify checks.

Every call first makes sure the table serves this repository (its claim item), once per
layout object. Every loop retries through ``retry`` (a
:class:`~versioned._retry.RetryPolicy`) and raises ContentionError when it is spent.
"""

from __future__ import annotations

import threading
from typing import ClassVar

from .. import _content, _dynamodb, _s3
from .._model import AliasTarget, VersionId
from .._retry import DEFAULT as DEFAULT_RETRY
from .._retry import RetryPolicy
from .._session import Session
from .._transfer import TransferSettings
from ..exc import RepositoryConflictError, VersionedError
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
from .dynamodb_aliases import Aliases
from .dynamodb_items import CLAIM_KEY, CREATE_ONLY, Claim, Stored, read_claim
from .dynamodb_keys import DynamoDBPlace
from .dynamodb_latest import LatestWriter
from .dynamodb_publish import Publisher
from .dynamodb_queue import TurnQueue
from .dynamodb_retention import RetentionDocuments
from .dynamodb_retire import Retirer
from .dynamodb_rollouts import DynamoDBRollouts
from .dynamodb_verify import Verifier
from .dynamodb_versions import Versions


class DynamoDBLayout:
    """The S3 + DynamoDB storage protocol for one repository (the ``Layout`` protocol).

    Each method's contract (what it guarantees under concurrency, what it raises, its
    requests) is written where it is implemented, in the protocol modules. Every method
    may also raise RepositoryConflictError (the table serves another repository; nothing
    read or written), ArtifactDynamoDBBackendError / ArtifactS3BackendError (a request
    failed), and costs one more GetItem on the layout object's first call (the claim; the
    engine sends it beside the repository record's read: ``peek``)."""

    soft_deletes: ClassVar[bool] = True
    latest_deletable: ClassVar[bool] = True

    def __init__(
        self,
        bucket: str,
        prefix: str,
        suffix: str,
        table: str,
        transfer: TransferSettings,
        lease_secs: float,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self.bucket, self.prefix, self.suffix, self.table = bucket, prefix, suffix, table
        self.place = DynamoDBPlace(bucket, prefix, suffix, table)
        self.root = self.place.root
        self.transfer = transfer
        self.lease_secs = lease_secs
        self.retry = retry
        queue = TurnQueue(self.place, lease_secs, retry)
        self.versions = Versions(self.place, retry)
        self.aliases = Aliases(self.place, retry)
        self.latest = LatestWriter(self.place, queue, transfer, retry)
        self.publisher = Publisher(self.place, queue, transfer, retry)
        self.retirer = Retirer(self.place, self.publisher, self.aliases, retry)
        self.verifier = Verifier(self.place, self.retirer)
        self.retention = RetentionDocuments(self.place, retry)
        self.rollouts = DynamoDBRollouts(self.place)
        self._claimed = False
        self._claim_lock = threading.Lock()
        #: the claim item as ``peek`` read it (a list: read once, by the first check)
        self._peeked: list[Stored | None] = []

    def version_key(self, name: str, version: VersionId) -> str:
        return self.place.version_key(name, version)

    # ------------------------------------------------------------ the table's claim
    def bootstrap(self, session: Session, options: BootstrapOptions) -> None:
        """Create the bucket and the table unless they exist (waiting until the table is
        ACTIVE), then claim the table. Idempotent."""
        _s3.ensure_bucket(session.s3, self.bucket, options.region)
        _dynamodb.ensure_table(
            session.dynamodb, self.table, options.read_capacity, options.write_capacity
        )
        self._claim(session)

    def peek(self, session: Session) -> None:
        """Read the table's claim for the first check (beside the repository record)."""
        if self._claimed or self._peeked:
            return
        try:
            stored = _dynamodb.get(session.dynamodb, self.table, *CLAIM_KEY)
        except VersionedError:  # e.g. no table yet: the check itself reads and says so
            return
        with self._claim_lock:
            if not self._peeked:
                self._peeked.append(stored)

    def _claim(self, session: Session) -> None:
        """Record in the table which repository it serves, or refuse a different one
        (once per layout object: 1 request on first use, none when ``peek`` read the
        claim, 2 more when it is new)."""
        if self._claimed:
            return
        with self._claim_lock:
            if self._claimed:
                return
            ours = Claim(self.bucket, self.prefix, self.suffix)
            stored: Stored | None = (
                self._peeked.pop()
                if self._peeked
                else _dynamodb.get(session.dynamodb, self.table, *CLAIM_KEY)
            )
            if stored is None:
                try:
                    _dynamodb.put(session.dynamodb, self.table, ours.item(), CREATE_ONLY)
                    stored = ours.item()
                except _dynamodb.ConditionFailed:
                    stored = _dynamodb.get(session.dynamodb, self.table, *CLAIM_KEY) or {}
            found = read_claim(stored or {}, self.table)
            if found != ours:
                raise RepositoryConflictError(
                    f"DynamoDB table {self.table!r} serves the repository "
                    f"s3://{found.bucket}/{found.prefix} (suffix {found.suffix!r}), "
                    f"not s3://{self.bucket}/{self.prefix} (suffix {self.suffix!r}); "
                    "nothing was read or written. Give this repository its own table."
                )
            self._claimed = True

    def _ready(self, session: Session) -> Session:
        self._claim(session)
        return session

    # ------------------------------------------------------------ reads
    def get_version(self, session: Session, name: str, version: VersionId) -> VersionRecord | None:
        return self.versions.get(self._ready(session), name, version)

    def list_versions(
        self, session: Session, name: str, limit: int | None = None
    ) -> list[VersionRecord]:
        return self.versions.listing(self._ready(session), name, limit)

    def latest_published_number(self, session: Session, name: str) -> int:
        return self.versions.latest_published_number(self._ready(session), name)

    def latest_deletion(self, session: Session, name: str) -> LatestDeletion | None:
        return self.versions.latest_deletion(self._ready(session), name)

    def list_names(self, session: Session) -> list[str]:
        return self.versions.names(self._ready(session))

    def get_alias(self, session: Session, name: str, alias: str) -> AliasRecord | None:
        return self.aliases.get(self._ready(session), name, alias)

    def list_aliases(self, session: Session, name: str) -> list[AliasRecord]:
        return self.aliases.listing(self._ready(session), name)

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
        return self.latest.write(self._ready(session), request, content, progress)

    def publish(self, session: Session, name: str) -> VersionRecord:
        return self.publisher.publish(self._ready(session), name)

    def retire(
        self,
        session: Session,
        name: str,
        choose: Chooser,
        *,
        strict: bool,
        beside: Beside | None = None,
    ) -> RetireResult:
        return self.retirer.retire(self._ready(session), name, choose, strict=strict, beside=beside)

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
        """``beside`` (the engine's guard) before the transaction: it refuses first."""
        ready = self._ready(session)
        if beside is not None:
            beside()
        return self.aliases.write(ready, name, alias, target, expected_revision, note)

    def delete_alias(
        self,
        session: Session,
        name: str,
        alias: str,
        expected_revision: str | None,
        note: ChangeNote,
        beside: Beside | None = None,
    ) -> bool:
        """``beside`` (the engine's guard) before the transaction: it refuses first."""
        ready = self._ready(session)
        if beside is not None:
            beside()
        return self.aliases.delete(ready, name, alias, expected_revision, note)

    def list_alias_history(
        self, session: Session, name: str, alias: str, limit: int | None
    ) -> list[AliasChange]:
        return self.aliases.history(self._ready(session), name, alias, limit)

    def read_retention(
        self, session: Session, names: list[str | None]
    ) -> dict[str | None, StoredDocument | None]:
        return self.retention.read(self._ready(session), names)

    def write_retention(
        self, session: Session, name: str | None, body: str, expected_revision: str | None
    ) -> None:
        self.retention.write(self._ready(session), name, body, expected_revision)

    def purge_artifact(self, session: Session, name: str) -> None:
        self.retirer.purge_artifact(self._ready(session), name)
        self.rollouts.purge(session, name, self.retry)

    def purge_all(self, session: Session) -> None:
        self.retirer.purge_all(self._ready(session))

    # ------------------------------------------------------------ verification
    def verify_names(self, session: Session) -> tuple[list[str], list[Problem]]:
        return self.verifier.names(self._ready(session))

    def inventory(self, session: Session, name: str) -> Inventory:
        return self.verifier.inventory(self._ready(session), name)
