"""The S3-only alias registration protocol.

An alias write reads the state (the engine's ``beside``, its retention guard, with it)
and registers in ``state.json`` (a sequence number, a token and the ETag its document
will have; a compare-and-swap through :meth:`StateStore.update_state`), then writes the
alias object over the one it expects, then records that it landed. A deletion of
versions reads the registrations, so it sees every alias write that may route to them,
landed or not (:meth:`Aliases.users`). From the moment a write has landed, the object
decides (the seed's library, or any client, may change it); a create that lands after a
purge, or after a later deletion of the alias, is taken back.
"""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import datetime
from typing import Any

from .. import _model, _pool, _s3
from .._model import AliasTarget
from .._retry import RetryPolicy
from .._s3 import Precondition, same_etag
from .._session import Session
from ..exc import ArtifactNotFoundError, ConcurrentModificationError, CorruptRecordError
from . import AliasPoll, AliasRecord, Beside, ChangeNote, once
from . import s3_only_history as history
from . import s3_only_targets as targets
from .s3_only_keys import S3OnlyPlace
from .s3_only_purge import Purges
from .s3_only_state import (
    AliasEntry,
    ArtifactState,
    alias_body,
    predicted_etag,
)
from .s3_only_store import (
    Done,
    Loaded,
    Retry,
    StateStore,
    Write,
    new_token,
    quoted,
)

#: alias object metadata: the registration sequence number and token of the write
SEQ_METADATA = "versioned-seq"
TOKEN_METADATA = "versioned-token"
#: conditional writes of one alias object tried before giving up (within the policy's)
OBJECT_ATTEMPTS = 16

logger = logging.getLogger(__name__)


def seq(metadata: dict[str, str]) -> int:
    """The registration sequence number an alias object carries (-1: none, i.e. written
    by another client)."""
    try:
        return int(metadata.get(SEQ_METADATA, "-1"))
    except ValueError:
        return -1


def alias_time(written: object, modified: datetime) -> datetime:
    """An alias's time: the one its document records (what put_alias returned), else
    the object's LastModified (the seed's library writes "unknown" there)."""
    if isinstance(written, str):
        with contextlib.suppress(ValueError):
            return _model.whole_seconds(_model.parse_time(written))
    return _model.whole_seconds(modified)


def object_metadata(entry: AliasEntry, replaced: int) -> dict[str, str]:
    """The metadata an alias object written for ``entry`` carries (``replaced``: the
    sequence number of the state the write replaces)."""
    return {
        SEQ_METADATA: str(entry.seq),
        TOKEN_METADATA: entry.token,
        history.REPLACED_METADATA: str(replaced),
    }


class Aliases:
    """Reads and writes the alias objects of one place, registered in ``state.json``."""

    def __init__(
        self, place: S3OnlyPlace, store: StateStore, retry: RetryPolicy, purges: Purges
    ) -> None:
        self.place = place
        self.store = store
        self.retry = retry
        self.purges = purges
        self.recorder = history.Recorder(place)

    # ------------------------------------------------------------ documents
    def body(self, name: str, alias: str, entry: AliasEntry) -> bytes:
        version = _model.parse_version(entry.version)
        secondary = entry.secondary_version
        return alias_body(
            name,
            alias,
            entry,
            self.place.uri(self.place.version_key(name, version)),
            None
            if secondary is None
            else self.place.uri(self.place.version_key(name, int(secondary))),
        )

    def parse(self, name: str, alias: str, document: _s3.Document) -> AliasRecord:
        where = self.place.uri(self.place.alias_key(name, alias))
        try:
            data = json.loads(document.body)
            if not isinstance(data, dict):
                raise ValueError("the document is not a JSON object")
            target = _model.stored_target(
                data["version"],
                data.get("secondary_version"),
                data.get("secondary_version_weight"),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise CorruptRecordError(
                f"alias {alias!r} of {name!r} ({where}) is not a valid alias document: {error}. "
                "Point the alias again with put_alias, or delete it."
            ) from error
        update_at = alias_time(data.get("update_at"), document.last_modified)
        return AliasRecord.of(name, alias, target, update_at, document.etag.strip('"'))

    def documents(self, s3: Any, name: str, aliases: list[str]) -> list[_s3.Document | None]:
        """The alias objects of ``aliases`` (GETs together)."""
        return _pool.fan_out(
            lambda alias: _s3.get_document(
                s3, self.place.bucket, self.place.alias_key(name, alias)
            ),
            aliases,
        )

    # ------------------------------------------------------------ reads
    def get(self, session: Session, name: str, alias: str) -> AliasRecord | None:
        key = self.place.alias_key(name, alias)
        document = _s3.get_document(session.s3, self.place.bucket, key)
        return None if document is None else self.parse(name, alias, document)

    def poll(self, session: Session, name: str, alias: str, revision: str | None) -> AliasPoll:
        """Has the alias object changed since ``revision`` (its ETag)? One conditional GET
        (If-None-Match): 304 and no body when unchanged."""
        key = self.place.alias_key(name, alias)
        found = _s3.get_document_if_changed(session.s3, self.place.bucket, key, revision)
        if found is _s3.NOT_MODIFIED:
            return AliasPoll(changed=False)
        if found is None:
            return AliasPoll(changed=True, record=None)
        record = self.parse(name, alias, found)
        return AliasPoll(changed=record.fingerprint != revision, record=record)

    def listing(self, session: Session, name: str) -> list[AliasRecord]:
        s3 = session.s3
        listing = _s3.list_objects(s3, self.place.bucket, self.place.aliases_dir(name))
        aliases = [
            kind[2]
            for item in listing.objects
            if (kind := self.place.classify(item.key)) is not None and kind[0] == "alias"
        ]
        documents = self.documents(s3, name, aliases)
        return [
            self.parse(name, alias, document)
            for alias, document in zip(aliases, documents, strict=True)
            if document is not None
        ]

    # ------------------------------------------------------------ write
    def write(
        self,
        session: Session,
        name: str,
        alias: str,
        target: AliasTarget,
        expected_revision: str | None,
        note: ChangeNote,
        beside: Beside | None = None,
    ) -> AliasRecord:
        operation = f"pointing alias {alias!r} of {name!r}"
        first = once(beside)
        return self.store.update_state(
            session.s3,
            name,
            lambda: self._register(
                session.s3, name, alias, (target, note, first), expected_revision, operation
            ),
            operation,
        )

    def _register(
        self,
        s3: Any,
        name: str,
        alias: str,
        change: tuple[AliasTarget, ChangeNote, Beside],
        expected_revision: str | None,
        operation: str,
    ) -> Write[AliasRecord] | Retry:
        """One pass of write: the registration to store, then the object to write."""
        target, note, beside = change
        loaded, early = self._read(s3, name, beside, target, operation)
        state = loaded.state
        if state.purging:
            return self.purges.settle(s3, name, loaded, operation)
        previous = state.aliases.get(alias)
        expected = self._expected_object(s3, name, alias, previous, expected_revision)
        targets.require(s3, self.place, (name, alias), loaded, target, early)
        now = _model.utc_now()
        entry = AliasEntry(
            seq=state.next_seq(),
            token=new_token(),
            deleted=False,
            version=_model.version_str(target.version),
            secondary_version=(
                None if target.secondary_version is None else str(target.secondary_version)
            ),
            secondary_version_weight=target.secondary_version_weight,
            update_at=_model.whole_seconds(now).isoformat(),
            at=now.isoformat(),
            action=note.action,
            actor=note.actor,
            reason=note.reason,
            prior=history.carried(previous, state.history.get(alias, [])),
        )
        body = self.body(name, alias, entry)
        entry.etag = predicted_etag(body)
        state.register_alias(alias, entry)

        replaced = history.replaced_by(previous, expected)

        def land(written: Loaded) -> AliasRecord:
            landing = self._materialize(
                s3, name, alias, entry, body, (expected, replaced), operation
            )
            self._landed(s3, name, alias, entry, written, landing, operation)
            update_at = _model.parse_time(entry.update_at)
            return AliasRecord.of(name, alias, target, update_at, landing.revision.strip('"'))

        return Write(loaded, state, land)

    def _read(
        self, s3: Any, name: str, beside: Beside, target: AliasTarget, operation: str
    ) -> tuple[Loaded, tuple[targets.Early, targets.Found]]:
        """The state, with ``beside`` and the early HEADs of ``target`` (planned on what
        this store saw before they are sent), in one round trip."""
        early = targets.Early.plan(self.store.seen.get(name), target)

        def load() -> Loaded:
            return self.store.load(s3, name, operation=operation)

        if not early.versions:
            return _pool.parallel(beside, load)[1], (early, {})
        _, loaded, heads = _pool.parallel(beside, load, lambda: early.head(s3, self.place, name))
        return loaded, (early, heads)

    def _expected_object(
        self,
        s3: Any,
        name: str,
        alias: str,
        previous: AliasEntry | None,
        expected_revision: str | None,
    ) -> str | None:
        """The ETag the alias object should have now (None: it should not exist), after
        checking ``expected_revision`` against the alias's latest registered write.
        Raises ConcurrentModificationError when the alias moved on since that revision."""
        if expected_revision is None:
            # Never registered: most likely new (create it; an object written by another
            # client makes the create fail, and it is then written over).
            return None if previous is None or previous.deleted else previous.etag
        wanted = quoted(expected_revision)
        if previous is not None and not previous.deleted and same_etag(previous.etag, wanted):
            return wanted
        info = _s3.head(s3, self.place.bucket, self.place.alias_key(name, alias))
        current = (
            info is not None
            and same_etag(info.etag, wanted)
            and (previous is None or (not previous.deleted and seq(info.metadata) == previous.seq))
        )
        if not current:
            raise ConcurrentModificationError(
                f"alias {alias!r} of {name!r} changed since revision {expected_revision}; "
                "read it again and retry"
            )
        return wanted

    def _materialize(
        self,
        s3: Any,
        name: str,
        alias: str,
        entry: AliasEntry,
        body: bytes,
        over: tuple[str | None, int],
        operation: str,
    ) -> history.Landing:
        """Write the registered alias document over the one expected (``over``: its ETag,
        None for none, and the sequence number of its state); returns the revision that
        holds it (or the newer write that superseded it), the ETag of the object this
        call created (None when it replaced one, or wrote nothing), and what history
        records of it."""
        expected, replaced = over
        found: list[history.HistoryEntry] = []
        key = self.place.alias_key(name, alias)
        for attempt in self.retry.attempts(operation, key, max_attempts=OBJECT_ATTEMPTS):
            try:
                etag = _s3.put_document(
                    s3,
                    self.place.bucket,
                    key,
                    body,
                    if_match=expected,
                    if_none_match=expected is None,
                    metadata=object_metadata(entry, replaced),
                )
            except Precondition:
                current = _s3.head(s3, self.place.bucket, key)
                if current is not None and current.metadata.get(TOKEN_METADATA) == entry.token:
                    # Ours landed: this very request, retried after its answer was lost
                    # (a create, when it was one: a later deletion must still take it back).
                    created = current.etag if expected is None else None
                    return history.Landing(current.etag, created, True, replaced, found)
                if current is not None and seq(current.metadata) >= entry.seq:
                    return history.Landing(current.etag, shown=False)  # a later write's
                if current is None and self._superseded(s3, name, alias, entry):
                    return history.Landing(str(entry.etag), shown=False)
                found = history.another_client(self, s3, name, alias, entry, current, expected)
                expected = None if current is None else current.etag
                replaced = -1 if current is None else seq(current.metadata)
                attempt.conflict("the alias object changed since it was read")
                continue
            return history.Landing(etag, etag if expected is None else None, True, replaced, found)
        raise AssertionError("unreachable")

    def _superseded(self, s3: Any, name: str, alias: str, entry: AliasEntry) -> bool:
        """Whether a later registration replaced ``entry`` (True), or ``entry`` is still
        the latest (False). Raises ArtifactNotFoundError if the artifact was purged."""
        loaded = self.store.load(s3, name)
        if loaded.etag is None or loaded.state.purging:
            raise ArtifactNotFoundError(
                f"artifact {name!r} was purged; alias {alias!r} was not written"
            )
        latest = loaded.state.aliases.get(alias)
        return latest is not None and latest.seq > entry.seq

    def _landed(
        self,
        s3: Any,
        name: str,
        alias: str,
        entry: AliasEntry,
        loaded: Loaded,
        landing: history.Landing,
        operation: str,
    ) -> None:
        """Record that the alias object shows ``entry`` (from then on the object decides,
        whoever changes it), and what history records of the write (:meth:`Landing.entries`).
        A create cannot be fenced by a deletion that ran first: one that landed after the
        artifact was purged, or after a later deletion of the alias registered, is taken
        back."""
        first = [loaded]
        created = landing.created

        def change() -> Done[None] | Write[None]:
            current = first.pop() if first else self.store.load(s3, name, operation=operation)
            state = current.state
            latest = state.aliases.get(alias)
            purged = current.etag is None or bool(state.purging)
            found = landing.entries(entry)
            recorded = not purged and self.recorder.record(s3, name, alias, state, found)
            if purged or latest is None or latest.seq != entry.seq or latest.landed:
                deleted_later = latest is not None and latest.deleted and latest.seq > entry.seq
                if created is not None and (purged or deleted_later):
                    self._take_back(s3, name, alias, created, operation)
                if purged:
                    raise ArtifactNotFoundError(
                        f"artifact {name!r} was purged; alias {alias!r} was not written"
                    )
                if not recorded:
                    return Done(None)
            else:
                latest.landed = True
            state.record(new_token())
            return Write(current, state, lambda _: None)

        self.store.update_state(s3, name, change, operation)

    def _take_back(self, s3: Any, name: str, alias: str, created: str, operation: str) -> None:
        """Delete the alias object this call created (if it is still the one created)."""
        with contextlib.suppress(Precondition):
            _s3.delete(s3, self.place.bucket, self.place.alias_key(name, alias), if_match=created)
        logger.debug(
            "%s: took back the alias object created after a purge or a later deletion of %r",
            operation,
            name,
        )

    # ------------------------------------------------------------ delete
    def delete(
        self,
        session: Session,
        name: str,
        alias: str,
        expected_revision: str | None,
        note: ChangeNote,
        beside: Beside | None = None,
    ) -> bool:
        operation = f"deleting alias {alias!r} of {name!r}"
        wanted = (expected_revision, note, once(beside))
        return self.store.update_state(
            session.s3,
            name,
            lambda: self._unregister(session.s3, name, alias, wanted, operation),
            operation,
        )

    def _unregister(
        self,
        s3: Any,
        name: str,
        alias: str,
        wanted: tuple[str | None, ChangeNote, Beside],
        operation: str,
    ) -> Done[bool] | Write[bool] | Retry:
        """One pass of delete: False when there is nothing to delete, else the deletion
        to register, then the object to delete."""
        expected_revision, note, beside = wanted
        _, loaded, info = _pool.parallel(
            beside,
            lambda: self.store.load(s3, name, operation=operation),
            lambda: _s3.head(s3, self.place.bucket, self.place.alias_key(name, alias)),
        )
        state = loaded.state
        if state.purging:
            return self.purges.settle(s3, name, loaded, operation)
        previous = state.aliases.get(alias)
        if expected_revision is not None:
            expected: str | None = self._expected_object(
                s3, name, alias, previous, expected_revision
            )
        else:
            if info is None and (previous is None or previous.deleted):
                return Done(False)
            expected = None if info is None else info.etag
        if loaded.etag is None and expected is None:
            return Done(False)
        entry = _deletion(state, alias, note)
        state.register_alias(alias, entry)
        found = history.another_client(self, s3, name, alias, entry, info, None)
        replaced = seq(info.metadata) if info is not None and info.etag == expected else -1
        if replaced == -1:
            replaced = history.replaced_by(previous, expected)

        def remove(written: Loaded) -> bool:
            over = (expected, replaced)
            landing = history.remove_object(self, s3, (name, alias), entry, over, operation)
            landing.found = found if landing.replaced == -1 and expected is not None else []
            self._landed(s3, name, alias, entry, written, landing, operation)
            return True

        return Write(loaded, state, remove)


def _deletion(state: ArtifactState, alias: str, note: ChangeNote) -> AliasEntry:
    """The registration of a deletion of ``alias`` (it carries the previous registration
    when that one's outcome is unknown)."""
    now = _model.utc_now().isoformat()
    return AliasEntry(
        seq=state.next_seq(),
        token=new_token(),
        deleted=True,
        update_at=now,
        at=now,
        action=note.action,
        actor=note.actor,
        reason=note.reason,
        prior=history.carried(state.aliases.get(alias), state.history.get(alias, [])),
    )
