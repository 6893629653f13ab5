"""What both layouts' ``Repository`` classes share: settings validation, the repository
root, and the preparation of a put (argument checks, hashing, object metadata)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from . import _model, _s3
from . import constants as C
from ._paths import S3Path
from .exc import ValidationError


@dataclasses.dataclass
class PutRequest:
    """A validated put: the content (hashed) and the user's metadata and tags."""

    name: str
    source: _s3.Source
    content_type: str | None
    metadata: dict[str, str]
    tags: dict[str, str]

    def object_metadata(self, update_at: str) -> dict[str, str]:
        """The S3 object metadata: the user's, plus name, sha256 and update time."""
        return object_metadata(self.name, self.source.sha256, update_at, self.metadata)


def object_metadata(
    name: str, sha256: str, update_at: str, user_metadata: Mapping[str, str]
) -> dict[str, str]:
    return {
        **user_metadata,
        C.METADATA_KEY_ARTIFACT_NAME: name,
        C.METADATA_KEY_ARTIFACT_SHA256: sha256,
        C.METADATA_KEY_UPDATE_AT: update_at,
    }


class RepositoryBase:
    """Mixed into both ``Repository`` dataclasses (which declare these fields)."""

    s3_bucket: str
    s3_prefix: str
    suffix: str
    multipart_threshold: int
    part_size: int
    max_workers: int
    single_copy_limit: int

    def _check_settings(self) -> None:
        """Validate the shared settings (from ``__post_init__``), before any request."""
        if not isinstance(self.s3_bucket, str) or not self.s3_bucket:
            raise ValidationError("s3_bucket must be a non-empty str")
        if not isinstance(self.s3_prefix, str):
            raise TypeError("s3_prefix must be a str")
        self.s3_prefix = self.s3_prefix.strip("/")
        if not isinstance(self.suffix, str) or "/" in self.suffix:
            raise ValidationError("suffix must be a str without '/'")
        self._transfer = _s3.TransferSettings(
            self.multipart_threshold, self.part_size, self.max_workers, self.single_copy_limit
        )

    @property
    def _root(self) -> str:
        return f"{self.s3_prefix}/" if self.s3_prefix else ""

    def _artifact_dir(self, name: str) -> str:
        return f"{self._root}{name}/"

    @property
    def s3dir_artifact_store(self) -> S3Path:
        """The repository's root folder."""
        return S3Path(self.s3_bucket, self._root)

    @staticmethod
    def _put_request(
        name: str, content: Any, content_type: Any, metadata: Any, tags: Any
    ) -> PutRequest:
        """Check a put's arguments and hash its content; nothing is sent."""
        _model.validate_artifact_name(name)
        user_metadata = _model.check_user_metadata(metadata)
        user_tags = _model.check_tags(tags)
        if content_type is not None and not isinstance(content_type, str):
            raise TypeError("content_type must be a str")
        return PutRequest(name, _s3.Source(content), content_type, user_metadata, user_tags)
