"""The prepared upload: content of any accepted kind (bytes, a path, a binary file),
hashed before anything is sent, and read again part by part for a multipart upload.
No requests are made here."""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import itertools
import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any

from ._s3 import CHUNK, MiB
from .exc import ValidationError

if TYPE_CHECKING:
    from ._journal import Spot


#: the read size of the first hash (two buffers): 4 MiB reads hash 1 GiB in 0.75 s where
#: 1 MiB reads take 1.0 s (the per-read overhead; SHA-NI hashes at ~1.3 GB/s)
HASH_BUFFER = 4 * MiB


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
        #: where a multipart upload of this file keeps its journal (None: it keeps none)
        self.journal: Spot | None = None
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

    def _hash_file(self) -> tuple[str, int]:
        """The content's sha256 and size, read into two reused buffers: one is hashed on
        a second thread while the next bytes are read into the other (both let go of
        the interpreter lock, and nothing is copied), so a large file's hash takes the
        time of hashing it, not of reading it and then hashing it."""
        digest, size = hashlib.sha256(), 0
        buffers = (bytearray(HASH_BUFFER), bytearray(HASH_BUFFER))
        hashing: Future[None] | None = None
        with ThreadPoolExecutor(max_workers=1) as hasher, self.filler() as fill:
            for turn in itertools.count():
                buffer = buffers[turn % 2]  # the other one may still be hashed
                count = fill(buffer)
                if hashing is not None:
                    hashing.result()
                if not count:
                    break
                hashing = hasher.submit(digest.update, memoryview(buffer)[:count])
                size += count
        return digest.hexdigest(), size

    @property
    def in_memory(self) -> bytes | None:
        return self._data

    @property
    def path(self) -> str | None:
        """The file read part by part (a path above the multipart threshold), else None."""
        return self._path

    @contextlib.contextmanager
    def filler(self) -> Iterator[Callable[[bytearray], int]]:
        """A function that fills a buffer with the content's next bytes, from its start,
        and returns how many it wrote: fewer than the buffer holds only at the end. The
        parts of a multipart upload are read into buffers reused from part to part, so
        the bytes in memory stay bounded and nothing is copied on the way."""
        if self._data is not None:
            yield _MemoryFiller(self._data)
            return
        if self._path is not None:
            with open(self._path, "rb", buffering=0) as raw:
                yield functools.partial(_fill, raw)
            return
        assert self._file is not None
        self._file.seek(self._start)
        yield functools.partial(_fill, self._file)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None


class _MemoryFiller:
    """Fills buffers from bytes held in memory, one after the other."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._offset = 0

    def __call__(self, buffer: bytearray) -> int:
        piece = self._view[self._offset : self._offset + len(buffer)]
        buffer[: len(piece)] = piece
        self._offset += len(piece)
        return len(piece)


def _fill(stream: Any, buffer: bytearray) -> int:
    """Read from ``stream`` until ``buffer`` is full or the stream ends; how many bytes."""
    view, filled = memoryview(buffer), 0
    readinto = getattr(stream, "readinto", None)
    while filled < len(view):
        if readinto is not None:
            count = readinto(view[filled:])
        else:
            chunk = stream.read(len(view) - filled)
            if not isinstance(chunk, bytes | bytearray):
                raise TypeError("content file must be opened in binary mode")
            view[filled : filled + len(chunk)] = chunk
            count = len(chunk)
        if not count:
            break
        filled += count
    return filled


def _read_binary(stream: Any, size: int) -> bytes:
    data = stream.read(size) if size else b""
    if not isinstance(data, bytes | bytearray):
        raise TypeError("content file must be opened in binary mode")
    return bytes(data)
