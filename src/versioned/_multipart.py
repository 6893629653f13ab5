"""Multipart uploads of prepared content: parts sent in parallel with their SHA-256, the
whole re-hashed before the upload completes; for a file, a local journal
(:mod:`versioned._journal`) that lets a later put resume the upload after a crash,
Ctrl-C or a lost network, sending only the parts the server does not hold."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import logging
import queue
import threading
from collections.abc import Generator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from . import _journal
from ._content import Content
from ._s3 import Progress, error_code, translate
from .exc import IntegrityError

if TYPE_CHECKING:
    from ._transfer import TransferSettings, UploadRequest

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ObjectWrite:
    etag: str


def multipart_upload(
    s3: Any,
    request: UploadRequest,
    content: Content,
    transfer: TransferSettings,
    progress: Progress | None,
) -> ObjectWrite:
    journal = _journal.open_journal(content.journal)
    if journal is not None:
        try:
            return _journaled_upload(s3, request, content, transfer, progress, journal)
        finally:
            journal.close()
    bucket, key = request.bucket, request.key
    upload_id = _create_upload(s3, request)
    try:
        plan = _Plan(upload_id, transfer.part_size)
        parts = _send_parts(s3, request, plan, content, transfer, progress)
        return _complete_upload(s3, request, upload_id, parts)
    except BaseException:
        with contextlib.suppress(Exception):
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise


def _create_upload(s3: Any, request: UploadRequest) -> str:
    with translate("CREATE multipart upload", request.bucket, request.key):
        response = s3.create_multipart_upload(
            Bucket=request.bucket, Key=request.key, ChecksumAlgorithm="SHA256", **request.extra()
        )
    return str(response["UploadId"])


def _complete_upload(
    s3: Any, request: UploadRequest, upload_id: str, parts: list[dict[str, Any]]
) -> ObjectWrite:
    with translate("COMPLETE multipart upload", request.bucket, request.key, conditional=True):
        response = s3.complete_multipart_upload(
            Bucket=request.bucket,
            Key=request.key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            **request.condition(),
        )
    return ObjectWrite(str(response["ETag"]))


@dataclasses.dataclass
class _Plan:
    """How the parts of one upload go: its id, the part size, and (a journaled upload)
    the journal that records each part sent and the parts the server holds already."""

    upload_id: str
    part_size: int
    journal: _journal.Journal | None = None
    listed: dict[int, _journal.ListedPart] = dataclasses.field(default_factory=dict)

    def reusable(self, number: int, data: bytes | bytearray) -> dict[str, Any] | None:
        """The entry of a part the server holds with exactly ``data``, else None."""
        if self.journal is None or self.journal.upload is None or number not in self.listed:
            return None
        recorded = self.journal.upload.parts.get(number)
        return _journal.reusable(number, data, recorded, self.listed[number])


def _journaled_upload(
    s3: Any,
    request: UploadRequest,
    content: Content,
    transfer: TransferSettings,
    progress: Progress | None,
    journal: _journal.Journal,
) -> ObjectWrite:
    """A multipart upload of a file that survives the process: the journal records it
    as it goes; a failure (Ctrl-C, a lost network, a kill) leaves the upload and its
    journal for a put with ``resume=True`` (or for the next put of the file to abort).
    Only a file that changed while it was sent gets its upload aborted at once."""
    plan = _resume_or_start(s3, request, content, transfer, journal)
    try:
        parts = _send_parts(s3, request, plan, content, transfer, progress)
        written = _complete_upload(s3, request, plan.upload_id, parts)
    except IntegrityError:
        _abort(s3, request.bucket, request.key, plan.upload_id)
        journal.remove()
        raise
    except BaseException as error:
        if journal.upload is None:  # nothing records it: no one could resume or abort it
            _abort(s3, request.bucket, request.key, plan.upload_id)
            raise
        # A second attempt of this same put (a refused condition) resumes this upload.
        content.journal = dataclasses.replace(journal.spot, resume=True)
        logger.debug(
            "upload %s of s3://%s/%s kept for a resume (journal %s)",
            plan.upload_id,
            request.bucket,
            request.key,
            journal.spot.file,
        )
        error.add_note(
            "The parts sent are kept: put the same file again with resume=True "
            "(versioned put --resume) to send only the missing ones."
        )
        raise
    journal.remove()
    return written


def _resume_or_start(
    s3: Any,
    request: UploadRequest,
    content: Content,
    transfer: TransferSettings,
    journal: _journal.Journal,
) -> _Plan:
    """The upload the journal names when resuming it makes sense (``resume``; the same
    object: place, metadata with the content's sha256, content type and tags; the
    upload still there), with the parts the server holds; else a new upload, after
    aborting the one a stale journal names."""
    previous = journal.load()
    print_ = _journal.fingerprint(request.bucket, request.key, request.extra())
    if previous is not None:
        if journal.spot.resume and previous.fingerprint == print_:
            listed = _list_parts(s3, previous.bucket, previous.key, previous.upload_id)
            if listed is not None:
                journal.upload = previous
                logger.debug(
                    "resuming upload %s of s3://%s/%s: the server holds %d parts",
                    previous.upload_id,
                    request.bucket,
                    request.key,
                    len(listed),
                )
                return _Plan(previous.upload_id, previous.part_size, journal, listed)
            logger.debug("upload %s no longer exists: starting over", previous.upload_id)
        else:
            logger.debug("aborting upload %s of an earlier put of this file", previous.upload_id)
            _abort(s3, previous.bucket, previous.key, previous.upload_id)
        journal.remove()
    upload_id = _create_upload(s3, request)
    assert content.path is not None
    journal.start(
        _journal.new_upload(
            request.bucket,
            request.key,
            upload_id,
            print_,
            transfer.part_size,
            content.path,
            content.sha256,
        )
    )
    return _Plan(upload_id, transfer.part_size, journal)


def _list_parts(
    s3: Any, bucket: str, key: str, upload_id: str
) -> dict[int, _journal.ListedPart] | None:
    """Every part the server holds for the upload; None when the upload is gone. A part
    number listed twice (SeaweedFS lists a replaced part beside its replacement) is left
    out: which bytes it holds is unknown, so it is sent again."""
    listed: dict[int, _journal.ListedPart] = {}
    twice: set[int] = set()
    marker = 0
    while True:
        with translate("LIST parts", bucket, key):
            try:
                response = s3.list_parts(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
                )
            except ClientError as error:
                if error_code(error) == "NoSuchUpload":
                    return None
                raise
        for part in response.get("Parts", []):
            number = int(part["PartNumber"])
            if number in listed:
                twice.add(number)
            sha256 = _journal.sha256_of_checksum(part.get("ChecksumSHA256"))
            listed[number] = _journal.ListedPart(
                number, str(part["ETag"]), int(part["Size"]), sha256
            )
        if not response.get("IsTruncated"):
            return {n: part for n, part in listed.items() if n not in twice}
        marker = int(response["NextPartNumberMarker"])


def _abort(s3: Any, bucket: str, key: str, upload_id: str) -> None:
    """Abort an upload; one already gone (or any failure: it is only storage) is fine."""
    try:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except (ClientError, BotoCoreError) as error:
        logger.debug("aborting upload %s of s3://%s/%s failed: %s", upload_id, bucket, key, error)


class _Buffers:
    """The part buffers of one upload, reused from part to part: a part is read into a
    free buffer (waiting for one when all are taken), which is given back once the part
    is sent. At most ``count`` parts are in memory, and no part is allocated anew."""

    def __init__(self, count: int, size: int) -> None:
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._size, self._left = size, count

    def take(self) -> bytearray:
        if self._left:  # allocated on first need: a small upload needs only a few
            self._left -= 1
            return bytearray(self._size)
        return self._free.get()

    def give(self, buffer: bytearray) -> None:
        if len(buffer) == self._size:  # not the short last part's copy (its own size)
            self._free.put(buffer)


class _PartSender:
    """Sends the parts of one multipart upload, each with its SHA-256 checksum, gives
    each part's buffer back once it is sent, records each part in the upload's journal
    (if any) and reports progress once per part."""

    def __init__(
        self,
        s3: Any,
        request: UploadRequest,
        plan: _Plan,
        total: int,
        workers: int,
    ) -> None:
        self.s3, self.request, self.plan, self.total = s3, request, plan, total
        self.progress: Progress | None = None
        parts = max(1, -(-total // plan.part_size))
        #: one part more than the threads: the next part is read while they all send
        self.buffers = _Buffers(min(workers + 1, parts), plan.part_size)
        #: parts submitted and not sent yet: a part waits for a free thread before it is
        #: handed over, so a failure stops the parts after it (max_workers=1: exactly)
        self.slots = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self._done = 0

    def send(self, number: int, data: bytearray) -> dict[str, Any]:
        """Upload one part (then free its buffer); the entry CompleteMultipartUpload wants."""
        try:
            digest = hashlib.sha256(data).digest()
            sent = base64.b64encode(digest).decode()
            with translate("UPLOAD part", self.request.bucket, self.request.key):
                response = self.s3.upload_part(
                    Bucket=self.request.bucket,
                    Key=self.request.key,
                    UploadId=self.plan.upload_id,
                    PartNumber=number,
                    Body=data,
                    ChecksumSHA256=sent,
                )
            entry = {
                "ETag": response["ETag"],
                "PartNumber": number,
                "ChecksumSHA256": response.get("ChecksumSHA256") or sent,
            }
            if self.plan.journal is not None:
                record = _journal.PartRecord(
                    number, digest.hex(), str(entry["ETag"]), str(entry["ChecksumSHA256"])
                )
                self.plan.journal.record(record)
            self.advance(len(data))
            return entry
        finally:
            self.buffers.give(data)
            self.slots.release()

    def advance(self, size: int) -> None:
        if self.progress:
            with self._lock:
                self._done += size
                self.progress(self._done, self.total)


def _read_parts(content: Content, buffers: _Buffers, part_size: int) -> Generator[bytearray]:
    """The content again, part after part, each in a buffer taken from ``buffers`` (the
    short last part in a buffer of its own size, its big buffer given back)."""
    with content.filler() as fill:
        while True:
            buffer = buffers.take()
            count = fill(buffer)
            if count == part_size:
                yield buffer
                continue
            last = buffer[:count]  # the only part copied: the short last one
            buffers.give(buffer)
            if count or content.size == 0:
                yield last
            return


def _send_parts(
    s3: Any,
    request: UploadRequest,
    plan: _Plan,
    content: Content,
    transfer: TransferSettings,
    progress: Progress | None,
) -> list[dict[str, Any]]:
    """Read the parts in order (hashing them again), send them on ``max_workers``
    threads, each part handed over once a thread is free, with one part read ahead at
    most (a part the server holds already, with the same bytes, is not sent again), and
    check the whole hash at the end."""
    digest = hashlib.sha256()
    sender = _PartSender(s3, request, plan, content.size, transfer.max_workers)
    sender.progress = progress
    buffers = sender.buffers
    futures: list[Future[dict[str, Any]]] = []
    kept_parts = 0
    reading = _read_parts(content, buffers, plan.part_size)
    with ThreadPoolExecutor(max_workers=transfer.max_workers) as pool, contextlib.closing(reading):
        for number, data in enumerate(reading, start=1):
            digest.update(data)
            kept = plan.reusable(number, data)
            if kept is not None:
                buffers.give(data)
                futures.append(_done(kept))
                kept_parts += 1
                sender.advance(len(data))
                continue
            sender.slots.acquire()
            if any(f.done() and f.exception() for f in futures):
                sender.slots.release()
                buffers.give(data)
                break
            futures.append(pool.submit(sender.send, number, data))
        parts = [future.result() for future in futures]
    if plan.journal is not None and plan.listed:
        sent = len(parts) - kept_parts
        summary = f"{kept_parts} of {len(parts)} parts were stored already, {sent} sent"
        logger.debug("resumed upload %s: %s", plan.upload_id, summary)
    if digest.hexdigest() != content.sha256:
        raise IntegrityError(
            f"the content for s3://{request.bucket}/{request.key} changed while it was being "
            "uploaded (it no longer hashes to the sha256 computed first); nothing was stored. "
            "Put it again once it is stable."
        )
    return parts


def _done(entry: dict[str, Any]) -> Future[dict[str, Any]]:
    future: Future[dict[str, Any]] = Future()
    future.set_result(entry)
    return future
