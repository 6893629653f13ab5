"""One process's turn at a progressive rollout (see ``_rollout``): apply the steps,
bake between them calling the health check, keep the record's lease, restore the
starting state on failure."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import _actor, _model, history
from ._layouts import AliasRecord
from ._layouts.rollout_record import RolloutDoc
from ._model import VersionId
from ._session import Session
from .exc import ArtifactNotFoundError, ConcurrentModificationError, RolloutAbortedError
from .rollout import RolloutProgress, RolloutStatus

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

    from ._rollout import Check, Observer, Rollouts

logger = logging.getLogger(__name__)

#: health checks per bake (the last at its end)
CHECKS_PER_BAKE = 5
#: seconds of slack on a lease: both ends read the servers' clock in whole seconds
CLOCK_SLACK_SECS = 2.0


def owner_name() -> str:
    """Who runs a rollout: the actor, the host and the process."""
    actor = _actor.from_environment() or _actor.os_user()
    return f"{actor} on {socket.gethostname()} pid {os.getpid()}"


def status_of(body: dict[str, Any], now: datetime) -> RolloutStatus:
    """The public view of a record; ``stale`` measured against ``now`` (server clock)."""
    updated = _model.parse_time(str(body["updated"]))
    lease = float(body["lease_secs"])
    return RolloutStatus(
        name=str(body["name"]),
        alias=str(body["alias"]),
        from_version=str(body["from"]["version"]),
        to_version=str(body["to_version"]),
        plan=tuple(int(s) for s in body["plan"]),
        step=int(body["step"]),
        started=_model.parse_time(str(body["started"])),
        updated=updated,
        owner=str(body["owner"]),
        bake_secs=float(body["bake_secs"]),
        lease_secs=lease,
        reason=body.get("reason"),
        stale=(now - updated).total_seconds() > lease + CLOCK_SLACK_SECS,
    )


def step_target(body: dict[str, Any], step: int) -> tuple[VersionId, int | None, int | None]:
    """The alias target after ``step`` (1-based; 0: the starting state)."""
    start = body["from"]
    if step == 0:
        return _model.parse_version(start["version"]), start["secondary"], start["weight"]
    share = int(body["plan"][step - 1])
    to = int(body["to_version"])
    if share == 100:
        return to, None, None
    return _model.parse_version(start["version"]), to, share


def targets_equal(record: AliasRecord, target: tuple[VersionId, int | None, int | None]) -> bool:
    return (record.version, record.secondary_version, record.secondary_version_weight or None) == (
        target[0],
        target[1],
        target[2] or None,
    )


class Run:
    """One process's turn at a rollout: apply steps, bake, check, record, restore."""

    def __init__(
        self,
        rollouts: Rollouts,
        bsm: BotoSesManager,
        session: Session,
        doc: RolloutDoc,
        check: Check | None,
        on_progress: Observer | None,
    ) -> None:
        self.rollouts, self.bsm, self.session = rollouts, bsm, session
        self.doc, self.check, self.on_progress = doc, check, on_progress
        self.name, self.alias = str(doc.body["name"]), str(doc.body["alias"])
        self.plan = [int(s) for s in doc.body["plan"]]

    @property
    def body(self) -> dict[str, Any]:
        return self.doc.body

    @property
    def step(self) -> int:
        return int(self.body["step"])

    def label(self) -> str:
        return (
            f"rollout of alias {self.alias!r} of {self.name!r} to version {self.body['to_version']}"
        )

    # ------------------------------------------------------------ the record
    def save(self, **changes: Any) -> None:
        """Rewrite the record (renewing the lease); a record changed by another process
        (an abort, a take-over) stops this one."""
        now = self.session.clock.now().isoformat()
        body = dict(self.body, **changes, updated=now, token=uuid.uuid4().hex)
        try:
            self.doc = self.rollouts.store.replace(
                self.session, self.name, self.alias, body, self.doc.tag
            )
        except ConcurrentModificationError:
            raise RolloutAbortedError(
                f"{self.label()} stopped at step {self.step}/{len(self.plan)}: another "
                "process aborted or took it over",
                step=self.step,
                reason="aborted or taken over by another process",
                restored=False,
            ) from None

    def drop(self) -> None:
        """Remove the record (a record another process replaced is left to it)."""
        try:
            self.rollouts.store.remove(self.session, self.name, self.alias, self.doc.tag)
        except ConcurrentModificationError:
            logger.debug("%s: the record was replaced meanwhile; left", self.label())

    def notify(self, remaining: float) -> None:
        if self.on_progress is not None:
            status = status_of(self.body, self.session.clock.now())
            self.on_progress(RolloutProgress(status, max(0.0, remaining)))

    # ------------------------------------------------------------ the alias
    def write(self, step: int, why: str) -> AliasRecord:
        """Point the alias at ``step``'s target over the revision the rollout wrote last;
        a person's change meanwhile ends the rollout (their change stays)."""
        version, secondary, weight = step_target(self.body, step)
        try:
            return self.rollouts.engine.put_alias(
                self.bsm,
                self.name,
                self.alias,
                version,
                secondary,
                weight,
                self.body["revision"],
                why,
                history.ROLLOUT,
            )
        except ArtifactNotFoundError:  # the target was deleted before the first step
            self.drop()
            raise
        except ConcurrentModificationError:
            self.drop()
            raise RolloutAbortedError(
                f"{self.label()} stopped at step {self.step}/{len(self.plan)}: the alias "
                "was changed by someone else; it is left as they set it",
                step=self.step,
                reason="the alias was changed by someone else",
                restored=False,
            ) from None

    def reconcile(self) -> None:
        """After a take-over: the alias must be at the recorded step, or at the next one
        (the owner died between writing the alias and its record)."""
        current = self.rollouts.engine.layout.get_alias(self.session, self.name, self.alias)
        if current is not None and current.revision == self.body["revision"]:
            return
        nxt = self.step + 1
        if (
            current is not None
            and nxt <= len(self.plan)
            and targets_equal(current, step_target(self.body, nxt))
        ):
            self.save(step=nxt, revision=current.revision)
            return
        self.drop()
        raise RolloutAbortedError(
            f"{self.label()} ended at step {self.step}/{len(self.plan)}: the alias was "
            "changed by someone else since; it is left as it is",
            step=self.step,
            reason="the alias was changed by someone else",
            restored=False,
        )

    def restore(self, reason: str) -> AliasRecord:
        """Put the alias back to the starting state, end the rollout."""
        at = f"{self.step}/{len(self.plan)}"
        why = f"{self.label()} aborted at step {at}: {reason}"
        record = self.write(0, why)
        self.body["revision"] = record.revision
        self.drop()
        logger.debug("%s", why)
        return record

    # ------------------------------------------------------------ the run
    def go(self) -> AliasRecord:
        """Bake after the recorded step (a resume), then apply and bake the rest."""
        total = len(self.plan)
        if 0 < self.step < total:
            self.bake()
        record: AliasRecord | None = None
        while self.step < total:
            nxt = self.step + 1
            why = f"{self.label()}: step {nxt}/{total}, {self.plan[nxt - 1]}%"
            if self.body.get("reason"):
                why += f" ({self.body['reason']})"
            if self.step:  # it baked: still ours? (a check longer than the lease, a pause)
                self.save()
            record = self.write(nxt, why)
            self.save(step=nxt, revision=record.revision)
            self.notify(0.0)
            if nxt < total:
                self.bake()
        self.drop()
        return record or self.rollouts.engine.get_alias(self.bsm, self.name, self.alias)

    def bake(self) -> None:
        """Wait ``bake_secs``, renewing the lease, checking health CHECKS_PER_BAKE times
        (once when the bake is 0); a failed check restores the start and raises."""
        timing = self.rollouts.timing
        bake = float(self.body["bake_secs"])
        beat = float(self.body["lease_secs"]) / 3
        checks = (
            [bake * i / CHECKS_PER_BAKE for i in range(1, CHECKS_PER_BAKE + 1)] if bake else [0.0]
        )
        start = last_beat = timing.monotonic()
        for at in checks:
            while (left := start + at - timing.monotonic()) > 0:
                self.notify(start + bake - timing.monotonic())
                timing.sleep(min(left, beat, 1.0))
                if timing.monotonic() - last_beat >= beat:
                    self.save()
                    last_beat = timing.monotonic()
            self.run_check()
        self.notify(0.0)

    def run_check(self) -> None:
        if self.check is None:
            return
        try:
            healthy = self.check()
        except Exception as error:  # the check's failure is the rollout's reason to stop
            reason = f"the health check raised {type(error).__name__}: {error}"
        else:
            if healthy:
                return
            reason = "the health check returned False"
        step, share = self.step, self.plan[self.step - 1] if self.step else 0
        record = self.restore(reason)
        raise RolloutAbortedError(
            f"{self.label()} aborted at step {step}/{len(self.plan)} ({share}%): {reason}; "
            f"alias restored to version {_model.version_str(record.version)}",
            step=step,
            reason=reason,
            restored=True,
        )
