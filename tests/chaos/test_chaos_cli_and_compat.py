"""A project file cannot redirect the CLI's signed requests; error
types the seed's library (and its tests) rely on."""

from __future__ import annotations

import os
import socket
import socketserver
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _chaoskit import Ops, Place, attempt
from _faultproxy import FaultProxy
from _testkit import LAYOUTS, LoopbackServer
from click.testing import CliRunner

from versioned.cli import cli
from versioned.exc import ArtifactS3BackendError


# ----------------------------------------------------------- signed requests stay on their endpoint
class Trap(LoopbackServer):
    """A listener on loopback that records every connection and answers 403."""

    def __init__(self) -> None:
        self.connections: list[bytes] = []
        trap = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(2)
                try:
                    first = self.request.recv(4096)
                except OSError:
                    first = b""
                trap.connections.append(first)
                body = b"<Error><Code>AccessDenied</Code><Message>trap</Message></Error>"
                self.request.sendall(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n"
                    + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                    + body
                )

        super().__init__(Handler)


@pytest.fixture
def trap() -> Iterator[Trap]:
    listener = Trap()
    yield listener
    listener.close()


@pytest.mark.parametrize("project_file", ["versioned.toml", "pyproject.toml"])
def test_project_file_endpoint_does_not_redirect_signed_requests(
    project_file: str,
    trap: Trap,
    make_repo: Callable[..., Ops],
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A cloned repository's project file names an endpoint: by default the CLI must not
    send requests (with the user's credentials) there, and must say it ignored it. The
    shell's AWS_ENDPOINT_URL (the session's S3 server: the S3-only layout needs no other)
    is what a careful CLI uses instead."""
    ops = make_repo("s3_only")
    for key in list(os.environ):
        if key.startswith(("VERSIONED_", "AWS_")):
            monkeypatch.delenv(key)
    settings = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_ENDPOINT_URL": s3_endpoint,  # never real AWS, whatever the CLI decides
        "VERSIONED_BUCKET": ops.place.bucket,
        "VERSIONED_PREFIX": ops.place.prefix,
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    workdir = tmp_path / "cloned"
    workdir.mkdir()
    line = f'endpoint_url = "{trap.url}"\n'
    if project_file == "versioned.toml":
        (workdir / "versioned.toml").write_text(line)
    else:
        (workdir / "pyproject.toml").write_text(
            f'[project]\nname = "x"\n\n[tool.versioned]\n{line}'
        )
    monkeypatch.chdir(workdir)
    result = CliRunner().invoke(cli, ["names"])
    first_lines = [request.split(b"\r\n", 1)[0] for request in trap.connections]
    assert first_lines == [], (
        f"{len(first_lines)} connection(s) to the endpoint from ./{project_file}: {first_lines}"
    )
    assert "endpoint" in result.stderr.lower(), f"no warning on stderr: {result.stderr!r}"
    assert result.exit_code == 0, (result.stdout, result.stderr)


# ---------------------------------------------------------------- error types the seed relies on
@pytest.mark.parametrize("weight", [None, 0.5], ids=["no-weight", "weight-0.5"])
@pytest.mark.parametrize("kind", LAYOUTS)
def test_secondary_version_without_an_int_weight_raises_type_error(
    kind: str,
    weight: float | None,
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
) -> None:
    ops = make_repo(kind)
    proxy = make_proxy()
    client = via(ops.place, proxy)
    kwargs: dict[str, Any] = {"version": 1, "secondary_version": 999}
    if weight is not None:
        kwargs["secondary_version_weight"] = weight
    outcome = attempt(lambda: client.put_alias("app", "prod", **kwargs))
    assert isinstance(outcome.error, TypeError), outcome.describe()
    assert proxy.seen() == [], [r.operation for r in proxy.seen()]


def test_s3_only_delete_of_latest_raises_artifact_s3_backend_error(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
) -> None:
    ops = make_repo("s3_only")
    proxy = make_proxy()
    client = via(ops.place, proxy)
    outcome = attempt(
        lambda: client.repo.delete_artifact_version(client.bsm, "app", version="LATEST")
    )
    assert isinstance(outcome.error, ArtifactS3BackendError), outcome.describe()
    assert proxy.seen() == [], [r.operation for r in proxy.seen()]


def test_trap_records_connections(trap: Trap) -> None:
    """Guard for the trap itself: a connection is recorded and answered."""
    with socket.create_connection(("127.0.0.1", int(trap.url.rsplit(":", 1)[1])), 5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 403")
    assert len(trap.connections) == 1
