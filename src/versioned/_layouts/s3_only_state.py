"""The S3-only layout's per-artifact state document (pure: no I/O).

``{prefix}/{name}/state.json`` is written only with compare-and-swap (``If-Match``), so
every metadata change of one artifact is serialised through it:

- ``hwm``: the highest version number ever handed out; numbers are never reused while
  the artifact exists.
- ``versions``: an index of versions (sha256, size, ETag, time) so listing needs no
  request per version. ``pending`` entries are reserved numbers whose copy may not have
  landed yet; ``deleting`` entries are being removed. The index is a cache validated
  against a LIST: version keys stay the truth for what exists.
- ``aliases``: the latest registered write of each alias (or its deletion), with a
  sequence number. The alias object ``aliases/{alias}.json`` is the materialised copy the
  seed's library reads; a write registers here first, so a deletion that commits later
  sees it, and anyone can roll a registered write forward.
- ``ops``: tokens of recent changes, so a retried write recognises its own earlier attempt.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from .. import _model
from ..exc import CorruptRecordError

FORMAT = 1
MAX_OPS = 64

PENDING, LIVE, DELETING = "pending", "live", "deleting"


@dataclasses.dataclass
class VersionEntry:
    status: str
    sha256: str
    size: int
    etag: str
    update_at: str | None
    content_type: str | None
    token: str

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "sha256": self.sha256,
            "size": self.size,
            "etag": self.etag,
            "update_at": self.update_at,
            "content_type": self.content_type,
            "token": self.token,
        }

    @classmethod
    def from_json(cls, data: Any) -> VersionEntry:
        if data.get("status") not in (PENDING, LIVE, DELETING):
            raise ValueError(f"unknown status {data.get('status')!r}")
        return cls(
            status=str(data["status"]),
            sha256=str(data["sha256"]),
            size=int(data["size"]),
            etag=str(data["etag"]),
            update_at=data.get("update_at"),
            content_type=data.get("content_type"),
            token=str(data.get("token", "")),
        )


@dataclasses.dataclass
class AliasEntry:
    """The latest registered write of one alias (``deleted``: its deletion)."""

    seq: int
    token: str
    deleted: bool
    version: str | None = None
    secondary_version: str | None = None
    secondary_version_weight: int | None = None
    update_at: str = ""
    etag: str | None = None
    #: the alias object showed this write (or its deletion) at some point
    landed: bool = False

    @property
    def targets(self) -> list[_model.VersionId]:
        if self.deleted or self.version is None:
            return []
        found = [_model.parse_version(self.version)]
        if self.secondary_version is not None:
            found.append(_model.parse_version(self.secondary_version))
        return found

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> AliasEntry:
        deleted = data["deleted"]
        version, secondary = data.get("version"), data.get("secondary_version")
        if not deleted:
            # a registered write's targets, checked here (ValueError/TypeError: the
            # state document is corrupt) rather than when a deletion routes by them
            if version is None or secondary == "":
                raise ValueError(f"alias entry routes to {version!r} / {secondary!r}")
            _model.stored_target(version, secondary, data.get("secondary_version_weight"))
        return cls(
            seq=int(data["seq"]),
            token=str(data["token"]),
            deleted=bool(data["deleted"]),
            version=data.get("version"),
            secondary_version=data.get("secondary_version"),
            secondary_version_weight=data.get("secondary_version_weight"),
            update_at=str(data.get("update_at", "")),
            etag=data.get("etag"),
            landed=bool(data.get("landed", False)),
        )


@dataclasses.dataclass
class ArtifactState:
    hwm: int = 0
    seq: int = 0
    purging: str | None = None
    versions: dict[int, VersionEntry] = dataclasses.field(default_factory=dict)
    aliases: dict[str, AliasEntry] = dataclasses.field(default_factory=dict)
    ops: list[str] = dataclasses.field(default_factory=list)

    # ------------------------------------------------------------ encoding
    def to_bytes(self) -> bytes:
        document = {
            "format": FORMAT,
            "hwm": self.hwm,
            "seq": self.seq,
            "purging": self.purging,
            "versions": {str(n): e.to_json() for n, e in sorted(self.versions.items())},
            "aliases": {a: e.to_json() for a, e in sorted(self.aliases.items())},
            "ops": self.ops[-MAX_OPS:],
        }
        return json.dumps(document, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, body: bytes, where: str) -> ArtifactState:
        try:
            data = json.loads(body)
            if data.get("format") != FORMAT:
                raise ValueError(f"unknown format {data.get('format')!r}")
            return cls(
                hwm=int(data["hwm"]),
                seq=int(data["seq"]),
                purging=data.get("purging"),
                versions={int(n): VersionEntry.from_json(e) for n, e in data["versions"].items()},
                aliases={a: AliasEntry.from_json(e) for a, e in data["aliases"].items()},
                ops=[str(t) for t in data.get("ops", [])],
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise CorruptRecordError(
                f"the state object {where} cannot be read ({error}). Move it aside: it is "
                "rebuilt from the version listing on the next write (the numbers of versions "
                "deleted earlier may then be handed out again)."
            ) from error

    # ------------------------------------------------------------ queries
    def applied(self, token: str) -> bool:
        """Whether the change with this token is already in the document."""
        return token in self.ops

    def newest(self) -> tuple[int, VersionEntry] | None:
        """The highest-numbered version that exists or is being created."""
        candidates = [(n, e) for n, e in self.versions.items() if e.status != DELETING]
        return max(candidates, key=lambda pair: pair[0]) if candidates else None

    # ------------------------------------------------------------ changes
    def record(self, token: str) -> None:
        self.ops = [*self.ops[-(MAX_OPS - 1) :], token]

    def reserve(self, entry: VersionEntry) -> int:
        """Hand out the next number for ``entry`` (raises VersionLimitError past 999999)."""
        number = _model.next_version(self.hwm)
        self.hwm = number
        self.versions[number] = entry
        self.record(entry.token)
        return number

    def register_alias(self, alias: str, entry: AliasEntry) -> None:
        self.seq = max(self.seq, entry.seq)
        self.aliases[alias] = entry
        self.record(entry.token)

    def next_seq(self) -> int:
        return self.seq + 1


def alias_body(
    name: str, alias: str, entry: AliasEntry, version_uri: str, secondary_uri: str | None
) -> bytes:
    """The alias document exactly as the seed's library writes and reads it (its eight
    fields, in its order; nothing else, since the seed builds its Alias from all keys)."""
    document = {
        "name": name,
        "alias": alias,
        "update_at": entry.update_at,
        "version": entry.version,
        "secondary_version": entry.secondary_version,
        "secondary_version_weight": entry.secondary_version_weight,
        "version_s3uri": version_uri,
        "secondary_version_s3uri": secondary_uri,
    }
    return json.dumps(document).encode()


def predicted_etag(body: bytes) -> str:
    """The ETag S3 gives a single-part, unencrypted or SSE-S3 object: its quoted MD5."""
    return f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
