"""The ``backend`` fixture: one behavioural suite, run against every storage layout."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from _testkit import BACKENDS, Backend, make_backend
from boto_session_manager import BotoSesManager


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, make_bsm: Callable[..., BotoSesManager]) -> Backend:
    """A bootstrapped repository of each kind."""
    return make_backend(request.param, make_bsm(), bootstrap=True)


@pytest.fixture(scope="module", params=BACKENDS)
def module_backend(
    request: pytest.FixtureRequest, make_bsm: Callable[..., BotoSesManager]
) -> Backend:
    """One bootstrapped repository of each kind for a whole module, whose tests each use
    an artifact of their own (and reset the counter)."""
    return make_backend(request.param, make_bsm(), bootstrap=True)


@pytest.fixture(params=BACKENDS)
def offline_backend(
    request: pytest.FixtureRequest, make_bsm: Callable[..., BotoSesManager]
) -> Backend:
    """A repository of each kind that was never bootstrapped (its bucket and table do not
    exist), for checks that must finish before any request: a request would fail there."""
    return make_backend(request.param, make_bsm(), bootstrap=False)
