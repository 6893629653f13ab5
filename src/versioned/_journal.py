"""The local journal of a multipart upload of a file: what a later put needs to resume the
upload (``put_artifact(..., resume=True)``) or to abort it. No requests are made here.

One JSON file per upload in ``$VERSIONED_STATE_DIR`` (else the platform's user state
directory for versioned, ``uploads/``), named by the repository, the artifact and the
file's absolute path. It holds the upload id, where the upload writes, a fingerprint of
what its object will record (bucket, key, metadata with the content's sha256, content
type, tags), the part size, the file's size, mtime and sha256, and for each part sent
its sha256, ETag and checksum. Every write replaces the whole file (a temporary file
renamed into place), so a reader sees a complete journal or none. A lock file beside it
(``filelock``, released by the kernel when the process dies) keeps a second put of the
same file to the same artifact from taking an upload over while it is running.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import logging
import os
import pathlib
import tempfile
import threading
from datetime import UTC, datetime
from typing import Any

import filelock
import platformdirs

from .exc import ArgumentTypeError, ValidationError

logger = logging.getLogger(__name__)

STATE_DIR_VARIABLE = "VERSIONED_STATE_DIR"
FORMAT = 1


def default_directory() -> pathlib.Path:
    """``$VERSIONED_STATE_DIR/uploads``, else the user state directory's ``uploads``."""
    given = os.environ.get(STATE_DIR_VARIABLE)
    if given:
        return pathlib.Path(given).expanduser() / "uploads"
    return pathlib.Path(platformdirs.user_state_dir("versioned", appauthor=False)) / "uploads"


@dataclasses.dataclass(frozen=True)
class Spot:
    """Where the journal of one put of a file lives, and whether the put resumes it."""

    directory: pathlib.Path
    #: the repository and the artifact (JSON of the repository's identity and the name)
    owner: str
    #: the file's absolute path
    path: str
    resume: bool

    @property
    def file(self) -> pathlib.Path:
        digest = hashlib.sha256(json.dumps([self.owner, self.path]).encode()).hexdigest()
        return self.directory / f"{digest[:40]}.json"


def spot(identity: dict[str, str | None], name: str, path: str, resume: bool) -> Spot:
    """The journal of a put of the file at ``path`` as artifact ``name`` of the
    repository ``identity`` names (``Engine.cache_identity()``)."""
    owner = json.dumps({**identity, "name": name}, sort_keys=True)
    return Spot(default_directory(), owner, os.path.abspath(path), resume)


def check_resume(resume: object, content: object) -> None:
    """``resume`` must be a bool, and True only for a file (a path): bytes and streams
    cannot be found again by a later put. A file at or below the multipart threshold is
    fine: it is one request, with nothing to resume."""
    if not isinstance(resume, bool):
        raise ArgumentTypeError("resume must be a bool")
    if resume and not isinstance(content, os.PathLike):
        raise ValidationError(
            "resume=True needs the content as a file path (os.PathLike, e.g. "
            f"pathlib.Path(...)), got {type(content).__name__}: only an upload of a file "
            "can be found again and resumed"
        )


def fingerprint(bucket: str, key: str, object_fields: dict[str, Any]) -> str:
    """What an upload's object will be: where, and the metadata, content type and tags
    given when the upload was created (they cannot change afterwards)."""
    text = json.dumps([bucket, key, object_fields], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class PartRecord:
    """One part as sent: the sha256 (hex) of its bytes, the ETag and checksum S3 gave."""

    number: int
    sha256: str
    etag: str
    checksum: str


@dataclasses.dataclass(frozen=True)
class ListedPart:
    """One part as ListParts shows it (``sha256``: hex, when the server reports it)."""

    number: int
    etag: str
    size: int
    sha256: str | None


@dataclasses.dataclass
class Upload:
    """A multipart upload of a file, as its journal records it."""

    bucket: str
    key: str
    upload_id: str
    fingerprint: str
    part_size: int
    size: int
    mtime_ns: int
    sha256: str
    started_at: str
    parts: dict[int, PartRecord] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        fields = dataclasses.asdict(self)
        fields["parts"] = [dataclasses.asdict(p) for _, p in sorted(self.parts.items())]
        return {"format": FORMAT, **fields}

    @classmethod
    def from_json(cls, data: Any) -> Upload:
        """Raises ValueError (or TypeError, KeyError) when ``data`` is not a journal."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a journal of this format")
        texts = ("bucket", "key", "upload_id", "fingerprint", "sha256", "started_at")
        numbers = ("part_size", "size", "mtime_ns")
        fields: dict[str, Any] = {name: _typed(data[name], str) for name in texts}
        fields.update({name: _typed(data[name], int) for name in numbers})
        parts = {}
        for part in _typed(data["parts"], list):
            record = PartRecord(
                _typed(part["number"], int),
                *(_typed(part[name], str) for name in ("sha256", "etag", "checksum")),
            )
            parts[record.number] = record
        return cls(**fields, parts=parts)


def _typed(value: Any, kind: type) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def new_upload(
    bucket: str, key: str, upload_id: str, print_: str, part_size: int, path: str, sha256: str
) -> Upload:
    """The journal of an upload just created, for the file at ``path``."""
    stat = os.stat(path)
    started = datetime.now(UTC).isoformat()
    return Upload(
        bucket, key, upload_id, print_, part_size, stat.st_size, stat.st_mtime_ns, sha256, started
    )


def sha256_of_checksum(value: str | None) -> str | None:
    """The hex SHA-256 a base64 ``ChecksumSHA256`` of one part names (None: not one)."""
    if not value or "-" in value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def reusable(
    number: int, data: bytes | bytearray, recorded: PartRecord | None, listed: ListedPart | None
) -> dict[str, Any] | None:
    """The CompleteMultipartUpload entry of part ``number`` if the server holds exactly
    ``data`` (the file's bytes for it now) there, else None (send it again).

    The server's part must have ``data``'s size; its checksum, when reported, must be
    ``data``'s SHA-256; and either the journal recorded sending ``data`` (same sha256)
    and the server has that send (same ETag), or the server's checksum alone vouches
    for it (a part sent just before a crash, not yet journaled)."""
    if listed is None or listed.size != len(data):
        return None
    digest = hashlib.sha256(data).digest()
    if listed.sha256 is not None and listed.sha256 != digest.hex():
        return None
    if recorded is not None:
        if recorded.sha256 != digest.hex() or _bare(recorded.etag) != _bare(listed.etag):
            return None
    elif listed.sha256 is None:
        return None
    checksum = base64.b64encode(digest).decode()
    return {"ETag": listed.etag, "PartNumber": number, "ChecksumSHA256": checksum}


def _bare(etag: str) -> str:
    return etag.strip('"')


class Journal:
    """The open journal of one upload; the caller holds its lock (``open_journal``)."""

    def __init__(self, spot: Spot, lock: filelock.BaseFileLock) -> None:
        self.spot = spot
        self.upload: Upload | None = None
        self._lock = lock
        self._write_lock = threading.Lock()

    def load(self) -> Upload | None:
        """The journal on disk; None when there is none or it cannot be read (then it
        is replaced: the upload it named cannot be found again)."""
        try:
            text = self.spot.file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            logger.debug("upload journal %s unreadable: %s", self.spot.file, error)
            return None
        try:
            return Upload.from_json(json.loads(text))
        except (ValueError, TypeError, KeyError) as error:
            logger.debug("upload journal %s is not a journal (%s): replaced", self.spot.file, error)
            return None

    def start(self, upload: Upload) -> bool:
        """Record a new upload; False when the journal cannot be written (the upload
        then goes on unjournaled, and is aborted if it fails)."""
        self.upload = upload
        try:
            self._write()
        except OSError as error:
            logger.debug("upload journal %s not written: %s", self.spot.file, error)
            self.upload = None
            return False
        return True

    def record(self, part: PartRecord) -> None:
        """Note a part sent (from any sending thread). A journal that cannot be written
        is only logged: the upload goes on, a resume sends those parts again."""
        with self._write_lock:
            if self.upload is None:
                return
            self.upload.parts[part.number] = part
            try:
                self._write()
            except OSError as error:
                logger.debug("upload journal %s not updated: %s", self.spot.file, error)

    def _write(self) -> None:
        assert self.upload is not None
        directory = self.spot.file.parent
        text = json.dumps(self.upload.to_json(), indent=1)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".journal-", suffix=".tmp")
        try:
            # No fsync: a process that dies leaves what it wrote to the kernel; a journal
            # an OS crash rolled back is only older (every part is checked on the server).
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temporary, self.spot.file)
        except BaseException:
            pathlib.Path(temporary).unlink(missing_ok=True)
            raise

    def remove(self) -> None:
        with self._write_lock:
            self.upload = None
            try:
                self.spot.file.unlink(missing_ok=True)
            except OSError as error:
                logger.debug("upload journal %s not removed: %s", self.spot.file, error)

    def close(self) -> None:
        self._lock.release()


def open_journal(spot: Spot | None) -> Journal | None:
    """The journal of ``spot``, locked for this put; None when there is none to keep
    (``spot`` None), the directory cannot be used, or another put of the same file to
    the same artifact holds it (that put goes on unjournaled, as a plain upload)."""
    if spot is None:
        return None
    try:
        spot.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = filelock.FileLock(f"{spot.file}.lock", timeout=0)
        lock.acquire()
    except filelock.Timeout:
        logger.debug("upload journal %s: another put of this file holds it", spot.file)
        return None
    except OSError as error:
        logger.debug("upload journal in %s unusable: %s", spot.directory, error)
        return None
    return Journal(spot, lock)
