"""watch(): one request per poll, on_change after each change, errors reported and
retried; url(): presigned GETs a client without AWS credentials can download."""

from __future__ import annotations

import pathlib
import threading
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _testkit import Backend, sha256_hex

from versioned._layouts import AliasPoll, AliasRecord
from versioned._watch import Watcher
from versioned.exc import AliasNotFoundError

NAME = "model"
HOUR = 3600.0


@pytest.fixture
def two_versions(backend: Backend) -> Backend:
    backend.put_and_publish(NAME, b"one")
    backend.put_and_publish(NAME, b"two")
    backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias="prod", version=1)
    backend.counter.reset()
    return backend


def test_poll_now_reports_each_change_once(two_versions: Backend) -> None:
    backend = two_versions
    changes: list[Any] = []
    watcher = backend.repo.watch(
        bsm=backend.bsm, name=NAME, alias="prod", on_change=changes.append, interval_secs=HOUR
    )
    try:
        backend.counter.reset()
        assert watcher.poll_now() is False
        assert backend.counter.calls == 1  # unchanged: one request (a 304 on S3-only)
        backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias="prod", version=2)
        assert watcher.poll_now() is True
        assert watcher.poll_now() is False
        assert [alias.version for alias in changes] == ["2"]
        assert changes[0].alias == "prod" and changes[0].name == NAME
    finally:
        watcher.stop()
    assert not watcher.running


def test_the_thread_calls_on_change_and_stops(two_versions: Backend) -> None:
    backend = two_versions
    changed = threading.Event()
    seen: list[str] = []

    def on_change(alias: Any) -> None:
        seen.append(alias.version)
        changed.set()

    watcher = backend.repo.watch(
        bsm=backend.bsm, name=NAME, alias="prod", on_change=on_change, interval_secs=0.01
    )
    backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias="prod", version=2)
    assert changed.wait(30)
    watcher.stop()
    assert not watcher.running and seen == ["2"]


def test_a_deleted_alias_is_reported_not_fatal(two_versions: Backend) -> None:
    backend = two_versions
    errors: list[BaseException] = []
    watcher = backend.repo.watch(
        bsm=backend.bsm,
        name=NAME,
        alias="prod",
        on_change=lambda alias: None,
        interval_secs=HOUR,
        on_error=errors.append,
    )
    try:
        backend.repo.delete_alias(bsm=backend.bsm, name=NAME, alias="prod")
        assert watcher.poll_now() is False
        assert len(errors) == 1 and isinstance(errors[0], AliasNotFoundError)
        assert watcher.running
        backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias="prod", version=2)
        assert watcher.poll_now() is True  # back: a change
    finally:
        watcher.stop()


def test_watching_a_missing_alias_raises(two_versions: Backend) -> None:
    with pytest.raises(AliasNotFoundError):
        two_versions.repo.watch(
            bsm=two_versions.bsm, name=NAME, alias="beta", on_change=print, interval_secs=HOUR
        )


def test_failed_polls_are_reported_and_retried() -> None:
    """The thread's retry loop, driven by a poll that fails twice then sees a change."""
    baseline = AliasRecord("m", "prod", 1, None, None, datetime.now(UTC), "r1")
    moved = AliasRecord("m", "prod", 2, None, None, datetime.now(UTC), "r2")
    outcomes: list[Any] = [OSError("down"), OSError("still down"), AliasPoll(True, moved)]
    changed = threading.Event()
    errors: list[BaseException] = []

    def poll(revision: str | None) -> AliasPoll:
        outcome = outcomes.pop(0) if outcomes else AliasPoll(False)
        if isinstance(outcome, BaseException):
            raise outcome
        assert isinstance(outcome, AliasPoll)
        return outcome

    watcher = Watcher(
        poll, baseline, lambda alias: changed.set(), lambda r: r, 0.001, errors.append
    ).start()
    assert changed.wait(30)
    watcher.stop()
    assert [str(e) for e in errors] == ["down", "still down"] and watcher.errors == 2
    assert watcher.revision == "r2"


@pytest.mark.parametrize("selector", [{"alias": "prod"}, {"version": 2}])
def test_signed_urls_download_with_plain_http(
    two_versions: Backend, selector: dict[str, Any]
) -> None:
    backend = two_versions
    backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias="prod", version=2)
    signed = backend.repo.url(bsm=backend.bsm, name=NAME, expires_secs=600, **selector)
    with urllib.request.urlopen(signed.url, timeout=30) as response:  # no AWS client
        body = response.read()
    assert body == b"two"
    assert (signed.version, signed.sha256, signed.size) == ("2", sha256_hex(b"two"), 3)
    remaining = signed.expires_at - datetime.now(UTC)
    assert timedelta(seconds=590) < remaining <= timedelta(seconds=600)


def test_signed_url_follows_key_routing_and_checks_expiry(
    two_versions: Backend, cache_dir: pathlib.Path
) -> None:
    backend = two_versions
    with pytest.raises(ValueError, match="expires_secs"):
        backend.repo.url(bsm=backend.bsm, name=NAME, alias="prod", expires_secs=0)
    backend.repo.put_alias(
        bsm=backend.bsm,
        name=NAME,
        alias="prod",
        version=1,
        secondary_version=2,
        secondary_version_weight=50,
    )
    for index in range(10):
        key = f"k{index}"
        signed = backend.repo.url(bsm=backend.bsm, name=NAME, alias="prod", key=key)
        fetched = backend.repo.fetch(
            bsm=backend.bsm, name=NAME, alias="prod", key=key, cache_dir=cache_dir
        )
        assert signed.sha256 == sha256_hex(fetched.read_bytes())
