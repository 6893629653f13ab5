"""An alias's history: every change, newest first (``Repository.list_alias_history``)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Final

#: what a change did: ``put`` (a new target or split), ``delete``, ``rollback`` (back to
#: an earlier recorded state), ``rollout`` (a step or the abort of a progressive rollout)
PUT: Final = "put"
DELETE: Final = "delete"
ROLLBACK: Final = "rollback"
ROLLOUT: Final = "rollout"
ACTIONS: Final = (PUT, DELETE, ROLLBACK, ROLLOUT)


@dataclasses.dataclass(frozen=True)
class AliasChange:
    """One change of ``alias``: its revision and time, the target after the change
    (``version`` is None after a delete), what did it, who, and why."""

    name: str
    alias: str
    revision: str
    changed_at: datetime
    version: int | str | None
    secondary_version: int | None
    secondary_version_weight: int | None
    action: str
    actor: str
    reason: str | None = None
