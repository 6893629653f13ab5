"""Retention documents in the S3 + DynamoDB layout: items in partitions of their own,
``pk="__{name}-retention", sk="retention"`` per artifact and ``pk="__versioned__",
sk="retention"`` for the repository default (beside the table's claim). The seed's
library queries ``pk={name}`` and ``pk="__{name}-alias"`` only, and a partition key
starting with "__" names no artifact, so neither its queries nor ``list_names`` see
them. Attributes: ``document`` (the JSON text) and ``revision`` (a token every write
changes; writes are conditional on the one read)."""

from __future__ import annotations

import uuid

from .. import _dynamodb
from .._retry import RetryPolicy
from .._session import Session
from . import DocumentConflict, StoredDocument
from .dynamodb_items import CLAIM_KEY, PK, REVISION, where
from .dynamodb_keys import DynamoDBPlace

SORT_KEY = "retention"
DOCUMENT = "document"


def retention_pk(name: str | None) -> str:
    """The partition of an artifact's retention item (None: the repository default's)."""
    return CLAIM_KEY[0] if name is None else f"__{name}-retention"


class RetentionDocuments:
    """Reads and conditional writes of the retention items of one table."""

    def __init__(self, place: DynamoDBPlace, retry: RetryPolicy) -> None:
        self.place = place
        self.retry = retry

    def read(
        self, session: Session, names: list[str | None]
    ) -> dict[str | None, StoredDocument | None]:
        """One BatchGetItem (strongly consistent) for every name."""
        table = self.place.table
        keys = [(retention_pk(name), SORT_KEY) for name in names]
        found = _dynamodb.batch_get(session.dynamodb, table, keys, self.retry)
        by_pk = {str(item.get(PK)): item for item in found}
        documents: dict[str | None, StoredDocument | None] = {}
        for name in names:
            pk = retention_pk(name)
            item = by_pk.get(pk)
            body, revision = (item or {}).get(DOCUMENT), (item or {}).get(REVISION)
            location = where(pk, SORT_KEY, table)
            if item is None:
                documents[name] = None
            elif not isinstance(body, str) or not isinstance(revision, str):
                documents[name] = StoredDocument("<not a text document>", "", location)
            else:
                documents[name] = StoredDocument(body, revision, location)
        return documents

    def write(
        self, session: Session, name: str | None, body: str, expected_revision: str | None
    ) -> None:
        """One conditional UpdateItem; DocumentConflict when the item changed."""
        condition = (
            f"attribute_not_exists({PK})" if expected_revision is None else f"{REVISION} = :old"
        )
        values: dict[str, object] = {"doc": body, "new": uuid.uuid4().hex}
        if expected_revision is not None:
            values["old"] = expected_revision
        change = _dynamodb.Update(
            pk=retention_pk(name),
            sk=SORT_KEY,
            expression=f"SET {DOCUMENT} = :doc, {REVISION} = :new",
            condition=condition,
            values=values,
        )
        try:
            _dynamodb.update(session.dynamodb, self.place.table, change)
        except _dynamodb.ConditionFailed as error:
            raise DocumentConflict(
                f"{where(retention_pk(name), SORT_KEY, self.place.table)} changed meanwhile"
            ) from error
