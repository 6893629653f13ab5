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
- ``purging``: set while ``purge_artifact`` runs: the purge's token (its owner's id), with
  ``purging_owner`` (host:pid, for people), ``purging_lease_secs`` (how long the owner
  holds the mark) and ``purging_until`` (the owner's clock plus the lease, for people).
  The mark's deadline is the state object's LastModified plus the lease, both on the
  server's clock and compared with the server's Date: no client's clock decides whether
  a purge is abandoned. Past it, the next writer finishes the purge or undoes it. Older
  releases wrote only ``purging``: their lease is the default.

Every stored value is checked on reading: a document that does not hold a valid state
(a wrong type, a number out of range such as ``1e400``) raises CorruptRecordError.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from .. import _model, constants
from ..exc import CorruptRecordError
from .s3_only_history import HistoryEntry, text, whole

FORMAT = 1
MAX_OPS = 64
#: how long a purge may hold its mark before another writer may settle it
PURGE_LEASE_SECS = 120
MAX_LEASE_SECS = 86_400

PENDING, LIVE, DELETING = "pending", "live", "deleting"


def moment(value: Any, what: str) -> str | None:
    """A stored ISO-8601 time (or None), checked to parse as one."""
    if text(value, what, optional=True) is not None:
        _model.parse_time(value)
    return value  # type: ignore[no-any-return]


@dataclasses.dataclass
class VersionEntry:
    status: str
    sha256: str
    size: int
    etag: str
    update_at: str | None
    content_type: str | None
    token: str
    #: the fingerprint stored with the entry (None: not read from a document, or written
    #: by an older release); an entry whose fields no longer match it was edited
    check: str | None = None

    def fingerprint(self) -> str:
        """A digest of what the entry says about the object (not the status): stored with
        it, so an entry edited by hand is recognised and not trusted over the object."""
        fields = [self.sha256, self.size, self.etag.strip('"'), self.content_type]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]

    @property
    def trusted(self) -> bool:
        """Whether the entry is as the layout wrote it (or older than fingerprints)."""
        return self.check is None or self.check == self.fingerprint()

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "sha256": self.sha256,
            "size": self.size,
            "etag": self.etag,
            "update_at": self.update_at,
            "content_type": self.content_type,
            "token": self.token,
            # kept as read: re-storing an edited entry must not make it trusted
            "check": self.check if self.check is not None else self.fingerprint(),
        }

    @classmethod
    def from_json(cls, data: Any) -> VersionEntry:
        if data.get("status") not in (PENDING, LIVE, DELETING):
            raise ValueError(f"unknown status {data.get('status')!r:.40}")
        return cls(
            status=str(data["status"]),
            sha256=text(data["sha256"], "sha256"),
            size=whole(data["size"], "size"),
            etag=text(data["etag"], "etag"),
            update_at=moment(data.get("update_at"), "update_at"),
            content_type=text(data.get("content_type"), "content_type", optional=True),
            token=text(data.get("token", ""), "token"),
            check=text(data.get("check"), "check", optional=True),
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
    #: what alias history records of it (:mod:`.s3_only_history`): the action, who, why
    action: str = "put"
    actor: str = "unknown"
    reason: str | None = None
    #: when it was registered, to the microsecond (``update_at`` is in whole seconds)
    at: str | None = None
    #: earlier registrations whose outcome was unknown when this one was registered
    prior: list[AliasEntry] = dataclasses.field(default_factory=list)

    @property
    def targets(self) -> list[_model.VersionId]:
        if self.deleted or self.version is None:
            return []
        found = [_model.parse_version(self.version)]
        if self.secondary_version is not None:
            found.append(_model.parse_version(self.secondary_version))
        return found

    def to_json(self) -> dict[str, Any]:
        # no deep copy (dataclasses.asdict): every field but ``prior`` is immutable
        found = {name: getattr(self, name) for name in _ALIAS_FIELDS}
        found["prior"] = [entry.to_json() for entry in self.prior]
        return found

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
        if not isinstance(deleted, bool):
            raise ValueError(f"deleted {deleted!r:.40} is not a boolean")
        return cls(
            seq=whole(data["seq"], "seq"),
            token=text(data["token"], "token"),
            deleted=deleted,
            version=data.get("version"),
            secondary_version=data.get("secondary_version"),
            secondary_version_weight=data.get("secondary_version_weight"),
            update_at=text(data.get("update_at", ""), "update_at"),
            etag=text(data.get("etag"), "etag", optional=True),
            landed=data.get("landed", False) is True,
            action=text(data.get("action", "put"), "action"),
            actor=text(data.get("actor", "unknown"), "actor"),
            reason=text(data.get("reason"), "reason", optional=True),
            at=moment(data.get("at"), "at"),
            prior=[AliasEntry.from_json(e) for e in data.get("prior", [])],
        )


_ALIAS_FIELDS = tuple(field.name for field in dataclasses.fields(AliasEntry))


@dataclasses.dataclass
class ArtifactState:
    hwm: int = 0
    seq: int = 0
    purging: str | None = None
    versions: dict[int, VersionEntry] = dataclasses.field(default_factory=dict)
    aliases: dict[str, AliasEntry] = dataclasses.field(default_factory=dict)
    ops: list[str] = dataclasses.field(default_factory=list)
    purging_owner: str | None = None
    purging_until: str | None = None
    purging_lease_secs: int | None = None
    #: alias history (:mod:`.s3_only_history`): each alias's recent entries, and the file
    #: name of its newest page object
    history: dict[str, list[HistoryEntry]] = dataclasses.field(default_factory=dict)
    history_pages: dict[str, str] = dataclasses.field(default_factory=dict)

    # ------------------------------------------------------------ encoding
    def to_bytes(self) -> bytes:
        document: dict[str, Any] = {
            "format": FORMAT,
            "hwm": self.hwm,
            "seq": self.seq,
            "purging": self.purging,
            "purging_owner": self.purging_owner,
            "purging_until": self.purging_until,
            "purging_lease_secs": self.purging_lease_secs,
            "versions": {str(n): e.to_json() for n, e in sorted(self.versions.items())},
            "aliases": {a: e.to_json() for a, e in sorted(self.aliases.items())},
            "ops": self.ops[-MAX_OPS:],
        }
        if self.history or self.history_pages:
            document["history"] = {
                a: [e.to_json() for e in entries] for a, entries in sorted(self.history.items())
            }
            document["history_pages"] = dict(sorted(self.history_pages.items()))
        return json.dumps(document, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, body: bytes, where: str) -> ArtifactState:
        """The state a document holds; CorruptRecordError naming ``where`` when it does
        not hold a valid one (whatever it holds: any JSON, any bytes)."""
        try:
            return cls._decode(json.loads(body))
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as error:
            raise CorruptRecordError(
                f"the state object {where} cannot be read ({error}). Move it aside: it is "
                "rebuilt from the version listing on the next write (the numbers of versions "
                "deleted earlier may then be handed out again)."
            ) from error
        except RecursionError as error:  # JSON nested too deep to decode
            raise CorruptRecordError(
                f"the state object {where} cannot be read (nested too deep)"
            ) from error

    @classmethod
    def _decode(cls, data: Any) -> ArtifactState:
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r:.40}")
        ops = data.get("ops", [])
        if not isinstance(ops, list):
            raise ValueError("ops is not a list")
        return cls(
            hwm=whole(data["hwm"], "hwm", constants.MAX_VERSION),
            seq=whole(data["seq"], "seq"),
            purging=text(data.get("purging"), "purging", optional=True),
            purging_owner=text(data.get("purging_owner"), "purging_owner", optional=True),
            purging_until=moment(data.get("purging_until"), "purging_until"),
            purging_lease_secs=(
                None
                if data.get("purging_lease_secs") is None
                else whole(data["purging_lease_secs"], "purging_lease_secs", MAX_LEASE_SECS)
            ),
            versions={
                int(_model.parse_version(text(n, "version"), allow_latest=False)): (
                    VersionEntry.from_json(e)
                )
                for n, e in data["versions"].items()
            },
            aliases={a: AliasEntry.from_json(e) for a, e in data["aliases"].items()},
            ops=[text(t, "op token") for t in ops],
            history={
                a: [HistoryEntry.from_json(e) for e in entries]
                for a, entries in data.get("history", {}).items()
            },
            history_pages={
                a: text(p, "history page") for a, p in data.get("history_pages", {}).items()
            },
        )

    # ------------------------------------------------------------ the purge mark
    def mark_purge(self, token: str, owner: str, now: datetime) -> None:
        """Mark the artifact as being purged by ``owner`` until the lease runs out."""
        self.purging, self.purging_owner = token, owner
        self.purging_lease_secs = PURGE_LEASE_SECS
        self.purging_until = (now + timedelta(seconds=PURGE_LEASE_SECS)).isoformat()
        self.record(token)

    def clear_purge(self, token: str) -> None:
        """Undo an abandoned purge's mark (it deleted nothing that matters)."""
        self.purging = self.purging_owner = self.purging_until = None
        self.purging_lease_secs = None
        self.record(token)

    def purge_deadline(self, stored_at: datetime | None) -> datetime:
        """When the purge mark's owner should be done, on the server's clock: the state's
        LastModified (the mark's write: nothing rewrites a marked state but a takeover,
        which renews the mark) plus the lease. ``purging_until`` (the owner's own clock,
        for people) only when the store time is unknown."""
        lease = PURGE_LEASE_SECS if self.purging_lease_secs is None else self.purging_lease_secs
        if stored_at is not None:
            return stored_at + timedelta(seconds=lease)
        if self.purging_until is not None:
            return _model.parse_time(self.purging_until)
        return _model.utc_now() + timedelta(seconds=PURGE_LEASE_SECS)

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
