"""The S3-only state store: ``state.json`` read, rebuilt when absent, and changed by one
compare-and-swap loop (:meth:`StateStore.update_state`) that every metadata change of an
artifact goes through (publish's reservation, a deletion's marks, an alias registration
and its landing, a purge's mark).

A change is a function that reads what it needs (the state, through :meth:`load`, and
anything read beside it) and returns :class:`Done` (nothing to write: the call's result)
or :class:`Write` (the state to swap in, and what to do once it is stored). A lost swap
reads and decides again; :class:`Retry` from a write's continuation does the same (the
state was stored, but the work it announced could not be done: publish's number taken by
another client's object); and so does one the change returns itself (it settled an
abandoned purge first: see :mod:`.s3_only_purge`). The loop runs under the layout's retry
policy and raises its ContentionError when the policy is spent.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from .. import _model, _s3, constants
from .._model import VersionId
from .._retry import RetryPolicy
from .._s3 import Precondition
from ..exc import CorruptRecordError
from . import VersionRecord
from .s3_only_keys import S3OnlyPlace
from .s3_only_state import LIVE, PENDING, ArtifactState, VersionEntry

logger = logging.getLogger(__name__)

T = TypeVar("T")
_OWN_METADATA = frozenset(_model.RESERVED_METADATA_KEYS)


def new_token() -> str:
    return uuid.uuid4().hex


def quoted(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


class Loaded:
    """A state document, the ETag it was read at (None: not stored yet) and, when read,
    its LastModified (the server's time of its last change) and the server's time when it
    answered (its Date header): both on the server's clock, whatever the client's says."""

    def __init__(
        self,
        state: ArtifactState,
        etag: str | None,
        modified: datetime | None = None,
        served_at: datetime | None = None,
    ) -> None:
        self.state = state
        self.etag = etag
        self.modified = modified
        self.served_at = served_at


@dataclasses.dataclass(frozen=True)
class Done(Generic[T]):
    """A change that writes nothing: ``value`` is the call's result."""

    value: T


@dataclasses.dataclass(frozen=True)
class Retry:
    """The stored change could not be followed through: read and decide again."""

    reason: str


@dataclasses.dataclass(frozen=True)
class Write(Generic[T]):
    """Swap ``state`` in for ``loaded`` (its last op token names the change), then run
    ``then`` with the state as stored: its result is the call's, or a :class:`Retry`."""

    loaded: Loaded
    state: ArtifactState
    then: Callable[[Loaded], T | Retry]


Change = Callable[[], "Done[T] | Write[T] | Retry"]


@dataclasses.dataclass(frozen=True)
class Seen:
    """What a store last saw of an artifact's ``state.json`` (read, or stored by it): the
    document's ETag and its reserved numbers (``pending``). An alias write HEADs the
    targets reserved there beside its state read, and the ETag is the witness that makes
    those HEADs count (:mod:`.s3_only_targets`)."""

    etag: str
    pending: frozenset[int]

    @classmethod
    def of(cls, state: ArtifactState, etag: str) -> Seen:
        pending = frozenset(n for n, e in state.versions.items() if e.status == PENDING)
        return cls(etag, pending)


# ---------------------------------------------------------------- records
def record(
    place: S3OnlyPlace, name: str, version: VersionId, info: _s3.ObjectInfo
) -> VersionRecord:
    """A version's record from its object's own metadata (CorruptRecordError without a
    sha256: not written by versioned)."""
    if not info.sha256:
        raise CorruptRecordError(
            f"{place.uri(info.key)} records no sha256 (metadata "
            f"{constants.METADATA_KEY_ARTIFACT_SHA256!r}): it was not written by versioned. "
            "Put the artifact again, or delete that object."
        )
    return VersionRecord(
        name=name,
        version=version,
        sha256=info.sha256,
        update_at=_model.whole_seconds(info.last_modified),
        key=info.key,
        size=info.size,
        content_type=info.content_type,
        metadata={k: v for k, v in info.metadata.items() if k not in _OWN_METADATA},
    )


def entry_record(
    place: S3OnlyPlace, name: str, number: int, entry: VersionEntry, modified: datetime | None
) -> VersionRecord:
    """A version's record from its index entry (``modified``: the listed LastModified)."""
    if modified is not None:
        update_at = _model.whole_seconds(modified)
    else:
        update_at = _model.parse_time(entry.update_at or "1970-01-01T00:00:00+00:00")
    return VersionRecord(
        name=name,
        version=number,
        sha256=entry.sha256,
        update_at=update_at,
        key=place.version_key(name, number),
        size=entry.size,
        content_type=entry.content_type,
    )


def live_entry(record: VersionRecord, etag: str, token: str) -> VersionEntry:
    """The index entry of a version whose object exists."""
    return VersionEntry(
        status=LIVE,
        sha256=record.sha256,
        size=record.size or 0,
        etag=etag,
        update_at=record.update_at.isoformat(),
        content_type=record.content_type,
        token=token,
    )


# ---------------------------------------------------------------- the store
class StateStore:
    """Reads and compare-and-swaps the ``state.json`` of each artifact of one place."""

    def __init__(self, place: S3OnlyPlace, retry: RetryPolicy) -> None:
        self.place = place
        self.retry = retry
        #: per artifact, the state document this store last read or stored (a cache of
        #: this object, like the DynamoDB layout's folders: a stale entry costs a request)
        self.seen: dict[str, Seen] = {}

    def remember(self, name: str, loaded: Loaded) -> Loaded:
        """Note ``loaded`` as the state of ``name`` this store saw last; returns it."""
        if loaded.etag is None:
            self.seen.pop(name, None)
        else:
            self.seen[name] = Seen.of(loaded.state, loaded.etag)
        return loaded

    def load(self, s3: Any, name: str, *, rebuild: bool = True, operation: str = "") -> Loaded:
        """The state as stored, or rebuilt from the version listing when there is none
        (an artifact written by the seed's library, or a new one); without ``rebuild``,
        an empty state (the caller validates what it needs against a listing)."""
        key = self.place.state_key(name)
        document = _s3.get_document(s3, self.place.bucket, key)
        if document is not None:
            state = ArtifactState.from_bytes(document.body, self.place.uri(key))
            found = Loaded(state, document.etag, document.last_modified, document.served_at)
            return self.remember(name, found)
        self.seen.pop(name, None)
        if not rebuild:
            return Loaded(ArtifactState(), None)
        state = self.rebuild(s3, name)
        if state.versions or state.hwm:
            logger.debug(
                "%s: %r has no state.json; rebuilt its index from %d listed versions",
                operation or "reading",
                name,
                len(state.versions),
            )
        return Loaded(state, None)

    def rebuild(self, s3: Any, name: str) -> ArtifactState:
        """The state the version keys imply: their numbers used, their objects live."""
        listing = _s3.list_objects(s3, self.place.bucket, self.place.versions_dir(name))
        numbered = [
            (number, item.key)
            for item in listing.objects
            if (number := self.place.numbered(name, item.key)) is not None
        ]
        state = ArtifactState(hwm=max((n for n, _ in numbered), default=0))
        infos = _s3.head_many(s3, self.place.bucket, [key for _, key in numbered])
        for (number, _), info in zip(numbered, infos, strict=True):
            if info is not None and info.sha256:
                found = record(self.place, name, number, info)
                state.versions[number] = live_entry(found, info.etag, "")
        return state

    def store(self, s3: Any, name: str, loaded: Loaded, state: ArtifactState) -> Loaded | None:
        """Compare-and-swap the state. Returns the state now stored and its ETag: ``state``
        when written, or, when the change's token is found in the stored document (a
        retried request whose first attempt was applied), that document as read back,
        since other writers may have changed it after our change, and their changes must
        not be written over from our copy. None when another writer changed it first
        (re-read, decide again)."""
        token = state.ops[-1]
        key = self.place.state_key(name)
        try:
            etag = _s3.put_document(
                s3,
                self.place.bucket,
                key,
                state.to_bytes(),
                if_match=loaded.etag,
                if_none_match=loaded.etag is None,
            )
            return self.remember(name, Loaded(state, etag))
        except Precondition:
            document = _s3.get_document(s3, self.place.bucket, key)
            if document is None:
                return None
            stored = ArtifactState.from_bytes(document.body, self.place.uri(key))
            if not stored.applied(token):
                self.remember(name, Loaded(stored, document.etag))  # what the retry reads
                return None
            logger.debug("%s: our earlier write of state.json was applied", key)
            return self.remember(name, Loaded(stored, document.etag))

    def update_state(self, s3: Any, name: str, change: Change[T], operation: str) -> T:
        """The one compare-and-swap loop on ``state.json``: run ``change`` (it reads and
        decides), store what it returns, follow it through; again while another writer
        changed the state first, until the retry policy is spent (ContentionError naming
        ``operation``, the state key and the attempts)."""
        for attempt in self.retry.attempts(operation, self.place.state_key(name)):
            step = change()
            if isinstance(step, Done):
                return step.value
            if isinstance(step, Retry):  # it settled something first (an abandoned purge)
                attempt.conflict(step.reason)
                continue
            stored = self.store(s3, name, step.loaded, step.state)
            if stored is None:
                attempt.conflict("state.json changed since it was read")
                continue
            result = step.then(stored)
            if isinstance(result, Retry):
                attempt.conflict(result.reason)
                continue
            return result
        raise AssertionError("unreachable")
