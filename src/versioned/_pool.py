"""A typed thread pool for independent requests: one round trip instead of several.

``parallel`` runs a few different calls at once and returns their results as a tuple of
their own types; ``fan_out`` maps one function over many items. Both wait for every call,
then raise the first failure (in the order of the calls).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, overload

#: threads for metadata fan-out (HEADs, small GETs), which cost no memory
FANOUT_WORKERS = 16

Item = TypeVar("Item")
Result = TypeVar("Result")
First = TypeVar("First")
Second = TypeVar("Second")
Third = TypeVar("Third")
Fourth = TypeVar("Fourth")


def fan_out(function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
    """``[function(item) for item in items]`` on up to FANOUT_WORKERS threads besides the
    calling one, which takes items too (the first of them at once). Plain threads taking
    the next item in turn, rather than an executor per call: starting an executor and its
    thread costs about 0.17 ms of CPU here, a bare thread 0.07 ms, and a single-request
    call's own work is about as much (benchmarks/client_cpu.py)."""
    count = len(items)
    if count <= 1:
        return [function(item) for item in items]
    outcomes: list[tuple[bool, Any]] = [(False, None)] * count
    lock = threading.Lock()
    taken = itertools.count()

    def work() -> None:
        while True:
            with lock:
                index = next(taken)
            if index >= count:
                return
            try:
                outcomes[index] = (True, function(items[index]))
            except BaseException as error:  # raised in the calling thread, in order
                outcomes[index] = (False, error)

    workers = [
        threading.Thread(target=work, name="versioned-fan-out", daemon=True)
        for _ in range(min(FANOUT_WORKERS, count - 1))
    ]
    for worker in workers:
        worker.start()
    work()
    for worker in workers:
        worker.join()
    for succeeded, value in outcomes:
        if not succeeded:
            raise value
    return [value for _, value in outcomes]


@overload
def parallel(
    first: Callable[[], First], second: Callable[[], Second], /
) -> tuple[First, Second]: ...


@overload
def parallel(
    first: Callable[[], First], second: Callable[[], Second], third: Callable[[], Third], /
) -> tuple[First, Second, Third]: ...


@overload
def parallel(
    first: Callable[[], First],
    second: Callable[[], Second],
    third: Callable[[], Third],
    fourth: Callable[[], Fourth],
    /,
) -> tuple[First, Second, Third, Fourth]: ...


@overload
def parallel(*calls: Callable[[], Any]) -> tuple[Any, ...]: ...


def parallel(*calls: Callable[[], Any]) -> tuple[Any, ...]:
    """Run independent requests at once; their results in order, each of its own type.
    The first failure is raised once all have finished."""
    return tuple(fan_out(_call, list(calls)))


def _call(function: Callable[[], Result]) -> Result:
    return function()
