"""Fixtures of the command-line tests: a moto server, a clean environment, a CLI runner.

Names are prefixed ``cli_`` to stay clear of the session fixtures in tests/conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _clikit import Cli, CliEnv
from _faultproxy import FaultProxy
from _testkit import BACKENDS, REGION, Endpoints, raw_client, unique

from versioned.cli._settings import Sessions


@pytest.fixture(scope="session")
def cli_server_url(s3_endpoint: str) -> str:
    """The endpoint URL the CLI is given (VERSIONED_ENDPOINT_URL): the session's S3
    endpoint (tests/conftest.py). See cli_backend for DynamoDB on another server."""
    return s3_endpoint


@pytest.fixture
def cli_env(cli_server_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliEnv:
    """A clean environment pointing the CLI at the moto server, cwd in an empty directory."""
    for key in list(os.environ):
        if key.startswith(("VERSIONED_", "AWS_")):
            monkeypatch.delenv(key)
    bucket = unique("cli")
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    settings = {
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "VERSIONED_ENDPOINT_URL": cli_server_url,
        "VERSIONED_BUCKET": bucket,
        "COLUMNS": "200",  # wide Rich tables: no wrapped cells in assertions
        "XDG_CONFIG_HOME": str(tmp_path / "user-config"),  # no user file of this machine
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    return CliEnv(cli_server_url, bucket, workdir)


@pytest.fixture(params=BACKENDS)
def cli_backend(
    request: pytest.FixtureRequest,
    cli_env: CliEnv,
    monkeypatch: pytest.MonkeyPatch,
    endpoints: Endpoints,
) -> str:
    """Each storage layout in turn; the DynamoDB one is selected by VERSIONED_TABLE."""
    kind: str = request.param
    if kind == "s3_and_dynamodb":
        monkeypatch.setenv("VERSIONED_TABLE", unique("cli-table"))
        route_per_service(monkeypatch, endpoints)
    return kind


def route_per_service(monkeypatch: pytest.MonkeyPatch, endpoints: Endpoints) -> None:
    """When S3 and DynamoDB are two servers (SeaweedFS + MiniStack), route the CLI per
    service the botocore way: one VERSIONED_ENDPOINT_URL cannot serve both (it would
    override these for every service)."""
    if endpoints.shared:
        return
    monkeypatch.delenv("VERSIONED_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoints.s3)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoints.dynamodb)


@pytest.fixture
def cli_any_table(cli_env: CliEnv, monkeypatch: pytest.MonkeyPatch, endpoints: Endpoints) -> None:
    """For tests that pass --table themselves: DynamoDB requests reach the DynamoDB server."""
    route_per_service(monkeypatch, endpoints)


@pytest.fixture
def cli_one_endpoint_url(endpoints: Endpoints) -> Iterator[str]:
    """One URL serving S3 and DynamoDB, as a user's single AWS_ENDPOINT_URL: the session's
    server when it serves both; else a fault proxy without rules in front of the two
    servers (tests/_faultproxy.py routes each request by its service)."""
    if endpoints.shared:
        yield endpoints.s3
        return
    with FaultProxy(endpoints.s3, dynamodb=endpoints.dynamodb) as proxy:
        yield proxy.url


@pytest.fixture(scope="session")
def cli_sessions() -> Sessions:
    """Boto sessions shared by the in-process invocations of the whole run (the command
    line keeps none of its own between invocations)."""
    return Sessions()


@pytest.fixture
def cli_run(cli_env: CliEnv, cli_sessions: Sessions) -> Cli:
    return Cli(cli_sessions)


@pytest.fixture
def cli_repo(cli_backend: str, cli_run: Cli) -> str:
    """A bootstrapped repository of the current backend; returns the backend kind."""
    cli_run("bootstrap")
    return cli_backend


@pytest.fixture
def cli_raw_s3(cli_server_url: str) -> Any:
    """A plain boto3 S3 client, independent of the library, for out-of-band changes."""
    return raw_client(cli_server_url, "s3")
