"""The repository record: one repository per bucket and prefix, recorded and enforced.

A repository is the set (bucket, prefix, layout, suffix, table). It is recorded in one
create-only object directly under the prefix, ``{prefix}/.versioned-repository.json``::

    {"repository": "versioned", "format": 1, "layout": "s3_only" | "s3_and_dynamodb",
     "suffix": ".bin", "table": null | "my-table", "bucket": "...", "prefix": "..."}

The key holds no "/" after the prefix, so no listing of either layout (nor the seed's
library, which lists folders) takes it for an artifact. Before a repository object reads
or writes anything else it checks the record once (1 GET, then cached): a record of
another repository refuses the call with :class:`RepositoryConflictError`. Without a
record, one LIST of the prefix tells which repositories' keys are there (by the key
shapes of both layouts): keys of another repository only refuse the call; otherwise the
record is written with ``If-None-Match: *`` (adoption of a repository the seed's library
made, or a fresh one), so two repositories using a prefix first at the same time cannot
both win. Reads of a prefix holding nothing write no record.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Iterable
from typing import NoReturn

from .. import _dynamodb, _model, _s3
from .._session import Session
from ..exc import (
    BackendError,
    BucketNotFoundError,
    CorruptRecordError,
    RepositoryConflictError,
    TableNotFoundError,
)
from ..verify import Problem

logger = logging.getLogger(__name__)

MARKER_FILE = ".versioned-repository.json"
S3_ONLY = "s3_only"
S3_AND_DYNAMODB = "s3_and_dynamodb"
_FORMAT = 1
#: keys one adoption LIST reads (one page): enough to see every layout in use
_SURVEY_KEYS = 1000
_STATE_FILE = "state.json"


@dataclasses.dataclass(frozen=True)
class Identity:
    """What makes a repository under one bucket and prefix: its layout, suffix, table."""

    layout: str
    suffix: str
    table: str | None = None

    def describe(self) -> str:
        if self.layout == S3_ONLY:
            return f"an S3-only repository (suffix {self.suffix!r})"
        table = "another table" if self.table is None else f"table {self.table!r}"
        return f"an S3 + DynamoDB repository ({table}, suffix {self.suffix!r})"

    def body(self, bucket: str, prefix: str) -> bytes:
        document = {
            "repository": "versioned",
            "format": _FORMAT,
            "layout": self.layout,
            "suffix": self.suffix,
            "table": self.table,
            "bucket": bucket,
            "prefix": prefix,
        }
        return json.dumps(document, sort_keys=True).encode()


@dataclasses.dataclass(frozen=True)
class Shape:
    """What a key's shape says: the artifact it belongs to, the layout that writes such
    keys, and the suffix it carries (None: a key whose name carries no suffix)."""

    name: str
    layout: str
    suffix: str | None


def marker_key(root: str) -> str:
    return f"{root}{MARKER_FILE}"


def key_shape(root: str, key: str) -> Shape | None:
    """The repository a key under ``root`` belongs to, by its shape alone (any suffix);
    None for keys of neither layout."""
    if not key.startswith(root):
        return None
    name, sep, rest = key[len(root) :].partition("/")
    if not sep or not _model.is_artifact_name(name):
        return None
    if rest == _STATE_FILE or (rest.startswith("aliases/") and rest.endswith(".json")):
        return Shape(name, S3_ONLY, None) if rest.count("/") <= 1 else None
    folder, sep, file = rest.partition("/")
    if sep:
        in_folder = folder in ("versions", "trash") and "/" not in file
        if in_folder and _model.parse_filename(file[:13]) is not None:
            return Shape(name, S3_ONLY, file[13:])
        return None
    if _model.parse_zfilled(rest[:6]) is not None:  # "LATEST" or "000001", then the suffix
        return Shape(name, S3_AND_DYNAMODB, rest[6:])
    return None


def is_foreign(identity: Identity, shape: Shape) -> bool:
    """Whether a key of ``shape`` belongs to another repository than ``identity``. A
    suffix that extends this one ("….bin.tmp", "…-copy.bin") marks a stray, not another
    repository."""
    if shape.layout != identity.layout:
        return True
    if shape.suffix is None or shape.suffix == identity.suffix:
        return False
    ours = identity.suffix
    return not ours or not (shape.suffix.startswith(ours) or shape.suffix.endswith(ours))


def shared_problem(root: str, shape: Shape, *, other_layout: bool) -> Problem:
    """The one report of another repository's keys (``shape``: of the other layout, or
    of this layout with another suffix) in an artifact's folder."""
    if other_layout:
        other = "the S3-only layout" if shape.layout == S3_ONLY else "the S3 + DynamoDB layout"
    else:
        other = f"suffix {shape.suffix!r}"
    hint = "" if other_layout else f" (open that one with suffix {shape.suffix!r})"
    return Problem(
        "shared_prefix",
        shape.name,
        f"{root}{shape.name}/",
        f"holds versions of another repository ({other}) on this prefix{hint}: each "
        "repository needs its own prefix",
    )


@dataclasses.dataclass
class Survey:
    """The repositories whose keys one listing of a prefix shows."""

    mine: set[str] = dataclasses.field(default_factory=set)
    foreign: dict[Identity, set[str]] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, identity: Identity, root: str, keys: Iterable[str]) -> Survey:
        survey = cls()
        for key in keys:
            shape = key_shape(root, key)
            if shape is None:
                continue
            if shape.layout == identity.layout and shape.suffix == identity.suffix:
                survey.mine.add(shape.name)
            if not is_foreign(identity, shape):
                continue
            other = Identity(
                shape.layout, identity.suffix if shape.suffix is None else shape.suffix
            )
            survey.foreign.setdefault(other, set()).add(shape.name)
        return survey


class RepositoryRecord:
    """The check of one repository object against the record of its prefix, made once
    (cached like the DynamoDB table claim). Reads accept a prefix without a record;
    writes leave one."""

    def __init__(self, bucket: str, root: str, identity: Identity) -> None:
        self.bucket = bucket
        self.root = root
        self.identity = identity
        self.key = marker_key(root)
        self._lock = threading.Lock()
        self._recorded = False
        self._seen = False

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.root}"

    def checked(self, *, write: bool) -> bool:
        """Whether ``ensure`` has nothing left to do (no request)."""
        return self._recorded or (self._seen and not write)

    def ensure(self, session: Session, *, write: bool) -> None:
        """Refuse with RepositoryConflictError when the prefix serves another repository.
        First call: 1 GET when the record exists (else a LIST, and a create-only PUT for a
        write or to adopt artifacts found); later calls: no request. A missing bucket is
        checked again on the next call (bootstrap creates it)."""
        if self.checked(write=write):
            return
        with self._lock:
            if self.checked(write=write):
                return
            try:
                recorded = self._read(session)
            except BucketNotFoundError:
                return  # nothing there to conflict with: the call's own error follows
            if recorded is None:
                self._survey(session, write)
            else:
                self._compare(recorded)
                self._recorded = True
            self._seen = True

    def _read(self, session: Session) -> Identity | None:
        document = _s3.get_document(session.s3, self.bucket, self.key)
        return None if document is None else self._decode(document.body)

    def _decode(self, body: bytes) -> Identity:
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            layout, suffix, table = data["layout"], data["suffix"], data.get("table")
            if layout not in (S3_ONLY, S3_AND_DYNAMODB) or not isinstance(suffix, str):
                raise ValueError("unknown layout or suffix")
            if table is not None and not isinstance(table, str):
                raise ValueError("table is not a string")
        except (ValueError, TypeError, KeyError) as error:
            raise CorruptRecordError(
                f"the repository record s3://{self.bucket}/{self.key} cannot be read "
                f"({error}); it names the repository this prefix serves: restore it, or "
                "delete it to let the next call record the repository again"
            ) from error
        return Identity(layout, suffix, table)

    def _compare(self, recorded: Identity) -> None:
        if recorded != self.identity:
            where = f"recorded in s3://{self.bucket}/{self.key}"
            self._refuse(f"{recorded.describe()} ({where})", recorded)

    def _refuse(self, found: str, other: Identity) -> NoReturn:
        ours = self.identity
        same_but_suffix = other.layout == ours.layout and other.suffix != ours.suffix
        if same_but_suffix and ours.table is not None and other.table is not None:
            same_but_suffix = other.table == ours.table
        step = (
            f"Open it with suffix {other.suffix!r}, or choose another prefix for this one."
            if same_but_suffix
            else _NEXT_STEP
        )
        raise RepositoryConflictError(
            f"{self.where} already serves {found}, not {ours.describe()}; nothing "
            f"was read or written. {step}",
            location=self.where,
            found=found,
            found_suffix=other.suffix if same_but_suffix else None,
        )

    def _survey(self, session: Session, write: bool) -> None:
        listing = _s3.list_objects(session.s3, self.bucket, self.root, max_keys=_SURVEY_KEYS)
        survey = Survey.of(self.identity, self.root, (item.key for item in listing.objects))
        if survey.mine and not self._table_knows(session, min(survey.mine)):
            other = dataclasses.replace(self.identity, table=None)
            survey.foreign.setdefault(other, set()).update(survey.mine)
            survey.mine.clear()
        if survey.foreign and not survey.mine:
            other, names = next(iter(survey.foreign.items()))
            shown = ", ".join(repr(name) for name in sorted(names)[:5])
            self._refuse(f"{other.describe()} (artifacts {shown})", other)
        if write:
            self._create(session)
        elif survey.mine:
            self._adopt_reading(session, sorted(survey.mine))

    def _table_knows(self, session: Session, name: str) -> bool:
        """Whether this repository's table holds ``name`` (artifacts of the S3 + DynamoDB
        layout on the prefix may be another table's: their keys look the same). 1 Query."""
        if self.identity.table is None:
            return True
        try:
            return bool(_dynamodb.query(session.dynamodb, self.identity.table, name, limit=1))
        except TableNotFoundError:
            return False

    def _create(self, session: Session) -> None:
        """Write the record unless one exists; a record written meanwhile is compared."""
        prefix = self.root.rstrip("/")
        body = self.identity.body(self.bucket, prefix)
        try:
            _s3.put_document(session.s3, self.bucket, self.key, body, if_none_match=True)
            logger.debug("recorded %s at %s", self.identity.describe(), self.where)
        except _s3.Precondition:
            logger.debug("repository record of %s written meanwhile: comparing", self.where)
            recorded = self._read(session)
            if recorded is None:
                raise RepositoryConflictError(
                    f"the repository record of {self.where} was written and removed while "
                    "this call ran; nothing was read or written. Retry."
                ) from None
            self._compare(recorded)
        self._recorded = True

    def _adopt_reading(self, session: Session, names: list[str]) -> None:
        """A read found this repository's artifacts without a record: record them when the
        session may write (a read-only session reads on, checked again next time)."""
        try:
            self._create(session)
        except BackendError as error:
            logger.debug("cannot record the repository of %s (%s): read on", self.where, error)
            return
        logger.debug("adopted the repository of %s (artifacts %s)", self.where, names[:5])


_NEXT_STEP = (
    "Each repository needs its own prefix: choose another prefix (s3_prefix) for this "
    "one, or open the existing repository with its own settings."
)
