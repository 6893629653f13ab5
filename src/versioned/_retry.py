"""The library's one retry policy for optimistic protocols: attempts with jittered
exponential backoff until a deadline, then ContentionError."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

from .exc import ContentionError

#: how long a call keeps retrying against concurrent writers before giving up
DEADLINE_SECS = 120.0


def attempts(
    what: str, *, deadline_secs: float = DEADLINE_SECS, base: float = 0.005, cap: float = 0.5
) -> Iterator[int]:
    """Yield attempt numbers 0, 1, 2...; sleep between them (full jitter, doubling from
    ``base`` up to ``cap``). When ``deadline_secs`` have passed, raise ContentionError
    saying ``what`` could not be done; nothing half-done is left by the caller."""
    deadline = time.monotonic() + deadline_secs
    attempt = 0
    while True:
        yield attempt
        if time.monotonic() > deadline:
            raise ContentionError(
                f"{what}: concurrent writers kept interfering for {deadline_secs:.0f}s; "
                "nothing was changed by this call. Retry later."
            )
        time.sleep(random.uniform(0, min(cap, base * 2**attempt)))
        attempt += 1


def pause(seconds: float) -> None:
    """Wait while another writer finishes (the one place the protocols sleep)."""
    time.sleep(max(0.0, seconds))
