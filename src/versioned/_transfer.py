"""Transfers: uploads of prepared content (:class:`~versioned._content.Content`), single
and multipart, and server-side copies, single and multipart, with the settings that
choose between them."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import logging
import urllib.parse
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from ._content import Content, checksum
from ._multipart import ObjectWrite, multipart_upload
from ._retry import RetryPolicy
from ._s3 import (
    MiB,
    ObjectInfo,
    Precondition,
    Progress,
    error_code,
    head,
    same_etag,
    served_at,
    status_code,
    translate,
)
from .exc import ValidationError

logger = logging.getLogger(__name__)

#: attempts of a request re-sent by the library (``copy``)
OWN_ATTEMPTS = 8
#: error codes of an S3 request worth sending again (besides any 5xx)
TRANSIENT_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed"}
)
#: how a copy the library re-sends itself waits between attempts
COPY_RETRY = RetryPolicy(max_attempts=OWN_ATTEMPTS, base_secs=0.05, cap_secs=1.0)


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
    return multipart_upload(s3, request, content, transfer, progress)


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
    retry: RetryPolicy = COPY_RETRY,
) -> CopyResult:
    """Server-side copy of ``source_key`` (as ``source`` describes it) to ``key``.

    ``once``: a client of the same session that does not retry (``make_client(...,
    retries=False)``); the CopyObject is then never sent again blindly (see
    ``_copy_looking_first``), and at most ``OWN_ATTEMPTS`` times under ``retry``.

    Up to ``single_copy_limit``: one CopyObject that keeps the source's metadata, so the
    copy is self-consistent (bytes and recorded sha256 come from the same source state)
    even where a server ignores ``CopySourceIfMatch``. Larger: a multipart copy, completed
    only if the source's ETag did not change meanwhile. Raises Precondition when the
    source changed or the destination exists (where the server checks it), and
    ContentionError when every attempt through ``once`` failed transiently."""
    if source.size > transfer.single_copy_limit:
        job = _CopyJob(bucket, source_key, key, source, if_none_match)
        return _multipart_copy(s3, job, transfer)
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
            response = _copy_looking_first(s3, once, request, retry)
    result = response.get("CopyObjectResult", {})
    return CopyResult(
        etag=str(result.get("ETag", "")),
        sha256=_decode_checksum(result.get("ChecksumSHA256")),
        last_modified=result.get("LastModified"),
    )


def _copy_looking_first(s3: Any, once: Any, request: dict[str, Any], retry: RetryPolicy) -> Any:
    """CopyObject through ``once`` (no retries of its own); after a transient failure the
    destination is HEADed before the copy is sent again, and if it exists, Precondition.

    botocore re-sends a request whose response was lost. AWS refuses the second copy
    (``IfNoneMatch``), but servers that ignore the copy's conditions (moto, MiniStack)
    copy again, over a version that may have been handed out meanwhile, from a source
    that may have changed. Looking first keeps a number naming the bytes it was handed
    out with there too. The attempts go through ``retry`` (at most ``OWN_ATTEMPTS``),
    which raises ContentionError once they are spent."""
    bucket, key = request["Bucket"], request["Key"]
    for attempt in retry.attempts("copy", f"s3://{bucket}/{key}", max_attempts=OWN_ATTEMPTS):
        try:
            return once.copy_object(**request)
        except ClientError as error:
            if not (status_code(error) >= 500 or error_code(error) in TRANSIENT_CODES):
                raise
            attempt.conflict(f"CopyObject failed ({error_code(error) or status_code(error)})")
        except (HTTPClientError, BotoConnectionError) as error:
            attempt.conflict(f"CopyObject failed ({type(error).__name__})")
        if head(s3, bucket, key) is not None:
            raise Precondition(
                f"COPY s3://{bucket}/{key}: the destination exists "
                "(an earlier attempt of this copy may have landed)"
            )
    raise AssertionError("unreachable: the retry policy raises when its attempts are spent")


def _decode_checksum(value: str | None) -> str | None:
    if not value or "-" in value:
        return None
    with contextlib.suppress(ValueError):
        raw = base64.b64decode(value, validate=True)
        if len(raw) == 32:
            return raw.hex()
    return None


@dataclasses.dataclass(frozen=True)
class _CopyJob:
    """One multipart copy: from where to where, and the source state it copies."""

    bucket: str
    source_key: str
    key: str
    source: ObjectInfo
    if_none_match: bool
    upload_id: str = ""


def _multipart_copy(s3: Any, job: _CopyJob, transfer: TransferSettings) -> CopyResult:
    """Copy the source in parts, then complete only if the source is unchanged."""
    extra: dict[str, Any] = {"Metadata": dict(job.source.metadata)}
    if job.source.content_type:
        extra["ContentType"] = job.source.content_type
    with translate("CREATE multipart copy", job.bucket, job.key):
        response = s3.create_multipart_upload(Bucket=job.bucket, Key=job.key, **extra)
    job = dataclasses.replace(job, upload_id=response["UploadId"])
    size = job.source.size
    part = max(transfer.part_size, 256 * MiB) if size > 256 * MiB else transfer.part_size
    ranges = [
        (index + 1, offset, min(offset + part, size) - 1)
        for index, offset in enumerate(range(0, size, part))
    ]
    try:
        with ThreadPoolExecutor(max_workers=transfer.max_workers) as pool:
            completed = list(pool.map(lambda item: _copy_part(s3, job, *item), ranges))
        return _complete_copy(s3, job, completed)
    except BaseException:
        with contextlib.suppress(Exception):
            s3.abort_multipart_upload(Bucket=job.bucket, Key=job.key, UploadId=job.upload_id)
        raise


def _copy_part(s3: Any, job: _CopyJob, number: int, first: int, last: int) -> dict[str, Any]:
    with translate("COPY part", job.bucket, job.key, conditional=True):
        response = s3.upload_part_copy(
            Bucket=job.bucket,
            Key=job.key,
            UploadId=job.upload_id,
            PartNumber=number,
            CopySource={"Bucket": job.bucket, "Key": job.source_key},
            CopySourceRange=f"bytes={first}-{last}",
            CopySourceIfMatch=job.source.etag,
        )
    return {"ETag": response["CopyPartResult"]["ETag"], "PartNumber": number}


def _complete_copy(s3: Any, job: _CopyJob, completed: list[dict[str, Any]]) -> CopyResult:
    # Servers that ignore CopySourceIfMatch on part copies could mix two versions of
    # the source: complete only if the source is still the one the parts came from.
    after = head(s3, job.bucket, job.source_key)
    if after is None or after.etag != job.source.etag:
        raise Precondition(f"s3://{job.bucket}/{job.source_key} changed during a multipart copy")
    condition = {"IfNoneMatch": "*"} if job.if_none_match else {}
    with translate("COMPLETE multipart copy", job.bucket, job.key, conditional=True):
        response = s3.complete_multipart_upload(
            Bucket=job.bucket,
            Key=job.key,
            UploadId=job.upload_id,
            MultipartUpload={"Parts": completed},
            **condition,
        )
    # the object's time: when the server completed it (the answer carries no LastModified)
    return CopyResult(str(response["ETag"]), job.source.sha256, served_at(response))
