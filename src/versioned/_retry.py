"""The library's one retry policy: every bounded loop goes through it.

A loop is written as::

    for attempt in policy.attempts("publish", f"{name}/state.json"):
        loaded = load()
        if write(loaded):
            return result
        attempt.conflict("state.json changed since it was read")

Between attempts the policy sleeps (full jitter, doubling from ``base_secs`` up to
``cap_secs``) and logs one DEBUG line on the ``versioned`` logger naming the operation, the
record and why it retries. When ``max_attempts`` are spent or ``deadline_secs`` have passed
it raises :class:`~versioned.exc.ContentionError` naming the operation, the record and the
attempts made: no loop gives up silently.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

from .exc import ContentionError, ValidationError

logger = logging.getLogger("versioned")

#: how long a call keeps retrying against concurrent writers before giving up
DEADLINE_SECS = 120.0


@dataclasses.dataclass
class Attempt:
    """One pass of a retried loop. ``number`` counts from 0; ``conflict`` records why the
    pass did not finish (logged when the next pass starts)."""

    number: int
    reason: str = "retrying"

    def conflict(self, reason: str) -> None:
        """Say why this pass must be retried (a CAS conflict, a taken turn...)."""
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter.

    ``deadline_secs``: give up once this long has passed since the first attempt.
    ``max_attempts``: give up after this many attempts (None: only the deadline bounds).
    ``base_secs``/``cap_secs``: the first and the longest pause between attempts.
    """

    deadline_secs: float = DEADLINE_SECS
    max_attempts: int | None = None
    base_secs: float = 0.005
    cap_secs: float = 0.5

    def __post_init__(self) -> None:
        for field in ("deadline_secs", "base_secs", "cap_secs"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"RetryPolicy.{field} must be a number")
            if not math.isfinite(value) or value < 0:
                raise ValidationError(f"RetryPolicy.{field} must be finite and >= 0")
        if self.max_attempts is not None and (
            isinstance(self.max_attempts, bool)
            or not isinstance(self.max_attempts, int)
            or self.max_attempts < 1
        ):
            raise ValidationError("RetryPolicy.max_attempts must be an int >= 1 or None")

    def delay(self, attempt: int) -> float:
        """The pause before attempt ``attempt + 1`` (full jitter)."""
        return random.uniform(0, min(self.cap_secs, self.base_secs * 2 ** min(attempt, 30)))

    def attempts(
        self, operation: str, record: str, *, max_attempts: int | None = None, wait: bool = True
    ) -> Iterator[Attempt]:
        """Yield :class:`Attempt` objects until the caller leaves the loop; raise
        ContentionError once the attempts or the deadline are spent. ``max_attempts``
        overrides the policy's for one loop; ``wait=False`` retries without pausing (for a
        loop whose pass already waited, such as one that re-reads after a lost race)."""
        limit = max_attempts if max_attempts is not None else self.max_attempts
        if max_attempts is not None and self.max_attempts is not None:
            limit = min(max_attempts, self.max_attempts)
        deadline = time.monotonic() + self.deadline_secs
        number = 0
        while True:
            attempt = Attempt(number)
            yield attempt
            number += 1
            if (limit is not None and number >= limit) or time.monotonic() > deadline:
                raise exhausted(operation, record, number, attempt.reason)
            logger.debug("%s %s: %s; attempt %d", operation, record, attempt.reason, number + 1)
            if wait:
                time.sleep(self.delay(number - 1))


def exhausted(operation: str, record: str, attempts: int, reason: str) -> ContentionError:
    """The one error for a loop that gave up."""
    return ContentionError(
        f"{operation} on {record}: gave up after {attempts} attempts ({reason}); "
        "concurrent writers kept interfering and nothing half-done was left. Retry later.",
        operation=operation,
        record=record,
        attempts=attempts,
    )


#: the policy a repository uses unless it is given another
DEFAULT = RetryPolicy()


def pause(seconds: float) -> None:
    """Wait while another writer finishes (the one place the protocols sleep)."""
    time.sleep(max(0.0, seconds))


def log_request_retries(client: Any) -> None:
    """Log at DEBUG, on the ``versioned`` logger, every request botocore sends again (its
    standard retry mode: throttling, 5xx, connection errors), with why the attempt before
    failed. The attempt number comes from the ``amz-sdk-request`` header botocore sets on
    each attempt; the failure is noted, per thread, when botocore decides on a retry."""
    failures = threading.local()

    def noted(attempts: int, response: Any = None, caught_exception: Any = None, **_: Any) -> None:
        if caught_exception is not None:
            failures.last = type(caught_exception).__name__
        elif response is not None:
            status, error = response[0].status_code, response[1].get("Error", {})
            failures.last = f"{status} {error.get('Code', '')}".strip()
        return None  # an observer: botocore's own handler decides

    def resent(request: Any, event_name: str = "", **_: Any) -> None:
        header = request.headers.get("amz-sdk-request", b"")
        fields = dict(
            part.strip().split("=", 1)
            for part in (header.decode() if isinstance(header, bytes) else header).split(";")
            if "=" in part
        )
        if int(fields.get("attempt", "1")) > 1:
            logger.debug(
                "%s sent again (attempt %s of %s) after %s: %s",
                event_name.removeprefix("before-send."),
                fields.get("attempt"),
                fields.get("max", "?"),
                getattr(failures, "last", "a failure"),
                request.url,
            )
        return None  # an observer: sending goes on

    client.meta.events.register("needs-retry", noted)
    client.meta.events.register("before-send", resent)
