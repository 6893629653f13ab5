"""LATEST's write queue: puts and publishes of one artifact take turns.

A writer takes a ticket (one conditional UpdateItem on the LATEST item that also detects
unchanged content, and stores the ticket under the writer's token so a retried request
finds it), waits until the turns before it are done, does its work, and ends its turn.
A turn watched for longer than ``lease_secs`` is skipped and LATEST marked ``unverified``
(its holder may have written bytes it never recorded). Every write that ends a turn is
built here (:meth:`Turn.ending`, :meth:`TurnQueue.pass_turn`, :meth:`TurnQueue._skip`):
one place where a turn ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import random
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .. import _dynamodb, _model
from .._model import LATEST
from .._retry import RetryPolicy, exhausted, pause
from .._session import Session
from . import VersionRecord
from .dynamodb_items import (
    PUT_DONE,
    PUT_NEXT,
    PUT_SINCE,
    UNVERIFIED,
    LatestItem,
    Queue,
    read_latest,
    stored_time,
    ticket_attribute,
)
from .dynamodb_keys import DynamoDBPlace

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Turn:
    """LATEST's write turn, held: our ticket, our token, and the item as the turn came."""

    name: str
    ticket: int
    token: str
    latest: LatestItem

    def ending(
        self, sets: list[str], removes: list[str], values: dict[str, Any], *, since: str
    ) -> _dynamodb.Update:
        """An UpdateItem of LATEST that applies ``sets``/``removes`` and ends this turn,
        if the turn is still ours (``values`` must not bind :ticket, :previous, :since)."""
        return _dynamodb.Update(
            pk=self.name,
            sk=LATEST,
            expression="SET "
            + ", ".join([*sets, f"{PUT_DONE} = :ticket", f"{PUT_SINCE} = :since"])
            + " REMOVE "
            + ", ".join(["#ticket", *removes]),
            condition=f"{PUT_DONE} = :previous",
            values={**values, "ticket": self.ticket, "previous": self.ticket - 1, "since": since},
            names={"#ticket": ticket_attribute(self.token)},
        )


#: answers a caller whose content is unchanged (None: queue after all)
WhenUnchanged = Callable[[LatestItem], VersionRecord | None]
#: the work done in a turn (None: start over in a new turn)
Work = Callable[[Turn], VersionRecord | None]


class TurnQueue:
    """The write queue of every LATEST item in one table."""

    def __init__(self, place: DynamoDBPlace, lease_secs: float, retry: RetryPolicy) -> None:
        self.place = place
        self.lease_secs = lease_secs
        self.retry = retry

    def run(
        self,
        session: Session,
        name: str,
        operation: str,
        unchanged: tuple[str, dict[str, Any], WhenUnchanged],
        work: Work,
        *,
        writes_latest: bool = False,
    ) -> VersionRecord:
        """Queue for LATEST's turn unless ``unchanged`` = (condition, its values, answer)
        holds (then the answer, or None to queue after all); do ``work`` in the turn.

        A failing turn is passed on (LATEST marked unverified when ``work`` writes its
        bytes: they may have landed unrecorded); a skipped one queues again. Raises
        ContentionError (operation, ``{name}/LATEST``, attempts) once ``self.retry`` is
        spent. Requests: 1 for the ticket, then a GetItem per poll while others hold it."""
        condition, values, when_unchanged = unchanged
        for attempt in self.retry.attempts(operation, f"{name}/LATEST"):
            token = uuid.uuid4().hex
            ticket, latest = self._take_ticket(session, name, token, condition, values)
            if ticket is None:
                answer = when_unchanged(latest)
                if answer is not None:
                    return answer
                attempt.conflict("the unchanged answer no longer held")
                continue
            turn = self._wait(session, Turn(name, ticket, token, latest), operation)
            if turn is None:
                attempt.conflict(f"our turn {ticket} was skipped (presumed dead)")
                continue
            try:
                result = work(turn)
            except BaseException:
                self.pass_turn(session, turn, unverified=writes_latest)
                raise
            if result is not None:
                return result
            attempt.conflict("the turn ended without a result")
        raise AssertionError("unreachable")

    def _take_ticket(
        self, session: Session, name: str, token: str, unchanged: str, values: dict[str, Any]
    ) -> tuple[int | None, LatestItem]:
        """Take a turn unless ``unchanged`` holds (then nothing is written). Returns (our
        ticket, the item) or (None, the item as it is). A retry whose first attempt was
        applied finds its ticket under its token."""
        change = _dynamodb.Update(
            pk=name,
            sk=LATEST,
            expression=(
                f"SET {PUT_NEXT} = if_not_exists({PUT_NEXT}, :zero) + :one, "
                f"#ticket = if_not_exists({PUT_NEXT}, :zero) + :one, "
                f"{PUT_DONE} = if_not_exists({PUT_DONE}, :zero), "
                f"{PUT_SINCE} = if_not_exists({PUT_SINCE}, :now)"
            ),
            condition=f"attribute_not_exists(#ticket) AND NOT ({unchanged})",
            values={"zero": 0, "one": 1, "now": stored_time(_model.utc_now()), **values},
            names={"#ticket": ticket_attribute(token)},
        )
        table = self.place.table
        try:
            stored = _dynamodb.update(session.dynamodb, table, change, return_new=True)
        except _dynamodb.ConditionFailed as failed:
            old = failed.item if failed.known else None
            if old is None:  # a server that does not return the item
                old = _dynamodb.get(session.dynamodb, table, name, LATEST)
            latest = read_latest(name, old, table)
            return latest.queue.ticket_of(token), latest
        latest = read_latest(name, stored, table)
        return latest.queue.ticket_of(token), latest

    def _wait(self, session: Session, turn: Turn, operation: str) -> Turn | None:
        """Poll until the turn before ours is done; skip a turn held longer than
        ``lease_secs``. None if our own turn was skipped (we were presumed dead).

        A turn's age is what this waiter has seen of it, on its own monotonic clock:
        the time since it first saw the queue in its present state (``put_done`` and
        ``put_since``, compared for equality). No stored time is compared with this
        machine's clock, so writers whose clocks are off neither skip a live turn early
        nor wait forever for a dead one. Waiters sleep for about the time the turns ahead
        should take (measured from how fast the queue moves). Bounded by the policy's
        deadline: ContentionError when it passes (our ticket is then skipped like a dead
        writer's)."""
        pace = _Pace(turn.latest.queue)
        deadline = time.monotonic() + self.retry.deadline_secs
        latest = turn.latest
        for polls in itertools.count(1):
            queue = latest.queue
            pace.observe(queue)
            if queue.done == turn.ticket - 1:
                return dataclasses.replace(turn, latest=latest)
            if queue.done >= turn.ticket:
                logger.debug("%s: turn %d of %r was taken over", operation, turn.ticket, turn.name)
                return None
            if time.monotonic() > deadline:
                why = f"turn {queue.done + 1} was still held"
                raise exhausted(
                    f"{operation} (waiting for a turn)", f"{turn.name}/LATEST", polls, why
                )
            if pace.lease_passed(self.lease_secs):
                self._skip(session, turn.name, queue, operation)
            else:
                pause(pace.sleep(turn.ticket - 1 - queue.done))
            fresh = _dynamodb.get(session.dynamodb, self.place.table, turn.name, LATEST)
            if fresh is None:
                return None
            latest = read_latest(turn.name, fresh, self.place.table)
        raise AssertionError("unreachable")

    def _skip(self, session: Session, name: str, queue: Queue, operation: str) -> None:
        """End a turn whose holder is presumed dead. It may have written LATEST's bytes
        without recording them: mark LATEST unverified until the next holder checks."""
        dead = queue.holders_of(queue.done + 1)
        removes = f" REMOVE {', '.join(f'#d{i}' for i in range(len(dead)))}" if dead else ""
        change = _dynamodb.Update(
            pk=name,
            sk=LATEST,
            expression=f"SET {PUT_DONE} = :next, {PUT_SINCE} = :now, {UNVERIFIED} = :t{removes}",
            condition=f"{PUT_DONE} = :done",
            values={
                "next": queue.done + 1,
                "now": stored_time(_model.utc_now()),
                "t": True,
                "done": queue.done,
            },
            names={f"#d{i}": attribute for i, attribute in enumerate(dead)},
        )
        logger.debug(
            "%s: skipping turn %d of %r (held longer than %.1f s)",
            operation,
            queue.done + 1,
            name,
            self.lease_secs,
        )
        # someone else moved the queue on
        with contextlib.suppress(_dynamodb.ConditionFailed):
            _dynamodb.update(session.dynamodb, self.place.table, change)

    def pass_turn(self, session: Session, turn: Turn, *, unverified: bool = False) -> None:
        """End our turn without a commit; ``unverified``: we may have written LATEST's
        bytes without recording them (the next holder looks at the object). 1 request."""
        sets, values = ([f"{UNVERIFIED} = :t"], {"t": True}) if unverified else ([], {})
        change = turn.ending(sets, [], values, since=stored_time(_model.utc_now()))
        # applied already (a retry), or our turn was skipped
        with contextlib.suppress(_dynamodb.ConditionFailed):
            _dynamodb.update(session.dynamodb, self.place.table, change)

    def commit(self, session: Session, turn: Turn, change: _dynamodb.Update) -> LatestItem | None:
        """Send a commit built by :meth:`Turn.ending`. None when it was applied, or
        refused because it was applied already (a retry) or our turn was skipped (the
        next holder checks LATEST's bytes). Otherwise LATEST's item as it is: another
        client replaced it under our turn (the seed's library writes without
        conditions), and the caller must make it true. 1 request (+ a GetItem when the
        server does not return the refused item)."""
        table = self.place.table
        try:
            _dynamodb.update(session.dynamodb, table, change)
            return None
        except _dynamodb.ConditionFailed as failed:
            old = failed.item if failed.known else None
            if old is None:
                old = _dynamodb.get(session.dynamodb, table, turn.name, LATEST)
        latest = read_latest(turn.name, old, table)
        if old is not None and PUT_DONE in old and latest.queue.done >= turn.ticket:
            return None  # our commit was applied, or our turn skipped
        logger.debug("turn %d of %r: LATEST's item was replaced", turn.ticket, turn.name)
        return latest


class _Pace:
    """How fast the queue moves, and for how long this waiter has seen the turn it is
    on unchanged: the turn number and ``put_since`` (compared for equality only, never
    with this machine's clock), first seen at a time of this waiter's monotonic clock."""

    def __init__(self, queue: Queue) -> None:
        self.seconds_per_turn = 0.05
        self.last_done, self.last_time = queue.done, time.monotonic()
        self.state, self.state_seen = _holder_state(queue), self.last_time

    def observe(self, queue: Queue) -> None:
        now = time.monotonic()
        done = queue.done
        if done > self.last_done:
            observed = (now - self.last_time) / (done - self.last_done)
            self.seconds_per_turn = 0.5 * self.seconds_per_turn + 0.5 * observed
            self.last_done, self.last_time = done, now
        state = _holder_state(queue)
        if state != self.state:
            self.state, self.state_seen = state, now

    def lease_passed(self, lease_secs: float) -> bool:
        """The turn on has been seen unchanged, by this waiter's monotonic clock, for
        longer than the lease."""
        return time.monotonic() - self.state_seen > lease_secs

    def sleep(self, ahead: int) -> float:
        return min(2.0, max(0.005, ahead * self.seconds_per_turn * random.uniform(0.6, 0.9)))


def _holder_state(queue: Queue) -> tuple[int, datetime | None]:
    """An opaque version of the turn on: it changes whenever the turn ends or is skipped
    (``put_done`` and ``put_since`` are written together), or the item is replaced."""
    return queue.done, queue.since
