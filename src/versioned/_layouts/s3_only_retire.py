"""Deleting versions in the S3-only layout.

A deletion marks its versions ``deleting`` in ``state.json`` (one compare-and-swap,
:meth:`StateStore.update_state`) after reading every alias registration, landed or not,
so an alias write and a deletion of its target always see each other; then it deletes
the keys. A state marked ``purging`` is settled first (see :mod:`.s3_only_purge`).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from .. import _pool, _s3
from .._model import LATEST, VersionId
from .._s3 import Precondition, same_etag
from .._session import Session
from ..exc import CorruptRecordError
from . import Beside, Chooser, RetireResult, VersionRecord, once
from . import s3_only_history as history
from .s3_only_aliases import Aliases, object_metadata, seq
from .s3_only_keys import S3OnlyPlace
from .s3_only_purge import Purges
from .s3_only_state import DELETING, LIVE, PENDING, AliasEntry, ArtifactState
from .s3_only_store import Done, Retry, StateStore, Write, live_entry, new_token
from .s3_only_versions import Versions

logger = logging.getLogger(__name__)

Listed = dict[int, tuple[VersionRecord, str]]


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one pass of a deletion does: ``present``, the chosen versions whose keys
    are listed; ``in_use``, those an alias routes to (kept); ``doomed``, the rest, to be
    marked, deleted and reported; ``leftovers``, versions another deletion marked (it
    runs, or died): their keys are deleted again, and that deletion reports them, not
    this one (a version is reported deleted once, as on DynamoDB, where the soft delete
    of an item already deleted is refused)."""

    present: dict[int, VersionRecord]
    in_use: dict[VersionId, list[str]]
    doomed: list[int]
    leftovers: list[int]

    @classmethod
    def of(
        cls,
        state: ArtifactState,
        listed: Listed,
        users: dict[int, list[str]],
        progress: Progress,
    ) -> Plan:
        wanted = sorted(set(progress.chosen or []), reverse=True)
        marked = {
            n
            for n, e in state.versions.items()
            if e.status == DELETING and e.token not in progress.tokens
        }
        present = {n: listed[n][0] for n in wanted if n in listed}
        in_use: dict[VersionId, list[str]] = {
            n: sorted(users[n]) for n in wanted if n in users and n in present
        }
        doomed = [n for n in wanted if n in present and n not in users and n not in marked]
        leftovers = [
            n for n, e in state.versions.items() if e.status == DELETING and n not in doomed
        ]
        return cls(present, in_use, doomed, leftovers)


@dataclasses.dataclass
class Progress:
    """What the earlier passes of one deletion did: the versions ``choose`` picked on the
    first pass (None before it), and the tokens of the marks the passes stored (a mark of
    ours, seen again, is not another deletion's)."""

    chosen: list[int] | None = None
    tokens: set[str] = dataclasses.field(default_factory=set)


class Retirer:
    """Deletes versions and purges artifacts of one place."""

    def __init__(
        self,
        place: S3OnlyPlace,
        store: StateStore,
        versions: Versions,
        aliases: Aliases,
        purges: Purges,
    ) -> None:
        self.place = place
        self.store = store
        self.versions = versions
        self.aliases = aliases
        self.purges = purges

    # ------------------------------------------------------------ deletion
    def retire(
        self,
        session: Session,
        name: str,
        choose: Chooser,
        *,
        strict: bool,
        beside: Beside | None = None,
    ) -> RetireResult:
        """``beside`` (the engine's rollouts and holds) is read with the first pass's
        three reads, in one round trip."""
        operation = f"deleting versions of {name!r}"
        progress = Progress()
        first = once(beside)
        return self.store.update_state(
            session.s3,
            name,
            lambda: self._mark(session.s3, name, (choose, first), strict, progress, operation),
            operation,
        )

    def _mark(
        self,
        s3: Any,
        name: str,
        choosing: tuple[Chooser, Beside],
        strict: bool,
        progress: Progress,
        operation: str,
    ) -> Done[RetireResult] | Write[RetireResult] | Retry:
        """One pass of retire: nothing to delete, or the marks to store, then the keys to
        delete (with any left marked by a deletion that died)."""
        place = self.place
        choose, beside = choosing
        _, loaded, alias_listing, version_listing = _pool.parallel(
            beside,
            lambda: self.store.load(s3, name, operation=operation),
            lambda: _s3.list_objects(s3, place.bucket, place.aliases_dir(name)),
            lambda: _s3.list_objects(s3, place.bucket, place.versions_dir(name)),
        )
        state = loaded.state
        if state.purging:
            return self.purges.settle(s3, name, loaded, operation)
        users = self._alias_users(s3, name, state, alias_listing, operation)
        listed = self.versions.listed(s3, name, version_listing, state.versions)
        self._confirm(state, listed, f"{operation}: index of {name!r}")
        if progress.chosen is None:
            records = [listed[n][0] for n in sorted(listed, reverse=True)]
            progress.chosen = [int(v) for v in choose(records, users) if v != LATEST]
        plan = Plan.of(state, listed, users, progress)
        if (strict and plan.in_use) or not (plan.doomed or plan.leftovers):
            return Done(RetireResult([], plan.in_use))  # refused (strict), or nothing to do
        token = new_token()
        progress.tokens.add(token)
        for number in plan.doomed:
            entry = live_entry(plan.present[number], listed[number][1], token)
            entry.status = DELETING
            state.versions[number] = entry
        state.record(token)
        return Write(loaded, state, lambda _: self._delete(s3, name, plan, operation))

    def _delete(self, s3: Any, name: str, plan: Plan, operation: str) -> RetireResult:
        """Delete the marked keys. The entries stay "deleting" until a later deletion lists
        their keys gone."""
        if plan.leftovers:
            logger.debug(
                "%s: finishing the deletion of versions %s left by an interrupted deletion",
                operation,
                plan.leftovers,
            )
        gone = plan.doomed + plan.leftovers
        _s3.delete_many(s3, self.place.bucket, [self.place.version_key(name, n) for n in gone])
        return RetireResult([plan.present[n] for n in plan.doomed], plan.in_use)

    @staticmethod
    def _confirm(state: ArtifactState, listed: Listed, what: str) -> None:
        """Record in the index what a listing confirmed: versions whose copy landed
        (pending, or written by another client) become live entries, and so do live
        entries that fail their fingerprint (read again from the object); entries without a
        key are forgotten, including finished deletions (their numbers stay used:
        ``hwm`` keeps them)."""
        adopted: list[int] = []
        for number, (found, etag) in listed.items():
            entry = state.versions.get(number)
            edited = entry is not None and entry.status == LIVE and not entry.trusted
            if entry is None or entry.status == PENDING or edited:
                state.versions[number] = live_entry(found, etag, "")
                state.hwm = max(state.hwm, number)
                adopted.append(number)
        # never landed, deleted (by an earlier deletion or another client)
        forgotten = sorted(number for number in state.versions if number not in listed)
        for number in forgotten:
            del state.versions[number]
        if adopted or forgotten:
            logger.debug(
                "%s repaired from the listing: adopted %s, forgot %s",
                what,
                sorted(adopted),
                forgotten,
            )

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
        if entry is not None and shown and not entry.landed:
            entry.landed = True
            history.note_landed(state, alias, entry, listed.etag if listed else None, -1)
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
                replaced = -1 if document is None else seq(document.metadata)
                if found == entry.seq and document is not None:
                    replaced = history.number(document.metadata, history.REPLACED_METADATA)
                history.note_landed(state, alias, entry, None, replaced)
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
            metadata=object_metadata(entry, -1 if document is None else seq(document.metadata)),
        )
