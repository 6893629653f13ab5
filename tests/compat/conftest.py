"""Fixtures of the compatibility tests against the seed's own library (``versioned==1.0.1``
installed from the package index into ``.servers/seed-venv/``; see _seedkit.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from _seedkit import LEASE_SECS, Pair, SeedLibrary, seed_library_or_skip
from _testkit import BACKENDS, Endpoints
from boto_session_manager import BotoSesManager


@pytest.fixture(scope="session")
def seed_library(endpoints: Endpoints) -> SeedLibrary:
    """The seed's library, runnable in its own virtualenv (built on first use)."""
    return seed_library_or_skip(endpoints)


@pytest.fixture(params=BACKENDS)
def pair(
    request: pytest.FixtureRequest,
    seed_library: SeedLibrary,
    make_bsm: Callable[..., BotoSesManager],
) -> Iterator[Pair]:
    """A fresh repository of each layout, not bootstrapped (who writes first decides).
    After the test: none of our calls may have waited out a write turn's lease (a turn
    left behind by a fault), which would stall a user for 30 s at the default lease."""
    pair = Pair(request.param, seed_library, make_bsm())
    yield pair
    assert not pair.slow_calls, (
        f"calls that waited out a lease of {LEASE_SECS} s: {pair.slow_calls}"
    )
