"""A local S3 + DynamoDB endpoint: moto's server on 127.0.0.1, for the sandbox and the demo."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Final

import click

SANDBOX_REGION: Final = "us-east-1"
SANDBOX_CREDENTIALS: Final = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
HOST: Final = "127.0.0.1"


class MotoMissingError(click.ClickException):
    """moto (with its server extra) is not installed."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(
            f"the local endpoint needs moto's server ({cause}); install it with "
            'pip install "versioned[sandbox]" (moto[server])'
        )


def _server_class() -> Any:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as error:
        raise MotoMissingError(error) from error
    return ThreadedMotoServer


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


@contextlib.contextmanager
def quiet_request_log(quiet: bool = True) -> Iterator[None]:
    """Silence the server's one-line-per-request log while the block runs."""
    logger = logging.getLogger("werkzeug")
    previous = logger.level
    if quiet:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


#: the port ``versioned sandbox`` prefers (moto's own default)
PREFERRED_PORT: Final = 5000
#: how long a server may take to bind and start before the port is presumed taken
START_TIMEOUT_SECS: Final = 10.0


def _started(server: Any) -> bool:
    """Start ``server``; False when it did not come up in time. moto's server waits
    forever for a socket it cannot bind (another process took the port after our
    check), so the start runs on a daemon thread that may be abandoned."""
    starter = threading.Thread(target=server.start, daemon=True)
    starter.start()
    starter.join(timeout=START_TIMEOUT_SECS)
    return not starter.is_alive()


def _start_server(server_class: Any, port: int | None) -> Any:
    """A started server on ``port`` (None: PREFERRED_PORT when free, else any free one)."""
    if port is None:
        candidates = [PREFERRED_PORT, 0] if port_is_free(PREFERRED_PORT) else [0]
    elif port and not port_is_free(port):
        raise click.ClickException(f"port {port} on {HOST} is in use; pick another with --port")
    else:
        candidates = [port]
    for candidate in candidates:
        server = server_class(ip_address=HOST, port=candidate, verbose=False)
        if _started(server):
            return server
    raise click.ClickException(f"port {port} on {HOST} is in use; pick another with --port")


@contextlib.contextmanager
def moto_endpoint(port: int | None = 0, *, quiet: bool = True) -> Iterator[str]:
    """Run a moto server on 127.0.0.1 and yield its URL. ``port`` 0: a free one; None:
    5000 when free, else a free one.

    Raises click.ClickException when an explicit ``port`` is taken.
    """
    server_class = _server_class()
    check_profile(os.environ)
    with quiet_request_log(quiet):
        server = _start_server(server_class, port)
        try:
            _, actual_port = server.get_host_and_port()
            yield f"http://{HOST}:{actual_port}"
        finally:
            # The server thread is a daemon: never let a slow shutdown keep us alive.
            stopper = threading.Thread(target=server.stop, daemon=True)
            stopper.start()
            stopper.join(timeout=10)


def sandbox_session(endpoint_url: str) -> Any:
    """A BotoSesManager with moto's dummy credentials, pointed at ``endpoint_url``."""
    from boto_session_manager import BotoSesManager

    return BotoSesManager(
        region_name=SANDBOX_REGION,
        default_client_kwargs={"endpoint_url": endpoint_url},
        **SANDBOX_CREDENTIALS,
    )


def check_profile(environ: Mapping[str, str]) -> None:
    """Fail clearly when AWS_PROFILE names a missing profile: moto's embedded server (and
    boto3) read it and would fail on every request with an internal error."""
    profile = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE")
    if not profile:
        return
    import botocore.session

    if profile not in botocore.session.Session().available_profiles:
        raise click.ClickException(
            f"AWS_PROFILE names the profile {profile!r}, which is not configured on this "
            "machine; the embedded endpoint reads it too. Unset AWS_PROFILE and retry."
        )


def export_lines(endpoint_url: str, bucket: str) -> list[str]:
    """The shell lines that point the CLI (VERSIONED_*) and boto3 (AWS_*) at the sandbox."""
    return [
        f"export VERSIONED_ENDPOINT_URL={endpoint_url}",
        f"export AWS_ENDPOINT_URL={endpoint_url}",
        f"export AWS_ACCESS_KEY_ID={SANDBOX_CREDENTIALS['aws_access_key_id']}",
        f"export AWS_SECRET_ACCESS_KEY={SANDBOX_CREDENTIALS['aws_secret_access_key']}",
        f"export AWS_DEFAULT_REGION={SANDBOX_REGION}",
        f"export VERSIONED_BUCKET={bucket}",
    ]
