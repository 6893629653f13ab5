"""The S3 + DynamoDB layout's item schema (pure: no I/O).

Every attribute name the layout stores is a constant here; every item kind has a typed
reader (a stored value becomes a valid record, or :class:`~versioned.exc.CorruptRecordError`
naming the item by pk/sk) and a builder. The items are the seed's, with extra attributes
its library ignores:

- artifact (``pk=name``, ``sk="LATEST" | "000001"``): ``sha256``, ``is_deleted``,
  ``update_at``; plus ``content_length``, ``content_type``, ``metadata``. Versions carry
  ``alias_epoch`` (bumped by every alias write that targets them), ``deleted_by`` and
  ``deleted_at`` (LATEST too, once deleted).
  LATEST also carries its bytes' ``etag``, ``unverified``, the publish counter
  (``latest_version``, ``published_sha256``, ``published_update_at``) and the write queue
  (``put_next``, ``put_done``, ``put_since``, one ``tk_{token}`` per waiting writer).
- alias (``pk="__{name}-alias"``, ``sk=alias``): ``version``, ``secondary_version``,
  ``secondary_version_weight``, ``update_at``; plus ``revision``.
- alias history (``pk="__{name}-history"``): see :mod:`.dynamodb_history`.
- the table's claim (``pk="__versioned__"``, ``sk="repository"``): ``bucket``, ``prefix``,
  ``suffix``.

LATEST's parts are read separately (:class:`LatestItem`), so that a put is not refused
for a damaged publish counter it never reads.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .. import _dynamodb, _model, constants
from .._model import LATEST, AliasTarget, VersionId
from ..exc import CorruptRecordError
from . import AliasRecord, VersionRecord

#: a decoded item as :mod:`versioned._dynamodb` returns it; read only in this module
Stored = Mapping[str, Any]

# ------------------------------------------------------------------ attribute names
PK, SK = _dynamodb.PARTITION_KEY, _dynamodb.SORT_KEY
SHA256, IS_DELETED, UPDATE_AT = "sha256", "is_deleted", "update_at"
CONTENT_LENGTH, CONTENT_TYPE, METADATA = "content_length", "content_type", "metadata"
ALIAS_EPOCH, DELETED_BY = "alias_epoch", "deleted_by"
#: when ``delete_version`` marked the item deleted (items the seed deleted lack it)
DELETED_AT = "deleted_at"
ETAG, UNVERIFIED = "etag", "unverified"
LATEST_VERSION, PUBLISHED_SHA256 = "latest_version", "published_sha256"
PUBLISHED_UPDATE_AT = "published_update_at"
PUT_NEXT, PUT_DONE, PUT_SINCE = "put_next", "put_done", "put_since"
TICKET_PREFIX = "tk_"
VERSION, SECONDARY_VERSION = "version", "secondary_version"
SECONDARY_VERSION_WEIGHT, REVISION = "secondary_version_weight", "revision"
BUCKET, PREFIX, SUFFIX = "bucket", "prefix", "suffix"

#: the claim item's key
CLAIM_KEY = ("__versioned__", "repository")
#: the largest counter the layout accepts in a stored number (queue tickets, epochs, sizes)
MAX_COUNT = 2**63 - 1

# ------------------------------------------------------------------ conditions
#: the item is not marked deleted
NOT_DELETED = f"(attribute_not_exists({IS_DELETED}) OR {IS_DELETED} = :f)"
#: nobody holds or waits for LATEST's write turn
QUEUE_IDLE = f"(attribute_not_exists({PUT_NEXT}) OR {PUT_DONE} = {PUT_NEXT})"
#: a Put that creates its item only
CREATE_ONLY = f"attribute_not_exists({PK})"


def alias_pk(name: str) -> str:
    return f"__{name}-alias"


def artifact_of_pk(pk: str) -> str | None:
    """The artifact an item's partition key belongs to (its own, its aliases' or its
    alias history's)."""
    for tail in ("-alias", "-history"):
        if pk.startswith("__") and pk.endswith(tail):
            pk = pk[2 : -len(tail)]
            break
    return pk if _model.is_artifact_name(pk) else None


def ticket_attribute(token: str) -> str:
    return f"{TICKET_PREFIX}{token}"


def stored_time(moment: datetime) -> str:
    """A time as the seed's items spell it (PynamoDB's UTCDateTimeAttribute)."""
    return _model.format_dynamodb_time(moment)


def where(pk: object, sk: object, table: str) -> str:
    """How an error names an item."""
    return f"item pk={pk!r} sk={sk!r} in table {table!r}"


def corrupt(pk: object, sk: object, table: str, kind: str, error: Exception) -> CorruptRecordError:
    return CorruptRecordError(
        f"{where(pk, sk, table)} is not a readable {kind} ({type(error).__name__}: {error}); "
        "Repository.verify() lists every such record"
    )


def item_key(stored: Stored) -> tuple[str, str]:
    """(pk, sk) of an item returned by a query (keys are always strings)."""
    return str(stored[PK]), str(stored[SK])


def sort_key_version(stored: Stored) -> VersionId | None:
    """The version an artifact item's sort key names; None for anything else."""
    sk = stored.get(SK)
    return _model.parse_zfilled(sk) if isinstance(sk, str) else None


# ------------------------------------------------------------------ field readers
def _text(stored: Stored, field: str, *, required: bool = False) -> str | None:
    value = stored.get(field)
    if value is None:
        if required:
            raise ValueError(f"{field} is missing")
        return None
    if not isinstance(value, str):
        raise TypeError(f"{field} {value!r} is not a str")
    return value


def _flag(stored: Stored, field: str) -> bool:
    value = stored.get(field, False)
    if not isinstance(value, bool):
        raise TypeError(f"{field} {value!r} is not a bool")
    return value


def _count(stored: Stored, field: str, *, default: int = 0, limit: int = MAX_COUNT) -> int:
    """A whole number in 0..limit (a digit string counts, as written by hand)."""
    value = stored.get(field)
    if value is None:
        return default
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise ValueError(f"{field} {value!r} is not a whole number in 0..{limit}")
    return value


def _time(stored: Stored, field: str) -> datetime | None:
    text = _text(stored, field)
    if text is None:
        return None
    try:
        return _model.parse_time(text)
    except (ValueError, OverflowError) as error:
        raise ValueError(f"{field} {text!r} is not a time in years 1..9999 ({error})") from None


def _metadata(stored: Stored) -> dict[str, str] | None:
    value = stored.get(METADATA)
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise TypeError(f"{METADATA} {value!r} is not a map of strings")
    return dict(value)


#: what a damaged stored value raises while it is read
_UNREADABLE = (KeyError, ValueError, TypeError, OverflowError, AttributeError)


# ------------------------------------------------------------------ artifact items
@dataclasses.dataclass(frozen=True)
class ArtifactItem:
    """LATEST's or a version's item: what it says of the bytes. ``sha256`` None: the item
    records no bytes (LATEST holding only its queue, or an item written by hand)."""

    name: str
    version: VersionId
    sha256: str | None
    is_deleted: bool
    update_at: datetime | None
    content_length: int | None
    content_type: str | None
    metadata: dict[str, str] | None
    alias_epoch: int | None
    deleted_by: str | None
    etag: str | None
    unverified: bool

    @property
    def sort_key(self) -> str:
        return _model.zfill_version(self.version)

    @property
    def visible(self) -> bool:
        """Holds bytes and is not deleted."""
        return self.sha256 is not None and not self.is_deleted

    def record(self, key: str, table: str) -> VersionRecord:
        """The neutral record (CorruptRecordError for an item that records no bytes)."""
        if self.sha256 is None or self.update_at is None:
            error = ValueError(f"{SHA256} is missing")
            raise corrupt(self.name, self.sort_key, table, "artifact item", error)
        return VersionRecord(
            name=self.name,
            version=self.version,
            sha256=self.sha256,
            update_at=self.update_at,
            key=key,
            size=self.content_length,
            content_type=self.content_type,
            metadata=self.metadata,
        )


def read_artifact(name: str, stored: Stored, table: str) -> ArtifactItem:
    """LATEST's or a version's item; CorruptRecordError naming it when it is damaged
    (an item recording bytes must say when: ``update_at``)."""
    try:
        version = sort_key_version(stored)
        if version is None:
            raise ValueError(f"sort key {stored.get(SK)!r} is not a version")
        sha256 = _text(stored, SHA256)
        if sha256 == "":
            raise ValueError(f"{SHA256} is empty")
        update_at = _time(stored, UPDATE_AT)
        if sha256 is not None and update_at is None:
            raise ValueError(f"{UPDATE_AT} is missing")
        return ArtifactItem(
            name=name,
            version=version,
            sha256=sha256,
            is_deleted=_flag(stored, IS_DELETED),
            update_at=update_at,
            content_length=_optional_count(stored, CONTENT_LENGTH),
            content_type=_text(stored, CONTENT_TYPE),
            metadata=_metadata(stored),
            alias_epoch=_optional_count(stored, ALIAS_EPOCH),
            deleted_by=_text(stored, DELETED_BY),
            etag=_text(stored, ETAG),
            unverified=_flag(stored, UNVERIFIED),
        )
    except _UNREADABLE as error:
        raise corrupt(
            stored.get(PK, name), stored.get(SK), table, "artifact item", error
        ) from error


def _optional_count(stored: Stored, field: str) -> int | None:
    return None if stored.get(field) is None else _count(stored, field)


# ------------------------------------------------------------------ LATEST's parts
@dataclasses.dataclass(frozen=True)
class Queue:
    """LATEST's write queue: tickets handed out (``next``), turns ended (``done``), when
    the last turn ended (``since``), and the ticket of each waiting writer's attribute."""

    next: int
    done: int
    since: datetime | None
    tickets: dict[str, int]

    def ticket_of(self, token: str) -> int | None:
        return self.tickets.get(ticket_attribute(token))

    def holders_of(self, ticket: int) -> list[str]:
        """The ticket attributes holding ``ticket`` (the writer whose turn it is)."""
        return sorted(attribute for attribute, held in self.tickets.items() if held == ticket)


def read_queue(name: str, stored: Stored, table: str) -> Queue:
    try:
        tickets = {
            field: _count(stored, field) for field in stored if field.startswith(TICKET_PREFIX)
        }
        return Queue(
            next=_count(stored, PUT_NEXT),
            done=_count(stored, PUT_DONE),
            since=_time(stored, PUT_SINCE),
            tickets=tickets,
        )
    except _UNREADABLE as error:
        raise corrupt(name, LATEST, table, "write queue", error) from error


@dataclasses.dataclass(frozen=True)
class Counter:
    """LATEST's publish counter: the newest number handed out, and the sha256 and time
    of what it holds (None: no unchanged publish may answer with it)."""

    latest_version: int
    published_sha256: str | None
    published_update_at: datetime | None


def read_counter(name: str, stored: Stored, table: str) -> Counter:
    try:
        return Counter(
            latest_version=_count(stored, LATEST_VERSION, limit=constants.MAX_VERSION),
            published_sha256=_text(stored, PUBLISHED_SHA256),
            published_update_at=_time(stored, PUBLISHED_UPDATE_AT),
        )
    except _UNREADABLE as error:
        raise corrupt(name, LATEST, table, "publish counter", error) from error


@dataclasses.dataclass(frozen=True)
class LatestItem:
    """The LATEST item (None stored: an artifact never written). Each part is read on
    first use and raises CorruptRecordError naming the item when it is damaged."""

    name: str
    table: str
    _stored: Stored = dataclasses.field(repr=False)

    @functools.cached_property
    def artifact(self) -> ArtifactItem:
        return read_artifact(self.name, {**self._stored, SK: LATEST}, self.table)

    @functools.cached_property
    def queue(self) -> Queue:
        return read_queue(self.name, self._stored, self.table)

    @functools.cached_property
    def counter(self) -> Counter:
        return read_counter(self.name, self._stored, self.table)

    @property
    def exists(self) -> bool:
        return bool(self._stored)

    @property
    def records_bytes(self) -> bool:
        """The item records bytes (``sha256`` present), read or not."""
        return self._stored.get(SHA256) is not None


def read_latest(name: str, stored: Stored | None, table: str) -> LatestItem:
    return LatestItem(name, table, dict(stored or {}))


#: all ``names_with_bytes`` reads of an item (a listing asks for only these)
NAMES_WITH_BYTES_READS = (PK, SHA256)


def names_with_bytes(stored: Iterable[Stored]) -> list[str]:
    """The artifacts whose LATEST item records bytes (a listing never fails on one
    damaged item: reading it names it)."""
    return sorted({str(item[PK]) for item in stored if item.get(SHA256) is not None})


# ------------------------------------------------------------------ aliases
@dataclasses.dataclass(frozen=True)
class AliasItem:
    name: str
    alias: str
    target: AliasTarget
    update_at: datetime
    revision: str | None

    def record(self) -> AliasRecord:
        return AliasRecord.of(self.name, self.alias, self.target, self.update_at, self.revision)


def read_alias(name: str, stored: Stored, table: str) -> AliasItem:
    try:
        alias = _text(stored, SK, required=True)
        target = _model.stored_target(
            _text(stored, VERSION, required=True),
            stored.get(SECONDARY_VERSION),
            stored.get(SECONDARY_VERSION_WEIGHT),
        )
        update_at = _time(stored, UPDATE_AT)
        if update_at is None:
            raise ValueError(f"{UPDATE_AT} is missing")
        assert alias is not None
        return AliasItem(name, alias, target, update_at, _text(stored, REVISION))
    except _UNREADABLE as error:
        raise corrupt(stored.get(PK), stored.get(SK), table, "alias", error) from error


def recorded_sha256(stored: Stored | None) -> str | None:
    """The sha256 an item (as a refusal returned it) records, if any."""
    value = (stored or {}).get(SHA256)
    return value if isinstance(value, str) else None


def is_deleted(stored: Stored) -> bool:
    return stored.get(IS_DELETED) is True


def deleted_at(stored: Stored) -> datetime | None:
    """When the item was marked deleted; None when it does not say (or says nonsense:
    it only ever informs a message)."""
    try:
        return _time(stored, DELETED_AT)
    except ValueError:
        return None


def deleted_by(stored: Stored | None) -> str | None:
    """The token of the deletion an item (as a refusal returned it) records, if any."""
    value = (stored or {}).get(DELETED_BY)
    return value if isinstance(value, str) else None


def alias_revision(stored: Stored | None) -> str | None:
    """The revision an alias item (as a refusal returned it) carries, if any."""
    value = (stored or {}).get(REVISION)
    return value if isinstance(value, str) else None


def alias_item(name: str, alias: str, target: AliasTarget, now: datetime, revision: str) -> Stored:
    """The alias item as the seed writes it, plus its revision."""
    secondary = target.secondary_version
    return {
        PK: alias_pk(name),
        SK: alias,
        VERSION: _model.zfill_version(target.version),
        SECONDARY_VERSION: None if secondary is None else _model.zfill_version(secondary),
        SECONDARY_VERSION_WEIGHT: target.secondary_version_weight,
        UPDATE_AT: stored_time(now),
        REVISION: revision,
    }


# ------------------------------------------------------------------ builders
def version_item(
    name: str, number: int, sha256: str, moment: datetime, source: VersionSource
) -> Stored:
    """A published version's item (the seed's attributes, then ours)."""
    return {
        PK: name,
        SK: _model.zfill_version(number),
        SHA256: sha256,
        IS_DELETED: False,
        UPDATE_AT: stored_time(moment),
        CONTENT_LENGTH: source.size,
        CONTENT_TYPE: source.content_type,
        METADATA: source.metadata or None,
    }


@dataclasses.dataclass(frozen=True)
class VersionSource:
    """What a version's item records of the object it was copied from."""

    size: int
    content_type: str | None
    metadata: dict[str, str]


def user_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """An object's metadata without the keys the library sets itself."""
    return {k: v for k, v in metadata.items() if k not in _model.RESERVED_METADATA_KEYS}


def optional_fields(fields: Mapping[str, Any]) -> tuple[str, list[str], dict[str, Any]]:
    """For an UpdateItem: the SET clauses (``, name = :name``) of the optional attributes
    that have a value, the names of the empty ones to REMOVE, and the values to bind."""
    present = {field: value for field, value in fields.items() if value}
    sets = "".join(f", {field} = :{field}" for field in present)
    return sets, [field for field in fields if field not in present], present


# ------------------------------------------------------------------ the claim
@dataclasses.dataclass(frozen=True)
class Claim:
    """Which repository a table serves."""

    bucket: str
    prefix: str
    suffix: str

    def item(self) -> Stored:
        pk, sk = CLAIM_KEY
        return {PK: pk, SK: sk, BUCKET: self.bucket, PREFIX: self.prefix, SUFFIX: self.suffix}


def read_claim(stored: Stored, table: str) -> Claim:
    try:
        return Claim(
            bucket=_text(stored, BUCKET) or "",
            prefix=_text(stored, PREFIX) or "",
            suffix=_text(stored, SUFFIX) or "",
        )
    except _UNREADABLE as error:
        raise corrupt(*CLAIM_KEY, table, "repository claim", error) from error
