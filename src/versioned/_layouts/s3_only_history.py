"""Alias history in the S3-only layout: part of the state/alias registration protocol.

An alias write registers in ``state.json``, writes the alias object, then records in
``state.json`` that it landed (:mod:`.s3_only_aliases`). The history rides on those two
compare-and-swaps, so it costs no request of its own but one page write per 20 changes:

- ``state.json`` keeps each alias's recent entries (``history``: 10 to 29 of them, by
  registration sequence number) and the newest page's key (``history_pages``).
- Older entries are flushed, 20 at a time, into immutable page objects
  ``{name}/history/{alias}/{999999 - n:06d}-{token}.json`` (written If-None-Match; the
  inverted page number lists the newest first), each naming the page before it. A page
  written by a writer whose compare-and-swap then lost is never referenced (purge removes
  it with the artifact).
- An entry is recorded when its state is known to have been readable: by its writer when
  the landing is recorded (its PUT or DELETE succeeded), or by the next writer whose
  conditional PUT replaced it (a writer that died after its write, before recording it).
  A registration whose object never landed is never recorded. Each alias object carries
  ``versioned-replaced``: the sequence number of the state its write replaced, so a
  reader (or the next writer) can still tell that a dead writer's predecessor was shown.
- An alias object another client wrote (no ``versioned-seq``), or an alias object that
  disappeared without a registered deletion, is found by the next write's conditional
  request, and recorded then, as a change by ``unknown (another client)``.

Newest 20 entries: the state (1 GET), a HEAD of the alias object while its latest write is
not recorded as landed, and the newest page when the state holds fewer: at most 3.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import TYPE_CHECKING, Any, Protocol

from .. import _model, _s3
from .._retry import RetryPolicy
from ..exc import CorruptRecordError
from ..history import AliasChange
from .s3_only_keys import S3OnlyPlace

if TYPE_CHECKING:
    from . import AliasRecord
    from .s3_only_state import AliasEntry, ArtifactState

#: entries per page object; the state keeps 10..29 recent ones per alias
PAGE_SIZE = 20
FLUSH_AT = PAGE_SIZE + 10
#: alias object metadata: the sequence number of the state the write replaced, and of
#: its own registration (as :mod:`.s3_only_aliases` writes it)
REPLACED_METADATA = "versioned-replaced"
SEQ_METADATA = "versioned-seq"
#: who changed an alias written by a client that records no history
ANOTHER_CLIENT = "unknown (another client)"
#: registrations whose outcome is unknown, carried by the next registration (at most)
MAX_CARRIED = 4
PAGE_FORMAT = 1
#: conditional requests on one alias object tried before giving up (within the policy's)
OBJECT_ATTEMPTS = 16


# the checks of stored values (the state module, which reads entries, shares them)
def whole(value: Any, what: str, high: int | None = None) -> int:
    """A stored whole number in 0..high; ValueError for anything else (a bool, a float
    such as ``1e400`` or ``Infinity``, a string, a number out of range)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} {value!r:.40} is not a whole number")
    if value < 0 or (high is not None and value > high):
        raise ValueError(f"{what} {value!r:.40} is out of range")
    return value


def text(value: Any, what: str, *, optional: bool = False) -> Any:
    """A stored string (or None where ``optional``); ValueError for anything else."""
    if isinstance(value, str) or (optional and value is None):
        return value
    raise ValueError(f"{what} {value!r:.40} is not a string")


@dataclasses.dataclass
class HistoryEntry:
    """One recorded change. ``seq`` orders entries (a change by another client found by
    the write with sequence number ``seq`` sorts before it: ``foreign``)."""

    seq: int
    revision: str
    at: str
    version: str | None
    secondary_version: str | None
    secondary_version_weight: int | None
    action: str
    actor: str
    reason: str | None = None
    foreign: bool = False

    @property
    def order(self) -> tuple[int, int]:
        return (self.seq, 0 if self.foreign else 1)

    def to_json(self) -> dict[str, Any]:
        # every field is a str, int, bool or None: no copy needed (dataclasses.asdict
        # deep-copies each value: most of an alias write's client CPU); spelled out, not
        # a getattr per field (a state stores 10..29 entries per alias, twice per write)
        return {
            "seq": self.seq,
            "revision": self.revision,
            "at": self.at,
            "version": self.version,
            "secondary_version": self.secondary_version,
            "secondary_version_weight": self.secondary_version_weight,
            "action": self.action,
            "actor": self.actor,
            "reason": self.reason,
            "foreign": self.foreign,
        }

    @classmethod
    def from_json(cls, data: Any) -> HistoryEntry:
        weight = data.get("secondary_version_weight")
        version, secondary = data.get("version"), data.get("secondary_version")
        if version is not None:
            _model.stored_target(version, secondary, weight)
        _model.parse_time(text(data["at"], "at"))
        return cls(
            seq=whole(data["seq"], "seq"),
            revision=text(data["revision"], "revision"),
            at=data["at"],
            version=text(version, "version", optional=True),
            secondary_version=text(secondary, "secondary_version", optional=True),
            secondary_version_weight=None if weight is None else whole(weight, "weight", 100),
            action=text(data["action"], "action"),
            actor=text(data["actor"], "actor"),
            reason=text(data.get("reason"), "reason", optional=True),
            foreign=data.get("foreign", False) is True,
        )

    def change(self, name: str, alias: str) -> AliasChange:
        secondary = self.secondary_version
        return AliasChange(
            name=name,
            alias=alias,
            revision=self.revision,
            changed_at=_model.parse_time(self.at),
            version=None if self.version is None else _model.parse_version(self.version),
            secondary_version=None if secondary is None else int(_model.parse_version(secondary)),
            secondary_version_weight=self.secondary_version_weight,
            action=self.action,
            actor=self.actor,
            reason=self.reason,
        )


def of_registration(entry: AliasEntry, revision: str | None = None) -> HistoryEntry:
    """The history entry of a registered write (its state shown), or deletion."""
    return HistoryEntry(
        seq=entry.seq,
        revision=(revision or entry.etag or entry.token).strip('"'),
        at=entry.at or entry.update_at,
        version=None if entry.deleted else entry.version,
        secondary_version=None if entry.deleted else entry.secondary_version,
        secondary_version_weight=None if entry.deleted else entry.secondary_version_weight,
        action=entry.action,
        actor=entry.actor,
        reason=entry.reason,
    )


def foreign(seq: int, revision: str, at: str, target: _model.AliasTarget | None) -> HistoryEntry:
    """An alias state another client wrote (``target``) or deleted (None), found by the
    write with sequence number ``seq``."""
    return HistoryEntry(
        seq=seq,
        revision=revision.strip('"'),
        at=at,
        version=None if target is None else _model.version_str(target.version),
        secondary_version=(
            None
            if target is None or target.secondary_version is None
            else str(target.secondary_version)
        ),
        secondary_version_weight=None if target is None else target.secondary_version_weight,
        action="put" if target is not None else "delete",
        actor=ANOTHER_CLIENT,
        foreign=True,
    )


def merge(recent: list[HistoryEntry], found: list[HistoryEntry]) -> list[HistoryEntry]:
    """``recent`` with the entries of ``found`` it does not hold yet, in order."""
    known = {e.order for e in recent}
    merged = recent + [e for e in found if e.order not in known]
    return sorted(merged, key=lambda e: e.order)


def carried(previous: AliasEntry | None, recorded: list[HistoryEntry]) -> list[AliasEntry]:
    """The registrations a new one carries: the previous registration when its outcome
    is unknown (not landed, not recorded), with those it carried itself."""
    if previous is None or previous.landed:
        return []
    seqs = {e.seq for e in recorded if not e.foreign}
    chain = [*previous.prior, dataclasses.replace(previous, prior=[])]
    return [e for e in chain if e.seq not in seqs][-MAX_CARRIED:]


def shown(latest: AliasEntry | None, seq: int, replaced: int, absent: bool) -> list[AliasEntry]:
    """Of ``latest`` and the registrations it carries, those the alias object shows or
    showed: the object holds ``seq`` (or is ``absent``), and its write replaced
    ``replaced``."""
    if latest is None:
        return []
    found = []
    for entry in [*latest.prior, latest]:
        if (
            (entry.deleted and absent and entry is latest)
            or (not absent and entry.seq in (seq, replaced))
            or (absent and entry.seq == replaced)
        ):
            found.append(entry)
    return found


def page_body(name: str, alias: str, entries: list[HistoryEntry], previous: str | None) -> bytes:
    document = {
        "format": PAGE_FORMAT,
        "name": name,
        "alias": alias,
        "previous": previous,
        "entries": [e.to_json() for e in entries],
    }
    return json.dumps(document, separators=(",", ":")).encode()


def read_page(body: bytes) -> tuple[list[HistoryEntry], str | None]:
    """The entries of a page and the key of the page before it (ValueError, KeyError,
    TypeError when it is not a readable page)."""
    data = json.loads(body)
    if data.get("format") != PAGE_FORMAT:
        raise ValueError(f"unknown page format {data.get('format')!r:.40}")
    previous = data.get("previous")
    if previous is not None and not isinstance(previous, str):
        raise ValueError("previous is not a string")
    return [HistoryEntry.from_json(e) for e in data["entries"]], previous


def number(metadata: dict[str, str], key: str) -> int:
    """A sequence number an alias object's metadata carries (-1: none)."""
    try:
        return int(metadata.get(key, "-1"))
    except ValueError:
        return -1


def page_number(file: str) -> int:
    return 999_999 - int(file[:6])


class Recorder:
    """Adds entries to the state's recent history, flushes pages, and reads it all."""

    def __init__(self, place: S3OnlyPlace) -> None:
        self.place = place

    def record(
        self, s3: Any, name: str, alias: str, state: ArtifactState, found: list[HistoryEntry]
    ) -> bool:
        """Add ``found`` to the alias's recent entries (those not there yet); at
        FLUSH_AT entries, the oldest PAGE_SIZE go to a new page object (1 PUT). Returns
        whether the state changed."""
        recent = state.history.get(alias, [])
        merged = merge(recent, found)
        if len(merged) == len(recent):
            return False
        if len(merged) >= FLUSH_AT:
            page, merged = merged[:PAGE_SIZE], merged[PAGE_SIZE:]
            previous = state.history_pages.get(alias)
            count = 1 if previous is None else page_number(previous) + 1
            file = f"{999_999 - count:06d}-{uuid.uuid4().hex}.json"
            body = page_body(name, alias, page, previous)
            key = self.place.history_key(name, alias, file)
            _s3.put_document(s3, self.place.bucket, key, body, if_none_match=True)
            state.history_pages[alias] = file
        state.history[alias] = merged
        return True

    def pending(self, s3: Any, name: str, alias: str, state: ArtifactState) -> list[HistoryEntry]:
        """The alias's latest registration and those it carries that the alias object
        shows or showed, when its landing is not recorded yet (its writer died after
        its write, or has not recorded it yet): 1 HEAD then, else none."""
        latest = state.aliases.get(alias)
        recorded = {e.seq for e in state.history.get(alias, []) if not e.foreign}
        if latest is None or latest.landed or latest.seq in recorded:
            return []
        info = _s3.head(s3, self.place.bucket, self.place.alias_key(name, alias))
        if info is None:
            seen = shown(latest, -1, -1, absent=True)
        else:
            seq = number(info.metadata, SEQ_METADATA)
            seen = shown(latest, seq, number(info.metadata, REPLACED_METADATA), False)
        etag = None if info is None else info.etag
        current = -1 if info is None else number(info.metadata, SEQ_METADATA)
        return [
            of_registration(e, etag if e.seq == current else None)
            for e in seen
            if e.seq not in recorded
        ]

    def listing(
        self, s3: Any, name: str, alias: str, state: ArtifactState, limit: int | None
    ) -> list[AliasChange]:
        """The alias's changes, newest first: the state's entries, a pending one, then
        pages (1 GET each, newest first) while fewer than ``limit`` were found."""
        entries = merge(state.history.get(alias, []), self.pending(s3, name, alias, state))
        file = state.history_pages.get(alias)
        while file is not None and (limit is None or len(entries) < limit):
            key = self.place.history_key(name, alias, file)
            document = _s3.get_document(s3, self.place.bucket, key)
            if document is None:
                raise CorruptRecordError(
                    f"alias history page {self.place.uri(key)} is missing: the history of "
                    f"alias {alias!r} of {name!r} before it cannot be read"
                )
            try:
                older, file = read_page(document.body)
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                raise CorruptRecordError(
                    f"alias history page {self.place.uri(key)} cannot be read ({error})"
                ) from error
            entries = older + entries
        newest = [e.change(name, alias) for e in reversed(entries)]
        return newest if limit is None else newest[:limit]


@dataclasses.dataclass
class Landing:
    """What one alias write's request did: the revision the object holds, the ETag of
    an object it created, whether it made its state readable (``shown``), the sequence
    number of the state it replaced, and changes by another client it found."""

    revision: str
    created: str | None = None
    shown: bool = True
    replaced: int = -1
    found: list[HistoryEntry] = dataclasses.field(default_factory=list)

    def entries(self, entry: AliasEntry) -> list[HistoryEntry]:
        """What to record once it landed: another client's changes, the carried
        registration it replaced, then its own."""
        if not self.shown:
            return []
        replaced = [of_registration(e) for e in entry.prior if e.seq == self.replaced]
        own = of_registration(entry, None if entry.deleted else self.revision)
        return [*self.found, *replaced, own]


class _Parser(Protocol):
    place: S3OnlyPlace

    def parse(self, name: str, alias: str, document: _s3.Document) -> AliasRecord: ...


def another_client(
    aliases: _Parser,
    s3: Any,
    name: str,
    alias: str,
    entry: AliasEntry,
    current: _s3.ObjectInfo | None,
    expected: str | None,
) -> list[HistoryEntry]:
    """The alias object another client wrote (no sequence number), as history records
    it, found by the write ``entry`` (1 GET); none for any other object."""
    if current is None or number(current.metadata, SEQ_METADATA) != -1:
        return []
    if expected is not None and current.etag == expected:
        return []
    place = aliases.place
    document = _s3.get_document(s3, place.bucket, place.alias_key(name, alias))
    if document is None:
        return []
    try:
        record = aliases.parse(name, alias, document)
    except CorruptRecordError:
        return []
    target = _model.AliasTarget(
        record.version, record.secondary_version, record.secondary_version_weight
    )
    return [foreign(entry.seq, document.etag, record.update_at.isoformat(), target)]


def replaced_by(previous: AliasEntry | None, expected: str | None) -> int:
    """The sequence number of the state a write over ``expected`` replaces, as far as the
    registration knows it: the previous registration's (its object, or its deletion's
    absence), else -1 (another client's object, or none)."""
    if previous is None:
        return -1
    if expected is None:
        return previous.seq if previous.deleted else -1
    etag = previous.etag
    return previous.seq if etag is not None and _s3.same_etag(etag, expected) else -1


def note_landed(
    state: ArtifactState, alias: str, entry: AliasEntry, revision: str | None, replaced: int
) -> None:
    """Record in ``state`` that ``entry`` was found shown (by a deletion of versions that
    reconciled it, or rolled it forward over the state ``replaced``); pages are flushed
    by the next alias write."""
    landing = Landing(revision or str(entry.etag), replaced=replaced)
    state.history[alias] = merge(state.history.get(alias, []), landing.entries(entry))


class _Remover(Protocol):
    place: S3OnlyPlace
    retry: RetryPolicy


def remove_object(
    aliases: _Remover,
    s3: Any,
    where: tuple[str, str],
    entry: AliasEntry,
    over: tuple[str | None, int],
    operation: str,
) -> Landing:
    """A registered deletion's DELETE of the alias object expected (``over``: its ETag,
    None when there is none, and the sequence number of its state); returns what history
    records of it (not shown when a later write superseded it)."""
    place = aliases.place
    key = place.alias_key(*where)
    expected, replaced = over
    if expected is None:
        return Landing(entry.token)
    for attempt in aliases.retry.attempts(operation, key, max_attempts=OBJECT_ATTEMPTS):
        try:
            _s3.delete(s3, place.bucket, key, if_match=expected)
            return Landing(entry.token, replaced=replaced)
        except _s3.Precondition:
            current = _s3.head(s3, place.bucket, key)
            if current is None:
                return Landing(entry.token)  # gone already (a retry of ours)
            if number(current.metadata, SEQ_METADATA) > entry.seq:
                return Landing(entry.token, shown=False)  # rewritten by a later write
            expected, replaced = current.etag, number(current.metadata, SEQ_METADATA)
            attempt.conflict("the alias object changed since it was read")
    raise AssertionError("unreachable")
