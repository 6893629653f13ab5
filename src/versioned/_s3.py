"""The only module that speaks S3: clients, conditional writes, checked uploads,
self-consistent copies, verified downloads, and the one translation of botocore errors.

Conditional failures (412 / 409) surface as :class:`Precondition`, an internal signal
the layouts turn into protocol decisions; a missing object is ``None``; everything else
becomes :class:`~versioned.exc.ArtifactS3BackendError`.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import hashlib
import io
import os
import random
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from . import constants
from ._retry import pause
from .exc import ArtifactNotFoundError, ArtifactS3BackendError, IntegrityError, ValidationError

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

Progress = Callable[[int, int], None]
MiB = 1024 * 1024
CHUNK = 1 * MiB
#: threads for metadata fan-out (HEADs, small GETs), which cost no memory
FANOUT_WORKERS = 16

#: botocore's standard retry mode: throttling, 5xx and connection errors are retried with
#: exponential backoff and jitter. A retried conditional write may meet its own earlier
#: attempt; every caller of a conditional write recognises that case.
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=32)
#: for requests the library re-sends itself, after looking at what the last attempt did
ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})
#: attempts of a request re-sent by the library (``copy``)
OWN_ATTEMPTS = 8
#: error codes of an S3 request worth sending again (besides any 5xx)
TRANSIENT_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed"}
)


@dataclasses.dataclass(frozen=True)
class TransferSettings:
    """How large objects move: above ``multipart_threshold`` bytes, uploads are multipart
    with ``part_size`` parts sent by ``max_workers`` threads; copies above
    ``single_copy_limit`` are multipart copies."""

    multipart_threshold: int = 16 * MiB
    part_size: int = 8 * MiB
    max_workers: int = 6
    single_copy_limit: int = 5 * 1024 * MiB

    def __post_init__(self) -> None:
        for label in ("multipart_threshold", "part_size", "max_workers", "single_copy_limit"):
            value = getattr(self, label)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{label} must be an int")
        if self.part_size < 5 * MiB and self.multipart_threshold >= 5 * MiB:
            raise ValidationError("part_size must be at least 5 MiB (an S3 limit)")
        if self.max_workers < 1 or self.multipart_threshold < 1 or self.single_copy_limit < 1:
            raise ValidationError("transfer settings must be positive")


# ------------------------------------------------------------------ clients
def make_client(bsm: BotoSesManager, service: str, *, retries: bool = True) -> Any:
    """A ``service`` client of exactly this session, with the library's retry policy (or,
    not ``retries``, one attempt per call) and the session's own ``default_client_kwargs``
    (endpoint_url, config...)."""
    kwargs = dict(getattr(bsm, "default_client_kwargs", None) or {})
    user_config = kwargs.pop("config", None)
    config = RETRY_CONFIG.merge(user_config) if user_config else RETRY_CONFIG
    if not retries:
        config = config.merge(ONE_ATTEMPT)
    return bsm.boto_ses.client(service, config=config, **kwargs)


def content_client(bsm: BotoSesManager) -> Any:
    """The S3 client a session caches for itself (``bsm.get_client``), for reading the
    content of versions the public dataclasses point at."""
    return bsm.get_client("s3")


# ------------------------------------------------------------------ errors
class Precondition(Exception):
    """A conditional request was refused (412, or 409 for a conflicting concurrent write)."""


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def status_code(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def is_not_found(error: ClientError) -> bool:
    return error_code(error) in ("NoSuchKey", "404", "NotFound") or (
        status_code(error) == 404 and error_code(error) != "NoSuchBucket"
    )


def is_precondition_failed(error: ClientError) -> bool:
    return error_code(error) in ("PreconditionFailed", "412", "ConditionalRequestConflict") or (
        status_code(error) in (409, 412)
        and error_code(error) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists")
    )


def backend_error(
    error: Exception, action: str, bucket: str, key: str = ""
) -> ArtifactS3BackendError:
    """The one translation of a botocore failure into the library's error."""
    where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    if isinstance(error, ClientError):
        code = error_code(error)
        message = error.response.get("Error", {}).get("Message", "")
        hint = ""
        if code == "NoSuchBucket":
            hint = " The bucket does not exist: run Repository.bootstrap() first."
        elif code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            hint = " Check the session's credentials and its S3 permissions."
        detail = f"{code} {message}".strip().rstrip(".")
        return ArtifactS3BackendError(f"{action} {where} failed: {detail}.{hint}", code)
    kind = type(error).__name__
    return ArtifactS3BackendError(f"{action} {where} failed: {kind}: {error}", kind)


@contextlib.contextmanager
def translate(
    action: str, bucket: str, key: str = "", *, conditional: bool = False
) -> Iterator[None]:
    """Turn botocore failures inside the block into the library's error; with
    ``conditional``, a refused precondition becomes :class:`Precondition`."""
    try:
        yield
    except ClientError as error:
        # A condition on an object that does not exist fails with 412 on some servers and
        # 404 NoSuchKey on others (moto, MiniStack): either way it is not the one expected.
        if conditional and (
            is_precondition_failed(error) or error_code(error) in ("NoSuchKey", "NotFound")
        ):
            raise Precondition(f"{action} s3://{bucket}/{key}: precondition failed") from error
        raise backend_error(error, action, bucket, key) from error
    except BotoCoreError as error:
        raise backend_error(error, action, bucket, key) from error


# ------------------------------------------------------------------ objects
@dataclasses.dataclass(frozen=True)
class ObjectInfo:
    """What a HEAD (or GET) tells about one object."""

    key: str
    etag: str
    size: int
    last_modified: datetime
    metadata: dict[str, str]
    content_type: str | None = None

    @property
    def sha256(self) -> str | None:
        return self.metadata.get(constants.METADATA_KEY_ARTIFACT_SHA256)


def _info(key: str, response: Mapping[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        etag=str(response["ETag"]),
        size=int(response.get("ContentLength", response.get("Size", 0))),
        last_modified=response["LastModified"],
        metadata={k.lower(): v for k, v in (response.get("Metadata") or {}).items()},
        content_type=response.get("ContentType"),
    )


def _fetch(call: Callable[..., Any], action: str, bucket: str, key: str) -> Any:
    """Send one read of an object; None when the object is absent."""
    try:
        return call(Bucket=bucket, Key=key)
    except ClientError as error:
        if is_not_found(error):
            return None
        raise backend_error(error, action, bucket, key) from error
    except BotoCoreError as error:
        raise backend_error(error, action, bucket, key) from error


def head(s3: Any, bucket: str, key: str, *, if_match: str | None = None) -> ObjectInfo | None:
    """HEAD one object; None when absent (or, with ``if_match``, when it is another
    object than that ETag names). 1 request."""
    call = (
        s3.head_object if if_match is None else functools.partial(s3.head_object, IfMatch=if_match)
    )
    try:
        response = _fetch(call, "HEAD", bucket, key)
    except ArtifactS3BackendError as error:
        cause = error.__cause__
        if (
            if_match is not None
            and isinstance(cause, ClientError)
            and is_precondition_failed(cause)
        ):
            return None
        raise
    return None if response is None else _info(key, response)


def head_many(s3: Any, bucket: str, keys: list[str]) -> list[ObjectInfo | None]:
    """HEAD many objects in parallel, results in the order of ``keys``."""
    return fan_out(lambda key: head(s3, bucket, key), keys)


def parallel(*calls: Callable[[], Any]) -> list[Any]:
    """Run independent requests at once (one round trip instead of several); results in
    order. The first failure is raised once all have finished."""
    return fan_out(lambda call: call(), list(calls))


def fan_out(function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """``[function(item) for item in items]`` on up to FANOUT_WORKERS threads."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(FANOUT_WORKERS, len(items))) as pool:
        return list(pool.map(function, items))


@dataclasses.dataclass(frozen=True)
class Document:
    """A small object read whole: its bytes, ETag and metadata."""

    body: bytes
    etag: str
    metadata: dict[str, str]
    last_modified: datetime


def get_document(s3: Any, bucket: str, key: str) -> Document | None:
    """GET a small object whole; None when absent. 1 request."""
    response = _fetch(s3.get_object, "GET", bucket, key)
    if response is None:
        return None
    with translate("GET", bucket, key):
        body: bytes = response["Body"].read()
    return Document(
        body=body,
        etag=str(response["ETag"]),
        metadata={k.lower(): v for k, v in (response.get("Metadata") or {}).items()},
        last_modified=response["LastModified"],
    )


@dataclasses.dataclass(frozen=True)
class ListedObject:
    key: str
    etag: str
    size: int
    last_modified: datetime


@dataclasses.dataclass
class Listing:
    objects: list[ListedObject]
    prefixes: list[str]


def list_objects(
    s3: Any,
    bucket: str,
    prefix: str,
    *,
    delimiter: str | None = None,
    start_after: str | None = None,
    max_keys: int | None = None,
) -> Listing:
    """List under ``prefix`` in key order (1 request per 1000 entries). With
    ``delimiter``, keys grouped by it come back as ``prefixes``; with ``max_keys``, at
    most that many objects (a single page when it is at most 1000)."""
    found = Listing([], [])
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if delimiter:
        kwargs["Delimiter"] = delimiter
    if start_after:
        kwargs["StartAfter"] = start_after
    if max_keys is not None:
        kwargs["MaxKeys"] = max_keys
    with translate("LIST", bucket, prefix):
        while True:
            response = s3.list_objects_v2(**kwargs)
            for item in response.get("Contents", []):
                found.objects.append(
                    ListedObject(
                        item["Key"], str(item.get("ETag", "")), item["Size"], item["LastModified"]
                    )
                )
            found.prefixes.extend(p["Prefix"] for p in response.get("CommonPrefixes", []))
            if max_keys is not None and len(found.objects) >= max_keys:
                found.objects = found.objects[:max_keys]
                return found
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                return found
            kwargs["ContinuationToken"] = token


def put_document(
    s3: Any,
    bucket: str,
    key: str,
    body: bytes,
    *,
    if_match: str | None = None,
    if_none_match: bool = False,
    metadata: Mapping[str, str] | None = None,
    content_type: str = "application/json",
) -> str:
    """Write a small object in one PutObject, optionally conditional; returns its ETag.
    Raises Precondition when the condition fails."""
    kwargs: dict[str, Any] = {"ContentType": content_type}
    if metadata:
        kwargs["Metadata"] = dict(metadata)
    if if_match:
        kwargs["IfMatch"] = if_match
    elif if_none_match:
        kwargs["IfNoneMatch"] = "*"
    with translate("PUT", bucket, key, conditional=True):
        response = s3.put_object(Bucket=bucket, Key=key, Body=body, **kwargs)
    return str(response["ETag"])


def delete(s3: Any, bucket: str, key: str, *, if_match: str | None = None) -> None:
    """Delete one object (absent is fine). With ``if_match``, raises Precondition when the
    object is another one (or gone)."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if if_match:
        kwargs["IfMatch"] = if_match
    try:
        s3.delete_object(**kwargs)
    except ClientError as error:
        if is_not_found(error):
            if if_match:
                raise Precondition(f"DELETE s3://{bucket}/{key}: object is gone") from error
            return
        if is_precondition_failed(error):
            raise Precondition(f"DELETE s3://{bucket}/{key}: precondition failed") from error
        raise backend_error(error, "DELETE", bucket, key) from error
    except BotoCoreError as error:
        raise backend_error(error, "DELETE", bucket, key) from error


def delete_many(s3: Any, bucket: str, keys: list[str]) -> None:
    """Delete keys in batches of 1000 (1 request per batch)."""
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        with translate("DELETE", bucket, batch[0]):
            response = s3.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
        errors = [e for e in response.get("Errors") or [] if e.get("Code") != "NoSuchKey"]
        if errors:
            first = errors[0]
            raise ArtifactS3BackendError(
                f"DELETE s3://{bucket}/{first.get('Key')} failed: "
                f"{first.get('Code')} {first.get('Message')} ({len(errors)} keys failed)"
            )


def ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    """Create the bucket in ``region`` unless it already exists (idempotent)."""
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as error:
        if status_code(error) != 404 and error_code(error) not in ("404", "NoSuchBucket"):
            raise backend_error(error, "HEAD bucket", bucket) from error
    except BotoCoreError as error:
        raise backend_error(error, "HEAD bucket", bucket) from error
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region and region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as error:
        if error_code(error) != "BucketAlreadyOwnedByYou":
            raise backend_error(error, "CREATE bucket", bucket) from error
    except BotoCoreError as error:
        raise backend_error(error, "CREATE bucket", bucket) from error


# ------------------------------------------------------------------ content to upload
def checksum(data: bytes | memoryview) -> str:
    """The base64 SHA-256 S3 expects in ``ChecksumSHA256``."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class Content:
    """Content for a put, hashed before anything is sent.

    Bytes stay in memory. A path or seekable file up to the multipart threshold is read
    once into memory, so the bytes sent are the bytes hashed. Larger ones are hashed, then
    read again part by part while the upload re-hashes them; if the two hashes differ
    (the file changed meanwhile) the upload is aborted. Non-seekable streams are spooled
    to a private temporary file while hashing.
    """

    def __init__(self, content: object, threshold: int) -> None:
        self._data: bytes | None = None
        self._path: str | None = None
        self._file: IO[bytes] | None = None
        self._start = 0
        self._spool: IO[bytes] | None = None
        if isinstance(content, str):
            raise TypeError(
                "content must be bytes, a path (os.PathLike) or a binary file; got str. "
                "Encode text first, or pass pathlib.Path(...) for a file."
            )
        if isinstance(content, bytes | bytearray | memoryview):
            self._data = bytes(content)
        elif isinstance(content, os.PathLike):
            self._open_path(os.fsdecode(os.fspath(content)), threshold)
        elif hasattr(content, "read"):
            self._open_stream(content, threshold)
        else:
            raise TypeError(
                "content must be bytes-like, a path (os.PathLike) or a readable binary file, "
                f"got {type(content).__name__}"
            )
        if self._data is not None:
            self.size = len(self._data)
            self.sha256 = hashlib.sha256(self._data).hexdigest()
        else:
            self.sha256, self.size = self._hash_file()

    def _open_path(self, path: str, threshold: int) -> None:
        if not os.path.isfile(path):
            raise ValidationError(f"content path {path!r} is not a file")
        if os.path.getsize(path) <= threshold:
            with open(path, "rb") as handle:
                self._data = handle.read()
        else:
            self._path = path

    def _open_stream(self, stream: Any, threshold: int) -> None:
        seekable = False
        with contextlib.suppress(Exception):
            seekable = bool(stream.seekable())
        if seekable:
            self._file, self._start = stream, stream.tell()
            stream.seek(0, os.SEEK_END)
            size = stream.tell() - self._start
            stream.seek(self._start)
            if size <= threshold:
                self._data = _read_binary(stream, size)
                self._file = None
            return
        spool = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        try:
            while chunk := stream.read(CHUNK):
                if not isinstance(chunk, bytes | bytearray):
                    raise TypeError("content file must be opened in binary mode")
                spool.write(chunk)
            spool.flush()
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        if spool.tell() == 0 and os.fstat(spool.fileno()).st_size <= threshold:
            self._data = spool.read()
            spool.close()
            return
        self._spool, self._file, self._start = spool, spool, 0

    def _chunks(self) -> Iterator[bytes]:
        """The content from its start, in chunks (one reader at a time)."""
        if self._path is not None:
            with open(self._path, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    yield chunk
            return
        assert self._file is not None
        self._file.seek(self._start)
        while chunk := self._file.read(CHUNK):
            if not isinstance(chunk, bytes | bytearray):
                raise TypeError("content file must be opened in binary mode")
            yield bytes(chunk)

    def _hash_file(self) -> tuple[str, int]:
        digest, size = hashlib.sha256(), 0
        for chunk in self._chunks():
            digest.update(chunk)
            size += len(chunk)
        return digest.hexdigest(), size

    @property
    def in_memory(self) -> bytes | None:
        return self._data

    def parts(self, part_size: int) -> Iterator[bytes]:
        """The content again, in parts of ``part_size`` bytes (the last may be shorter)."""
        if self._data is not None:
            for offset in range(0, len(self._data), part_size):
                yield self._data[offset : offset + part_size]
            if not self._data:
                yield b""
            return
        pending = bytearray()
        for chunk in self._chunks():
            pending += chunk
            while len(pending) >= part_size:
                yield bytes(pending[:part_size])
                del pending[:part_size]
        if pending:
            yield bytes(pending)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None


def _read_binary(stream: Any, size: int) -> bytes:
    data = stream.read(size) if size else b""
    if not isinstance(data, bytes | bytearray):
        raise TypeError("content file must be opened in binary mode")
    return bytes(data)


def tagging(tags: Mapping[str, str]) -> str:
    return urllib.parse.urlencode(dict(tags))


@dataclasses.dataclass(frozen=True)
class UploadRequest:
    """One object write: where, what, and the condition it is made under."""

    bucket: str
    key: str
    metadata: Mapping[str, str]
    content_type: str | None = None
    tags: Mapping[str, str] | None = None
    if_match: str | None = None
    if_none_match: bool = False

    def extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"Metadata": dict(self.metadata)}
        if self.content_type:
            extra["ContentType"] = self.content_type
        if self.tags:
            extra["Tagging"] = tagging(self.tags)
        return extra

    def condition(self) -> dict[str, Any]:
        if self.if_match:
            return {"IfMatch": self.if_match}
        if self.if_none_match:
            return {"IfNoneMatch": "*"}
        return {}


def upload(
    s3: Any,
    request: UploadRequest,
    content: Content,
    transfer: TransferSettings,
    progress: Progress | None = None,
) -> ObjectWrite:
    """Write ``content`` in one atomic, optionally conditional write; S3 verifies each
    request's SHA-256. Small content: one PutObject. Larger: a multipart upload completed
    only if the re-read content still hashes to ``content.sha256`` (else aborted, and
    IntegrityError raised). Raises Precondition when the condition fails."""
    if progress:
        progress(0, content.size)
    data = content.in_memory
    if data is not None and content.size <= transfer.multipart_threshold:
        with translate("PUT", request.bucket, request.key, conditional=True):
            response = s3.put_object(
                Bucket=request.bucket,
                Key=request.key,
                Body=data,
                ChecksumSHA256=checksum(data),
                **request.extra(),
                **request.condition(),
            )
        if progress:
            progress(content.size, content.size)
        return ObjectWrite(str(response["ETag"]))
    return _multipart_upload(s3, request, content, transfer, progress)


@dataclasses.dataclass(frozen=True)
class ObjectWrite:
    etag: str


def _multipart_upload(
    s3: Any,
    request: UploadRequest,
    content: Content,
    transfer: TransferSettings,
    progress: Progress | None,
) -> ObjectWrite:
    bucket, key = request.bucket, request.key
    with translate("CREATE multipart upload", bucket, key):
        upload_id = s3.create_multipart_upload(
            Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256", **request.extra()
        )["UploadId"]
    try:
        parts = _send_parts(s3, request, upload_id, content, transfer, progress)
        with translate("COMPLETE multipart upload", bucket, key, conditional=True):
            response = s3.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **request.condition(),
            )
        return ObjectWrite(str(response["ETag"]))
    except BaseException:
        with contextlib.suppress(Exception):
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise


def _send_parts(
    s3: Any,
    request: UploadRequest,
    upload_id: str,
    content: Content,
    transfer: TransferSettings,
    progress: Progress | None,
) -> list[dict[str, Any]]:
    """Read the parts in order (hashing them again), send them on ``max_workers``
    threads with at most that many in memory, and check the whole hash at the end."""
    digest = hashlib.sha256()
    lock = threading.Lock()
    slots = threading.BoundedSemaphore(transfer.max_workers)
    done = 0

    def send(number: int, data: bytes) -> dict[str, Any]:
        nonlocal done
        try:
            with translate("UPLOAD part", request.bucket, request.key):
                response = s3.upload_part(
                    Bucket=request.bucket,
                    Key=request.key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=data,
                    ChecksumSHA256=checksum(data),
                )
            if progress:
                with lock:
                    done += len(data)
                    progress(done, content.size)
            return {
                "ETag": response["ETag"],
                "PartNumber": number,
                "ChecksumSHA256": response.get("ChecksumSHA256") or checksum(data),
            }
        finally:
            slots.release()

    futures: list[Future[dict[str, Any]]] = []
    with ThreadPoolExecutor(max_workers=transfer.max_workers) as pool:
        for number, data in enumerate(content.parts(transfer.part_size), start=1):
            digest.update(data)
            slots.acquire()
            if any(f.done() and f.exception() for f in futures):
                slots.release()
                break
            futures.append(pool.submit(send, number, data))
        parts = [future.result() for future in futures]
    if digest.hexdigest() != content.sha256:
        raise IntegrityError(
            f"the content for s3://{request.bucket}/{request.key} changed while it was being "
            "uploaded (it no longer hashes to the sha256 computed first); nothing was stored. "
            "Put it again once it is stable."
        )
    return parts


# ------------------------------------------------------------------ copies
@dataclasses.dataclass(frozen=True)
class CopyResult:
    """What a server-side copy created: its ETag, the SHA-256 of the copied bytes when the
    server reports it, and its LastModified."""

    etag: str
    sha256: str | None
    last_modified: datetime | None

    def holds(self, source: ObjectInfo) -> str | None:
        """The SHA-256 of the copied bytes as far as the answer tells: the reported
        checksum, else the source's recorded sha256 when the copy has the source's ETag
        (the same bytes); None when only reading the copy can tell."""
        if self.sha256:
            return self.sha256
        return source.sha256 if same_etag(self.etag, source.etag) else None


def same_etag(left: str | None, right: str | None) -> bool:
    """Two ETags name the same object content (quoted or not; an empty one matches none)."""
    return bool(left) and bool(right) and str(left).strip('"') == str(right).strip('"')


def copy(
    s3: Any,
    bucket: str,
    source_key: str,
    key: str,
    *,
    source: ObjectInfo,
    transfer: TransferSettings,
    if_none_match: bool = True,
    once: Any | None = None,
) -> CopyResult:
    """Server-side copy of ``source_key`` (as ``source`` describes it) to ``key``.

    ``once``: a client of the same session that does not retry (``make_client(...,
    retries=False)``); the CopyObject is then never sent again blindly (see
    ``_copy_looking_first``).

    Up to ``single_copy_limit``: one CopyObject that keeps the source's metadata, so the
    copy is self-consistent (bytes and recorded sha256 come from the same source state)
    even where a server ignores ``CopySourceIfMatch``. Larger: a multipart copy, completed
    only if the source's ETag did not change meanwhile. Raises Precondition when the
    source changed or the destination exists (where the server checks it)."""
    if source.size > transfer.single_copy_limit:
        return _multipart_copy(s3, bucket, source_key, key, source, transfer, if_none_match)
    extra: dict[str, Any] = {"CopySourceIfMatch": source.etag}
    if if_none_match:
        extra["IfNoneMatch"] = "*"
    request = {
        "Bucket": bucket,
        "Key": key,
        "CopySource": {"Bucket": bucket, "Key": source_key},
        "ChecksumAlgorithm": "SHA256",
        **extra,
    }
    with translate("COPY", bucket, key, conditional=True):
        if once is None:
            response = s3.copy_object(**request)
        else:
            response = _copy_looking_first(s3, once, request)
    result = response.get("CopyObjectResult", {})
    return CopyResult(
        etag=str(result.get("ETag", "")),
        sha256=_decode_checksum(result.get("ChecksumSHA256")),
        last_modified=result.get("LastModified"),
    )


def _copy_looking_first(s3: Any, once: Any, request: dict[str, Any]) -> Any:
    """CopyObject through ``once`` (no retries of its own); after a transient failure the
    destination is HEADed before the copy is sent again, and if it exists, Precondition.

    botocore re-sends a request whose response was lost. AWS refuses the second copy
    (``IfNoneMatch``), but servers that ignore the copy's conditions (moto, MiniStack)
    copy again, over a version that may have been handed out meanwhile, from a source
    that may have changed. Looking first keeps a number naming the bytes it was handed
    out with there too."""
    for attempt in range(OWN_ATTEMPTS):
        try:
            return once.copy_object(**request)
        except ClientError as error:
            if attempt == OWN_ATTEMPTS - 1 or not (
                status_code(error) >= 500 or error_code(error) in TRANSIENT_CODES
            ):
                raise
        except (HTTPClientError, BotoConnectionError):
            if attempt == OWN_ATTEMPTS - 1:
                raise
        if head(s3, request["Bucket"], request["Key"]) is not None:
            raise Precondition(
                f"COPY s3://{request['Bucket']}/{request['Key']}: the destination exists "
                "(an earlier attempt of this copy may have landed)"
            )
        pause(random.uniform(0, min(1.0, 0.05 * 2**attempt)))
    raise AssertionError("unreachable")


def _decode_checksum(value: str | None) -> str | None:
    if not value or "-" in value:
        return None
    with contextlib.suppress(ValueError):
        raw = base64.b64decode(value, validate=True)
        if len(raw) == 32:
            return raw.hex()
    return None


def _multipart_copy(
    s3: Any,
    bucket: str,
    source_key: str,
    key: str,
    source: ObjectInfo,
    transfer: TransferSettings,
    if_none_match: bool,
) -> CopyResult:
    extra: dict[str, Any] = {"Metadata": dict(source.metadata)}
    if source.content_type:
        extra["ContentType"] = source.content_type
    with translate("CREATE multipart copy", bucket, key):
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]
    part = max(transfer.part_size, 256 * MiB) if source.size > 256 * MiB else transfer.part_size
    ranges = [
        (index + 1, offset, min(offset + part, source.size) - 1)
        for index, offset in enumerate(range(0, source.size, part))
    ]

    def copy_part(item: tuple[int, int, int]) -> dict[str, Any]:
        number, first, last = item
        with translate("COPY part", bucket, key, conditional=True):
            response = s3.upload_part_copy(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource={"Bucket": bucket, "Key": source_key},
                CopySourceRange=f"bytes={first}-{last}",
                CopySourceIfMatch=source.etag,
            )
        return {"ETag": response["CopyPartResult"]["ETag"], "PartNumber": number}

    try:
        with ThreadPoolExecutor(max_workers=transfer.max_workers) as pool:
            completed = list(pool.map(copy_part, ranges))
        # Servers that ignore CopySourceIfMatch on part copies could mix two versions of
        # the source: complete only if the source is still the one the parts came from.
        after = head(s3, bucket, source_key)
        if after is None or after.etag != source.etag:
            raise Precondition(f"s3://{bucket}/{source_key} changed during a multipart copy")
        condition = {"IfNoneMatch": "*"} if if_none_match else {}
        with translate("COMPLETE multipart copy", bucket, key, conditional=True):
            response = s3.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": completed},
                **condition,
            )
        return CopyResult(str(response["ETag"]), source.sha256, None)
    except BaseException:
        with contextlib.suppress(Exception):
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise


# ------------------------------------------------------------------ verified reads
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


def _must_get(s3: Any, bucket: str, key: str) -> Any:
    response = _fetch(s3.get_object, "GET", bucket, key)
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
    response = _fetch(s3.get_object, "GET", bucket, key)
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
    handle, temp_path = tempfile.mkstemp(
        prefix=".versioned-", suffix=".part", dir=os.path.dirname(target)
    )
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
