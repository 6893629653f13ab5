"""Fixtures of the chaos suite: fault proxies in front of the session's S3 and
DynamoDB servers (one server or two: see tests/conftest.py), repositories of both
layouts, raw-storage readers. See _chaoskit.py and _faultproxy.py for the machinery."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _chaoskit import Ops, Place, RawStore, Worker, Zygote, new_place
from _faultproxy import FaultProxy
from _seedkit import SeedServer, seed_library_or_skip
from _testkit import Endpoints, make_session


@pytest.fixture
def raw(raw_s3: Any, raw_dynamodb: Any) -> RawStore:
    """Plain boto3 readers of the session's S3 and DynamoDB servers (never a proxy)."""
    return RawStore(raw_s3, raw_dynamodb)


@pytest.fixture
def make_proxy(endpoints: Endpoints) -> Iterator[Callable[[], FaultProxy]]:
    """Factory of fault proxies in front of the session's servers (one URL for both
    services, routed by X-Amz-Target), closed after the test (which also cuts off any
    operation a test left running through them)."""
    proxies: list[FaultProxy] = []

    def make() -> FaultProxy:
        proxy = FaultProxy(endpoints.s3, dynamodb=endpoints.dynamodb)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


@pytest.fixture
def make_repo(endpoints: Endpoints) -> Callable[..., Ops]:
    """make_repo(kind, **constructor_options) -> a bootstrapped repository (its Ops talk
    to the session's servers directly)."""

    def make(kind: str, **options: Any) -> Ops:
        ops = Ops(new_place(kind, **options), make_session(endpoints))
        ops.bootstrap()
        return ops

    return make


@pytest.fixture
def via() -> Callable[[Place, FaultProxy], Ops]:
    """via(place, proxy) -> the same repository, through ``proxy`` with a fresh session."""

    def make(place: Place, proxy: FaultProxy) -> Ops:
        return Ops(place, make_session(proxy.url))

    return make


@pytest.fixture(scope="module")
def seed_server(endpoints: Endpoints) -> Iterator[SeedServer]:
    """The seed's library (``versioned==1.0.1``, its own virtualenv) in one process kept
    warm for the module's tests (skipped when the package index cannot be reached)."""
    server = SeedServer(seed_library_or_skip(endpoints))
    yield server
    server.close()


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    """A process that imported the library and forks worker processes in milliseconds."""
    started = Zygote()
    yield started
    started.close()


@pytest.fixture
def spawn_worker(zygote: Zygote) -> Iterator[Callable[[], Worker]]:
    """spawn_worker() -> a ready worker process (forked), SIGKILLed after the test."""
    used: list[Worker] = []

    def make() -> Worker:
        worker = Worker(zygote=zygote)
        used.append(worker)
        worker.ready()
        return worker

    yield make
    for worker in used:
        worker.kill()
