"""Purging artifacts in the S3-only layout, and settling a purge whose owner died.

A purge marks the state ``purging`` first (one compare-and-swap): the mark names its owner
(the purge's token, and host:pid for people) and a deadline (``purging_until``, the lease
from now). Publishes, alias writes and deletions that read a live mark refuse
(ArtifactNotFoundError: the artifact is being purged; nothing was changed). Then the
purge deletes LATEST (no publish can copy it after), lists and deletes every key of this
layout and of every alias the state knows, and deletes the state last.

A writer that finds a mark past its deadline settles it before doing its own work:

- **undone** when the artifact is intact: LATEST, every live version the index records
  and every alias write that landed are still listed. The purge deleted nothing (or only
  LATEST, which a put wrote again since), so clearing the mark loses nothing and leaves
  an artifact as consistent as before the purge.
- **finished** otherwise: it deleted bytes (LATEST, a version, an alias), so the artifact
  cannot be given back whole (an alias might route to a deleted version); the writer takes
  the mark over (a new owner and deadline, one compare-and-swap that only one writer can
  win) and runs the purge's deletions to the end.

Either way the writer then reads the state again and decides its own work on what is
there, so no call reports work it did not do.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from .. import _model, _pool, _s3
from .._model import LATEST
from .._session import Session
from ..exc import ArtifactNotFoundError
from .s3_only_keys import S3OnlyPlace
from .s3_only_state import LIVE, ArtifactState
from .s3_only_store import Loaded, Retry, StateStore, Write, new_token

logger = logging.getLogger(__name__)


def owner() -> str:
    """Who holds a purge mark, for people reading state.json or verify's report."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Purges:
    """Purges artifacts of one place, and settles purges abandoned by their owner."""

    def __init__(self, place: S3OnlyPlace, store: StateStore) -> None:
        self.place = place
        self.store = store

    # ------------------------------------------------------------ purge
    def purge_artifact(self, session: Session, name: str) -> None:
        s3 = session.s3
        if not self.owned_keys(s3, name):
            return  # nothing of this layout here: never write into someone else's folder
        operation = f"purging {name!r}"

        def mark() -> Write[Loaded]:
            loaded = self.store.load(s3, name, operation=operation)
            loaded.state.mark_purge(new_token(), owner(), _model.utc_now())
            return Write(loaded, loaded.state, lambda stored: stored)

        loaded = self.store.update_state(s3, name, mark, operation)
        self.erase(s3, name, loaded.state)

    def erase(self, s3: Any, name: str, state: ArtifactState) -> None:
        """The deletions of a marked purge, in order; each is idempotent, so a purge that
        is finished twice (its owner late, a writer that took it over) is harmless."""
        place = self.place
        # LATEST first: once it is gone no publish can copy it into a new version.
        _s3.delete(s3, place.bucket, place.version_key(name, LATEST))
        keys = self.owned_keys(s3, name)
        keys |= {place.alias_key(name, alias) for alias in state.aliases}
        keys.discard(place.state_key(name))
        _s3.delete_many(s3, place.bucket, sorted(keys))
        _s3.delete(s3, place.bucket, place.state_key(name))

    def owned_keys(self, s3: Any, name: str) -> set[str]:
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

    # ------------------------------------------------------------ an abandoned purge
    def settle(self, s3: Any, name: str, loaded: Loaded, operation: str) -> Retry:
        """Deal with the purge mark in ``loaded`` before ``operation`` does anything:
        raise ArtifactNotFoundError while its owner's deadline runs; past it, undo the
        purge (nothing was deleted) or finish it, and return a Retry (read again)."""
        state = loaded.state
        deadline = state.purge_deadline(loaded.modified)
        holder = state.purging_owner or "an older release"
        if (loaded.served_at or _model.utc_now()) < deadline:  # the server's clock
            raise ArtifactNotFoundError(
                f"artifact {name!r} is being purged (by {holder}, due by "
                f"{deadline.isoformat()}); nothing was changed"
            )
        token = new_token()
        if self._intact(name, state, self.owned_keys(s3, name)):
            logger.debug(
                "%s: undoing the purge of %r by %s, abandoned since %s: it deleted nothing",
                operation,
                name,
                holder,
                deadline.isoformat(),
            )
            state.clear_purge(token)
            self.store.store(s3, name, loaded, state)
            return Retry("an abandoned purge was undone")
        logger.debug(
            "%s: finishing the purge of %r by %s, abandoned since %s",
            operation,
            name,
            holder,
            deadline.isoformat(),
        )
        state.mark_purge(token, owner(), _model.utc_now())
        stored = self.store.store(s3, name, loaded, state)  # only one writer takes it over
        if stored is not None:
            self.erase(s3, name, stored.state)
        return Retry("an abandoned purge was finished")

    def _intact(self, name: str, state: ArtifactState, keys: set[str]) -> bool:
        """Whether LATEST, every live version of the index and every landed alias write
        are still there (the purge deleted nothing that a reader could miss)."""
        place = self.place
        wanted = [place.version_key(name, LATEST)]
        wanted += [
            place.version_key(name, n) for n, e in state.versions.items() if e.status == LIVE
        ]
        wanted += [
            place.alias_key(name, a) for a, e in state.aliases.items() if e.landed and not e.deleted
        ]
        return all(key in keys for key in wanted)
