"""Session-wide fixtures: the endpoints (a moto server over HTTP on 127.0.0.1 unless
VERSIONED_TEST_S3_ENDPOINT / VERSIONED_TEST_DYNAMODB_ENDPOINT name others), sessions and
raw clients."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _testkit import (
    AWS_ENDPOINT_VARIABLES,
    REGION,
    Endpoints,
    ServerFeatures,
    configured_endpoints,
    make_session,
    moto_server,
    raw_client,
)
from boto_session_manager import BotoSesManager

# Only VERSIONED_TEST_* choose where requests go (see _testkit.ENDPOINT_VARIABLES).
for _variable in AWS_ENDPOINT_VARIABLES:
    os.environ.pop(_variable, None)
# Upload journals (put of a large file) go to a directory of this run, never the user's.
os.environ["VERSIONED_STATE_DIR"] = tempfile.mkdtemp(prefix="versioned-test-state-")


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
    with moto_server() as moto:
        yield Endpoints(s3=given.get("s3", moto), dynamodb=given.get("dynamodb", moto))


@pytest.fixture(scope="session")
def s3_endpoint(endpoints: Endpoints) -> str:
    """The endpoint URL of the S3 server."""
    return endpoints.s3


@pytest.fixture(scope="session")
def dynamodb_endpoint(endpoints: Endpoints) -> str:
    """The endpoint URL of the DynamoDB server."""
    return endpoints.dynamodb


@pytest.fixture(scope="session")
def make_bsm(endpoints: Endpoints) -> Callable[..., BotoSesManager]:
    """Factory of fresh BotoSesManager objects whose S3 and DynamoDB clients go to the
    session's endpoints."""

    def make(region_name: str = REGION) -> BotoSesManager:
        return make_session(endpoints, region_name=region_name)

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
