"""The only module that speaks S3: clients, conditional writes, multipart transfers,
verified downloads, and the mapping of botocore errors onto :mod:`versioned.exc`."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import tempfile
import threading
import urllib.parse
import weakref
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from . import constants as C
from .exc import ArtifactS3BackendError, IntegrityError, ValidationError

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

Progress = Callable[[int, int], None]
MiB = 1024 * 1024
CHUNK = 1 * MiB

#: botocore's standard retry mode: throttling, 5xx and connection errors are retried with
#: exponential backoff and jitter, up to this many attempts in all.
#: threads for metadata fan-out (HEADs, small GETs, conditional updates), which cost no
#: memory: many in flight hide per-request latency
FANOUT_WORKERS = 16

RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8},
    max_pool_connections=32,
)


@dataclasses.dataclass(frozen=True)
class TransferSettings:
    """How large objects move: above ``multipart_threshold`` bytes, uploads are multipart
    with ``part_size`` parts sent by ``max_workers`` threads (also used for parallel reads)."""

    multipart_threshold: int = 16 * MiB
    part_size: int = 8 * MiB
    max_workers: int = 6
    #: objects up to this size are copied with one CopyObject (S3's limit is 5 GiB);
    #: larger ones with a multipart copy
    single_copy_limit: int = 5 * 1024 * MiB

    def __post_init__(self) -> None:
        if self.part_size < 5 * MiB and self.multipart_threshold >= 5 * MiB:
            raise ValidationError("part_size must be at least 5 MiB (an S3 limit)")
        if self.max_workers < 1:
            raise ValidationError("max_workers must be >= 1")


# ------------------------------------------------------------------ clients
class _Clients:
    def __init__(self, bsm: BotoSesManager) -> None:
        self._bsm = bsm
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}

    def get(self, service: str) -> Any:
        client = self._cache.get(service)
        if client is None:
            with self._lock:
                client = self._cache.get(service)
                if client is None:
                    kwargs = dict(getattr(self._bsm, "default_client_kwargs", None) or {})
                    user_config = kwargs.pop("config", None)
                    config = RETRY_CONFIG.merge(user_config) if user_config else RETRY_CONFIG
                    client = self._bsm.boto_ses.client(service, config=config, **kwargs)
                    self._cache[service] = client
        return client


_CLIENTS: weakref.WeakKeyDictionary[Any, _Clients] = weakref.WeakKeyDictionary()
_CLIENTS_LOCK = threading.Lock()


def client(bsm: BotoSesManager, service: str) -> Any:
    """The ``service`` client of exactly this session, with the library's retry policy.

    Built once per session and cached beside it (weakly: the cache dies with the session).
    The session's own ``default_client_kwargs`` (endpoint_url, ...) are honoured.
    """
    clients = _CLIENTS.get(bsm)
    if clients is None:
        with _CLIENTS_LOCK:
            clients = _CLIENTS.get(bsm)
            if clients is None:
                clients = _Clients(bsm)
                _CLIENTS[bsm] = clients
    return clients.get(service)


# ------------------------------------------------------------------ errors
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
        status_code(error) in (409, 412) and error_code(error) != "BucketAlreadyOwnedByYou"
    )


def backend_error(
    error: Exception, action: str, bucket: str, key: str = ""
) -> ArtifactS3BackendError:
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
        return ArtifactS3BackendError(f"{action} {where} failed: {detail}.{hint}")
    return ArtifactS3BackendError(f"{action} {where} failed: {type(error).__name__}: {error}")


@contextlib.contextmanager
def translate(action: str, bucket: str, key: str = "") -> Iterator[None]:
    """Turn any botocore failure inside the block into an ArtifactS3BackendError."""
    try:
        yield
    except ClientError as error:
        raise backend_error(error, action, bucket, key) from error
    except BotoCoreError as error:
        raise backend_error(error, action, bucket, key) from error


# ------------------------------------------------------------------ objects
@dataclasses.dataclass(frozen=True)
class ObjectInfo:
    key: str
    etag: str
    size: int
    last_modified: datetime
    metadata: dict[str, str]
    content_type: str | None = None

    @property
    def sha256(self) -> str | None:
        return self.metadata.get(C.METADATA_KEY_ARTIFACT_SHA256)


def _info(key: str, response: Mapping[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        etag=response["ETag"],
        size=int(response.get("ContentLength", response.get("Size", 0))),
        last_modified=response["LastModified"],
        metadata={k.lower(): v for k, v in (response.get("Metadata") or {}).items()},
        content_type=response.get("ContentType"),
    )


def head(s3: Any, bucket: str, key: str) -> ObjectInfo | None:
    """HEAD one object; None when absent. 1 request."""
    try:
        response = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if is_not_found(error):
            return None
        raise backend_error(error, "HEAD", bucket, key) from error
    except BotoCoreError as error:
        raise backend_error(error, "HEAD", bucket, key) from error
    return _info(key, response)


def head_many(s3: Any, bucket: str, keys: list[str], workers: int) -> list[ObjectInfo | None]:
    """HEAD many objects in parallel, results in the order of ``keys``."""
    if len(keys) <= 1:
        return [head(s3, bucket, key) for key in keys]
    with ThreadPoolExecutor(max_workers=min(workers, len(keys))) as pool:
        return list(pool.map(lambda key: head(s3, bucket, key), keys))


@dataclasses.dataclass(frozen=True)
class ListedObject:
    key: str
    etag: str
    size: int
    last_modified: datetime


def list_objects(
    s3: Any,
    bucket: str,
    prefix: str,
    *,
    max_keys: int | None = None,
    start_after: str | None = None,
) -> list[ListedObject]:
    """List keys under ``prefix`` in lexicographic order (1 request per 1000 keys); with
    ``max_keys``, at most that many (1 request when max_keys <= 1000)."""
    found: list[ListedObject] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if max_keys is not None:
        kwargs["MaxKeys"] = max_keys
    if start_after:
        kwargs["StartAfter"] = start_after
    with translate("LIST", bucket, prefix):
        while True:
            response = s3.list_objects_v2(**kwargs)
            for item in response.get("Contents", []):
                found.append(
                    ListedObject(item["Key"], item["ETag"], item["Size"], item["LastModified"])
                )
            if max_keys is not None and len(found) >= max_keys:
                return found[:max_keys]
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                return found
            kwargs["ContinuationToken"] = token


def list_folders(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The immediate sub-folder names under ``prefix`` (1 request per 1000 names)."""
    names: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}
    with translate("LIST", bucket, prefix):
        while True:
            response = s3.list_objects_v2(**kwargs)
            for item in response.get("CommonPrefixes", []):
                names.append(item["Prefix"][len(prefix) :].rstrip("/"))
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                return names
            kwargs["ContinuationToken"] = token


def delete(s3: Any, bucket: str, key: str, *, if_match: str | None = None) -> None:
    """Delete one object; absent objects are fine. PreconditionFailed propagates."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if if_match:
        kwargs["IfMatch"] = if_match
    try:
        s3.delete_object(**kwargs)
    except ClientError as error:
        if is_not_found(error) and not if_match:
            return
        if is_precondition_failed(error) or is_not_found(error):
            raise
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
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise ArtifactS3BackendError(
                f"DELETE s3://{bucket}/{first.get('Key')} failed: "
                f"{first.get('Code')} {first.get('Message')} ({len(errors)} keys failed)"
            )


def delete_prefix(s3: Any, bucket: str, prefix: str) -> list[str]:
    """Delete every object under ``prefix``; return the deleted keys."""
    keys = [item.key for item in list_objects(s3, bucket, prefix)]
    delete_many(s3, bucket, keys)
    return keys


def ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    """Create the bucket in ``region`` unless it already exists (idempotent)."""
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as error:
        if status_code(error) not in (404,) and error_code(error) not in ("404", "NoSuchBucket"):
            raise backend_error(error, "HEAD bucket", bucket) from error
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region and region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as error:
        if error_code(error) not in ("BucketAlreadyOwnedByYou",):
            raise backend_error(error, "CREATE bucket", bucket) from error


def tagging(tags: Mapping[str, str]) -> str:
    return urllib.parse.urlencode(dict(tags))


# ------------------------------------------------------------------ content sources
class Source:
    """Content to upload, hashed once while reading, re-readable for the upload.

    bytes-like objects stay in memory; paths are read twice from disk (hash, then send);
    seekable files are rewound; non-seekable streams are spooled to a temporary file.
    """

    def __init__(self, content: object) -> None:
        self._temp: IO[bytes] | None = None
        self._path: str | None = None
        self._file: BinaryIO | None = None
        self._buffer: memoryview | None = None
        self._start = 0
        digest = hashlib.sha256()
        if isinstance(content, str):
            raise TypeError(
                "content must be bytes, a path (os.PathLike) or a binary file; got str. "
                "Encode text first, or pass pathlib.Path(...) for a file."
            )
        if isinstance(content, bytes | bytearray | memoryview):
            self._buffer = memoryview(content).cast("B")
            digest.update(self._buffer)
            self.size = self._buffer.nbytes
        elif isinstance(content, os.PathLike):
            path = os.fsdecode(os.fspath(content))
            self._path = path
            if not os.path.isfile(path):
                raise ValidationError(f"content path {path!r} is not a file")
            self.size = 0
            with open(path, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
                    self.size += len(chunk)
        elif hasattr(content, "read"):
            stream: BinaryIO = content  # type: ignore[assignment]
            seekable = False
            with contextlib.suppress(Exception):
                seekable = bool(stream.seekable())
            if seekable:
                self._file = stream
                self._start = stream.tell()
                self.size = 0
            else:
                self._temp = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
                self.size = 0
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                if not isinstance(chunk, bytes | bytearray):
                    raise TypeError("content file must be opened in binary mode")
                digest.update(chunk)
                self.size += len(chunk)
                if self._temp is not None:
                    self._temp.write(chunk)
        else:
            raise TypeError(
                "content must be bytes-like, a path (os.PathLike) or a readable binary file, "
                f"got {type(content).__name__}"
            )
        self.sha256 = digest.hexdigest()

    def read_range(self, offset: int, length: int) -> bytes:
        """Thread-safe read of ``length`` bytes at ``offset``."""
        if self._buffer is not None:
            return bytes(self._buffer[offset : offset + length])
        if self._path is not None:
            with open(self._path, "rb") as file:
                return os.pread(file.fileno(), length, offset)
        handle: IO[bytes] | None = self._temp if self._temp is not None else self._file
        assert handle is not None
        base = 0 if self._temp is not None else self._start
        try:
            return os.pread(handle.fileno(), length, base + offset)
        except (AttributeError, OSError, io.UnsupportedOperation):
            with _SEEK_LOCK:
                handle.seek(base + offset)
                return handle.read(length)

    def body(self) -> Any:
        """A body for a single PutObject: bytes for small content."""
        return self.read_range(0, self.size)

    def close(self) -> None:
        if self._temp is not None:
            self._temp.close()


_SEEK_LOCK = threading.Lock()


def put_source(
    s3: Any,
    bucket: str,
    key: str,
    source: Source,
    *,
    metadata: Mapping[str, str],
    content_type: str | None,
    tags: Mapping[str, str] | None,
    transfer: TransferSettings,
    if_match: str | None = None,
    if_none_match: bool = False,
    progress: Progress | None = None,
) -> str:
    """Upload ``source`` to ``key`` in one atomic, optionally conditional write.

    Small content: one PutObject. Larger than the threshold: a multipart upload with parts
    sent in parallel, completed conditionally; any failure aborts it (no parts are left).
    Returns the new ETag. PreconditionFailed is raised as a ClientError for the caller.
    """
    extra: dict[str, Any] = {"Metadata": dict(metadata)}
    if content_type:
        extra["ContentType"] = content_type
    if tags:
        extra["Tagging"] = tagging(tags)
    condition: dict[str, Any] = {}
    if if_match:
        condition["IfMatch"] = if_match
    elif if_none_match:
        condition["IfNoneMatch"] = "*"
    if progress:
        progress(0, source.size)
    if source.size <= transfer.multipart_threshold:
        try:
            response = s3.put_object(
                Bucket=bucket, Key=key, Body=source.body(), **extra, **condition
            )
        except ClientError as error:
            if is_precondition_failed(error) or is_not_found(error):
                raise
            raise backend_error(error, "PUT", bucket, key) from error
        except BotoCoreError as error:
            raise backend_error(error, "PUT", bucket, key) from error
        if progress:
            progress(source.size, source.size)
        return str(response["ETag"])
    return _multipart_upload(s3, bucket, key, source, extra, condition, transfer, progress)


def _multipart_upload(
    s3: Any,
    bucket: str,
    key: str,
    source: Source,
    extra: dict[str, Any],
    condition: dict[str, Any],
    transfer: TransferSettings,
    progress: Progress | None,
) -> str:
    with translate("CREATE multipart upload", bucket, key):
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]
    done = 0
    lock = threading.Lock()

    def send(part: tuple[int, int, int]) -> dict[str, Any]:
        nonlocal done
        number, offset, length = part
        data = source.read_range(offset, length)
        response = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )
        del data
        if progress:
            with lock:
                done += length
                progress(done, source.size)
        return {"ETag": response["ETag"], "PartNumber": number}

    size = transfer.part_size
    parts = [
        (index + 1, offset, min(size, source.size - offset))
        for index, offset in enumerate(range(0, source.size, size))
    ]
    try:
        with ThreadPoolExecutor(max_workers=transfer.max_workers) as pool:
            completed = list(pool.map(send, parts))
        response = s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": completed},
            **condition,
        )
        return str(response["ETag"])
    except BaseException as error:
        with contextlib.suppress(Exception):
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        if isinstance(error, ClientError) and (
            is_precondition_failed(error) or is_not_found(error)
        ):
            raise
        if isinstance(error, ClientError | BotoCoreError):
            raise backend_error(error, "multipart PUT", bucket, key) from error
        raise


def copy_object(
    s3: Any,
    bucket: str,
    source_key: str,
    key: str,
    *,
    size: int,
    transfer: TransferSettings,
    source_etag: str | None = None,
    metadata: Mapping[str, str] | None = None,
    content_type: str | None = None,
    if_none_match: bool = False,
) -> tuple[str, str | None]:
    """Server-side copy of ``source_key`` to ``key``; returns (etag, sha256 of the copied
    bytes as S3 computed it, or None for multipart copies).

    Up to 5 GiB: one CopyObject asking S3 for the SHA-256 checksum of what it copied.
    Larger: a multipart copy (UploadPartCopy in parallel) completed conditionally.
    ``metadata`` given replaces the source's metadata, else it is kept.
    """
    source = {"Bucket": bucket, "Key": source_key}
    extra: dict[str, Any] = {}
    if metadata is not None:
        extra["Metadata"] = dict(metadata)
        extra["MetadataDirective"] = "REPLACE"
        if content_type:
            extra["ContentType"] = content_type
    if size <= transfer.single_copy_limit:
        if source_etag:
            extra["CopySourceIfMatch"] = source_etag
        if if_none_match:
            extra["IfNoneMatch"] = "*"
        try:
            response = s3.copy_object(
                Bucket=bucket, Key=key, CopySource=source, ChecksumAlgorithm="SHA256", **extra
            )
        except ClientError as error:
            if is_precondition_failed(error) or is_not_found(error):
                raise
            raise backend_error(error, "COPY", bucket, key) from error
        except BotoCoreError as error:
            raise backend_error(error, "COPY", bucket, key) from error
        result = response.get("CopyObjectResult", {})
        checksum = result.get("ChecksumSHA256")
        sha = None
        if checksum and "-" not in checksum:
            import base64

            sha = base64.b64decode(checksum).hex()
        return str(result["ETag"]), sha
    return _multipart_copy(
        s3, bucket, source_key, key, size, transfer, source_etag, extra, if_none_match
    ), None


def _multipart_copy(
    s3: Any,
    bucket: str,
    source_key: str,
    key: str,
    size: int,
    transfer: TransferSettings,
    source_etag: str | None,
    extra: dict[str, Any],
    if_none_match: bool,
) -> str:
    create_args = {k: v for k, v in extra.items() if k in ("Metadata", "ContentType")}
    if "Metadata" not in create_args:
        head_response = s3.head_object(Bucket=bucket, Key=source_key)
        create_args["Metadata"] = head_response.get("Metadata", {})
        if head_response.get("ContentType"):
            create_args["ContentType"] = head_response["ContentType"]
    with translate("CREATE multipart copy", bucket, key):
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create_args)["UploadId"]
    part = max(transfer.part_size, 256 * MiB)
    ranges = [
        (index + 1, offset, min(offset + part, size) - 1)
        for index, offset in enumerate(range(0, size, part))
    ]

    def copy_part(item: tuple[int, int, int]) -> dict[str, Any]:
        number, first, last = item
        kwargs: dict[str, Any] = {}
        if source_etag:
            kwargs["CopySourceIfMatch"] = source_etag
        response = s3.upload_part_copy(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            CopySource={"Bucket": bucket, "Key": source_key},
            CopySourceRange=f"bytes={first}-{last}",
            **kwargs,
        )
        return {"ETag": response["CopyPartResult"]["ETag"], "PartNumber": number}

    try:
        with ThreadPoolExecutor(max_workers=transfer.max_workers) as pool:
            completed = list(pool.map(copy_part, ranges))
        condition = {"IfNoneMatch": "*"} if if_none_match else {}
        response = s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": completed},
            **condition,
        )
        return str(response["ETag"])
    except BaseException as error:
        with contextlib.suppress(Exception):
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        if isinstance(error, ClientError) and (
            is_precondition_failed(error) or is_not_found(error)
        ):
            raise
        if isinstance(error, ClientError | BotoCoreError):
            raise backend_error(error, "multipart COPY", bucket, key) from error
        raise


# ------------------------------------------------------------------ reads
def get_object(s3: Any, bucket: str, key: str) -> Any:
    """GetObject response (streaming body); None when absent."""
    try:
        return s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if is_not_found(error):
            return None
        raise backend_error(error, "GET", bucket, key) from error
    except BotoCoreError as error:
        raise backend_error(error, "GET", bucket, key) from error


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
    return meta.get(C.METADATA_KEY_ARTIFACT_SHA256)


def _must_get(s3: Any, bucket: str, key: str) -> Any:
    response = get_object(s3, bucket, key)
    if response is None:
        from .exc import ArtifactNotFoundError

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
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    response = _must_get(s3, bucket, key)
    total = int(response.get("ContentLength", 0))
    digest = hashlib.sha256()
    handle, temp_path = tempfile.mkstemp(prefix=".versioned-", suffix=".part", dir=directory)
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
    return target


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
