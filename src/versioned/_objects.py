"""Behaviour shared by both layouts' public ``Artifact`` and ``Alias`` dataclasses.

The dataclasses themselves live in the backend modules (their ``update_at`` types differ,
as the seeds specify); everything they do is written once here. Content is read with the
S3 client the given session caches for itself (``_s3.content_client``).
"""

from __future__ import annotations

import dataclasses
import io
import os
import random
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import _model, _s3, _verified, constants
from ._paths import S3Path
from .exc import ValidationError

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValidationError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _client(bsm: BotoSesManager) -> Any:
    return _s3.content_client(bsm)


_UNKNOWN = _verified.Expectation(None)

#: the type of ``update_at``: an ISO string (S3-only) or a datetime (S3 + DynamoDB)
Stamp = TypeVar("Stamp")


def _content(bsm: BotoSesManager, uri: str, expect: _verified.Expectation) -> bytes:
    return _verified.read_verified(_client(bsm), *split_uri(uri), expect)


def _download(
    bsm: BotoSesManager,
    uri: str,
    expect: _verified.Expectation,
    path: str | os.PathLike[str],
    progress: _s3.Progress | None,
) -> str:
    bucket, key = split_uri(uri)
    return _verified.download_verified(_client(bsm), bucket, key, path, expect, progress=progress)


def _open(bsm: BotoSesManager, uri: str, expect: _verified.Expectation) -> io.BufferedReader:
    return _verified.open_verified(_client(bsm), *split_uri(uri), expect)


class ArtifactMethods:
    """Methods of an artifact version; expects ``s3uri``, ``sha256`` and ``version``."""

    s3uri: str
    sha256: str
    version: str

    @property
    def _expect(self) -> _verified.Expectation:
        return _verified.Expectation(self.sha256, mutable=self.version == constants.LATEST_VERSION)

    @property
    def s3path(self) -> S3Path:
        """The ``s3pathlib.S3Path`` of this version's bytes."""
        return S3Path.from_s3_uri(self.s3uri)

    def get_content(self, bsm: BotoSesManager) -> bytes:
        """Download the bytes into memory, checking their sha256 (IntegrityError if off).
        For large artifacts use :meth:`download` or :meth:`open`."""
        return _content(bsm, self.s3uri, self._expect)

    def download(
        self,
        bsm: BotoSesManager,
        path: str | os.PathLike[str],
        progress: _s3.Progress | None = None,
    ) -> str:
        """Stream the bytes to ``path`` (via a temporary file beside it, renamed into place
        only when the sha256 matches). Returns the path. Raises IntegrityError on mismatch."""
        return _download(bsm, self.s3uri, self._expect, path, progress)

    def open(self, bsm: BotoSesManager) -> io.BufferedReader:
        """A streaming binary reader (a context manager); the sha256 is checked at EOF."""
        return _open(bsm, self.s3uri, self._expect)


class AliasMethods:
    """Methods of an alias; expects the Alias dataclass fields."""

    name: str
    alias: str
    version: str
    secondary_version: str | None
    version_s3uri: str
    secondary_version_s3uri: str | None
    secondary_version_weight: int | None

    def route(self, key: str | None = None) -> str:
        """The version serving ``key`` (sticky routing: the same key gets the same
        version in every process for a given weight and canary; ``fetch(key=...)`` and
        ``url(key=...)`` use this rule, ``_model.route_by_key``). ``None`` draws at
        random with the weight, as :meth:`random_artifact` does."""
        if self.secondary_version is None:
            return self.version
        if key is None:
            secondary = str(self.secondary_version)
            return _model.choose_weighted(self.version, secondary, self.secondary_version_weight)
        primary = _model.parse_version(self.version)
        chosen = _model.route_by_key(
            primary,
            int(self.secondary_version),
            self.secondary_version_weight,
            key,
            name=self.name,
            alias=self.alias,
        )
        return _model.version_str(chosen)

    @property
    def s3path_version(self) -> S3Path:
        return S3Path.from_s3_uri(self.version_s3uri)

    @property
    def s3path_secondary_version(self) -> S3Path:
        """Raises ValueError when the alias has no secondary version."""
        return S3Path.from_s3_uri(self._secondary_uri())

    def _secondary_uri(self) -> str:
        if not self.secondary_version_s3uri:
            raise ValidationError("this alias has no secondary version")
        return self.secondary_version_s3uri

    def get_version_content(self, bsm: BotoSesManager) -> bytes:
        return _content(bsm, self.version_s3uri, _UNKNOWN)

    def get_secondary_version_content(self, bsm: BotoSesManager) -> bytes:
        return _content(bsm, self._secondary_uri(), _UNKNOWN)

    def download_version(
        self,
        bsm: BotoSesManager,
        path: str | os.PathLike[str],
        progress: _s3.Progress | None = None,
    ) -> str:
        return _download(bsm, self.version_s3uri, _UNKNOWN, path, progress)

    def download_secondary_version(
        self,
        bsm: BotoSesManager,
        path: str | os.PathLike[str],
        progress: _s3.Progress | None = None,
    ) -> str:
        return _download(bsm, self._secondary_uri(), _UNKNOWN, path, progress)

    def random_artifact(self, rng: random.Random | None = None) -> str:
        """The S3 URI to serve for one request: the secondary version with probability
        ``secondary_version_weight``%, otherwise the primary version."""
        return _model.choose_weighted(
            self.version_s3uri, self.secondary_version_s3uri, self.secondary_version_weight, rng
        )


@dataclasses.dataclass
class ArtifactFields(ArtifactMethods, Generic[Stamp]):
    """The public Artifact's fields: the seed's five, then what is filled where at hand."""

    name: str
    version: str
    update_at: Stamp
    s3uri: str
    sha256: str
    size: int | None = None
    content_type: str | None = None
    metadata: dict[str, str] | None = None


@dataclasses.dataclass
class AliasFields(AliasMethods, Generic[Stamp]):
    """The public Alias's fields: the seed's eight, then its revision."""

    name: str
    alias: str
    update_at: Stamp
    version: str
    secondary_version: str | None
    secondary_version_weight: int | None
    version_s3uri: str
    secondary_version_s3uri: str | None
    revision: str | None = None
