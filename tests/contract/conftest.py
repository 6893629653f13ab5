"""The ``backend`` fixture: one behavioural suite, run against every storage layout."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
from _testkit import BACKENDS, REGION, Backend, RequestCounter, unique_bucket, unique_table
from boto_session_manager import BotoSesManager


def _repository_class(kind: str) -> Any:
    module_name = f"versioned.{kind}_backend"
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:  # pragma: no cover - depends on work in progress
        pytest.skip(f"{module_name} cannot be imported yet: {error}")
    repository = getattr(module, "Repository", None)
    if repository is None:
        pytest.skip(f"{module_name} has no Repository yet")
    return repository


def _make_backend(kind: str, bsm: BotoSesManager, *, bootstrap: bool) -> Backend:
    repository = _repository_class(kind)

    def new_repo(bsm: BotoSesManager, *, bootstrap: bool = True, **kwargs: Any) -> Any:
        arguments: dict[str, Any] = {
            "aws_region": REGION,
            "s3_bucket": unique_bucket(),
            "s3_prefix": "artifacts",
            "suffix": ".bin",
        }
        if kind == "s3_and_dynamodb":
            arguments["dynamodb_table_name"] = unique_table()
        repo = repository(**arguments, **kwargs)
        if bootstrap:
            repo.bootstrap(bsm=bsm)
        return repo

    counter = RequestCounter.attach(bsm)  # before the library builds any client
    repo = new_repo(bsm, bootstrap=bootstrap)
    counter.reset()
    return Backend(kind=kind, repo=repo, bsm=bsm, counter=counter, new_repo=new_repo)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, make_bsm: Callable[..., BotoSesManager]) -> Backend:
    """A bootstrapped repository of each kind."""
    return _make_backend(request.param, make_bsm(), bootstrap=True)


@pytest.fixture(scope="module", params=BACKENDS)
def module_backend(
    request: pytest.FixtureRequest, make_bsm: Callable[..., BotoSesManager]
) -> Backend:
    """One bootstrapped repository of each kind for a whole module, whose tests each use
    an artifact of their own (and reset the counter)."""
    return _make_backend(request.param, make_bsm(), bootstrap=True)


@pytest.fixture(params=BACKENDS)
def offline_backend(
    request: pytest.FixtureRequest, make_bsm: Callable[..., BotoSesManager]
) -> Backend:
    """A repository of each kind that was never bootstrapped (its bucket and table do not
    exist), for checks that must finish before any request: a request would fail there."""
    return _make_backend(request.param, make_bsm(), bootstrap=False)
