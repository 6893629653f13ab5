"""Who makes a change, as alias history records it."""

from __future__ import annotations

import getpass
import os

#: names the actor of every change, whatever the credentials
ACTOR_ENV = "VERSIONED_ACTOR"


def os_user() -> str:
    """The operating system's user name, or "unknown" when it has none."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def from_environment() -> str | None:
    """``VERSIONED_ACTOR`` when it is set to something other than blanks."""
    value = os.environ.get(ACTOR_ENV, "").strip()
    return value or None
