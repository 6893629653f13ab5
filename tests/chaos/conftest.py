"""Fixtures of the chaos suite (issue 9): fault proxies in front of the session's moto
server, repositories of both layouts, raw-storage readers. See _chaoskit.py and
_faultproxy.py for the machinery."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import botocore.loaders
import pytest
from _chaoskit import CREDENTIALS, REGION, Ops, Place, RawStore, new_place
from _faultproxy import FaultProxy
from boto_session_manager import BotoSesManager

_LOADER = botocore.loaders.create_loader()


def session_for(url: str) -> BotoSesManager:
    """A fresh session talking to ``url``; the botocore model loader is shared."""
    bsm = BotoSesManager(
        region_name=REGION, default_client_kwargs={"endpoint_url": url}, **CREDENTIALS
    )
    bsm.boto_ses._session.register_component("data_loader", _LOADER)
    return bsm


@pytest.fixture
def raw(raw_s3: Any, raw_dynamodb: Any) -> RawStore:
    return RawStore(raw_s3, raw_dynamodb)


@pytest.fixture
def make_proxy(moto_server: str) -> Iterator[Callable[[], FaultProxy]]:
    """Factory of fault proxies in front of the moto server, closed after the test (which
    also cuts off any operation a test left running through them)."""
    proxies: list[FaultProxy] = []

    def make() -> FaultProxy:
        proxy = FaultProxy(moto_server)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


@pytest.fixture
def make_repo(moto_server: str) -> Callable[..., Ops]:
    """make_repo(kind, **constructor_options) -> a bootstrapped repository (its Ops talk
    to the moto server directly)."""

    def make(kind: str, **options: Any) -> Ops:
        ops = Ops(new_place(kind, **options), session_for(moto_server))
        ops.bootstrap()
        return ops

    return make


@pytest.fixture
def via() -> Callable[[Place, FaultProxy], Ops]:
    """via(place, proxy) -> the same repository, through ``proxy`` with a fresh session."""

    def make(place: Place, proxy: FaultProxy) -> Ops:
        return Ops(place, session_for(proxy.url))

    return make
