"""The request pool (``versioned._pool``): every call runs, results keep the calls' order,
the first failure (in the calls' order) is raised once every call has finished, and the
calls do run at once (one round trip, not one per call)."""

from __future__ import annotations

import threading

import pytest

from versioned import _pool


def test_fan_out_keeps_order_and_runs_every_item() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def square(n: int) -> int:
        with lock:
            seen.append(n)
        return n * n

    items = list(range(50))  # more items than workers: threads take the next in turn
    assert _pool.fan_out(square, items) == [n * n for n in items]
    assert sorted(seen) == items
    assert _pool.fan_out(square, []) == []
    assert _pool.fan_out(square, [7]) == [49]


def test_fan_out_runs_the_calls_at_once() -> None:
    """Each call waits for all the others to start: only concurrent calls get through."""
    count = 5
    barrier = threading.Barrier(count, timeout=30)
    threads: set[int] = set()

    def meet(_: int) -> int:
        threads.add(threading.get_ident())
        return barrier.wait()

    assert sorted(_pool.fan_out(meet, range(count))) == list(range(count))
    assert threading.get_ident() in threads and len(threads) == count


def test_the_first_failure_in_order_is_raised_after_every_call() -> None:
    finished: list[int] = []
    release = threading.Event()

    def call(n: int) -> int:
        if n == 0:
            release.wait(30)  # the first item fails last
            raise KeyError(n)
        if n == 3:
            release.set()
            raise ValueError(n)
        finished.append(n)
        return n

    with pytest.raises(KeyError):
        _pool.fan_out(call, range(6))
    assert sorted(finished) == [1, 2, 4, 5]


def test_parallel_returns_each_result_in_place() -> None:
    first, second, third = _pool.parallel(lambda: 1, lambda: "two", lambda: [3])
    assert (first, second, third) == (1, "two", [3])
    with pytest.raises(RuntimeError, match="second"):
        _pool.parallel(lambda: 1, lambda: (_ for _ in ()).throw(RuntimeError("second")))
