"""Clock skew between writers: a worker whose wall clock is an hour ahead or behind
(_chaosworker.skew_clock: the machine's clock as the library reads it, ``datetime.now``;
monotonic time is not moved by a wrong wall clock, and requests are signed with the
true time, as an SDK that corrects for skew from the server's Date does).

The rules that read a wall clock (grep ``utc_now`` in src/versioned):
- S3 + DynamoDB, LATEST's write queue: none (a turn is skipped once a waiter has seen
  it unchanged for ``lease_secs`` of its own monotonic clock; ``put_since``, written
  from the wall clock of the writer that ended the turn before, is only compared for
  equality);
- the times recorded for aliases (the writer's clock). Versions record the server's
  (their object's LastModified, in both layouts), and
  ``purge_artifact_versions(purge_older_than_secs=...)`` measures their age against the
  server's clock (the Date of the purge's own responses), not the caller's.
A skewed writer must neither take a live turn nor wait forever for a dead one, nor make
others wait forever; numbers, LATEST, ``keep_last_n`` and the winning alias write follow
the order of the calls, not the clocks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from _chaoskit import Background, Ops, Place, RawStore, Worker, Zygote, attempt, encode_content
from _faultproxy import FaultProxy, Request
from _testkit import LAYOUTS, Endpoints
from _testkit import sha256_hex as sha

HOUR = 3600.0
SKEWS = [pytest.param(HOUR, id="ahead"), pytest.param(-HOUR, id="behind")]
LEASE = 0.5  # S3 + DynamoDB: a dead turn costs this much
DEADLINE = 2.5  # the retry deadline: a waiter that cannot skip a dead turn raises after it
CONTENTS = [f"clock content {i} ".encode() * (20 + i) for i in range(8)]


@pytest.fixture(scope="module")
def zygotes() -> Iterator[dict[float, Zygote]]:
    """Worker factories by clock skew (0: a true clock)."""
    started = {skew: Zygote(clock_skew_secs=skew) for skew in (0.0, HOUR, -HOUR)}
    yield started
    for zygote in started.values():
        zygote.close()


@pytest.fixture
def spawn(zygotes: dict[float, Zygote]) -> Iterator[Callable[[float], Worker]]:
    """spawn(skew) -> a ready worker whose wall clock is ``skew`` seconds off."""
    used: list[Worker] = []

    def make(skew: float) -> Worker:
        worker = Worker(zygote=zygotes[skew])
        used.append(worker)
        worker.ready()
        return worker

    yield make
    for worker in used:
        worker.kill()


def call(worker: Worker, place: Place, url: Any, op: str, **args: Any) -> Any:
    """Run ``op`` in ``worker``; its value (the test fails if it raised)."""
    worker.send(place, url, op, **args)
    answer = worker.result(60)
    assert answer is not None and answer.get("ok"), answer
    return answer["value"]


def _latest_put(place: Place) -> Callable[[Request], bool]:
    key = f"/{place.bucket}/{place.root}app/LATEST{place.suffix}"
    return lambda r: r.service == "s3" and r.method == "PUT" and r.path == key


def kill_holding_a_turn(worker: Worker, place: Place, proxy: FaultProxy, content: bytes) -> None:
    """The worker takes LATEST's turn for a put and is SIGKILLed before its S3 write."""
    rule = proxy.add("hold", when=_latest_put(place))
    worker.send(place, proxy.url, "put", name="app", content=encode_content(content))
    held = rule.wait(30)
    worker.kill()
    held.release("discard")
    proxy.remove(rule)


# ---------------------------------------------------------------- the clock itself
@pytest.mark.parametrize("skew", SKEWS)
def test_a_skewed_worker_reads_a_skewed_clock(
    skew: float,
    spawn: Callable[[float], Worker],
    make_repo: Callable[..., Ops],
    endpoints: Endpoints,
) -> None:
    """Guard: the library in a skewed worker reads the skewed time, and still talks to
    the servers (its requests are signed with the true time)."""
    worker = spawn(skew)
    ops = make_repo("s3_only")
    seen = datetime.fromisoformat(call(worker, ops.place, endpoints, "utc_now"))
    off = (seen - datetime.now(UTC)).total_seconds()
    assert abs(off - skew) < 60, off
    put = call(worker, ops.place, endpoints, "put", name="app", content=encode_content(b"x"))
    assert put["sha256"] == sha(b"x")


# ---------------------------------------------------------------- LATEST's write queue
@pytest.mark.parametrize("skew", SKEWS)
def test_a_skewed_writer_does_not_take_a_live_turn(
    skew: float,
    spawn: Callable[[float], Worker],
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
    endpoints: Endpoints,
) -> None:
    """A put of ours holds LATEST's turn, paused at its S3 write for well under the
    lease (3 s); the skewed writer's put queues behind it and must still be waiting
    when ours goes on (an hour-old ``put_since`` by its clock is not a dead turn), and
    both land in order: LATEST records the skewed writer's content, whole."""
    ops = make_repo("s3_dynamodb", lease_secs=3)
    place = ops.place
    ops.put("app", CONTENTS[0])
    proxy = make_proxy()
    client = via(place, proxy)
    rule = proxy.add("hold", when=_latest_put(place))
    ours = Background(lambda: client.put("app", CONTENTS[1]), "ours")
    held = rule.wait(30)
    worker = spawn(skew)
    worker.send(place, endpoints, "put", name="app", content=encode_content(CONTENTS[2]))
    early = worker.result(1.0)  # within the live turn's lease: it must wait
    held.release("forward")
    outcome = ours.result(30)
    late = early or worker.result(30)
    assert outcome is not None and outcome.ok, outcome
    assert late is not None and late.get("ok"), late
    assert early is None, f"the skewed writer finished during a live turn: {early}"
    assert raw.torn(place, "app") == []
    assert ops.get("app").sha256 == sha(CONTENTS[2])


@pytest.mark.parametrize("skew", SKEWS)
def test_a_skewed_writer_skips_a_dead_turn(
    skew: float,
    spawn: Callable[[float], Worker],
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    raw: RawStore,
    endpoints: Endpoints,
) -> None:
    """A true-clock writer dies holding LATEST's turn; the skewed writer's put must skip
    the dead turn after the lease (0.5 s), well before its retry deadline (2.5 s)."""
    ops = make_repo("s3_dynamodb", lease_secs=LEASE, retry_deadline_secs=DEADLINE)
    place = ops.place
    ops.put("app", CONTENTS[0])
    kill_holding_a_turn(spawn(0.0), place, make_proxy(), CONTENTS[1])
    worker = spawn(skew)
    started = time.monotonic()
    worker.send(place, endpoints, "put", name="app", content=encode_content(CONTENTS[2]))
    answer = worker.result(60)
    elapsed = time.monotonic() - started
    assert answer is not None and answer.get("ok"), f"after {elapsed:.1f} s: {answer}"
    assert elapsed < DEADLINE, f"the put waited {elapsed:.1f} s for a dead turn"
    assert ops.get("app").sha256 == sha(CONTENTS[2])
    assert raw.torn(place, "app") == []


@pytest.mark.parametrize("skew", SKEWS)
def test_a_skewed_writers_turn_end_does_not_block_the_next_dead_turn(
    skew: float,
    spawn: Callable[[float], Worker],
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    raw: RawStore,
    endpoints: Endpoints,
) -> None:
    """The skewed writer puts (its turn's end records its clock); then a true-clock
    writer dies holding the next turn; a true-clock put (ours) must skip that dead turn
    after the lease, well before its retry deadline."""
    ops = make_repo("s3_dynamodb", lease_secs=LEASE, retry_deadline_secs=DEADLINE)
    place = ops.place
    ops.put("app", CONTENTS[0])
    call(spawn(skew), place, endpoints, "put", name="app", content=encode_content(CONTENTS[1]))
    kill_holding_a_turn(spawn(0.0), place, make_proxy(), CONTENTS[2])
    started = time.monotonic()
    outcome = attempt(lambda: ops.put("app", CONTENTS[3]))
    elapsed = time.monotonic() - started
    assert outcome.ok, f"after {elapsed:.1f} s: {outcome.describe()}"
    assert elapsed < DEADLINE, f"the put waited {elapsed:.1f} s for a dead turn"
    assert ops.get("app").sha256 == sha(CONTENTS[3])
    assert raw.torn(place, "app") == []


# ---------------------------------------------------------------- orders and ages
@pytest.mark.parametrize("kind", LAYOUTS)
def test_orders_follow_the_calls_not_the_clocks(
    kind: str,
    spawn: Callable[[float], Worker],
    make_repo: Callable[..., Ops],
    raw: RawStore,
    endpoints: Endpoints,
) -> None:
    """A true-clock writer (ours) and writers an hour ahead and behind take turns to put
    and publish, and to move alias prod. Numbers follow the calls, LATEST is the last
    put, the newest number the last publish, ``keep_last_n`` keeps the highest numbers
    whatever their recorded times, and prod routes to the last write."""
    ops = make_repo(kind, **({"lease_secs": 3} if kind == "s3_dynamodb" else {}))
    place = ops.place
    writers = {0.0: None, HOUR: spawn(HOUR), -HOUR: spawn(-HOUR)}
    order = [0.0, HOUR, -HOUR, 0.0, -HOUR, HOUR]
    for number, skew in enumerate(order, start=1):
        content = CONTENTS[number]
        worker = writers[skew]
        if worker is None:
            ops.put("app", content)
            published = {"version": ops.publish("app").version}
        else:
            call(worker, place, endpoints, "put", name="app", content=encode_content(content))
            published = call(worker, place, endpoints, "publish", name="app")
        assert published["version"] == str(number), (skew, published)
        alias = ("prod", number)
        if worker is None:
            ops.put_alias("app", alias[0], version=alias[1])
        else:
            call(worker, place, endpoints, "put_alias", name="app", alias=alias[0], version=number)
        assert ops.get_alias("app", "prod").version == str(number), f"after {skew:+}"
    assert ops.latest_number("app") == len(order)
    assert ops.get("app").sha256 == sha(CONTENTS[len(order)])
    listed = [(a.version, a.sha256) for a in ops.versions("app") if a.version != "LATEST"]
    assert listed == [(str(n), sha(CONTENTS[n])) for n in range(len(order), 0, -1)]


def _ages() -> list[Any]:
    """(layout, the purger's skew, the publisher's skew): one of the two an hour off."""
    cases = []
    for kind in LAYOUTS:
        for who in ("purger", "publisher"):
            for skew in (HOUR, -HOUR):
                way = "ahead" if skew > 0 else "behind"
                purger, publisher = (skew, 0.0) if who == "purger" else (0.0, skew)
                cases.append(pytest.param(kind, purger, publisher, id=f"{kind}-{who}-{way}"))
    return cases


@pytest.mark.parametrize(("kind", "purger", "publisher"), _ages())
def test_a_versions_age_does_not_depend_on_a_writers_clock(
    kind: str,
    purger: float,
    publisher: float,
    spawn: Callable[[float], Worker],
    make_repo: Callable[..., Ops],
    raw: RawStore,
    endpoints: Endpoints,
) -> None:
    """Four versions published seconds ago (by a writer whose clock is ``publisher``
    off), then two purges by a writer whose clock is ``purger`` off, keeping 1: of
    versions older than 30 minutes (none is: a purger an hour ahead must not take them
    for older, nor versions a writer an hour behind published), then of versions older
    than 0 seconds (all but the newest are: a purger an hour behind must not take them
    for younger, nor versions a writer an hour ahead published)."""
    ops = make_repo(kind, **({"lease_secs": 3} if kind == "s3_dynamodb" else {}))
    place = ops.place
    writer = spawn(publisher)
    for content in CONTENTS[1:5]:
        call(writer, place, endpoints, "put", name="app", content=encode_content(content))
        call(writer, place, endpoints, "publish", name="app")
    worker = spawn(purger)
    args = {"name": "app", "keep_last_n": 1}
    deleted = call(worker, place, endpoints, "purge_versions", **args, purge_older_than_secs=1800)
    assert deleted == [], f"versions seconds old purged as older than 30 minutes: {deleted}"
    deleted = call(worker, place, endpoints, "purge_versions", **args, purge_older_than_secs=0)
    assert sorted(int(v) for v in deleted) == [1, 2, 3], f"purged as older than 0 s: {deleted}"
    assert sorted(raw.versions(place, "app")) == [4]
