"""Small helpers shared by the test modules (no fixtures here; see conftest.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
MiB = 1024 * 1024

#: Operation-name prefixes that only read (S3 and DynamoDB).
READ_OPERATION_PREFIXES = (
    "Get",
    "Head",
    "List",
    "Query",
    "Scan",
    "Describe",
    "BatchGet",
    "TransactGet",
)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unique_bucket() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def unique_table() -> str:
    return f"test-table-{uuid.uuid4().hex[:12]}"


def split_s3uri(uri: str) -> tuple[str, str]:
    """("bucket", "key") of an ``s3://bucket/key`` URI."""
    assert uri.startswith("s3://"), uri
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


class RequestCounter:
    """Counts the HTTP requests a boto3 session sends (hooked on ``before-send``).

    Attach it to a session before the library builds its clients from that session:
    clients copy the session's event handlers when they are created.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (method, url)
        self.operations: list[str] = []  # e.g. "s3.PutObject"
        self.retries = 0  # sends that were botocore retries of an earlier attempt

    @classmethod
    def attach(cls, bsm: BotoSesManager) -> RequestCounter:
        counter = cls()
        bsm.boto_ses.events.register("before-send", counter)
        return counter

    def __call__(self, **kwargs: Any) -> None:
        # Must return None: a non-None return value from before-send replaces the response.
        request = kwargs["request"]
        event_name = str(kwargs.get("event_name", ""))
        operation = ".".join(event_name.split(".")[1:3])
        retry = "attempt=1" not in str(request.headers.get("amz-sdk-request", "attempt=1"))
        with self._lock:
            self.requests.append((request.method, request.url))
            self.operations.append(operation)
            self.retries += retry

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    @property
    def calls(self) -> int:
        """Requests the library asked for (first attempts; retries not counted)."""
        with self._lock:
            return len(self.requests) - self.retries

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.operations.clear()
            self.retries = 0

    def write_operations(self) -> list[str]:
        """The operations seen that are not pure reads."""
        with self._lock:
            return [
                op
                for op in self.operations
                if not op.rsplit(".", 1)[-1].startswith(READ_OPERATION_PREFIXES)
            ]


@dataclasses.dataclass
class Backend:
    """A bootstrapped repository of one kind, its session and that session's counter."""

    kind: str
    repo: Any
    bsm: BotoSesManager
    counter: RequestCounter
    new_repo: Callable[..., Any]  # new_repo(bsm, **constructor_kwargs) -> bootstrapped repo

    @property
    def bucket(self) -> str:
        return str(self.repo.s3_bucket)

    # Thin conveniences; every call passes keywords, including bsm=.
    def put(self, name: str, content: Any, **kwargs: Any) -> Any:
        return self.repo.put_artifact(bsm=self.bsm, name=name, content=content, **kwargs)

    def publish(self, name: str) -> Any:
        return self.repo.publish_artifact_version(bsm=self.bsm, name=name)

    def put_and_publish(self, name: str, content: bytes) -> Any:
        self.put(name, content)
        return self.publish(name)

    def versions(self, name: str) -> list[str]:
        return [a.version for a in self.repo.list_artifact_versions(bsm=self.bsm, name=name)]
