"""Offline: VERSIONED_OFFLINE=1 resolves from refs with no request; an unreachable
endpoint serves the last resolved ref with a warning, within max_stale_secs."""

from __future__ import annotations

import pathlib

import pytest
from _testkit import ONE_ATTEMPT, Backend, closed_port_url, make_session
from boto_session_manager import BotoSesManager

from versioned.exc import EndpointUnreachableError, OfflineError, StaleCacheWarning

NAME = "model"


def _unreachable() -> BotoSesManager:
    """A session whose every request fails at once: nothing listens at its endpoint."""
    bsm = make_session(closed_port_url())
    bsm.default_client_kwargs["config"] = ONE_ATTEMPT
    return bsm


@pytest.fixture
def warm(backend: Backend, cache_dir: pathlib.Path) -> Backend:
    """``prod`` -> version 1 (b"one"), fetched once into ``cache_dir``."""
    backend.put_and_publish(NAME, b"one")
    backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias="prod", version=1)
    backend.repo.fetch(bsm=backend.bsm, name=NAME, alias="prod", cache_dir=cache_dir)
    backend.counter.reset()
    return backend


def test_offline_fetch_sends_no_request(
    warm: Backend, cache_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm.put_and_publish(NAME, b"two")
    warm.repo.put_alias(bsm=warm.bsm, name=NAME, alias="prod", version=2)
    warm.counter.reset()
    monkeypatch.setenv("VERSIONED_OFFLINE", "1")
    path = warm.repo.fetch(bsm=warm.bsm, name=NAME, alias="prod", cache_dir=cache_dir)
    assert path.read_bytes() == b"one"  # what the ref last resolved: storage not asked
    with pytest.raises(OfflineError, match="alias 'beta' of 'model' is not in the local cache"):
        warm.repo.fetch(bsm=warm.bsm, name=NAME, alias="beta", cache_dir=cache_dir)
    assert warm.counter.count == 0


def test_offline_fetch_of_a_pruned_blob_is_a_clear_error(
    warm: Backend, cache_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for blob in (cache_dir / "blobs").glob("??/*"):
        blob.unlink()
    monkeypatch.setenv("VERSIONED_OFFLINE", "1")
    with pytest.raises(OfflineError, match="no longer holds"):
        warm.repo.fetch(bsm=warm.bsm, name=NAME, alias="prod", cache_dir=cache_dir)
    assert warm.counter.count == 0


def test_unreachable_storage_serves_the_last_ref_with_a_warning(
    warm: Backend, cache_dir: pathlib.Path
) -> None:
    with pytest.warns(StaleCacheWarning, match="serving the cached alias 'prod'"):
        path = warm.repo.fetch(bsm=_unreachable(), name=NAME, alias="prod", cache_dir=cache_dir)
    assert path.read_bytes() == b"one"


def test_stale_fallback_respects_max_stale_secs_and_can_be_turned_off(
    warm: Backend, cache_dir: pathlib.Path
) -> None:
    with pytest.raises(OfflineError, match="max_stale_secs=0"):
        warm.repo.fetch(
            bsm=_unreachable(), name=NAME, alias="prod", cache_dir=cache_dir, max_stale_secs=0
        )
    with pytest.raises(EndpointUnreachableError):
        warm.repo.fetch(
            bsm=_unreachable(),
            name=NAME,
            alias="prod",
            cache_dir=cache_dir,
            offline_fallback=False,
        )
    with pytest.warns(StaleCacheWarning):
        warm.repo.fetch(
            bsm=_unreachable(), name=NAME, alias="prod", cache_dir=cache_dir, max_stale_secs=3600
        )


def test_unreachable_storage_without_a_ref_raises(warm: Backend, cache_dir: pathlib.Path) -> None:
    with pytest.raises(EndpointUnreachableError):
        warm.repo.fetch(bsm=_unreachable(), name=NAME, alias="beta", cache_dir=cache_dir)
