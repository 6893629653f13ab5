"""What a purge deletes and what it keeps, with the reason for each kept version
(the library's ``Repository.plan_purge``; the retention rule lives there only)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from .. import constants
from ._connection import Connection


@dataclasses.dataclass(frozen=True)
class Kept:
    artifact: Any
    reason: str


@dataclasses.dataclass(frozen=True)
class Plan:
    """The versions a purge at ``purge_time`` deletes, and those it keeps (and why)."""

    purge_time: datetime
    delete: list[Any]
    keep: list[Kept]

    def rows(self) -> list[tuple[Any, str, str]]:
        """(artifact, "delete" or "keep", reason), LATEST first, then newest first."""
        rows = [(artifact, "delete", "") for artifact in self.delete]
        rows += [(kept.artifact, "keep", kept.reason) for kept in self.keep]
        return sorted(rows, key=lambda row: _newest_first(row[0].version))


def _newest_first(version: str) -> int:
    return -(constants.MAX_VERSION + 1) if version == constants.LATEST_VERSION else -int(version)


def plan_purge(conn: Connection, name: str, keep_last_n: int, older_than_secs: int) -> Plan:
    """The plan of ``purge_artifact_versions`` with these rules, computed without writing."""
    plan = conn.repo.plan_purge(
        name=name,
        keep_last_n=keep_last_n,
        purge_older_than_secs=older_than_secs,
        bsm=conn.bsm,
    )
    return Plan(
        purge_time=plan.purge_time,
        delete=list(plan.delete),
        keep=[Kept(kept.artifact, kept.reason) for kept in plan.keep],
    )
