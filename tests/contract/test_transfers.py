"""Large-artifact transfers: interrupted multipart uploads leave no parts, progress
callbacks, multipart server-side copies on publish, verified alias downloads."""

from __future__ import annotations

import base64
import hashlib
import random
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _testkit import Backend, MiB, sha256_hex, split_s3uri
from boto_session_manager import BotoSesManager

from versioned import exc

DATA = random.Random(7).randbytes(11 * MiB)


def small_parts(backend: Backend, bsm: BotoSesManager | None = None, **extra: Any) -> Any:
    """A repository whose multipart paths start at 5 MiB (S3's minimum part size)."""
    return backend.new_repo(
        bsm or backend.bsm, multipart_threshold=5 * MiB, part_size=5 * MiB, **extra
    )


def test_interrupted_multipart_upload_leaves_no_parts(
    backend: Backend, raw_s3: Any, make_bsm: Callable[..., BotoSesManager]
) -> None:
    bsm = make_bsm()  # hooks must be registered before the session builds its clients
    seen: list[str] = []

    def fail_second_part(**kwargs: Any) -> None:
        operation = str(kwargs.get("event_name", "")).rsplit(".", 1)[-1]
        seen.append(operation)
        if operation == "UploadPart" and seen.count("UploadPart") == 2:
            raise RuntimeError("connection lost while sending a part")

    bsm.boto_ses.events.register("before-send", fail_second_part)
    repo = small_parts(backend, bsm)
    with pytest.raises(RuntimeError, match="connection lost"):
        repo.put_artifact(bsm=bsm, name="big", content=DATA)

    assert "CreateMultipartUpload" in seen and "AbortMultipartUpload" in seen
    uploads = raw_s3.list_multipart_uploads(Bucket=repo.s3_bucket)
    assert uploads.get("Uploads", []) == []
    with pytest.raises(exc.ArtifactNotFoundError):
        repo.get_artifact_version(bsm=bsm, name="big")
    # Repeating the interrupted call completes it.
    artifact = repo.put_artifact(bsm=bsm, name="big", content=DATA)
    assert artifact.get_content(bsm=bsm) == DATA


def test_progress_reports_every_byte_on_put_and_download(backend: Backend, tmp_path: Path) -> None:
    repo = small_parts(backend)
    put_calls: list[tuple[int, int]] = []
    artifact = repo.put_artifact(
        bsm=backend.bsm,
        name="big",
        content=DATA,
        progress=lambda done, total: put_calls.append((done, total)),
    )
    assert put_calls[-1] == (len(DATA), len(DATA))
    assert all(total == len(DATA) for _, total in put_calls)
    done_values = [done for done, _ in put_calls]
    assert done_values == sorted(done_values) and len(put_calls) >= 3

    get_calls: list[tuple[int, int]] = []
    target = tmp_path / "out.bin"
    artifact.download(
        bsm=backend.bsm,
        path=target,
        progress=lambda done, total: get_calls.append((done, total)),
    )
    assert target.read_bytes() == DATA
    assert get_calls[-1] == (len(DATA), len(DATA))
    assert [d for d, _ in get_calls] == sorted(d for d, _ in get_calls)


def test_publish_uses_a_multipart_copy_above_the_single_copy_limit(
    backend: Backend, raw_s3: Any, make_bsm: Callable[..., BotoSesManager]
) -> None:
    """Publishing an object larger than one CopyObject may carry (5 GiB on AWS; 5 MiB here)
    goes through UploadPartCopy, keeping metadata and content type; dedup still holds."""
    bsm = make_bsm()
    seen: list[str] = []
    bsm.boto_ses.events.register(
        "before-send",
        lambda **kw: seen.append(str(kw.get("event_name", "")).rsplit(".", 1)[-1]),
    )
    repo = small_parts(backend, bsm, single_copy_limit=5 * MiB)
    repo.put_artifact(
        bsm=bsm,
        name="big",
        content=DATA,
        content_type="application/x-model",
        metadata={"framework": "onnx"},
    )
    seen.clear()
    version = repo.publish_artifact_version(bsm=bsm, name="big")
    assert "UploadPartCopy" in seen
    assert version.sha256 == sha256_hex(DATA)
    assert version.get_content(bsm=bsm) == DATA
    bucket, key = split_s3uri(version.s3uri)
    head = raw_s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == "application/x-model"
    assert head["Metadata"]["framework"] == "onnx"
    assert head["Metadata"]["artifact_sha256"] == sha256_hex(DATA)
    again = repo.publish_artifact_version(bsm=bsm, name="big")
    assert again.version == version.version  # unchanged: compared by sha256, not ETag
    assert raw_s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_alias_downloads_are_verified(backend: Backend, raw_s3: Any, tmp_path: Path) -> None:
    v1 = backend.put_and_publish("app", b"stable bytes")
    v2 = backend.put_and_publish("app", b"canary bytes")
    alias = backend.repo.put_alias(
        bsm=backend.bsm,
        name="app",
        alias="prod",
        version=1,
        secondary_version=2,
        secondary_version_weight=20,
    )
    primary = alias.download_version(bsm=backend.bsm, path=tmp_path / "primary")
    secondary = alias.download_secondary_version(bsm=backend.bsm, path=tmp_path / "secondary")
    assert Path(primary).read_bytes() == b"stable bytes"
    assert Path(secondary).read_bytes() == b"canary bytes"
    assert v1.version == "1" and v2.version == "2"

    assert alias.secondary_version_s3uri is not None
    bucket, key = split_s3uri(alias.secondary_version_s3uri)
    metadata = raw_s3.head_object(Bucket=bucket, Key=key)["Metadata"]
    raw_s3.put_object(Bucket=bucket, Key=key, Body=b"tampered", Metadata=metadata)
    with pytest.raises(exc.IntegrityError):
        alias.download_secondary_version(bsm=backend.bsm, path=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    with pytest.raises(exc.IntegrityError):
        alias.get_secondary_version_content(bsm=backend.bsm)


@pytest.mark.parametrize("source", ["bytes", "path", "stream"])
def test_each_part_carries_the_sha256_of_exactly_its_bytes(
    backend: Backend, make_bsm: Callable[..., BotoSesManager], tmp_path: Path, source: str
) -> None:
    """Parts are read into buffers reused from part to part: every UploadPart carries the
    SHA-256 checksum of the bytes it sends, the parts are the content in order (the short
    last one too), and the checksum header stands in for the payload hash in the
    signature (UNSIGNED-PAYLOAD, as botocore signs a checksummed part over HTTPS)."""
    bsm = make_bsm()
    sent: dict[int, tuple[bytes, dict[str, str]]] = {}

    def record(request: Any, **kwargs: Any) -> None:
        if str(kwargs.get("event_name", "")).endswith(".UploadPart"):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
            headers = {
                k.lower(): v.decode() if isinstance(v, bytes) else v
                for k, v in request.headers.items()
            }
            sent[int(query["partNumber"][0])] = (bytes(request.body), headers)

    bsm.boto_ses.events.register("before-send", record)
    path = tmp_path / "big.bin"
    path.write_bytes(DATA)
    content: Any = {"bytes": DATA, "path": path}.get(source)
    with path.open("rb") as opened:
        if content is None:  # a stream that cannot seek: spooled, then read part by part
            content = _Unseekable(opened)
        artifact = small_parts(backend, bsm).put_artifact(bsm=bsm, name="big", content=content)

    assert artifact.sha256 == sha256_hex(DATA)
    parts = [sent[number] for number in sorted(sent)]
    assert [len(body) for body, _ in parts] == [5 * MiB, 5 * MiB, 1 * MiB]
    assert b"".join(body for body, _ in parts) == DATA
    for body, headers in parts:
        checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
        assert headers["x-amz-checksum-sha256"] == checksum
        assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert artifact.get_content(bsm=bsm) == DATA


class _Unseekable:
    """A binary stream that can only be read forward (a pipe)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size)
        return data

    def seekable(self) -> bool:
        return False
