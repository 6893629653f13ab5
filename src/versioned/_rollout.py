"""Progressive rollouts, written once for both layouts.

A rollout moves an alias from its current version to ``to_version`` in steps: each step
but the last splits traffic (secondary = ``to_version`` with the step's share), the last
makes ``to_version`` the primary with no split. Between steps it bakes, calling the
health check several times; a failed check puts the alias back to the state the rollout
started from. Every alias write goes through ``Engine.put_alias`` with the revision the
rollout wrote last (a person who changes the alias meanwhile stops the rollout, never
the other way round) and the ``rollout`` history action.

While it runs, a record in storage (the layout's ``rollouts`` store: plan, step, owner,
times) lets any process see it, refuses a second rollout of the alias, and lets another
process resume or abort it once the owner's lease ran out. The owner renews the lease by
rewriting the record at least every ``lease_secs / 3``; its age is measured on the
storage servers' clock (the Date of their answers, ``Session.clock``) on both sides, so
clients with wrong wall clocks agree on it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import _model
from ._layouts import AliasRecord
from ._layouts.rollout_record import RolloutDoc, RolloutStore
from ._model import LATEST, VersionId
from ._rollout_run import Run, owner_name, status_of, step_target
from ._session import Session
from .exc import (
    ArgumentTypeError,
    ConcurrentModificationError,
    RolloutInProgressError,
    RolloutNotFoundError,
    ValidationError,
)
from .rollout import RolloutProgress, RolloutStatus

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

    from ._engine import Engine

logger = logging.getLogger(__name__)

Check = Callable[[], object]
Observer = Callable[[RolloutProgress], None]
DEFAULT_LEASE_SECS = 60.0


@dataclasses.dataclass
class Timing:
    """How a rollout waits: injected so tests bake without sleeping for long."""

    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


def check_plan(steps: object) -> list[int]:
    """Strictly increasing percentages in 1..100 ending at 100."""
    if isinstance(steps, str | bytes) or not hasattr(steps, "__iter__"):
        raise ArgumentTypeError("steps must be a sequence of ints")
    plan = list(steps)
    if not plan or any(isinstance(s, bool) or not isinstance(s, int) for s in plan):
        raise ArgumentTypeError("steps must be a non-empty sequence of ints")
    if any(not 1 <= s <= 100 for s in plan) or plan != sorted(set(plan)) or plan[-1] != 100:
        raise ValidationError(
            f"steps must be increasing percentages in 1..100 ending at 100, not {plan}"
        )
    return plan


def check_secs(value: object, label: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArgumentTypeError(f"{label} must be a number of seconds")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValidationError(
            f"{label} must be a finite {'positive' if positive else 'non-negative'} number"
        )
    return float(value)


def describe(status: RolloutStatus, now: datetime) -> str:
    """One sentence on a running rollout, for the errors that refuse to touch it."""
    age = max(0.0, (now - status.updated).total_seconds())
    text = (
        f"alias {status.alias!r} of {status.name!r} has a rollout from version "
        f"{status.from_version} to {status.to_version} at step {status.step}/"
        f"{len(status.plan)} ({status.share}%), run by {status.owner}, last heard "
        f"{age:.0f}s ago"
    )
    if status.stale:
        return text + "; its owner stopped renewing its lease: resume or abort it"
    return text


class Rollouts:
    """An engine's rollouts: start, status, resume, abort, and the versions they keep."""

    def __init__(self, engine: Engine, timing: Timing | None = None) -> None:
        self.engine = engine
        self.timing = timing or Timing()

    @property
    def store(self) -> RolloutStore:
        return self.engine.layout.rollouts

    # ------------------------------------------------------------ reads
    def status(self, bsm: BotoSesManager, name: str, alias: str) -> RolloutStatus | None:
        """The alias's running rollout, or None. 1 request."""
        _model.validate_artifact_name(name)
        _model.validate_alias_name(alias)
        session = self.engine.reading(bsm)
        doc = self.store.read(session, name, alias)
        return None if doc is None else status_of(doc.body, session.clock.now())

    def users(self, session: Session, name: str) -> dict[int, list[str]]:
        """{version: ["rollout ALIAS", ...]}: the versions running rollouts name (their
        start and their target), which deletions keep."""
        users: dict[int, list[str]] = {}
        for doc in self.store.listing(session, name):
            label = f"rollout {doc.body.get('alias')}"
            versions: list[VersionId] = [int(doc.body["to_version"])]
            versions += [v for v in step_target(doc.body, 0)[:2] if v is not None]
            for version in versions:
                if version != LATEST:
                    users.setdefault(int(version), []).append(label)
        return users

    # ------------------------------------------------------------ start
    def start(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        to_version: object,
        *,
        steps: object = (10, 50, 100),
        bake_secs: object = 300,
        check: Check | None = None,
        reason: object = None,
        lease_secs: object = DEFAULT_LEASE_SECS,
        on_progress: Observer | None = None,
    ) -> AliasRecord:
        """Run a rollout to its end (the alias's final record) or raise
        RolloutAbortedError (restored to the start when the check failed)."""
        body = self._plan(name, alias, to_version, steps, bake_secs, lease_secs, reason, check)
        current = self.engine.get_alias(bsm, name, alias)
        to = int(body["to_version"])
        if current.version == to and current.secondary_version is None:
            raise ValidationError(f"alias {alias!r} of {name!r} points at version {to} already")
        self.engine.get_version(bsm, name, to)  # ArtifactNotFoundError before any write
        session = self.engine.writing(bsm)
        body["from"] = {
            "version": _model.version_str(current.version),
            "secondary": current.secondary_version,
            "weight": current.secondary_version_weight,
        }
        body["revision"] = current.revision
        body["started"] = body["updated"] = session.clock.now().isoformat()
        doc = self.store.create(session, name, alias, body)
        if doc is None:
            found = self.store.read(session, name, alias)
            now = session.clock.now()
            status = None if found is None else status_of(found.body, now)
            text = "a rollout was running" if status is None else describe(status, now)
            raise RolloutInProgressError(f"{text}; a second rollout is refused", status)
        logger.debug("rollout of %r/%r to %s started", name, alias, to)
        return Run(self, bsm, session, doc, check, on_progress).go()

    def _plan(
        self,
        name: str,
        alias: str,
        to_version: object,
        steps: object,
        bake_secs: object,
        lease_secs: object,
        reason: object,
        check: object,
    ) -> dict[str, Any]:
        """A new record's fields, every argument checked before any request."""
        _model.validate_artifact_name(name)
        _model.validate_alias_name(alias)
        to = _model.parse_version(to_version)
        if to == LATEST:
            raise ValidationError("a rollout goes to a published version, not LATEST")
        if check is not None and not callable(check):
            raise ArgumentTypeError("check must be a callable returning bool, or None")
        if reason is not None and not isinstance(reason, str):
            raise ArgumentTypeError("reason must be a str or None")
        return {
            "name": name,
            "alias": alias,
            "to_version": int(to),
            "plan": check_plan(steps),
            "step": 0,
            "owner": owner_name(),
            "bake_secs": check_secs(bake_secs, "bake_secs"),
            "lease_secs": check_secs(lease_secs, "lease_secs", positive=True),
            "reason": reason,
            "token": uuid.uuid4().hex,
        }

    # ------------------------------------------------------------ another process
    def _claim(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        force: bool,
        verb: str,
        **changes: Any,
    ) -> tuple[Session, RolloutDoc]:
        """Take over a rollout whose owner's lease ran out (any with ``force``)."""
        _model.validate_artifact_name(name)
        _model.validate_alias_name(alias)
        session = self.engine.writing(bsm)
        doc = self.store.read(session, name, alias)
        if doc is None:
            raise RolloutNotFoundError(f"alias {alias!r} of {name!r} has no running rollout")
        now = session.clock.now()
        status = status_of(doc.body, now)
        if not status.stale and not force:
            raise RolloutInProgressError(
                f"{describe(status, now)}: its owner is alive, so it is not {verb} here "
                "(force=True to do it anyway)",
                status,
            )
        body = dict(doc.body, **changes)
        body.update(owner=owner_name(), updated=now.isoformat(), token=uuid.uuid4().hex)
        try:
            return session, self.store.replace(session, name, alias, body, doc.tag)
        except ConcurrentModificationError:
            raise RolloutInProgressError(
                f"the rollout of alias {alias!r} of {name!r} was taken over or ended by "
                "another process meanwhile",
                status,
            ) from None

    def resume(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        *,
        check: Check | None = None,
        force: bool = False,
        bake_secs: object = None,
        on_progress: Observer | None = None,
    ) -> AliasRecord:
        """Continue a rollout whose process died, from its recorded step (baking again
        after it), with this process's health check (and ``bake_secs``, when given)."""
        if check is not None and not callable(check):
            raise ArgumentTypeError("check must be a callable returning bool, or None")
        changes = {} if bake_secs is None else {"bake_secs": check_secs(bake_secs, "bake_secs")}
        session, doc = self._claim(bsm, name, alias, force, "resumed", **changes)
        run = Run(self, bsm, session, doc, check, on_progress)
        run.reconcile()
        return run.go()

    def abort(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        *,
        reason: object = None,
        force: bool = False,
    ) -> AliasRecord:
        """Put the alias back to the rollout's starting state and end the rollout."""
        if reason is not None and not isinstance(reason, str):
            raise ArgumentTypeError("reason must be a str or None")
        session, doc = self._claim(bsm, name, alias, force, "aborted")
        run = Run(self, bsm, session, doc, None, None)
        run.reconcile()
        return run.restore(reason or f"aborted by {owner_name()}")
