"""Progressive rollouts: what ``Repository.rollout_status`` answers about a running one."""

from __future__ import annotations

import dataclasses
from datetime import datetime


@dataclasses.dataclass(frozen=True)
class RolloutStatus:
    """A rollout of ``alias`` from ``from_version`` to ``to_version`` while it runs.

    ``plan`` is the traffic share (percent) of each step, ``step`` how many steps are
    applied (0: none yet; the alias then still has its starting state), ``share`` the
    share ``to_version`` gets now. ``owner`` is the process running it (actor, host,
    pid), ``updated`` when it last wrote its record (the storage server's clock); it
    writes at least every ``lease_secs`` / 3 while it bakes, so ``stale`` (no word for
    longer than ``lease_secs``) means its process died: another process may then resume
    or abort it."""

    name: str
    alias: str
    from_version: str
    to_version: str
    plan: tuple[int, ...]
    step: int
    started: datetime
    updated: datetime
    owner: str
    bake_secs: float
    lease_secs: float
    reason: str | None
    stale: bool

    @property
    def share(self) -> int:
        """The percentage of traffic ``to_version`` gets now."""
        return self.plan[self.step - 1] if self.step else 0


@dataclasses.dataclass(frozen=True)
class RolloutProgress:
    """What a running rollout reports to its ``on_progress`` callback: the status, and
    the bake time left before the next step (0 while a step is applied)."""

    status: RolloutStatus
    remaining_bake_secs: float
