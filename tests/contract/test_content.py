"""Content sources, downloads and streaming reads, integrity checks, multipart transfers."""

from __future__ import annotations

import io
import os
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from _testkit import Backend, MiB, sha256_hex, split_s3uri

from versioned import exc

NAME = "my_app"
DATA = random.Random(1234).randbytes(300 * 1024)  # bigger than a pipe's buffer
BIG = random.Random(99).randbytes(12 * MiB)


class ReadOnlyStream:
    """A file-like object with nothing but read()."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._buffer.read(size)


@contextmanager
def pipe_reader(data: bytes) -> Iterator[Any]:
    """The read end of an OS pipe, fed by a thread (non-seekable)."""
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with open(write_fd, "wb") as writer:
            writer.write(data)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    with open(read_fd, "rb") as reader:
        assert not reader.seekable()
        yield reader
    thread.join(timeout=30)
    assert not thread.is_alive()


@contextmanager
def content_source(kind: str, data: bytes, tmp_path: Path) -> Iterator[Any]:
    if kind == "bytes":
        yield data
    elif kind == "bytearray":
        yield bytearray(data)
    elif kind == "memoryview":
        yield memoryview(data)
    elif kind == "path":
        path = tmp_path / "source.bin"
        path.write_bytes(data)
        yield path
    elif kind == "file":
        path = tmp_path / "source.bin"
        path.write_bytes(data)
        with path.open("rb") as handle:
            yield handle
    elif kind == "pipe":
        with pipe_reader(data) as reader:
            yield reader
    elif kind == "read_only":
        yield ReadOnlyStream(data)
    else:  # pragma: no cover
        raise AssertionError(kind)


SOURCE_KINDS = ["bytes", "bytearray", "memoryview", "path", "file", "pipe", "read_only"]


@pytest.mark.parametrize("kind", SOURCE_KINDS)
def test_content_sources(backend: Backend, kind: str, tmp_path: Path) -> None:
    with content_source(kind, DATA, tmp_path) as content:
        artifact = backend.put(NAME, content)
    assert artifact.sha256 == sha256_hex(DATA)
    assert artifact.get_content(bsm=backend.bsm) == DATA

    target = tmp_path / "downloaded.bin"
    returned = artifact.download(bsm=backend.bsm, path=target)
    assert Path(returned) == target
    assert target.read_bytes() == DATA

    with artifact.open(bsm=backend.bsm) as reader:
        assert reader.read() == DATA

    version = backend.publish(NAME)
    assert version.sha256 == sha256_hex(DATA)
    assert version.get_content(bsm=backend.bsm) == DATA


def test_content_of_wrong_kind_refused_before_any_request(
    offline_backend: Backend, tmp_path: Path
) -> None:
    backend = offline_backend
    text_file = tmp_path / "text.txt"
    text_file.write_text("some text")
    backend.counter.reset()
    with text_file.open("r") as handle, pytest.raises(TypeError):
        backend.put(NAME, handle)
    with pytest.raises(TypeError):
        backend.put(NAME, io.StringIO("text"))
    with pytest.raises(ValueError):
        backend.put(NAME, tmp_path / "missing.bin")
    with pytest.raises(ValueError):
        backend.put(NAME, tmp_path)  # a directory
    assert backend.counter.count == 0


def test_empty_content(backend: Backend, tmp_path: Path) -> None:
    artifact = backend.put(NAME, b"")
    assert artifact.sha256 == sha256_hex(b"")
    assert artifact.get_content(bsm=backend.bsm) == b""
    target = tmp_path / "empty.bin"
    artifact.download(bsm=backend.bsm, path=target)
    assert target.read_bytes() == b""
    assert backend.publish(NAME).version == "1"


def test_open_reads_in_chunks(backend: Backend) -> None:
    artifact = backend.put(NAME, DATA)
    chunks = []
    with artifact.open(bsm=backend.bsm) as reader:
        while chunk := reader.read(64 * 1024):
            chunks.append(chunk)
    assert b"".join(chunks) == DATA
    assert len(chunks) > 1


def test_alias_download_version(backend: Backend, tmp_path: Path) -> None:
    backend.put_and_publish(NAME, b"one")
    backend.put_and_publish(NAME, b"two")
    alias = backend.repo.put_alias(
        bsm=backend.bsm,
        name=NAME,
        alias="prod",
        version=1,
        secondary_version=2,
        secondary_version_weight=50,
    )
    primary = alias.download_version(bsm=backend.bsm, path=tmp_path / "primary.bin")
    secondary = alias.download_secondary_version(bsm=backend.bsm, path=tmp_path / "second.bin")
    assert Path(primary).read_bytes() == b"one"
    assert Path(secondary).read_bytes() == b"two"


# ------------------------------------------------------------------ integrity
def tamper(raw_s3: Any, artifact: Any, new_body: bytes) -> None:
    """Overwrite a version's object out-of-band, keeping its metadata (and recorded sha)."""
    bucket, key = split_s3uri(artifact.s3uri)
    head = raw_s3.head_object(Bucket=bucket, Key=key)
    raw_s3.put_object(Bucket=bucket, Key=key, Body=new_body, Metadata=head["Metadata"])


@pytest.mark.parametrize("version", ["1", "LATEST"])
def test_tampered_object_raises_integrity_error(
    backend: Backend, raw_s3: Any, tmp_path: Path, version: str
) -> None:
    backend.put_and_publish(NAME, b"genuine bytes")
    artifact = backend.repo.get_artifact_version(bsm=backend.bsm, name=NAME, version=version)
    tamper(raw_s3, artifact, b"evil bytes!!!")
    downloads = tmp_path / "downloads"
    downloads.mkdir()

    alias = backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias="prod", version=version)
    attempts: dict[str, Callable[[], Any]] = {
        "get_content": lambda: artifact.get_content(bsm=backend.bsm),
        "download": lambda: artifact.download(bsm=backend.bsm, path=downloads / "out.bin"),
        "open": lambda: _read_all(artifact, backend),
        "alias.get_version_content": lambda: alias.get_version_content(bsm=backend.bsm),
        "alias.download_version": lambda: alias.download_version(
            bsm=backend.bsm, path=downloads / "alias.bin"
        ),
    }
    for label, attempt in attempts.items():
        with pytest.raises(exc.IntegrityError):
            attempt()
            pytest.fail(f"{label} returned tampered bytes")
    assert list(downloads.iterdir()) == []  # neither the target nor a temporary file


def _read_all(artifact: Any, backend: Backend) -> bytes:
    with artifact.open(bsm=backend.bsm) as reader:
        return bytes(reader.read())


def test_download_failure_leaves_existing_file_alone(
    backend: Backend, raw_s3: Any, tmp_path: Path
) -> None:
    version = backend.put_and_publish(NAME, b"genuine bytes")
    tamper(raw_s3, version, b"evil bytes!!!")
    target = tmp_path / "out.bin"
    target.write_bytes(b"previous download")
    with pytest.raises(exc.IntegrityError):
        version.download(bsm=backend.bsm, path=target)
    assert target.read_bytes() == b"previous download"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


# ------------------------------------------------------------------ multipart
@pytest.mark.parametrize("kind", ["bytes", "pipe"])
def test_multipart_round_trip_and_publish(
    backend: Backend, raw_s3: Any, tmp_path: Path, kind: str
) -> None:
    repo = backend.new_repo(backend.bsm, multipart_threshold=5 * MiB, part_size=5 * MiB)
    bsm = backend.bsm
    data = BIG

    with content_source(kind, data, tmp_path) as content:
        latest = repo.put_artifact(bsm=bsm, name="big", content=content)
    assert latest.sha256 == sha256_hex(data)
    assert latest.get_content(bsm=bsm) == data
    bucket, key = split_s3uri(latest.s3uri)
    etag = raw_s3.head_object(Bucket=bucket, Key=key)["ETag"]
    assert etag.strip('"').endswith("-3"), f"expected 3 parts of 5 MiB, ETag {etag}"

    version = repo.publish_artifact_version(bsm=bsm, name="big")
    assert version.version == "1"
    assert version.sha256 == sha256_hex(data)
    assert version.get_content(bsm=bsm) == data
    fetched = repo.get_artifact_version(bsm=bsm, name="big", version=1)
    assert fetched.sha256 == sha256_hex(data)

    uploads = raw_s3.list_multipart_uploads(Bucket=repo.s3_bucket)
    assert uploads.get("Uploads", []) == []
