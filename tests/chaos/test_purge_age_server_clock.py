"""``purge_artifact_versions(purge_older_than_secs=...)`` measures a version's age on the
server's clock: "now" is the Date header of the purge's own responses (no extra request),
the version's time its object's LastModified. A fault proxy rewrites the Date of every
answer the purger gets, as a server whose clock differs from ours would send it (the
versions are published directly, so their LastModified is the true time); without any
Date header the purger falls back to its local clock."""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from _chaoskit import Ops, RawStore
from _faultproxy import FaultProxy, Response
from _testkit import LAYOUTS

HOUR = timedelta(hours=1)
CONTENTS = [f"aged content {i} ".encode() * (10 + i) for i in range(3)]


def server_date_off(shift: timedelta) -> Callable[[int, list[tuple[str, str]], bytes], Response]:
    """A rewrite giving each answer the Date a server ``shift`` off would send."""

    def rewrite(status: int, headers: list[tuple[str, str]], body: bytes) -> Response:
        moment = datetime.now(UTC) + shift
        date = email.utils.format_datetime(moment, usegmt=True)
        kept = [(k, v) for k, v in headers if k.lower() != "date"]
        return status, [*kept, ("Date", date)], body

    return rewrite


def without_date(status: int, headers: list[tuple[str, str]], body: bytes) -> Response:
    return status, [(k, v) for k, v in headers if k.lower() != "date"], body


def published(make_repo: Callable[..., Ops], kind: str) -> Ops:
    """A repository whose ``app`` has versions 1-3, published seconds ago."""
    ops = make_repo(kind)
    ops.publish_contents("app", CONTENTS)
    return ops


@pytest.mark.parametrize("kind", LAYOUTS)
def test_the_age_is_measured_on_the_servers_date(
    kind: str,
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[..., Ops],
    raw: RawStore,
) -> None:
    """Answers dated two hours on make versions published seconds ago older than an
    hour (for the plan and the purge, whose time is the server's), while our own clock
    says they are seconds old."""
    ops = published(make_repo, kind)
    proxy = make_proxy()
    proxy.add("rewrite_response", rewrite=server_date_off(2 * HOUR), times=None)
    purger = via(ops.place, proxy)
    plan = purger.plan_purge("app", keep_last_n=1, purge_older_than_secs=3600)
    assert sorted(int(a.version) for a in plan.delete) == [1, 2], plan
    server_now = datetime.now(UTC) + 2 * HOUR
    assert abs((plan.purge_time - server_now).total_seconds()) < 60, plan.purge_time
    purge_time, deleted = purger.purge_versions("app", keep_last_n=1, purge_older_than_secs=3600)
    assert sorted(int(a.version) for a in deleted) == [1, 2]
    assert abs((purge_time - server_now).total_seconds()) < 60, purge_time
    assert sorted(raw.versions(ops.place, "app")) == [3]


@pytest.mark.parametrize("kind", LAYOUTS)
def test_a_server_behind_us_keeps_what_our_clock_finds_old(
    kind: str,
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[..., Ops],
    raw: RawStore,
) -> None:
    """Answers dated two hours back: by the server's clock, versions published seconds
    ago are not older than 0 seconds, and none goes (our clock would purge them)."""
    ops = published(make_repo, kind)
    proxy = make_proxy()
    proxy.add("rewrite_response", rewrite=server_date_off(-2 * HOUR), times=None)
    purger = via(ops.place, proxy)
    _, deleted = purger.purge_versions("app", keep_last_n=1, purge_older_than_secs=0)
    assert deleted == []
    assert sorted(raw.versions(ops.place, "app")) == [1, 2, 3]


@pytest.mark.parametrize("kind", LAYOUTS)
def test_without_a_date_header_the_local_clock_decides(
    kind: str,
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[..., Ops],
    raw: RawStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No answer carries a Date: the purger's own clock measures the ages (versions
    seconds old are younger than an hour and older than 0 s), and it says so at DEBUG."""
    ops = published(make_repo, kind)
    proxy = make_proxy()
    proxy.add("rewrite_response", rewrite=without_date, times=None)
    purger = via(ops.place, proxy)
    with caplog.at_level(logging.DEBUG, logger="versioned"):
        _, deleted = purger.purge_versions("app", keep_last_n=1, purge_older_than_secs=3600)
        assert deleted == []
        _, deleted = purger.purge_versions("app", keep_last_n=1, purge_older_than_secs=0)
    assert sorted(int(a.version) for a in deleted) == [1, 2]
    assert sorted(raw.versions(ops.place, "app")) == [3]
    assert any("no response carried a Date header" in r.getMessage() for r in caplog.records)
