"""Watching an alias: a daemon thread that polls it and reports each change.

Each poll is one request (:meth:`Engine.poll_alias`: 304 when unchanged on S3-only, one
GetItem on S3 + DynamoDB). A failed poll is retried with exponential backoff (the
interval doubled per failure, at most :data:`MAX_BACKOFF_SECS`) and reported to
``on_error``; an ``on_change`` that raises is reported the same way. Neither ends the
thread: only :meth:`Watcher.stop` does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ._layouts import AliasPoll, AliasRecord
from .exc import AliasNotFoundError

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECS = 300.0

#: ``poll(revision)``: has the alias changed since ``revision``? (one request)
Poll = Callable[[str | None], AliasPoll]


def log_error(error: BaseException) -> None:
    """The default ``on_error``: a WARNING on the ``versioned`` logger."""
    logger.warning("watching an alias failed: %s", error, exc_info=error)


class Watcher:
    """Polls one alias every ``interval_secs`` in a daemon thread and calls
    ``on_change(alias)`` after each change. ``poll_now()`` runs one poll in the calling
    thread (tests and callers that drive polls themselves); ``stop()`` ends the thread.
    ``errors`` counts the failures reported, ``last_error`` holds the latest."""

    def __init__(
        self,
        poll: Poll,
        baseline: AliasRecord,
        on_change: Callable[[Any], object],
        convert: Callable[[AliasRecord], Any],
        interval_secs: float,
        on_error: Callable[[BaseException], object] | None = None,
    ) -> None:
        if isinstance(interval_secs, bool) or not isinstance(interval_secs, int | float):
            raise TypeError("interval_secs must be a number")
        if interval_secs <= 0:
            raise ValueError("interval_secs must be > 0")
        self.name, self.alias = baseline.name, baseline.alias
        self.revision: str | None = baseline.fingerprint
        self.interval_secs = float(interval_secs)
        self.errors = 0
        self.last_error: BaseException | None = None
        self._poll, self._on_change, self._convert = poll, on_change, convert
        self._on_error = on_error or log_error
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, name=f"versioned-watch-{self.name}-{self.alias}", daemon=True
        )

    def start(self) -> Watcher:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float | None = 10.0) -> None:
        """End the polling thread (waits up to ``timeout`` for a poll under way)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def poll_now(self) -> bool:
        """Poll once; True when the alias changed (``on_change`` was then called).
        Raises what the poll raised (the thread reports it instead)."""
        with self._lock:
            result = self._poll(self.revision)
            if not result.changed:
                return False
            if result.record is None:
                was_there, self.revision = self.revision is not None, None
                if was_there:
                    self._report(
                        AliasNotFoundError(f"alias {self.alias!r} of {self.name!r} was deleted")
                    )
                return False
            self.revision = result.record.fingerprint
            alias = self._convert(result.record)
        try:
            self._on_change(alias)
        except Exception as error:  # the callback's failure must not end the watch
            self._report(error)
        return True

    def _report(self, error: BaseException) -> None:
        self.errors += 1
        self.last_error = error
        try:
            self._on_error(error)
        except Exception:  # a failing reporter is logged, never the end of the thread
            logger.exception("on_error raised while reporting %s", error)

    def _run(self) -> None:
        delay, failures = self.interval_secs, 0
        while not self._stop.wait(delay):
            try:
                self.poll_now()
            except Exception as error:
                failures += 1
                self._report(error)
                delay = min(
                    self.interval_secs * 2 ** min(failures, 16),
                    max(MAX_BACKOFF_SECS, self.interval_secs),
                )
                logger.debug("watch poll failed (%d in a row); next in %.1fs", failures, delay)
            else:
                delay, failures = self.interval_secs, 0
