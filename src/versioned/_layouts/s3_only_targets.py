"""The target check of an S3-only alias write: every version an alias is pointed at must
exist and not be being deleted when the write registers (an alias never points at deleted
bytes). Versions the state vouches for (``live`` entries) need no request; the others
are HEADed, and adopted into the index by the registration.

**The HEAD beside the state read.** A version published a moment ago is only reserved
(``pending``) in the state, so its HEAD used to follow the state read: a round trip of its
own. :class:`Early` sends it with the read instead, for LATEST and the targets reserved
in the state this store last read or stored (:class:`~.s3_only_store.Seen`; a publish
through the same repository object stored it). A HEAD made before or while the state is
read proves only what the state read then proves, so it counts only when both hold:

1. **The state read is the very document this store saw before the HEAD was sent** (same
   ETag as ``Seen``, recorded when an earlier read or write of this object was answered).
   Every write of ``state.json`` appends a fresh random token to its ops log, so an equal
   ETag means nobody wrote it between that earlier moment ``r0`` and our read ``t1``:
   not a deletion's mark, not a purge's mark, not a purge undone or finished, not a new
   document after a purge (a recreated state holds new tokens).
2. **That document shows the target as reserved (``pending``), or the target is LATEST.**
   In one state document's lifetime an entry goes pending -> live -> deleting -> removed,
   and a number is reserved once (``hwm`` never goes down), so a pending entry was never
   marked for deletion. LATEST is deleted only by a purge, which marks the state first.

Then let ``t0`` be when our HEAD saw the object (``r0 < t0``, and ``t0`` is before our
read's answer). A deletion by this library deletes a version only after a
compare-and-swap that marks it (``deleting``, or ``purging`` for the whole artifact):

- marked at or before ``r0``: the document we read would show the mark (2. excludes it);
- marked between ``r0`` and our read: impossible by 1.;
- marked after our read, before our registration: the registration's If-Match fails,
  and the next pass reads the mark (a retry pass sends its HEADs beside its own read and
  judges them the same way);
- marked after our registration: it reads the registration and keeps the version.

In every other case (the state changed since this store last saw it, another client's
version, a number the state forgot) the HEAD the read did not cover is sent after the
read, as before: a wrong guess costs a request or a round trip, never correctness.
What this does not cover, the HEAD after the read did not either: deletions decided on a
read older than ours (a purge whose owner outlives its lease after the purge was undone,
a publish taking back a copy that landed after a purge) and other clients deleting
objects directly can remove a version after any check.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, NoReturn

from .. import _model, _s3
from .._model import LATEST, AliasTarget, VersionId
from .._s3 import same_etag
from ..exc import ArtifactNotFoundError
from .s3_only_keys import S3OnlyPlace
from .s3_only_state import DELETING, LIVE, PENDING
from .s3_only_store import Loaded, Seen, live_entry, record

logger = logging.getLogger(__name__)

Found = dict[VersionId, _s3.ObjectInfo | None]


@dataclasses.dataclass(frozen=True)
class Early:
    """HEADs sent beside a state read: ``witness``, the ETag of the state document this
    store saw before they were sent (None: none); ``versions``, the targets HEADed."""

    witness: str | None
    versions: list[VersionId]

    @classmethod
    def plan(cls, seen: Seen | None, target: AliasTarget) -> Early:
        """The targets whose early HEAD counts if the state read finds ``seen`` unchanged:
        LATEST and the numbers ``seen`` shows reserved (none without ``seen``)."""
        if seen is None:
            return cls(None, [])
        wanted = [v for v in target.versions if v == LATEST or int(v) in seen.pending]
        return cls(seen.etag, wanted)

    def head(self, s3: Any, place: S3OnlyPlace, name: str) -> Found:
        """HEAD the planned targets (the call to run beside the state read)."""
        keys = [place.version_key(name, v) for v in self.versions]
        return dict(zip(self.versions, _s3.head_many(s3, place.bucket, keys), strict=True))

    def covered(self, loaded: Loaded, version: VersionId) -> bool:
        """Whether the state read in ``loaded`` vouches for our HEAD of ``version``
        (the module's argument: same document as the witness, and reserved or LATEST)."""
        if version not in self.versions or self.witness is None or loaded.etag is None:
            return False
        if not same_etag(loaded.etag, self.witness) or loaded.state.purging:
            return False
        if version == LATEST:
            return True
        entry = loaded.state.versions.get(int(version))
        return entry is not None and entry.status == PENDING


def require(
    s3: Any,
    place: S3OnlyPlace,
    where: tuple[str, str],
    loaded: Loaded,
    target: AliasTarget,
    early: tuple[Early, Found],
) -> None:
    """Raise ArtifactNotFoundError unless every target version exists and is not being
    deleted; versions the state does not vouch for are checked (by the early HEADs the
    read covers, else a HEAD now) and adopted into ``loaded.state``."""
    name, alias = where
    plan, heads = early
    state = loaded.state
    found: Found = {}
    late: list[VersionId] = []
    for version in target.versions:
        entry = state.versions.get(int(version)) if version != LATEST else None
        if entry is not None and entry.status == DELETING:
            missing(name, alias, version)
        if entry is not None and entry.status == LIVE:
            continue
        if plan.covered(loaded, version):
            found[version] = heads[version]
        else:
            late.append(version)
    if late:
        if plan.versions:
            logger.debug("%r: HEAD after the state read of versions %s", name, late)
        keys = [place.version_key(name, v) for v in late]
        found.update(zip(late, _s3.head_many(s3, place.bucket, keys), strict=True))
    for version, info in found.items():
        if info is None or not info.sha256:
            missing(name, alias, version)
        if version != LATEST:
            state.versions[int(version)] = live_entry(
                record(place, name, version, info), info.etag, ""
            )
            state.hwm = max(state.hwm, int(version))


def missing(name: str, alias: str, version: VersionId) -> NoReturn:
    raise ArtifactNotFoundError(
        f"artifact {name!r} has no version {_model.version_str(version)}; "
        f"alias {alias!r} was not changed"
    )
