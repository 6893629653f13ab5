"""Session-wide fixtures: the endpoints (a moto server over HTTP on 127.0.0.1 unless
VERSIONED_TEST_S3_ENDPOINT / VERSIONED_TEST_DYNAMODB_ENDPOINT name others), sessions and
raw clients."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import botocore.loaders
import pytest
from _testkit import (
    AWS_ENDPOINT_VARIABLES,
    REGION,
    Endpoints,
    ServerFeatures,
    configured_endpoints,
    make_session,
    raw_client,
)
from boto_session_manager import BotoSesManager

# Only VERSIONED_TEST_* choose where requests go (see _testkit.ENDPOINT_VARIABLES).
for _variable in AWS_ENDPOINT_VARIABLES:
    os.environ.pop(_variable, None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pytest_report_header() -> str:
    given = configured_endpoints()
    return (
        f"endpoints: S3 {given.get('s3', 'moto')}, DynamoDB {given.get('dynamodb', 'moto')}"
        " (VERSIONED_TEST_S3_ENDPOINT / VERSIONED_TEST_DYNAMODB_ENDPOINT)"
    )


@pytest.fixture(scope="session")
def endpoints() -> Iterator[Endpoints]:
    """Where S3 and DynamoDB requests go: the VERSIONED_TEST_*_ENDPOINT servers, and a
    moto server shared by the whole test session for any service not given."""
    given = configured_endpoints()
    if len(given) == 2:
        yield Endpoints(**given)
        return
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    moto = f"http://127.0.0.1:{port}"
    try:
        yield Endpoints(s3=given.get("s3", moto), dynamodb=given.get("dynamodb", moto))
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_endpoint(endpoints: Endpoints) -> str:
    """The endpoint URL of the S3 server."""
    return endpoints.s3


@pytest.fixture(scope="session")
def dynamodb_endpoint(endpoints: Endpoints) -> str:
    """The endpoint URL of the DynamoDB server."""
    return endpoints.dynamodb


@pytest.fixture(scope="session")
def moto_server(endpoints: Endpoints) -> str:
    """The one endpoint URL serving both S3 and DynamoDB (kept for the tests written
    before the switch). When the two services are on different servers there is no such
    URL: use ``s3_endpoint`` / ``dynamodb_endpoint`` / ``endpoints`` (and
    ``_testkit.make_session``) instead."""
    if not endpoints.shared:
        pytest.fail(
            f"this test asks for one URL serving S3 and DynamoDB (fixture moto_server), but "
            f"S3 is at {endpoints.s3} and DynamoDB at {endpoints.dynamodb}: use the "
            "s3_endpoint / dynamodb_endpoint / endpoints fixtures"
        )
    return endpoints.s3


@pytest.fixture(scope="session")
def make_bsm(endpoints: Endpoints) -> Callable[..., BotoSesManager]:
    """Factory of fresh BotoSesManager objects whose S3 and DynamoDB clients go to the
    session's endpoints."""

    # Every session is new (own event hooks, own clients), but all share one botocore
    # model loader, so the service JSON models are parsed once rather than once per test.
    loader = botocore.loaders.create_loader()

    def make(region_name: str = REGION) -> BotoSesManager:
        return make_session(endpoints, region_name=region_name, loader=loader)

    _check_routing(make(), endpoints)
    return make


def _check_routing(bsm: BotoSesManager, endpoints: Endpoints) -> None:
    """Fail at once, rather than send requests elsewhere, if sessions ignore the endpoints."""
    kwargs = dict(bsm.default_client_kwargs or {})
    for service in ("s3", "dynamodb"):
        url = bsm.boto_ses.client(service, **kwargs).meta.endpoint_url
        assert url == endpoints.url(service), f"{service} requests would go to {url}"


@pytest.fixture(scope="session")
def raw_s3(endpoints: Endpoints) -> Any:
    """A plain boto3 S3 client, independent of the library, for reading raw state."""
    return raw_client(endpoints, "s3")


@pytest.fixture(scope="session")
def raw_dynamodb(endpoints: Endpoints) -> Any:
    """A plain boto3 DynamoDB client, independent of the library, for reading raw items."""
    return raw_client(endpoints, "dynamodb")


# ------------------------------------------------------------------ server features
@pytest.fixture(scope="session")
def server_features(endpoints: Endpoints) -> ServerFeatures:
    """What the servers under test do where servers differ, probed on first use. A test
    that needs a missing feature skips with a reason naming it (and the server's gap)."""
    return ServerFeatures(endpoints)
