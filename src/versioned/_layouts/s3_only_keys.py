"""Where the S3-only layout keeps things (pure). Keys under
``s3://{bucket}/{prefix}/{name}/`` (the seed's layout, plus one object)::

    versions/000000_LATEST{suffix}     LATEST (mutable)
    versions/999999_000001{suffix}     version 1 (newest versions list first)
    aliases/{alias}.json               alias document (the seed's eight fields)
    history/{alias}/{999999-n}-{t}.json  alias history page n (immutable; s3_only_history)
    state.json                         the artifact's state, changed only by CAS
    retention.json                     the artifact's retention policy and holds
    rollouts/{alias}.json              a running rollout of the alias (s3_only_rollouts)
"""

from __future__ import annotations

import dataclasses

from .. import _model
from .._model import LATEST, VersionId

STATE_FILE = "state.json"
RETENTION_FILE = "retention.json"


@dataclasses.dataclass(frozen=True)
class S3OnlyPlace:
    """One repository of this layout: its bucket, prefix and suffix."""

    bucket: str
    prefix: str
    suffix: str

    @property
    def root(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def artifact_dir(self, name: str) -> str:
        return f"{self.root}{name}/"

    def versions_dir(self, name: str) -> str:
        return f"{self.artifact_dir(name)}versions/"

    def aliases_dir(self, name: str) -> str:
        return f"{self.artifact_dir(name)}aliases/"

    def version_key(self, name: str, version: VersionId) -> str:
        return f"{self.versions_dir(name)}{_model.encode_filename(version)}{self.suffix}"

    def alias_key(self, name: str, alias: str) -> str:
        return f"{self.aliases_dir(name)}{alias}.json"

    def history_key(self, name: str, alias: str, file: str) -> str:
        """An alias history page (``file``: ``{999999 - n:06d}-{token}.json``)."""
        return f"{self.artifact_dir(name)}history/{alias}/{file}"

    def rollouts_dir(self, name: str) -> str:
        return f"{self.artifact_dir(name)}rollouts/"

    def rollout_key(self, name: str, alias: str) -> str:
        return f"{self.rollouts_dir(name)}{alias}.json"

    def state_key(self, name: str) -> str:
        return f"{self.artifact_dir(name)}{STATE_FILE}"

    def retention_key(self, name: str) -> str:
        return f"{self.artifact_dir(name)}{RETENTION_FILE}"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _parse_file(self, file: str) -> VersionId | None:
        """The version an exact file name (stem + suffix) names, else None."""
        if self.suffix:
            if not file.endswith(self.suffix):
                return None
            file = file[: -len(self.suffix)]
        if "/" in file:
            return None
        return _model.parse_filename(file)

    def numbered(self, name: str, key: str) -> int | None:
        """The version number a key under ``versions_dir(name)`` names (None: LATEST, or
        not a version key)."""
        version = self._parse_file(key[len(self.versions_dir(name)) :])
        return None if version is None or version == LATEST else int(version)

    def classify(self, key: str) -> tuple[str, str, str] | None:
        """(kind, artifact name, detail) of a key this layout owns: kind is "version",
        "alias", "history" (detail: alias/file), "state", "retention", "rollout" or "trash"
        (left by an older release); None otherwise."""
        if not key.startswith(self.root):
            return None
        name, sep, tail = key[len(self.root) :].partition("/")
        if not sep or not _model.is_artifact_name(name):
            return None
        if tail == STATE_FILE:
            return ("state", name, "")
        if tail == RETENTION_FILE:
            return ("retention", name, "")
        folder, sep, file = tail.partition("/")
        if not sep:
            return None
        if folder in ("versions", "trash"):
            version = self._parse_file(file)
            if version is None:
                return None
            return (
                "version" if folder == "versions" else "trash",
                name,
                _model.version_str(version),
            )
        if folder == "aliases" and file.endswith(".json") and _model.is_alias_name(file[:-5]):
            return ("alias", name, file[:-5])
        alias, sep, page = file.partition("/")
        if folder == "history" and sep and _model.is_alias_name(alias) and _is_page(page):
            return ("history", name, file)
        if folder == "rollouts" and file.endswith(".json") and _model.is_alias_name(file[:-5]):
            return ("rollout", name, file[:-5])
        return None

    def owner(self, key: str) -> str | None:
        """The artifact a key of this layout belongs to."""
        kind = self.classify(key)
        return None if kind is None else kind[1]

    def is_other_layout(self, key: str) -> bool:
        """Keys of the S3 + DynamoDB layout (``{name}/LATEST...``, ``{name}/000001...``),
        which may share this prefix and are never touched here."""
        _, sep, tail = key[len(self.root) :].partition("/")
        return bool(sep) and "/" not in tail and (tail.startswith(LATEST) or tail[:6].isdigit())


def _is_page(file: str) -> bool:
    """``{999999 - n:06d}-{token}.json``, as history pages are named."""
    number, sep, rest = file.partition("-")
    return len(number) == 6 and number.isdigit() and bool(sep) and rest.endswith(".json")
