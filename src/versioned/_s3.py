"""The S3 requests: clients, plain reads and writes of objects, and the one translation of
botocore errors (:data:`ERROR_TABLE`).

Conditional failures (412 / 409) surface as :class:`Precondition`, an internal signal
the layouts turn into protocol decisions; a missing object is ``None``; everything else
becomes :class:`~versioned.exc.ArtifactS3BackendError`. Transfers live in
:mod:`versioned._transfer`, verified reads in :mod:`versioned._verified`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import functools
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from . import constants
from ._pool import fan_out
from ._retry import log_request_retries
from .exc import (
    ArtifactS3BackendError,
    BackendError,
    BucketNotFoundError,
    CredentialsError,
    EndpointUnreachableError,
    ProfileNotFoundError,
    S3CredentialsError,
    S3EndpointUnreachableError,
)

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

Progress = Callable[[int, int], None]
MiB = 1024 * 1024
CHUNK = 1 * MiB
logger = logging.getLogger(__name__)

#: botocore's standard retry mode: throttling, 5xx and connection errors are retried with
#: exponential backoff and jitter. A retried conditional write may meet its own earlier
#: attempt; every caller of a conditional write recognises that case.
#: Connections are opened as requests run at once and kept: up to 160, a purge's soft
#: deletes on DynamoDB (``dynamodb_retire.PURGE_WORKERS``); transfers use far fewer.
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=160)
#: for requests the library re-sends itself, after looking at what the last attempt did
ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})


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
    client = boto_session(bsm).client(service, config=config, **kwargs)
    log_request_retries(client)
    return client


def boto_session(bsm: BotoSesManager) -> Any:
    """The session's boto3 session; a profile no AWS file defines raises
    :class:`~versioned.exc.ProfileNotFoundError` (botocore raises on first use)."""
    try:
        return bsm.boto_ses
    except ProfileNotFound as error:
        raise ProfileNotFoundError(str(error.kwargs.get("profile", ""))) from error


def content_client(bsm: BotoSesManager) -> Any:
    """The S3 client a session caches for itself (``bsm.get_client``), for reading the
    content of versions the public dataclasses point at."""
    boto_session(bsm)
    return bsm.get_client("s3")


# ------------------------------------------------------------------ errors
class Precondition(Exception):
    """A conditional request was refused (412, or 409 for a conflicting concurrent write)."""


@dataclasses.dataclass(frozen=True)
class Translation:
    """What one storage failure becomes: the library's exception, built from the message
    and the code, and what to do next (appended to the message)."""

    error: Callable[[str, str], BackendError]
    hint: str = ""


def connection_failures(
    credentials: type[CredentialsError], unreachable: type[EndpointUnreachableError]
) -> dict[str, Translation]:
    """The failures botocore raises instead of an answer, for any service: no credentials,
    no connection. Keyed by the name of the botocore exception class."""
    missing = Translation(
        functools.partial(credentials, missing=True),
        " No AWS credentials were found: configure a profile (aws configure, AWS_PROFILE) "
        "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
    )
    no_connection = Translation(unreachable, " Check the endpoint URL and the network.")
    return {
        "NoCredentialsError": missing,
        "PartialCredentialsError": missing,
        "EndpointConnectionError": no_connection,
        "ConnectTimeoutError": no_connection,
    }


def lookup(table: Mapping[str, Translation], error: Exception) -> Translation | None:
    """The table's entry for ``error``: by AWS's error code for an answer, else by the
    botocore exception class (or the nearest base class the table names)."""
    if isinstance(error, ClientError):
        return table.get(error_code(error))
    return next((table[c.__name__] for c in type(error).__mro__ if c.__name__ in table), None)


#: S3 error codes (and statuses) meaning "no such object" and "condition refused"
NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
REFUSED_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})
#: 409 codes that are not a refused condition
BUCKET_CONFLICT_CODES = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})
_PERMISSIONS = " Check the session's credentials and its S3 permissions."
_REJECTED = Translation(S3CredentialsError, _PERMISSIONS)

#: The one translation of S3 failures into the library's errors (anything not named here
#: is an ArtifactS3BackendError carrying its code).
ERROR_TABLE: Mapping[str, Translation] = {
    "NoSuchBucket": Translation(
        BucketNotFoundError, " The bucket does not exist: run Repository.bootstrap() first."
    ),
    "AccessDenied": Translation(ArtifactS3BackendError, _PERMISSIONS),
    "403": Translation(ArtifactS3BackendError, _PERMISSIONS),
    "InvalidAccessKeyId": _REJECTED,
    "SignatureDoesNotMatch": _REJECTED,
    "ExpiredToken": _REJECTED,
    "InvalidToken": _REJECTED,
    **connection_failures(S3CredentialsError, S3EndpointUnreachableError),
}


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def status_code(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def is_not_found(error: ClientError) -> bool:
    return error_code(error) in NOT_FOUND_CODES or (
        status_code(error) == 404 and error_code(error) != "NoSuchBucket"
    )


def is_precondition_failed(error: ClientError) -> bool:
    return error_code(error) in REFUSED_CODES or (
        status_code(error) in (409, 412) and error_code(error) not in BUCKET_CONFLICT_CODES
    )


def backend_error(error: Exception, action: str, bucket: str, key: str = "") -> BackendError:
    """The one translation of a botocore failure into the library's error (an
    ArtifactS3BackendError, of the subclass :data:`ERROR_TABLE` names)."""
    where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    if isinstance(error, ClientError):
        code = error_code(error)
        message = error.response.get("Error", {}).get("Message", "")
        detail = f"{code} {message}".strip().rstrip(".") + "."
    else:
        code = type(error).__name__
        detail = f"{code}: {error}"
    return translated(f"{action} {where} failed: {detail}", code, lookup(ERROR_TABLE, error))


def translated(message: str, code: str, translation: Translation | None) -> BackendError:
    """The library's error for a failure the table knows (or an ArtifactS3BackendError)."""
    if translation is None:
        translation = Translation(ArtifactS3BackendError)
    error = translation.error(message + translation.hint, code)
    logger.debug("%s (%s)", message, type(error).__name__)
    return error


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
        if conditional and (is_precondition_failed(error) or error_code(error) in NOT_FOUND_CODES):
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


def fetch(
    call: Callable[..., Any], action: str, bucket: str, key: str, *, refused_is_absent: bool = False
) -> Any:
    """Send one read of an object; None when the object is absent (or, with
    ``refused_is_absent``, when the read's condition was refused)."""
    try:
        return call(Bucket=bucket, Key=key)
    except ClientError as error:
        if is_not_found(error) or (refused_is_absent and is_precondition_failed(error)):
            return None
        raise backend_error(error, action, bucket, key) from error
    except BotoCoreError as error:
        raise backend_error(error, action, bucket, key) from error


def head(s3: Any, bucket: str, key: str, *, if_match: str | None = None) -> ObjectInfo | None:
    """HEAD one object; None when absent (or, with ``if_match``, when it is another
    object than that ETag names). 1 request."""
    if if_match is None:
        response = fetch(s3.head_object, "HEAD", bucket, key)
    else:
        call = functools.partial(s3.head_object, IfMatch=if_match)
        response = fetch(call, "HEAD", bucket, key, refused_is_absent=True)
    return None if response is None else _info(key, response)


def head_many(s3: Any, bucket: str, keys: list[str]) -> list[ObjectInfo | None]:
    """HEAD many objects in parallel, results in the order of ``keys``."""
    return fan_out(lambda key: head(s3, bucket, key), keys)


@dataclasses.dataclass(frozen=True)
class Document:
    """A small object read whole: its bytes, ETag and metadata."""

    body: bytes
    etag: str
    metadata: dict[str, str]
    last_modified: datetime
    #: the server's clock when it answered (the Date header), beside ``last_modified``
    #: (also the server's clock): an age measured between the two ignores client skew
    served_at: datetime | None = None


def served_at(response: Mapping[str, Any]) -> datetime | None:
    """The Date header of a response (the server's clock), or None."""
    header = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        moment = email.utils.parsedate_to_datetime(header) if header else None
    except (TypeError, ValueError):
        return None
    if moment is not None and moment.tzinfo is None:  # "-0000": UTC, source unknown
        moment = moment.replace(tzinfo=UTC)
    return moment


def get_document(s3: Any, bucket: str, key: str) -> Document | None:
    """GET a small object whole; None when absent. 1 request."""
    response = fetch(s3.get_object, "GET", bucket, key)
    if response is None:
        return None
    with translate("GET", bucket, key):
        body: bytes = response["Body"].read()
    return Document(
        body=body,
        etag=str(response["ETag"]),
        metadata={k.lower(): v for k, v in (response.get("Metadata") or {}).items()},
        last_modified=response["LastModified"],
        served_at=served_at(response),
    )


#: what :func:`get_document_if_changed` returns while the object still has the ETag given
NOT_MODIFIED = "not modified"


def get_document_if_changed(s3: Any, bucket: str, key: str, etag: str | None) -> Any:
    """GET a small object unless it still has ``etag`` (a conditional GET, If-None-Match):
    :data:`NOT_MODIFIED` then (304, no body sent), None when absent, else the Document.
    1 request."""
    if etag is None:
        return get_document(s3, bucket, key)
    quoted_etag = etag if etag.startswith('"') else f'"{etag}"'
    try:
        response = s3.get_object(Bucket=bucket, Key=key, IfNoneMatch=quoted_etag)
    except ClientError as error:
        if status_code(error) == 304 or error_code(error) in ("304", "NotModified"):
            return NOT_MODIFIED
        if is_not_found(error):
            return None
        raise backend_error(error, "GET", bucket, key) from error
    except BotoCoreError as error:
        raise backend_error(error, "GET", bucket, key) from error
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
            code = str(first.get("Code", ""))
            raise translated(
                f"DELETE s3://{bucket}/{first.get('Key')} failed: "
                f"{code} {first.get('Message')} ({len(errors)} keys failed).",
                code,
                ERROR_TABLE.get(code),
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


def same_etag(left: str | None, right: str | None) -> bool:
    """Two ETags name the same object content (quoted or not; an empty one matches none)."""
    return bool(left) and bool(right) and str(left).strip('"') == str(right).strip('"')
