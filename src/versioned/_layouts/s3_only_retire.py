"""Deleting versions and purging artifacts in the S3-only layout.

A deletion marks its versions ``deleting`` in ``state.json`` (one compare-and-swap,
:meth:`StateStore.update_state`) after reading every alias registration, landed or not,
so an alias write and a deletion of its target always see each other; then it deletes
the keys. A purge marks the state ``purging`` first (publishes and alias writes that read
it stop), deletes LATEST, then everything else, the state last.
"""

from __future__ import annotations

import logging
from typing import Any

from .. import _model, _pool, _s3
from .._model import LATEST, VersionId
from .._s3 import Precondition, same_etag
from .._session import Session
from ..exc import CorruptRecordError
from . import Chooser, RetireResult, VersionRecord
from .s3_only_aliases import Aliases, object_metadata, seq
from .s3_only_keys import S3OnlyPlace
from .s3_only_state import DELETING, PENDING, AliasEntry, ArtifactState
from .s3_only_store import Done, Loaded, StateStore, Write, live_entry, new_token
from .s3_only_versions import Versions

logger = logging.getLogger(__name__)

Listed = dict[int, tuple[VersionRecord, str]]


class Retirer:
    """Deletes versions and purges artifacts of one place."""

    def __init__(
        self, place: S3OnlyPlace, store: StateStore, versions: Versions, aliases: Aliases
    ) -> None:
        self.place = place
        self.store = store
        self.versions = versions
        self.aliases = aliases

    # ------------------------------------------------------------ deletion
    def retire(self, session: Session, name: str, choose: Chooser, *, strict: bool) -> RetireResult:
        operation = f"deleting versions of {name!r}"
        chosen: list[list[int]] = []  # what ``choose`` picked on the first pass
        return self.store.update_state(
            session.s3,
            name,
            lambda: self._mark(session.s3, name, choose, strict, chosen, operation),
            operation,
        )

    def _mark(
        self,
        s3: Any,
        name: str,
        choose: Chooser,
        strict: bool,
        chosen: list[list[int]],
        operation: str,
    ) -> Done[RetireResult] | Write[RetireResult]:
        """One pass of retire: nothing to delete, or the marks to store, then the keys to
        delete (with any left marked by a deletion that died)."""
        place = self.place
        loaded, alias_listing, version_listing = _pool.parallel(
            lambda: self.store.load(s3, name, operation=operation),
            lambda: _s3.list_objects(s3, place.bucket, place.aliases_dir(name)),
            lambda: _s3.list_objects(s3, place.bucket, place.versions_dir(name)),
        )
        state = loaded.state
        if state.purging:
            return Done(RetireResult([], {}))
        users = self._alias_users(s3, name, state, alias_listing, operation)
        listed = self.versions.listed(s3, name, version_listing, state.versions)
        self._confirm(state, listed)
        if not chosen:
            records = [listed[n][0] for n in sorted(listed, reverse=True)]
            chosen.append([int(v) for v in choose(records, users) if v != LATEST])
        wanted = sorted(set(chosen[0]), reverse=True)
        present = {n: listed[n][0] for n in wanted if n in listed}
        in_use: dict[VersionId, list[str]] = {
            n: sorted(users[n]) for n in wanted if n in users and n in present
        }
        if strict and in_use:
            return Done(RetireResult([], in_use))
        doomed = [n for n in wanted if n in present and n not in users]
        leftovers = [
            n for n, e in state.versions.items() if e.status == DELETING and n not in doomed
        ]
        if not doomed and not leftovers:
            return Done(RetireResult([], in_use))
        token = new_token()
        for number in doomed:
            entry = live_entry(present[number], listed[number][1], token)
            entry.status = DELETING
            state.versions[number] = entry
        state.record(token)
        result = RetireResult([present[n] for n in doomed], in_use)
        return Write(
            loaded, state, lambda _: self._delete(s3, name, doomed, leftovers, result, operation)
        )

    def _delete(
        self,
        s3: Any,
        name: str,
        doomed: list[int],
        leftovers: list[int],
        result: RetireResult,
        operation: str,
    ) -> RetireResult:
        """Delete the marked keys. The entries stay "deleting" until a later deletion lists
        their keys gone."""
        if leftovers:
            logger.debug(
                "%s: finishing the deletion of versions %s left by an interrupted deletion",
                operation,
                leftovers,
            )
        gone = doomed + leftovers
        _s3.delete_many(s3, self.place.bucket, [self.place.version_key(name, n) for n in gone])
        return result

    def _confirm(self, state: ArtifactState, listed: Listed) -> None:
        """Record in the index what a listing confirmed: versions whose copy landed
        (pending, or written by another client) become live entries; entries without a
        key are forgotten, including finished deletions (their numbers stay used:
        ``hwm`` keeps them)."""
        for number, (found, etag) in listed.items():
            entry = state.versions.get(number)
            if entry is None or entry.status == PENDING:
                state.versions[number] = live_entry(found, etag, "")
                state.hwm = max(state.hwm, number)
        for number in list(state.versions):
            if number not in listed:
                # never landed, deleted (by an earlier deletion or another client)
                del state.versions[number]

    # ------------------------------------------------------------ aliases in use
    def _alias_users(
        self, s3: Any, name: str, state: ArtifactState, listing: _s3.Listing, operation: str
    ) -> dict[int, list[str]]:
        """{version: [aliases that route to it]}, updating the registrations in ``state``
        with what the alias objects show (see :meth:`_alias_targets`)."""
        users: dict[int, list[str]] = {}
        listed: dict[str, _s3.ListedObject] = {}
        for item in listing.objects:
            kind = self.place.classify(item.key)
            if kind is not None and kind[0] == "alias":
                listed[kind[2]] = item
        for alias in sorted(set(listed) | set(state.aliases)):
            targets = self._alias_targets(s3, name, alias, state, listed.get(alias), operation)
            for target in targets:
                if target != LATEST:
                    users.setdefault(int(target), []).append(alias)
        return {number: sorted(set(aliases)) for number, aliases in users.items()}

    def _alias_targets(
        self,
        s3: Any,
        name: str,
        alias: str,
        state: ArtifactState,
        listed: _s3.ListedObject | None,
        operation: str,
    ) -> list[VersionId]:
        """The versions an alias may route to now or once its writes land.

        A registered write that has landed (its writer, or an earlier reconciliation, said
        so) leaves the object as the truth: another client may have changed or deleted it
        since. One that has not landed yet routes to its targets; the object is brought in
        line when it shows an older write of ours (or nothing), and otherwise (written by
        another client meanwhile) its targets count too."""
        entry = state.aliases.get(alias)
        shown = (
            entry is not None
            and listed is not None
            and not entry.deleted
            and same_etag(listed.etag, entry.etag)
        )
        if entry is not None and shown:
            entry.landed = True
        if entry is not None and entry.landed:
            if shown or (entry.deleted and listed is None):
                return entry.targets
            del state.aliases[alias]  # changed by another client since: the object decides
            return self._shown_targets(s3, name, alias)
        if entry is None:
            return self._shown_targets(s3, name, alias) if listed is not None else []
        key = self.place.alias_key(name, alias)
        document = _s3.get_document(s3, self.place.bucket, key)
        found = -1 if document is None else seq(document.metadata)
        if found == entry.seq or document is None or 0 <= found < entry.seq:
            try:
                if found != entry.seq:
                    self._roll_forward(s3, name, alias, entry, document, operation)
                entry.landed = True
                return entry.targets
            except Precondition:
                pass  # the object changed while we looked: count both
        return entry.targets + self._shown_targets(s3, name, alias)

    def _shown_targets(self, s3: Any, name: str, alias: str) -> list[VersionId]:
        """What the alias object routes to now (nothing when absent or unreadable)."""
        key = self.place.alias_key(name, alias)
        document = _s3.get_document(s3, self.place.bucket, key)
        if document is None:
            return []
        try:
            return self.aliases.parse(name, alias, document).targets
        except CorruptRecordError:
            return []  # an unreadable alias routes nowhere; verify() reports it

    def _roll_forward(
        self,
        s3: Any,
        name: str,
        alias: str,
        entry: AliasEntry,
        document: _s3.Document | None,
        operation: str,
    ) -> None:
        """Make the alias object show its latest registered write (or be deleted)."""
        key = self.place.alias_key(name, alias)
        etag = document.etag if document is not None else None
        logger.debug(
            "%s: repairing alias %r of %r, whose registered write %d never landed",
            operation,
            alias,
            name,
            entry.seq,
        )
        if entry.deleted:
            if etag is not None:
                _s3.delete(s3, self.place.bucket, key, if_match=etag)
            return
        _s3.put_document(
            s3,
            self.place.bucket,
            key,
            self.aliases.body(name, alias, entry),
            if_match=etag,
            if_none_match=etag is None,
            metadata=object_metadata(entry),
        )

    # ------------------------------------------------------------ purge
    def purge_artifact(self, session: Session, name: str) -> None:
        s3 = session.s3
        if not self._owned_keys(s3, name):
            return  # nothing of this layout here: never write into someone else's folder
        operation = f"purging {name!r}"

        def mark() -> Write[Loaded]:
            loaded = self.store.load(s3, name, operation=operation)
            token = new_token()
            loaded.state.purging = token
            loaded.state.record(token)
            return Write(loaded, loaded.state, lambda stored: stored)

        loaded = self.store.update_state(s3, name, mark, operation)
        place = self.place
        # LATEST first: once it is gone no publish can copy it into a new version.
        _s3.delete(s3, place.bucket, place.version_key(name, LATEST))
        keys = self._owned_keys(s3, name)
        keys |= {place.alias_key(name, alias) for alias in loaded.state.aliases}
        keys.discard(place.state_key(name))
        _s3.delete_many(s3, place.bucket, sorted(keys))
        _s3.delete(s3, place.bucket, place.state_key(name))

    def _owned_keys(self, s3: Any, name: str) -> set[str]:
        listing = _s3.list_objects(s3, self.place.bucket, self.place.artifact_dir(name))
        return {item.key for item in listing.objects if self.place.classify(item.key) is not None}

    def purge_all(self, session: Session) -> None:
        root = self.place.root
        listing = _s3.list_objects(session.s3, self.place.bucket, root, delimiter="/")
        names = [
            prefix[len(root) : -1]
            for prefix in listing.prefixes
            if _model.is_artifact_name(prefix[len(root) : -1])
        ]
        _pool.fan_out(lambda name: self.purge_artifact(session, name), names)
