"""Fixtures of the local cache suite: a repository of each kind and a cache of its own."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import pytest
from _testkit import BACKENDS, Backend, make_backend
from boto_session_manager import BotoSesManager


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, make_bsm: Callable[..., BotoSesManager]) -> Backend:
    """A bootstrapped repository of each kind."""
    return make_backend(request.param, make_bsm(), bootstrap=True)


@pytest.fixture
def cache_dir(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """An empty cache directory; VERSIONED_OFFLINE and VERSIONED_CACHE_DIR unset."""
    monkeypatch.delenv("VERSIONED_OFFLINE", raising=False)
    monkeypatch.delenv("VERSIONED_CACHE_DIR", raising=False)
    return tmp_path / "cache"
