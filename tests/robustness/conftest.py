"""Fixtures of the robustness suite: its own moto server on 127.0.0.1 and raw clients."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from boto_session_manager import BotoSesManager
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def rob_url() -> Iterator[str]:
    """Endpoint URL of a moto server dedicated to tests/robustness."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def rob_make_bsm(rob_url: str) -> Callable[[], BotoSesManager]:
    def make() -> BotoSesManager:
        return BotoSesManager(
            region_name=REGION,
            default_client_kwargs={"endpoint_url": rob_url},
            **CREDENTIALS,
        )

    return make


@pytest.fixture(scope="session")
def rob_raw_s3(rob_url: str) -> Any:
    return boto3.session.Session(region_name=REGION, **CREDENTIALS).client(
        "s3", endpoint_url=rob_url
    )


@pytest.fixture(scope="session")
def rob_raw_ddb(rob_url: str) -> Any:
    return boto3.session.Session(region_name=REGION, **CREDENTIALS).client(
        "dynamodb", endpoint_url=rob_url
    )
