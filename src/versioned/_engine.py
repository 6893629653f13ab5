"""Everything both layouts share, written once: argument checks, error messages, purge
planning, verification, routing to the layout. The facades only adapt signatures and
dataclasses; the layouts own storage and its concurrency protocol."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import (
    _actor,
    _content,
    _history,
    _journal,
    _model,
    _pool,
    _rollout,
    _s3,
    _transfer,
    _verifying,
    constants,
    history,
)
from ._layouts import (
    AliasPoll,
    AliasRecord,
    BootstrapOptions,
    ChangeNote,
    Layout,
    PutRequest,
    VersionRecord,
    marker,
    these,
)
from ._model import LATEST, VersionId
from ._retention_run import RetentionService
from ._session import Session, Sessions
from .exc import (
    AliasNotFoundError,
    ArgumentTypeError,
    ArtifactNotFoundError,
    LatestDeletedError,
    LatestNotDeletableError,
    ValidationError,
    VersionInUseError,
)
from .history import AliasChange
from .lifecycle import KeptVersion, PurgePlan
from .verify import VerifyReport

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager


def check_root(bucket: object, prefix: object, suffix: object) -> str:
    """Validate the settings every repository has; returns the normalised prefix."""
    if not isinstance(bucket, str) or not bucket:
        raise ValidationError("s3_bucket must be a non-empty str")
    if not isinstance(prefix, str):
        raise TypeError("s3_prefix must be a str")
    if not isinstance(suffix, str) or "/" in suffix:
        raise ValidationError("suffix must be a str without '/'")
    return prefix.strip("/")


def in_use_message(name: str, users: dict[VersionId, list[str]]) -> str:
    """The one message for a deletion refused because aliases route to the versions."""
    parts = [
        f"version {_model.version_str(version)} of {name!r} is used by "
        f"alias{'es' if len(aliases) > 1 else ''} " + ", ".join(repr(a) for a in aliases)
        for version, aliases in sorted(users.items(), key=lambda pair: str(pair[0]))
    ]
    return "; ".join(parts) + ". Point the alias elsewhere (or delete it) first."


def rollout_message(name: str, version: int, rollouts: list[str]) -> str:
    """The message for a deletion refused because running rollouts name the version."""
    return (
        f"version {version} of {name!r} is named by a running "
        + ", ".join(sorted(rollouts))
        + ". Let it finish (or abort it) first."
    )


class Engine:
    """The repository's behaviour over one storage layout."""

    def __init__(self, layout: Layout, transfer: _transfer.TransferSettings) -> None:
        self.layout = layout
        self.transfer = transfer
        self._sessions = Sessions()
        self.record = marker.RepositoryRecord(layout.bucket, layout.root, identity_of(layout))
        self.retention = RetentionService(self)
        self.rollouts = _rollout.Rollouts(self)  # rollout, status, resume, abort

    def session(self, bsm: BotoSesManager) -> Session:
        return self._sessions.of(bsm)

    def reading(self, bsm: BotoSesManager) -> Session:
        """The session, once this repository is known to be the one its prefix serves
        (RepositoryConflictError otherwise: see marker.RepositoryRecord)."""
        return self.checked(self.session(bsm), write=False)

    def writing(self, bsm: BotoSesManager) -> Session:
        """The session, once the prefix's record names this repository (written first)."""
        return self.checked(self.session(bsm), write=True)

    def checked(self, session: Session, *, write: bool) -> Session:
        """``session`` after the repository record's check; on its first call the layout's
        own first-use read (the table's claim) goes with it."""
        if self.record.checked(write=write):
            return session
        _pool.parallel(
            lambda: self.record.ensure(session, write=write), lambda: self.layout.peek(session)
        )
        return session

    def uri(self, name: str, version: VersionId) -> str:
        return f"s3://{self.layout.bucket}/{self.layout.version_key(name, version)}"

    def artifact_fields(self, record: VersionRecord) -> dict[str, Any]:
        """The public Artifact's fields (``update_at`` a datetime: facades convert it)."""
        return {
            "name": record.name,
            "version": _model.version_str(record.version),
            "update_at": record.update_at,
            "s3uri": self.uri(record.name, record.version),
            "sha256": record.sha256,
            "size": record.size,
            "content_type": record.content_type,
            "metadata": record.metadata,
        }

    def alias_fields(self, record: AliasRecord) -> dict[str, Any]:
        """The public Alias's fields (``update_at`` a datetime: facades convert it)."""
        secondary = record.secondary_version
        return {
            "name": record.name,
            "alias": record.alias,
            "update_at": record.update_at,
            "version": _model.version_str(record.version),
            "secondary_version": None if secondary is None else str(secondary),
            "secondary_version_weight": record.secondary_version_weight,
            "version_s3uri": self.uri(record.name, record.version),
            "secondary_version_s3uri": (
                None if secondary is None else self.uri(record.name, secondary)
            ),
            "revision": record.revision,
        }

    def bootstrap(self, bsm: BotoSesManager, options: BootstrapOptions) -> None:
        """Create what the repository needs (bucket; table) unless it exists. The prefix's
        record is checked first when the bucket exists (nothing is created for a
        repository refused there), else once the bucket is made."""
        session = self.writing(bsm)
        self.layout.bootstrap(session, options)
        self.record.ensure(session, write=True)

    # ------------------------------------------------------------ artifacts
    def put(
        self,
        bsm: BotoSesManager,
        name: str,
        content: object,
        content_type: object,
        metadata: object,
        tags: object,
        progress: _s3.Progress | None,
        resume: object = False,
    ) -> VersionRecord:
        """Write LATEST. A file above the multipart threshold is uploaded with a local
        journal (``versioned._journal``); ``resume`` continues the upload an interrupted
        put of the same file left, sending only the parts the server lacks."""
        request = PutRequest(
            name=_model.validate_artifact_name(name),
            # S3 stores its default without one: say it, so both layouts record it
            content_type=_model.check_content_type(content_type) or constants.DEFAULT_CONTENT_TYPE,
            metadata=_model.check_user_metadata(metadata),
            tags=_model.check_tags(tags),
        )
        _journal.check_resume(resume, content)
        prepared = _content.Content(content, self.transfer.multipart_threshold)
        if prepared.path is not None:
            prepared.journal = _journal.spot(
                self.cache_identity(), request.name, prepared.path, resume is True
            )
        try:
            return self.layout.write_latest(self.writing(bsm), request, prepared, progress)
        finally:
            prepared.close()

    def get_version(self, bsm: BotoSesManager, name: str, version: object) -> VersionRecord:
        _model.validate_artifact_name(name)
        parsed = _model.parse_version(version)
        session = self.reading(bsm)
        record = self.layout.get_version(session, name, parsed)
        if record is None and parsed == LATEST:
            self.refuse_deleted_latest(session, name)
        if record is None:
            raise ArtifactNotFoundError(
                f"artifact {name!r} has no version {_model.version_str(parsed)}"
            )
        return record

    def list_versions(
        self, bsm: BotoSesManager, name: str, limit: object = None
    ) -> list[VersionRecord]:
        """Newest first (LATEST first); at most ``limit`` records (LATEST counts)."""
        _model.validate_artifact_name(name)
        count = check_limit(limit)
        return self.layout.list_versions(self.reading(bsm), name, count)

    def latest_published_number(self, bsm: BotoSesManager, name: str) -> int:
        _model.validate_artifact_name(name)
        return self.layout.latest_published_number(self.reading(bsm), name)

    def publish(self, bsm: BotoSesManager, name: str) -> VersionRecord:
        _model.validate_artifact_name(name)
        session = self.writing(bsm)
        try:
            return self.layout.publish(session, name)
        except ArtifactNotFoundError:
            self.refuse_deleted_latest(session, name)
            raise

    def refuse_deleted_latest(self, session: Session, name: str) -> None:
        """Raise LatestDeletedError when LATEST of ``name`` is marked deleted (a missing
        LATEST is then explained: "was deleted at ...; put a new one")."""
        deletion = self.layout.latest_deletion(session, name)
        if deletion is None:
            return
        when = "" if deletion.at is None else f" at {deletion.at:%Y-%m-%d %H:%M:%S} UTC"
        raise LatestDeletedError(
            f"LATEST of {name!r} was deleted{when}; put a new one (its published versions "
            "and aliases are kept)",
            deleted_at=deletion.at,
        )

    def delete_version(self, bsm: BotoSesManager, name: str, version: object) -> None:
        """Delete one version unless an alias routes to it (VersionInUseError)."""
        _model.validate_artifact_name(name)
        parsed = _model.parse_version(version)
        if parsed == LATEST and not self.layout.latest_deletable:
            raise LatestNotDeletableError(
                f"the LATEST version of {name!r} cannot be deleted; use purge_artifact"
            )
        session = self.writing(bsm)
        if parsed == LATEST:  # no rollout names it, and it is never held
            result = self.layout.retire(session, name, these([parsed]), strict=True)
        else:

            def refuse_named() -> None:  # a running rollout's version stays
                named = self.rollouts.users(session, name).get(int(parsed))
                if named:
                    raise VersionInUseError(rollout_message(name, int(parsed), named))

            beside, choose = self.retention.guarded(
                session, name, these([parsed]), strict=True, also=refuse_named
            )
            result = self.layout.retire(session, name, choose, strict=True, beside=beside)
        if result.in_use:
            raise VersionInUseError(in_use_message(name, result.in_use))

    def list_names(self, bsm: BotoSesManager) -> list[str]:
        return self.layout.list_names(self.reading(bsm))

    # ------------------------------------------------------------ aliases
    def put_alias(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        version: object,
        secondary_version: object,
        secondary_version_weight: object,
        expected_revision: object,
        reason: object = None,
        action: str = history.PUT,
        force: object = False,
    ) -> AliasRecord:
        _model.validate_artifact_name(name)
        _model.validate_alias_name(alias)
        target = _model.validate_alias_target(version, secondary_version, secondary_version_weight)
        revision = check_revision(expected_revision)
        session, note = self.alias_change(bsm, action, reason)
        guard = self.retention.alias_guard(session, name, alias, force)  # None with force
        try:
            return self.layout.write_alias(session, name, alias, target, revision, note, guard)
        except ArtifactNotFoundError:
            if LATEST in target.versions:
                self.refuse_deleted_latest(session, name)
            raise

    def get_alias(self, bsm: BotoSesManager, name: str, alias: str) -> AliasRecord:
        _model.validate_artifact_name(name)
        _model.validate_alias_name(alias)
        record = self.layout.get_alias(self.reading(bsm), name, alias)
        if record is None:
            raise AliasNotFoundError(f"artifact {name!r} has no alias {alias!r}")
        return record

    def list_aliases(self, bsm: BotoSesManager, name: str) -> list[AliasRecord]:
        _model.validate_artifact_name(name)
        records = self.layout.list_aliases(self.reading(bsm), name)
        return sorted(records, key=lambda record: record.alias)

    def delete_alias(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        expected_revision: object,
        reason: object = None,
        force: object = False,
    ) -> bool:
        _model.validate_artifact_name(name)
        _model.validate_alias_name(alias)
        revision = check_revision(expected_revision)
        session, note = self.alias_change(bsm, history.DELETE, reason)
        guard = self.retention.alias_guard(session, name, alias, force)  # None with force
        return self.layout.delete_alias(session, name, alias, revision, note, guard)

    def list_alias_history(
        self, bsm: BotoSesManager, name: str, alias: str, limit: object
    ) -> list[AliasChange]:
        """The changes of ``alias``, newest first (at most ``limit``; None: all)."""
        _model.validate_artifact_name(name)
        _model.validate_alias_name(alias)
        count = check_limit(limit)
        return self.layout.list_alias_history(self.reading(bsm), name, alias, count)

    def alias_at(
        self, bsm: BotoSesManager, name: str, alias: str, when: object
    ) -> AliasChange | None:
        return _history.alias_at(self, bsm, name, alias, when)

    def rollback_alias(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        to_revision: object,
        reason: object,
        expected_revision: object,
    ) -> AliasRecord:
        options = (to_revision, reason, expected_revision)
        return _history.rollback_alias(self, bsm, name, alias, options)

    def alias_change(
        self, bsm: BotoSesManager, action: str, reason: object
    ) -> tuple[Session, ChangeNote]:
        """The session to write with, and what the alias change records besides its
        target (``reason`` checked before any request). The first alias change of a
        session looks up its actor (STS) beside the repository check's first read: one
        round trip for both."""
        if reason is not None and not isinstance(reason, str):
            raise ArgumentTypeError(f"reason must be a str or None, not {type(reason).__name__}")
        session = self.session(bsm)
        check = functools.partial(self.checked, session, write=True)
        if _actor.known(session):
            return check(), ChangeNote(action, _actor.actor(session), reason)
        written, actor = _pool.parallel(check, lambda: _actor.actor(session))
        return written, ChangeNote(action, actor, reason)

    # ------------------------------------------------------------ consumers
    def poll_alias(
        self, bsm: BotoSesManager, name: str, alias: str, revision: str | None
    ) -> AliasPoll:
        """Has ``alias`` changed since ``revision``? 1 request and no repository check:
        asked only about an alias a checked read resolved before (Layout.poll_alias)."""
        return self.layout.poll_alias(self.session(bsm), name, alias, revision)

    def cache_identity(self) -> dict[str, str | None]:
        """What names this repository in a local cache: two repositories never share refs."""
        identity = self.record.identity
        return {
            "layout": identity.layout,
            "bucket": self.layout.bucket,
            "root": self.layout.root,
            "suffix": identity.suffix,
            "table": identity.table,
        }

    # ------------------------------------------------------------ lifecycle
    def plan_purge(
        self, bsm: BotoSesManager, name: str, keep_last_n: object, purge_older_than_secs: object
    ) -> PurgePlan[VersionRecord]:
        """Which versions a purge removes and why the others stay; changes nothing."""
        _model.validate_artifact_name(name)
        _model.check_retention_args(keep_last_n, purge_older_than_secs)
        assert isinstance(keep_last_n, int) and isinstance(purge_older_than_secs, int | float)
        session = self.reading(bsm)
        versions, aliases, held, named = _pool.parallel(
            lambda: self.layout.list_versions(session, name),
            lambda: self.layout.list_aliases(session, name),
            lambda: self.retention.held_reasons(session, name),
            lambda: self.rollouts.users(session, name),
        )
        purge_time = session.clock.now()  # the server's: after the reads, from their Date
        published = {int(r.version): r for r in versions if r.version != LATEST}
        decision = _model.decide_retention(
            [(number, record.update_at) for number, record in published.items()],
            keep_last_n=keep_last_n,
            purge_older_than_secs=purge_older_than_secs,
            now=purge_time,
            alias_users=_model.alias_users((a.alias, a.targets) for a in aliases),
            rollout_users=named,
        )
        kept = {**decision.keep, **{n: held[n] for n in decision.remove if n in held}}
        keep = [KeptVersion(r, "LATEST") for r in versions if r.version == LATEST]
        keep += [KeptVersion(published[n], reason) for n, reason in sorted(kept.items())[::-1]]
        return PurgePlan(purge_time, [published[n] for n in decision.remove if n not in held], keep)

    def purge_versions(
        self,
        bsm: BotoSesManager,
        name: str,
        keep_last_n: object,
        purge_older_than_secs: object,
        dry_run: bool = False,
    ) -> tuple[Any, list[VersionRecord]]:
        """Delete what the retention rule selects, chosen on what the deletion itself reads
        (so an alias pointed at a version meanwhile keeps it). Returns (purge time,
        deleted versions, newest first); with ``dry_run``, what would be deleted."""
        if dry_run:
            plan = self.plan_purge(bsm, name, keep_last_n, purge_older_than_secs)
            return plan.purge_time, list(plan.delete)
        _model.validate_artifact_name(name)
        _model.check_retention_args(keep_last_n, purge_older_than_secs)
        assert isinstance(keep_last_n, int) and isinstance(purge_older_than_secs, int | float)
        session = self.writing(bsm)
        named: dict[int, list[str]] = {}  # a running rollout's versions stay
        chosen_at: list[datetime] = []

        def choose(records: list[VersionRecord], users: dict[int, list[str]]) -> list[VersionId]:
            chosen_at.append(session.clock.now())  # the server's, from the reads just made
            decision = _model.decide_retention(
                [(int(r.version), r.update_at) for r in records if r.version != LATEST],
                keep_last_n=keep_last_n,
                purge_older_than_secs=purge_older_than_secs,
                now=chosen_at[0],
                alias_users=users,
                rollout_users=named,
            )
            return list(decision.remove)

        beside, guarded = self.retention.guarded(
            session,
            name,
            choose,
            strict=False,
            also=lambda: named.update(self.rollouts.users(session, name)),
        )
        result = self.layout.retire(session, name, guarded, strict=False, beside=beside)
        retired = sorted(result.retired, key=lambda r: int(r.version), reverse=True)
        return (chosen_at[0] if chosen_at else session.clock.now()), retired

    def purge_artifact(self, bsm: BotoSesManager, name: str) -> None:
        _model.validate_artifact_name(name)
        session = self.writing(bsm)
        self.retention.refuse_held(session, name)  # a held version keeps its artifact
        self.layout.purge_artifact(session, name)

    def purge_all(self, bsm: BotoSesManager) -> None:
        self.layout.purge_all(self.writing(bsm))

    # ------------------------------------------------------------ verification
    def verify(self, bsm: BotoSesManager, name: object, workers: int) -> VerifyReport:
        return _verifying.verify(self, bsm, name, workers)

    def shared_once(self, report: VerifyReport) -> VerifyReport:
        return _verifying.shared_once(self, report)


def identity_of(layout: Layout) -> marker.Identity:
    """The repository a layout object serves on its prefix (what its record holds)."""
    table = getattr(layout, "table", None)
    if isinstance(table, str):
        return marker.Identity(marker.S3_AND_DYNAMODB, layout.suffix, table)
    return marker.Identity(marker.S3_ONLY, layout.suffix)


def check_revision(expected_revision: object) -> str | None:
    if expected_revision is not None and not isinstance(expected_revision, str):
        raise TypeError("expected_revision must be a str")
    return expected_revision


def check_limit(limit: object) -> int | None:
    """A count of records to return: None (all) or a positive int."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise ArgumentTypeError(f"limit must be an int or None, not {type(limit).__name__}")
    if limit < 1:
        raise ValidationError(f"limit must be at least 1, not {limit}")
    return limit
