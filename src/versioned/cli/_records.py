"""The records the JSON output promises (docs/schemas/): complete on both layouts.

The library fills an artifact's ``metadata`` and ``size`` where they are at hand: the
S3-only layout's listing reads its index, which records neither metadata nor, for versions
the index does not vouch for, anything but the key. A JSON record always has them, so the
command line reads the versions that lack them (one HEAD each, in parallel).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Final

from .. import exc
from ._connection import Connection

if TYPE_CHECKING:
    from ..repository import Artifact

#: parallel reads when completing a listing
WORKERS: Final = 8


def complete(conn: Connection, artifacts: Sequence[Artifact]) -> list[Artifact]:
    """``artifacts`` with each one lacking ``metadata`` or ``size`` read again (one request
    each; a version gone meanwhile stays as listed). The S3 + DynamoDB layout's items
    carry both where they exist: nothing is read again there."""
    missing = [i for i, item in enumerate(artifacts) if item.metadata is None or item.size is None]
    if not missing or conn.settings.table:
        return list(artifacts)

    def read(index: int) -> Artifact:
        listed = artifacts[index]
        try:
            return conn.repo.get_artifact_version(
                name=listed.name, version=listed.version, bsm=conn.bsm
            )
        except exc.ArtifactNotFoundError:
            return listed

    with ThreadPoolExecutor(max_workers=min(WORKERS, len(missing))) as pool:
        found = dict(zip(missing, pool.map(read, missing), strict=True))
    return [found.get(i, item) for i, item in enumerate(artifacts)]


@dataclasses.dataclass
class Before:
    """LATEST as it was before a put (None: there was none)."""

    latest: Artifact | None = None

    def same_as(self, after: Artifact) -> bool:
        """Whether the put left LATEST's bytes unchanged."""
        return self.latest is not None and self.latest.sha256 == after.sha256


@contextlib.contextmanager
def unchanged_put(conn: Connection, name: str) -> Iterator[Before]:
    """LATEST of ``name`` read before the block's put (1 request), for "unchanged"."""
    before = Before()
    with contextlib.suppress(exc.ArtifactNotFoundError, exc.ValidationError):
        before.latest = conn.repo.get_artifact_version(name=name, bsm=conn.bsm)
    yield before
