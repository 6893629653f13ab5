"""Verified reads: downloads and streams that check the bytes against their sha256.

Nothing here uploads; a local cache reuses these without importing transfers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import os
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from . import constants
from ._s3 import CHUNK, Progress, fetch, translate
from .exc import ArtifactNotFoundError, IntegrityError, ValidationError


@dataclasses.dataclass(frozen=True)
class Expectation:
    """What a download must hash to: the sha256 recorded for it (None: unknown), and
    whether the object is mutable (LATEST), in which case bytes that match the object's
    own metadata are accepted even when LATEST moved on since it was read."""

    sha256: str | None
    mutable: bool = False

    def check(self, actual: str, object_sha256: str | None, bucket: str, key: str) -> None:
        if object_sha256 and actual != object_sha256:
            _integrity(actual, object_sha256, bucket, key)
        if self.sha256 and actual != self.sha256:
            if self.mutable and object_sha256 == actual:
                return
            _integrity(actual, self.sha256, bucket, key)


def _integrity(actual: str, expected: str, bucket: str, key: str) -> None:
    raise IntegrityError(
        f"s3://{bucket}/{key} hashes to sha256 {actual[:12]}..., but {expected[:12]}... is "
        "recorded for it: the object was changed or corrupted outside versioned. "
        "Run Repository.verify() to see what else is affected."
    )


def _object_sha(response: Mapping[str, Any]) -> str | None:
    meta = {k.lower(): v for k, v in (response.get("Metadata") or {}).items()}
    return meta.get(constants.METADATA_KEY_ARTIFACT_SHA256)


def _must_get(s3: Any, bucket: str, key: str, start: int = 0) -> Any:
    call = s3.get_object
    if start:
        call = functools.partial(s3.get_object, Range=f"bytes={start}-")
    response = fetch(call, "GET", bucket, key)
    if response is None:
        raise ArtifactNotFoundError(
            f"s3://{bucket}/{key} does not exist: the version was deleted or purged"
        )
    return response


def read_verified(s3: Any, bucket: str, key: str, expect: Expectation) -> bytes:
    """Download an object whole and check its sha256."""
    response = _must_get(s3, bucket, key)
    with translate("GET", bucket, key):
        data: bytes = response["Body"].read()
    expect.check(hashlib.sha256(data).hexdigest(), _object_sha(response), bucket, key)
    return data


def hash_object(s3: Any, bucket: str, key: str) -> tuple[str, str | None] | None:
    """(sha256 of the bytes, sha256 the object's metadata records), streaming; None when
    the object is absent."""
    response = fetch(s3.get_object, "GET", bucket, key)
    if response is None:
        return None
    digest = hashlib.sha256()
    with translate("GET", bucket, key):
        for chunk in response["Body"].iter_chunks(CHUNK):
            digest.update(chunk)
    return digest.hexdigest(), _object_sha(response)


def check_download_target(path: str | os.PathLike[str]) -> str:
    """The absolute target path, or a clear ValidationError before anything is fetched."""
    target = os.path.abspath(os.fspath(path))
    if os.path.isdir(target):
        raise ValidationError(f"{os.fspath(path)} is a directory; give a file path")
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise ValidationError(f"directory {directory} does not exist")
    return target


def download_verified(
    s3: Any,
    bucket: str,
    key: str,
    path: str | os.PathLike[str],
    expect: Expectation,
    *,
    progress: Progress | None = None,
) -> str:
    """Stream an object into a temporary file beside ``path``, check its sha256, then
    rename it into place. On a mismatch (or any failure) no file is left behind."""
    target = check_download_target(path)
    response = _must_get(s3, bucket, key)
    total = int(response.get("ContentLength", 0))
    digest = hashlib.sha256()
    handle, temp_path = _create_beside(target)
    try:
        with os.fdopen(handle, "wb") as out, translate("GET", bucket, key):
            done = 0
            if progress:
                progress(0, total)
            for chunk in response["Body"].iter_chunks(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        expect.check(digest.hexdigest(), _object_sha(response), bucket, key)
        os.replace(temp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_path)
        raise
    return os.fspath(path)


def _create_beside(target: str) -> tuple[int, str]:
    """A new temporary file beside ``target``, created with mode 0666 so that the umask
    gives it the mode any new file of the user gets (mkstemp's 0600 would stay on the
    renamed download)."""
    directory = os.path.dirname(target) or "."
    while True:
        temp_path = os.path.join(directory, f".versioned-{uuid.uuid4().hex}.part")
        try:
            return os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temp_path
        except FileExistsError:
            continue


def object_chunks(s3: Any, bucket: str, key: str, start: int) -> Iterator[bytes]:
    """The object's bytes from offset ``start`` (a ranged GET when ``start`` > 0), in
    chunks; the caller checks them against the recorded sha256. 1 request."""
    response = _must_get(s3, bucket, key, start)
    with translate("GET", bucket, key):
        yield from response["Body"].iter_chunks(CHUNK)


def presigned_get(s3: Any, bucket: str, key: str, expires_secs: int) -> str:
    """A presigned GET URL of the object (no request: signed locally)."""
    with translate("PRESIGN", bucket, key):
        url: str = s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_secs
        )
    return url


class VerifiedReader(io.RawIOBase):
    """A streaming binary reader over an S3 object that checks the sha256 at the end of
    the stream (raising IntegrityError on the read that reaches EOF)."""

    def __init__(
        self, body: Any, expect: Expectation, object_sha256: str | None, bucket: str, key: str
    ) -> None:
        super().__init__()
        self._body = body
        self._expect = expect
        self._object_sha256 = object_sha256
        self._digest = hashlib.sha256()
        self._where = (bucket, key)
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        with translate("GET", *self._where):
            data = self._body.read(len(view))
        if not data:
            if not self._checked:
                self._checked = True
                self._expect.check(self._digest.hexdigest(), self._object_sha256, *self._where)
            return 0
        self._digest.update(data)
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._body.close()
        super().close()


def open_verified(s3: Any, bucket: str, key: str, expect: Expectation) -> io.BufferedReader:
    response = _must_get(s3, bucket, key)
    reader = VerifiedReader(response["Body"], expect, _object_sha(response), bucket, key)
    return io.BufferedReader(reader, CHUNK)
