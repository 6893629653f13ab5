"""S3-only: a running rollout's record, the object ``{name}/rollouts/{alias}.json``
beside the alias. Created with If-None-Match (a second rollout of the alias is refused),
replaced with If-Match on the ETag read, deleted with If-Match. A write whose answer was
lost and is refused on retry is recognised by the token the record carries."""

from __future__ import annotations

import logging
from typing import Any

from .. import _s3
from .._s3 import Precondition
from .._session import Session
from ..exc import ConcurrentModificationError
from .rollout_record import RolloutDoc, decode, encode
from .s3_only_keys import S3OnlyPlace

logger = logging.getLogger(__name__)


class S3Rollouts:
    """The rollout records of one S3-only repository."""

    def __init__(self, place: S3OnlyPlace) -> None:
        self.place = place

    def read(self, session: Session, name: str, alias: str) -> RolloutDoc | None:
        """The record, or None. 1 request."""
        return self._read(session.s3, self.place.rollout_key(name, alias))

    def _read(self, s3: Any, key: str) -> RolloutDoc | None:
        document = _s3.get_document(s3, self.place.bucket, key)
        if document is None:
            return None
        return RolloutDoc(decode(document.body, self.place.uri(key)), document.etag)

    def create(
        self, session: Session, name: str, alias: str, body: dict[str, Any]
    ) -> RolloutDoc | None:
        """Store a new record; None when the alias has one already. 1 request."""
        key = self.place.rollout_key(name, alias)
        try:
            etag = _s3.put_document(
                session.s3, self.place.bucket, key, encode(body), if_none_match=True
            )
        except Precondition:
            found = self._read(session.s3, key)
            if found is not None and found.token == body.get("token"):
                return found  # our own create, its answer lost
            return None
        return RolloutDoc(body, etag)

    def replace(
        self, session: Session, name: str, alias: str, body: dict[str, Any], tag: str
    ) -> RolloutDoc:
        """Replace the record read with ``tag``; ConcurrentModificationError when it
        changed or is gone. 1 request."""
        key = self.place.rollout_key(name, alias)
        try:
            etag = _s3.put_document(session.s3, self.place.bucket, key, encode(body), if_match=tag)
        except Precondition:
            found = self._read(session.s3, key)
            if found is not None and found.token == body.get("token"):
                return found
            raise ConcurrentModificationError(
                f"the rollout record of alias {alias!r} of {name!r} changed or is gone"
            ) from None
        return RolloutDoc(body, etag)

    def remove(self, session: Session, name: str, alias: str, tag: str) -> None:
        """Delete the record read with ``tag`` (gone already is fine: a lost answer);
        ConcurrentModificationError when another copy replaced it. 1 request."""
        key = self.place.rollout_key(name, alias)
        try:
            _s3.delete(session.s3, self.place.bucket, key, if_match=tag)
        except Precondition:
            if self._read(session.s3, key) is not None:
                raise ConcurrentModificationError(
                    f"the rollout record of alias {alias!r} of {name!r} changed"
                ) from None
            logger.debug("rollout record %s gone already", key)

    def listing(self, session: Session, name: str) -> list[RolloutDoc]:
        """Every rollout record of ``name``: a LIST and a GET each."""
        s3 = session.s3
        listing = _s3.list_objects(s3, self.place.bucket, self.place.rollouts_dir(name))
        found = [self._read(s3, item.key) for item in listing.objects if item.key.endswith(".json")]
        return [doc for doc in found if doc is not None]
