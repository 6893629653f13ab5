"""Retention, the engine side: policies and holds read and written through the layout's
retention documents, the guards the engine's alias writes and deletions call, and the
plan / apply of one retention run. Written once for both layouts; the rule itself is
:func:`versioned._retention.decide`.

Requests:
- ``alias_guard`` (put_alias / delete_alias without force): the artifact's document and
  the repository default read together: 1 BatchGetItem (S3 + DynamoDB) or 2 GETs in
  parallel (S3-only), beside the layout's first reads (S3-only: the state; S3 +
  DynamoDB: before its one transaction).
- ``guarded`` (delete_artifact_version / purge_artifact_versions): the artifact's
  document, 1 request, read beside the deletion's first reads.
- ``plan`` per artifact: its versions, aliases and document together, + one history read
  per alias when the policy keeps rollback targets; the default once per run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import _actor, _model, _pool, _retention, _retention_orphans
from ._layouts import Beside, Chooser, DocumentConflict, VersionRecord
from ._model import LATEST, VersionId
from ._retention import Candidate, Document
from ._retry import DEFAULT as DEFAULT_RETRY
from ._session import Session
from .exc import (
    ArgumentTypeError,
    ArtifactNotFoundError,
    ProtectedAliasError,
    ValidationError,
    VersionedError,
    VersionHeldError,
)
from .retention import Hold, KeptVersion, RetentionPlan, RetentionPolicy, RetentionReport

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

    from ._engine import Engine

logger = logging.getLogger(__name__)


class RetentionService:
    """Retention of one repository (``Engine.retention``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.layout = engine.layout

    # ------------------------------------------------------------ documents
    def documents(self, session: Session, names: list[str | None]) -> dict[str | None, Document]:
        """The decoded documents (an empty Document where none is stored)."""
        stored = self.layout.read_retention(session, names)
        return {
            name: Document()
            if found is None
            else _retention.decode(found.body, name, found.location)
            for name, found in stored.items()
        }

    def _update(
        self,
        session: Session,
        name: str | None,
        change: Callable[[Document], Document],
        repair: bool = False,
    ) -> Document:
        """Read, change and conditionally write one document, again on a conflict."""
        retry = getattr(self.layout, "retry", DEFAULT_RETRY)
        label = "the repository default" if name is None else repr(name)
        for attempt in retry.attempts(f"updating the retention of {label}", name or ""):
            found = self.layout.read_retention(session, [name])[name]
            read = _retention.salvage if repair else _retention.decode
            current = Document() if found is None else read(found.body, name, found.location)
            changed = change(current)
            try:
                revision = None if found is None else found.revision
                self.layout.write_retention(session, name, _retention.encode(changed), revision)
                return changed
            except DocumentConflict as conflict:
                attempt.conflict(str(conflict))
        raise AssertionError("unreachable")

    def get_policy(self, bsm: BotoSesManager, name: object) -> RetentionPolicy | None:
        """The policy stored for ``name`` (None: the repository default)."""
        checked = _optional_name(name)
        return self.documents(self.engine.reading(bsm), [checked])[checked].policy

    def set_policy(self, bsm: BotoSesManager, name: object, policy: object) -> None:
        """Store ``policy`` for ``name`` (None: the default); policy None removes it.
        Checked before any request (ValidationError naming the field)."""
        checked = _optional_name(name)
        valid = None if policy is None else _retention.validate_policy(policy)
        session = self.engine.writing(bsm)
        self._update(session, checked, lambda doc: Document(valid, doc.holds), repair=True)

    # ------------------------------------------------------------ holds
    def holds(self, bsm: BotoSesManager, name: object) -> list[Hold]:
        checked = _model.validate_artifact_name(name)
        document = self.documents(self.engine.reading(bsm), [checked])[checked]
        return [document.holds[version] for version in sorted(document.holds)]

    def hold(self, bsm: BotoSesManager, name: object, version: object, reason: object) -> Hold:
        """Hold a published version: no deletion removes it until it is released."""
        checked = _model.validate_artifact_name(name)
        number = _published(version)
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationError("a hold needs a reason (a non-empty str)")
        actor = _actor.from_environment() or _actor.os_user()
        session = self.engine.writing(bsm)
        if self.layout.get_version(session, checked, number) is None:
            raise ArtifactNotFoundError(f"artifact {checked!r} has no version {number}")
        now = _model.whole_seconds(session.clock.now())
        hold = Hold(checked, number, reason.strip(), actor, now)
        self._update(session, checked, lambda d: Document(d.policy, {**d.holds, number: hold}))
        return hold

    def release(self, bsm: BotoSesManager, name: object, version: object) -> bool:
        """Release a hold; False when the version was not held."""
        checked = _model.validate_artifact_name(name)
        number = _published(version)
        session = self.engine.writing(bsm)
        released: list[bool] = []

        def without(doc: Document) -> Document:
            released[:] = [number in doc.holds]
            return Document(doc.policy, {v: h for v, h in doc.holds.items() if v != number})

        self._update(session, checked, without)
        return released[0]

    def held_reasons(self, session: Session, name: str) -> dict[int, str]:
        """{held version: why it stays}, as a purge plan reports it. 1 request."""
        holds = self.documents(session, [name])[name].holds
        return {v: f"hold by {h.held_by}: {h.reason}" for v, h in holds.items()}

    def refuse_held(self, session: Session, name: str) -> None:
        """VersionHeldError when a version of ``name`` is held. 1 request."""
        holds = self.documents(session, [name])[name].holds
        if holds:
            raise VersionHeldError(_held_message(name, [holds[v] for v in sorted(holds)]))

    # ------------------------------------------------------------ guards
    def alias_guard(self, session: Session, name: str, alias: str, force: object) -> Beside | None:
        """The check that refuses to move or delete a protected alias (None with
        ``force``: nothing to read). ``force`` is checked here, before any request; the
        layout runs the check with its first reads (Layout.write_alias's ``beside``)."""
        if not isinstance(force, bool):
            raise ArgumentTypeError(f"force must be a bool, not {type(force).__name__}")
        if force:
            return None

        def guard() -> None:
            found = self.documents(session, [name, None])
            policy = found[name].policy or found[None].policy
            if policy is not None and alias in policy.protected_aliases:
                raise ProtectedAliasError(
                    f"alias {alias!r} of {name!r} is protected by its retention policy; "
                    "pass force=True (the CLI: --force) to change it anyway"
                )

        return guard

    def guarded(
        self,
        session: Session,
        name: str,
        choose: Chooser,
        *,
        strict: bool,
        also: Beside | None = None,
    ) -> tuple[Beside, Chooser]:
        """``choose`` without the held versions, and the read of the holds it needs: the
        layout runs that read (with ``also``, the engine's other reads) beside its first
        reads, before it chooses. With ``strict``, a held version refuses the whole
        deletion. A hold placed after that read and before the deletion's write does not
        stop it (docs/retention.md, "Limits"), as when it was read after the layout's
        reads: either way the window is the one round trip before the write."""
        holds: dict[int, Hold] = {}

        def beside() -> None:
            found, _ = _pool.parallel(
                lambda: self.documents(session, [name])[name].holds, also or _nothing
            )
            holds.update(found)

        def chooser(records: list[VersionRecord], users: dict[int, list[str]]) -> list[VersionId]:
            chosen = choose(records, users)
            held = [int(v) for v in chosen if v != LATEST and int(v) in holds]
            if held and strict:
                raise VersionHeldError(_held_message(name, [holds[v] for v in held]))
            return [v for v in chosen if v == LATEST or int(v) not in held]

        return beside, chooser

    # ------------------------------------------------------------ plan and apply
    def plan(self, bsm: BotoSesManager, name: object = None) -> list[RetentionPlan]:
        """One plan per artifact (``name`` None: every artifact); changes nothing."""
        session = self.engine.reading(bsm)
        names = self._names(session, name)
        default = self.documents(session, [None])[None].policy
        return [self.plan_one(session, artifact, default) for artifact in names]

    def _names(self, session: Session, name: object) -> list[str]:
        if name is None:
            return self.layout.list_names(session)
        return [_model.validate_artifact_name(name)]

    def plan_one(
        self, session: Session, name: str, default: RetentionPolicy | None
    ) -> RetentionPlan:
        versions, aliases, documents, rollouts = _pool.parallel(
            lambda: self.layout.list_versions(session, name),
            lambda: self.layout.list_aliases(session, name),
            lambda: self.documents(session, [name]),
            lambda: self.engine.rollouts.users(session, name),
        )
        document = documents[name]
        policy = document.policy or default
        histories = {}
        if policy is not None and policy.keep_rollback_targets and aliases:
            found = _pool.fan_out(
                lambda a: self.layout.list_alias_history(session, name, a.alias, None), aliases
            )
            histories = {a.alias: changes for a, changes in zip(aliases, found, strict=True)}
        now = session.clock.now()  # the server's, from the reads just made
        published = {int(r.version): r for r in versions if r.version != LATEST}
        decision = _retention.decide(
            [Candidate(n, r.update_at, r.size) for n, r in published.items()],
            policy=policy,
            now=now,
            aliases={a.alias: a.targets for a in aliases},
            histories=histories,
            holds=document.holds,
            rollouts=rollouts,
        )
        keep = [KeptVersion(LATEST, ("LATEST",), r.size) for r in versions if r.version == LATEST]
        keep += [
            KeptVersion(n, tuple(reasons), published[n].size)
            for n, reasons in sorted(decision.keep.items(), reverse=True)
        ]
        size = sum(published[n].size or 0 for n in decision.delete)
        return RetentionPlan(
            name=name,
            planned_at=now,
            policy=policy,
            delete=tuple(decision.delete),
            keep=tuple(keep),
            bytes_deleted=size,
            bytes_freed=0 if self.layout.soft_deletes else size,
        )

    def apply_one(self, session: Session, plan: RetentionPlan, dry_run: bool) -> RetentionReport:
        """Delete exactly what ``plan`` shows, through the deletion protocol: a version
        an alias (or a rollout) took meanwhile, or a hold, keeps; a version another run
        deleted already is not reported again."""
        if dry_run or not plan.delete:
            return RetentionReport(plan.name, dry_run, plan.delete, plan.keep, plan.bytes_freed)
        chosen: list[VersionId] = list(plan.delete)
        beside, choose = self.guarded(
            session, plan.name, lambda records, users: chosen, strict=False
        )
        result = self.layout.retire(session, plan.name, choose, strict=False, beside=beside)
        deleted = sorted((int(r.version) for r in result.retired), reverse=True)
        sizes = sum(r.size or 0 for r in result.retired)
        kept = list(plan.keep) + [
            KeptVersion(v, (f"in use: {', '.join(users)}",)) for v, users in result.in_use.items()
        ]
        return RetentionReport(
            name=plan.name,
            dry_run=False,
            deleted=tuple(deleted),
            kept=tuple(kept),
            bytes_freed=0 if self.layout.soft_deletes else sizes,
        )

    def apply(
        self, bsm: BotoSesManager, name: object, dry_run: object
    ) -> tuple[Session, list[RetentionReport]]:
        """Plan and apply per artifact; an artifact's failure is its report's error and
        the run goes on."""
        if not isinstance(dry_run, bool):
            raise ArgumentTypeError(f"dry_run must be a bool, not {type(dry_run).__name__}")
        session = self.engine.reading(bsm) if dry_run else self.engine.writing(bsm)
        names = self._names(session, name)
        default = self.documents(session, [None])[None].policy
        reports: list[RetentionReport] = []
        for artifact in names:
            try:
                plan = self.plan_one(session, artifact, default)
                reports.append(self.apply_one(session, plan, dry_run))
            except VersionedError as error:
                logger.debug("retention of %r failed: %s", artifact, error)
                reports.append(RetentionReport(artifact, dry_run, (), (), 0, (str(error),)))
        return session, reports

    def run(
        self,
        bsm: BotoSesManager,
        name: object,
        dry_run: object,
        delete_orphans: object,
        upload_age_secs: object,
    ) -> list[RetentionReport]:
        """``apply_retention``: the versions of each artifact, then the multipart uploads
        abandoned under the artifact (``name``) or the repository (None), and for a
        whole-repository run verify()'s orphan objects (deleted only with
        ``delete_orphans``)."""
        age = _retention_orphans.check_upload_age(upload_age_secs)
        if not isinstance(delete_orphans, bool):
            raise ArgumentTypeError("delete_orphans must be a bool")
        session, reports = self.apply(bsm, name, dry_run)
        root = self.layout.root
        prefix = root if name is None else f"{root}{name}/"
        bucket, dry = self.layout.bucket, bool(dry_run)
        uploads = _retention_orphans.abort_uploads(session, bucket, prefix, age, dry)
        orphans = []
        if name is None:
            delete = delete_orphans and not dry
            orphans = _retention_orphans.orphan_objects(self.engine, session, delete)
        return _retention_orphans.attach(reports, uploads, orphans, root, dry)


def _nothing() -> None:
    return None


def _optional_name(name: object) -> str | None:
    return None if name is None else _model.validate_artifact_name(name)


def _published(version: object) -> int:
    parsed = _model.parse_version(version)
    if parsed == LATEST:
        raise ValidationError("LATEST cannot be held: it is never deleted by retention")
    return int(parsed)


def _held_message(name: str, holds: list[Hold]) -> str:
    parts = [
        f"version {hold.version} of {name!r} is held by {hold.held_by} since "
        f"{hold.held_at.isoformat()} ({hold.reason})"
        for hold in holds
    ]
    return "; ".join(parts) + ". Release the hold (release_version) first."
