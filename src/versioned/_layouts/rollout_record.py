"""A running rollout's record as a layout stores it: a JSON document and the tag its
conditional writes compare (an S3 ETag; a DynamoDB token). Both layouts store the same
document; only where and how they compare it differ."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any, Protocol

from ..exc import CorruptRecordError

if TYPE_CHECKING:
    from .._session import Session

#: every write of a record carries a fresh one: a retry after a lost answer finds its own
TOKEN = "token"


@dataclasses.dataclass(frozen=True)
class RolloutDoc:
    """One stored rollout record: its fields and the tag of the stored copy."""

    body: dict[str, Any]
    tag: str

    @property
    def token(self) -> str:
        return str(self.body.get(TOKEN, ""))


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True).encode("utf-8")


def decode(raw: bytes | str, where: str) -> dict[str, Any]:
    """The document, or CorruptRecordError naming ``where``."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise CorruptRecordError(f"{where} is not a readable rollout record: {error}") from None
    if not isinstance(body, dict):
        raise CorruptRecordError(f"{where} is not a readable rollout record (not an object)")
    return body


class RolloutStore(Protocol):
    """Where a layout keeps its rollout records (``Layout.rollouts``)."""

    def read(self, session: Session, name: str, alias: str) -> RolloutDoc | None: ...

    def create(
        self, session: Session, name: str, alias: str, body: dict[str, Any]
    ) -> RolloutDoc | None: ...

    def replace(
        self, session: Session, name: str, alias: str, body: dict[str, Any], tag: str
    ) -> RolloutDoc: ...

    def remove(self, session: Session, name: str, alias: str, tag: str) -> None: ...

    def listing(self, session: Session, name: str) -> list[RolloutDoc]: ...
