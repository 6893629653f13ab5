"""The recorded sha256 always describes the stored bytes (piped
content, a file rewritten during put, a writer killed between its S3 write and its
DynamoDB commit)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from _chaoskit import Ops, RawStore, attempt, encode_content, workers
from _faultproxy import FaultProxy
from _testkit import LAYOUTS, Endpoints, MiB, sha256_hex

from versioned.exc import VersionedError

KiB = 1024
SMALL_PARTS = {"multipart_threshold": 5 * MiB, "part_size": 5 * MiB}


# ---------------------------------------------------------------- piped content
class NonSeekable(io.RawIOBase):
    """A readable stream that cannot seek (like stdin on a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def pipe_reader(data: bytes) -> BinaryIO:
    """The read end of an OS pipe; a thread writes ``data`` into it and closes it."""
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as writer:
            writer.write(data)

    threading.Thread(target=feed, daemon=True).start()
    return os.fdopen(read_fd, "rb")


@pytest.mark.parametrize("size", [100, 8 * KiB - 1, 5 * MiB + 1], ids=["100B", "8KiB-1", "5MiB+1"])
@pytest.mark.parametrize("stream", ["pipe", "nonseekable"])
@pytest.mark.parametrize("kind", LAYOUTS)
def test_non_seekable_stream_is_stored_whole(
    kind: str, stream: str, size: int, make_repo: Callable[..., Ops], raw: RawStore
) -> None:
    ops = make_repo(kind, **SMALL_PARTS)
    data = bytes(range(256)) * (size // 256) + b"t" * (size % 256)
    assert len(data) == size
    source: Any = pipe_reader(data) if stream == "pipe" else io.BufferedReader(NonSeekable(data))
    assert not source.seekable()
    with source:
        artifact = ops.put("app", source)
    assert artifact.sha256 == sha256_hex(data)
    latest = raw.latest(ops.place, "app")
    assert latest is not None
    stored = raw.data(ops.place.bucket, latest.key) or b""
    assert len(stored) == size, f"stored {len(stored)} of {size} bytes"
    assert latest.actual == latest.recorded == sha256_hex(data)


def _cli_env(ops: Ops, endpoints: Endpoints, tmp_path: Path) -> dict[str, str]:
    """The CLI's environment: one VERSIONED_ENDPOINT_URL when one server serves both
    services; else the per-service variables botocore reads (an endpoint URL setting
    would send both services to one server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VERSIONED_", "AWS_"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
            "VERSIONED_BUCKET": ops.place.bucket,
            "VERSIONED_PREFIX": ops.place.prefix,
            "VERSIONED_SUFFIX": ops.place.suffix,
        }
    )
    if ops.place.table:
        env["VERSIONED_TABLE"] = ops.place.table
    if endpoints.shared:
        env["VERSIONED_ENDPOINT_URL"] = endpoints.s3
    else:
        env["AWS_ENDPOINT_URL_S3"] = endpoints.s3
        env["AWS_ENDPOINT_URL_DYNAMODB"] = endpoints.dynamodb
    return env


@pytest.mark.parametrize("kind", LAYOUTS)
def test_cli_put_from_a_pipe_stores_every_byte(
    kind: str, make_repo: Callable[..., Ops], raw: RawStore, endpoints: Endpoints, tmp_path: Path
) -> None:
    """echo "hello world" | versioned put app -   then   versioned get app -o out"""
    ops = make_repo(kind)
    env = _cli_env(ops, endpoints, tmp_path)
    command = [sys.executable, "-m", "versioned"]
    put = subprocess.run(
        [*command, "put", "app", "-"],
        input=b"hello world\n",
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert put.returncode == 0, put.stderr.decode()
    latest = raw.latest(ops.place, "app")
    assert latest is not None
    assert raw.data(ops.place.bucket, latest.key) == b"hello world\n"
    assert latest.recorded == sha256_hex(b"hello world\n")
    out = tmp_path / "out.bin"
    get = subprocess.run(
        [*command, "get", "app", "-o", str(out)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert get.returncode == 0, get.stderr.decode()
    assert out.read_bytes() == b"hello world\n"


# ---------------------------------------------------------------- a file rewritten during put
REWRITER = """
import itertools, sys
path, size = sys.argv[1], int(sys.argv[2])
variants = [bytes([65 + i]) * size for i in range(5)]
print("started", flush=True)
with open(path, "r+b", buffering=0) as handle:
    for i in itertools.count():
        handle.seek(0)
        handle.write(variants[i % 5])
"""


@pytest.mark.parametrize(
    ("size", "puts"), [(256 * KiB, 25), (5 * MiB + 64 * KiB, 6)], ids=["single-part", "multipart"]
)
@pytest.mark.parametrize("kind", LAYOUTS)
def test_file_rewritten_during_put_never_stores_mismatched_bytes(
    kind: str,
    size: int,
    puts: int,
    make_repo: Callable[..., Ops],
    raw: RawStore,
    tmp_path: Path,
) -> None:
    ops = make_repo(kind, **SMALL_PARTS)
    path = tmp_path / "artifact.bin"
    path.write_bytes(b"@" * size)
    rewriter = subprocess.Popen(
        [sys.executable, "-c", REWRITER, str(path), str(size)],
        stdout=subprocess.PIPE,
        text=True,
    )
    mismatches: list[str] = []
    raised = 0
    try:
        assert rewriter.stdout is not None and rewriter.stdout.readline().strip() == "started"
        for index in range(puts):
            outcome = attempt(lambda: ops.put("app", path))
            if not outcome.ok:
                assert isinstance(outcome.error, VersionedError), outcome.describe()
                raised += 1
                continue
            latest = raw.latest(ops.place, "app")
            assert latest is not None
            if not (latest.actual == latest.recorded == outcome.value.sha256):
                mismatches.append(
                    f"put {index}: returned {outcome.value.sha256[:12]}, recorded "
                    f"{(latest.recorded or '')[:12]}, stored bytes hash to "
                    f"{(latest.actual or '')[:12]}"
                )
    finally:
        rewriter.kill()
        rewriter.wait()
    assert mismatches == [], (
        f"{len(mismatches)} of {puts} puts stored bytes that do not match their recorded "
        f"sha256 ({raised} raised): {mismatches[:5]}"
    )


# ---------------------------------------------------------------- a dead writer
def test_dynamodb_dead_writer_bytes_are_never_published_as_older_content(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    raw: RawStore,
) -> None:
    """A put of Y is SIGKILLed after S3 applied its write of Y and before its DynamoDB
    commit. A later put of X (the content before Y) must leave X in LATEST, and the next
    publish must hold bytes that hash to what it records, sha256(X)."""
    x = b"content X, the good one " * 50
    y = b"content Y, the dead writer's " * 50
    ops = make_repo("s3_dynamodb", lease_secs=2)
    place = ops.place
    ops.put("app", x)
    proxy = make_proxy()
    with workers(1) as (worker,):
        worker.ready()
        # the S3 request carrying Y is applied by the server; its answer never arrives
        rule = proxy.add("hold_response", method="PUT", body=y[:200])
        worker.send(place, proxy.url, "put", name="app", content=encode_content(y))
        held = rule.wait(60)
        worker.kill()
        held.release("drop")
    assert any(y[:200] in r.body for r in proxy.seen()), "the worker never wrote Y"

    again = attempt(lambda: ops.put("app", x))
    assert again.ok, again.describe()
    latest = raw.latest(place, "app")
    assert latest is not None
    stored = raw.data(place.bucket, latest.key)
    assert stored == x, (
        "after put(X), LATEST holds the dead writer's bytes "
        f"({'Y' if stored == y else 'other'}), recorded sha256 "
        f"{'sha256(X)' if latest.recorded == sha256_hex(x) else latest.recorded}"
    )
    published = attempt(lambda: ops.publish("app"))
    assert published.ok, published.describe()
    version = raw.versions(place, "app")[int(published.value.version)]
    assert version.actual == version.recorded, (
        f"version {published.value.version}: bytes {version.actual} vs recorded {version.recorded}"
    )
    assert version.recorded == sha256_hex(x) == published.value.sha256
