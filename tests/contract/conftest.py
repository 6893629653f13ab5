"""The ``backend`` fixture: one behavioural suite, run against every storage layout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _testkit import BACKENDS, REGION, Backend, RequestCounter, unique_bucket, unique_table
from boto_session_manager import BotoSesManager

from versioned import s3_and_dynamodb_backend, s3_only_backend
from versioned.repository import Repository


def _make_backend(kind: str, bsm: BotoSesManager, *, bootstrap: bool) -> Backend:
    def new_repo(bsm: BotoSesManager, *, bootstrap: bool = True, **kwargs: Any) -> Repository:
        bucket = unique_bucket()
        repo: Repository
        if kind == "s3_and_dynamodb":
            repo = s3_and_dynamodb_backend.Repository(
                aws_region=REGION,
                s3_bucket=bucket,
                s3_prefix="artifacts",
                dynamodb_table_name=unique_table(),
                suffix=".bin",
                **kwargs,
            )
        else:
            repo = s3_only_backend.Repository(
                aws_region=REGION, s3_bucket=bucket, s3_prefix="artifacts", suffix=".bin", **kwargs
            )
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
