"""What a purge would do, and why each version stays (``Repository.plan_purge``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

#: covariant: a plan is only read, so a plan of one facade's Artifact is a plan of the
#: ``versioned.repository.Artifact`` protocol
A = TypeVar("A", covariant=True)
B = TypeVar("B")


@dataclasses.dataclass(frozen=True)
class KeptVersion(Generic[A]):
    """A version a purge keeps, and why: "LATEST", "among the newest 5", "younger than
    30 days" or "alias prod"."""

    artifact: A
    reason: str


@dataclasses.dataclass(frozen=True)
class PurgePlan(Generic[A]):
    """The versions a purge with these settings deletes (newest first), and every other
    version with the reason it stays. Computed at ``purge_time``; nothing was changed."""

    purge_time: datetime
    delete: Sequence[A]
    keep: Sequence[KeptVersion[A]]

    def map(self, convert: Callable[[A], B]) -> PurgePlan[B]:
        """The same plan with every version converted."""
        return PurgePlan(
            self.purge_time,
            [convert(a) for a in self.delete],
            [KeptVersion(convert(k.artifact), k.reason) for k in self.keep],
        )
