"""Session-wide fixtures: one moto server over HTTP on 127.0.0.1, sessions and raw clients."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.loaders
import pytest
from _testkit import CREDENTIALS, REGION
from boto_session_manager import BotoSesManager
from moto.server import ThreadedMotoServer


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The endpoint URL of a moto server shared by the whole test session."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def make_bsm(moto_server: str) -> Callable[..., BotoSesManager]:
    """Factory of fresh BotoSesManager objects pointed at the moto server."""

    # Every session is new (own event hooks, own clients), but all share one botocore
    # model loader, so the service JSON models are parsed once rather than once per test.
    loader = botocore.loaders.create_loader()

    def make(region_name: str = REGION) -> BotoSesManager:
        bsm = BotoSesManager(
            region_name=region_name,
            default_client_kwargs={"endpoint_url": moto_server},
            **CREDENTIALS,
        )
        bsm.boto_ses._session.register_component("data_loader", loader)
        return bsm

    return make


def _raw_session() -> boto3.session.Session:
    # An explicit Session: boto3.client() would create boto3.DEFAULT_SESSION.
    return boto3.session.Session(region_name=REGION, **CREDENTIALS)


@pytest.fixture(scope="session")
def raw_s3(moto_server: str) -> Any:
    """A plain boto3 S3 client, independent of the library, for reading raw state."""
    return _raw_session().client("s3", endpoint_url=moto_server)


@pytest.fixture(scope="session")
def raw_dynamodb(moto_server: str) -> Any:
    """A plain boto3 DynamoDB client, independent of the library, for reading raw items."""
    return _raw_session().client("dynamodb", endpoint_url=moto_server)
