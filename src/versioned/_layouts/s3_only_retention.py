"""Retention documents in the S3-only layout: small JSON objects beside the artifact's
other keys (``{prefix}/{name}/retention.json``) and the repository default beside the
repository record (``{prefix}/.versioned-retention.json``). Neither is under
``versions/`` or ``aliases/``, where the seed's library lists, and a default file at the
root is no artifact folder. Writes are conditional (If-Match on the ETag read, or
If-None-Match for a first write), so two writers never lose each other's change."""

from __future__ import annotations

from .. import _pool, _s3
from .._session import Session
from . import RETENTION_DEFAULT_FILE, DocumentConflict, StoredDocument
from .s3_only_keys import S3OnlyPlace


class RetentionDocuments:
    """Reads and conditional writes of the retention documents of one repository."""

    def __init__(self, place: S3OnlyPlace) -> None:
        self.place = place

    def key(self, name: str | None) -> str:
        if name is None:
            return f"{self.place.root}{RETENTION_DEFAULT_FILE}"
        return self.place.retention_key(name)

    def read(
        self, session: Session, names: list[str | None]
    ) -> dict[str | None, StoredDocument | None]:
        """One GET per document, in parallel (one round trip)."""
        found = _pool.fan_out(lambda name: self._read_one(session, name), names)
        return dict(zip(names, found, strict=True))

    def _read_one(self, session: Session, name: str | None) -> StoredDocument | None:
        key = self.key(name)
        document = _s3.get_document(session.s3, self.place.bucket, key)
        if document is None:
            return None
        body = document.body.decode("utf-8", errors="replace")
        return StoredDocument(body, document.etag, self.place.uri(key))

    def write(
        self, session: Session, name: str | None, body: str, expected_revision: str | None
    ) -> None:
        """One conditional PutObject; DocumentConflict when the condition fails."""
        key = self.key(name)
        try:
            _s3.put_document(
                session.s3,
                self.place.bucket,
                key,
                body.encode("utf-8"),
                if_match=expected_revision,
                if_none_match=expected_revision is None,
            )
        except _s3.Precondition as error:
            raise DocumentConflict(str(error)) from error
