"""Where the S3 + DynamoDB layout keeps things (pure): S3 keys
``{prefix}/{name}/LATEST{suffix}`` and ``{prefix}/{name}/{n:06d}{suffix}``, and the table."""

from __future__ import annotations

import dataclasses

from .. import _model
from .._model import VersionId


@dataclasses.dataclass(frozen=True)
class DynamoDBPlace:
    """One repository of this layout: its bucket, prefix, suffix and table."""

    bucket: str
    prefix: str
    suffix: str
    table: str

    @property
    def root(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def version_key(self, name: str, version: VersionId) -> str:
        return f"{self.root}{name}/{_model.zfill_version(version)}{self.suffix}"

    def artifact_folder(self, name: str) -> str:
        return f"{self.root}{name}/"

    def classify(self, key: str) -> tuple[str, VersionId] | None:
        """(artifact name, version) of a key this layout owns, else None."""
        if not key.startswith(self.root):
            return None
        name, sep, file = key[len(self.root) :].partition("/")
        if not sep or "/" in file or not _model.is_artifact_name(name):
            return None
        if self.suffix:
            if not file.endswith(self.suffix):
                return None
            file = file[: -len(self.suffix)]
        version = _model.parse_zfilled(file)
        return None if version is None else (name, version)

    def owner(self, key: str) -> str | None:
        """The artifact a key of this layout belongs to."""
        kind = self.classify(key)
        return None if kind is None else kind[0]

    def is_other_layout(self, key: str) -> bool:
        """Keys of the S3-only layout (``{name}/versions/``, ``aliases/``, ``history/``,
        ``state.json``), which may share this prefix and are never touched here."""
        _, sep, tail = key[len(self.root) :].partition("/")
        return bool(sep) and (
            tail.startswith(("versions/", "aliases/", "trash/", "history/", "rollouts/"))
            or tail == "state.json"
        )
