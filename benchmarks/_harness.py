"""Shared helpers for the benchmark scripts: a local moto server and a counted session."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

from boto_session_manager import BotoSesManager

for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ.setdefault(_key, _value)

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Start a moto server on 127.0.0.1 (free port), yield its URL, stop it at the end."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request log lines
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def make_bsm(url: str) -> BotoSesManager:
    return BotoSesManager(
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        default_client_kwargs={"endpoint_url": url},
    )


def raw_client(url: str, service: str) -> object:
    """A plain boto3 client on its own session (not counted)."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return session.client(service, endpoint_url=url)


class RequestCounter:
    """Counts HTTP requests sent by every client later built from ``bsm.boto_ses``."""

    def __init__(self, bsm: BotoSesManager) -> None:
        self._lock = threading.Lock()
        self.count = 0
        bsm.boto_ses.events.register("before-send", self._on_send)

    def _on_send(self, **_: object) -> None:
        with self._lock:
            self.count += 1

    def reset(self) -> None:
        with self._lock:
            self.count = 0


def make_repository(backend: str, bsm: BotoSesManager, bucket: str, table: str) -> Any:
    """A bootstrapped repository: "s3-only" (prefix s3only) or "s3+ddb" (prefix ddb)."""
    from versioned import s3_and_dynamodb_backend, s3_only_backend

    repo: Any
    if backend == "s3-only":
        repo = s3_only_backend.Repository(
            aws_region="us-east-1", s3_bucket=bucket, s3_prefix="s3only"
        )
    else:
        repo = s3_and_dynamodb_backend.Repository(
            aws_region="us-east-1", s3_bucket=bucket, s3_prefix="ddb", dynamodb_table_name=table
        )
    repo.bootstrap(bsm=bsm)
    return repo
