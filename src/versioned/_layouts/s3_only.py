"""The S3-only layout: bytes, metadata and aliases all live in S3.

Keys under ``s3://{bucket}/{prefix}/{name}/`` (the seed's layout, plus one object)::

    versions/000000_LATEST{suffix}     LATEST (mutable)
    versions/999999_000001{suffix}     version 1 (newest versions list first)
    aliases/{alias}.json               alias document (the seed's eight fields)
    state.json                         the artifact's state, changed only by CAS

Protocol (see docs/design.md): every metadata change of one artifact is a
compare-and-swap on ``state.json``. A publish reserves its number there before it copies,
so numbers are never shared or reused; an alias write registers there before it writes
the alias object, and a deletion marks its versions there before it deletes them, so one
of the two always sees the other. Objects the seed's library writes (no state, or alias
objects it changed) are validated against listings and honoured.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime
from typing import Any, ClassVar, NoReturn

from .. import _content, _model, _pool, _s3, _transfer, constants
from .._model import LATEST, AliasTarget, VersionId
from .._retry import DEFAULT as DEFAULT_RETRY
from .._retry import RetryPolicy, attempts
from .._s3 import Precondition, same_etag
from .._session import Session
from .._transfer import TransferSettings
from ..exc import (
    ArtifactNotFoundError,
    ConcurrentModificationError,
    ContentionError,
    CorruptRecordError,
)
from ..verify import Problem
from . import (
    AliasRecord,
    BootstrapOptions,
    Chooser,
    Inventory,
    PutRequest,
    RetireResult,
    VersionRecord,
    owners,
)
from .s3_only_state import (
    DELETING,
    LIVE,
    PENDING,
    AliasEntry,
    ArtifactState,
    VersionEntry,
    alias_body,
    predicted_etag,
)

STATE_FILE = "state.json"
#: alias object metadata: the registration sequence number and token of the write
SEQ_METADATA = "versioned-seq"
TOKEN_METADATA = "versioned-token"
_OWN_METADATA = frozenset(_model.RESERVED_METADATA_KEYS)


def new_token() -> str:
    return uuid.uuid4().hex


def quoted(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


class Loaded:
    """A state document and the ETag it was read at (None: not stored yet)."""

    def __init__(self, state: ArtifactState, etag: str | None) -> None:
        self.state = state
        self.etag = etag


class S3OnlyLayout:
    """The S3-only storage protocol for one repository root."""

    soft_deletes: ClassVar[bool] = False
    latest_deletable: ClassVar[bool] = False

    def __init__(
        self,
        bucket: str,
        prefix: str,
        suffix: str,
        transfer: TransferSettings,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self.bucket = bucket
        self.retry = retry
        self.root = f"{prefix}/" if prefix else ""
        self.suffix = suffix
        self.transfer = transfer

    def bootstrap(self, session: Session, options: BootstrapOptions) -> None:
        """Create the bucket unless it exists. Idempotent."""
        _s3.ensure_bucket(session.s3, self.bucket, options.region)

    # ------------------------------------------------------------ keys (one place)
    def artifact_dir(self, name: str) -> str:
        return f"{self.root}{name}/"

    def versions_dir(self, name: str) -> str:
        return f"{self.artifact_dir(name)}versions/"

    def aliases_dir(self, name: str) -> str:
        return f"{self.artifact_dir(name)}aliases/"

    def version_key(self, name: str, version: VersionId) -> str:
        return f"{self.versions_dir(name)}{_model.encode_filename(version)}{self.suffix}"

    def alias_key(self, name: str, alias: str) -> str:
        return f"{self.aliases_dir(name)}{alias}.json"

    def state_key(self, name: str) -> str:
        return f"{self.artifact_dir(name)}{STATE_FILE}"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _parse_file(self, file: str) -> VersionId | None:
        """The version an exact file name (stem + suffix) names, else None."""
        if self.suffix:
            if not file.endswith(self.suffix):
                return None
            file = file[: -len(self.suffix)]
        if "/" in file:
            return None
        return _model.parse_filename(file)

    def classify(self, key: str) -> tuple[str, str, str] | None:
        """(kind, artifact name, detail) of a key this layout owns: kind is "version",
        "alias", "state" or "trash" (left by an older release); None otherwise."""
        if not key.startswith(self.root):
            return None
        name, sep, tail = key[len(self.root) :].partition("/")
        if not sep or not _model.is_artifact_name(name):
            return None
        if tail == STATE_FILE:
            return ("state", name, "")
        folder, sep, file = tail.partition("/")
        if not sep:
            return None
        if folder in ("versions", "trash"):
            version = self._parse_file(file)
            if version is None:
                return None
            return (
                "version" if folder == "versions" else "trash",
                name,
                _model.version_str(version),
            )
        if folder == "aliases" and file.endswith(".json") and _model.is_alias_name(file[:-5]):
            return ("alias", name, file[:-5])
        return None

    def owner(self, key: str) -> str | None:
        """The artifact a key of this layout belongs to."""
        kind = self.classify(key)
        return None if kind is None else kind[1]

    def is_other_layout(self, key: str) -> bool:
        """Keys of the S3 + DynamoDB layout (``{name}/LATEST...``, ``{name}/000001...``),
        which may share this prefix and are never touched here."""
        _, sep, tail = key[len(self.root) :].partition("/")
        return bool(sep) and "/" not in tail and (tail.startswith(LATEST) or tail[:6].isdigit())

    # ------------------------------------------------------------ records
    def _record(self, name: str, version: VersionId, info: _s3.ObjectInfo) -> VersionRecord:
        if not info.sha256:
            raise CorruptRecordError(
                f"{self.uri(info.key)} records no sha256 (metadata "
                f"{constants.METADATA_KEY_ARTIFACT_SHA256!r}): it was not written by versioned. "
                "Put the artifact again, or delete that object."
            )
        return VersionRecord(
            name=name,
            version=version,
            sha256=info.sha256,
            update_at=_model.whole_seconds(info.last_modified),
            key=info.key,
            size=info.size,
            content_type=info.content_type,
            metadata={k: v for k, v in info.metadata.items() if k not in _OWN_METADATA},
        )

    def _entry_record(
        self, name: str, number: int, entry: VersionEntry, modified: datetime | None
    ) -> VersionRecord:
        if modified is not None:
            update_at = _model.whole_seconds(modified)
        else:
            update_at = _model.parse_time(entry.update_at or "1970-01-01T00:00:00+00:00")
        return VersionRecord(
            name=name,
            version=number,
            sha256=entry.sha256,
            update_at=update_at,
            key=self.version_key(name, number),
            size=entry.size,
            content_type=entry.content_type,
        )

    @staticmethod
    def _live_entry(record: VersionRecord, etag: str, token: str) -> VersionEntry:
        return VersionEntry(
            status=LIVE,
            sha256=record.sha256,
            size=record.size or 0,
            etag=etag,
            update_at=record.update_at.isoformat(),
            content_type=record.content_type,
            token=token,
        )

    # ------------------------------------------------------------ state
    def _load(self, s3: Any, name: str, *, rebuild: bool = True) -> Loaded:
        """The state as stored, or rebuilt from the version listing when there is none
        (an artifact written by the seed's library, or a new one); without ``rebuild``,
        an empty state (the caller validates what it needs against a listing)."""
        key = self.state_key(name)
        document = _s3.get_document(s3, self.bucket, key)
        if document is None:
            return Loaded(self._rebuild(s3, name) if rebuild else ArtifactState(), None)
        return Loaded(ArtifactState.from_bytes(document.body, self.uri(key)), document.etag)

    def _rebuild(self, s3: Any, name: str) -> ArtifactState:
        listing = _s3.list_objects(s3, self.bucket, self.versions_dir(name))
        numbered = [
            (version, item.key)
            for item in listing.objects
            if (version := self._parse_file(item.key[len(self.versions_dir(name)) :]))
            not in (None, LATEST)
        ]
        state = ArtifactState(hwm=max((int(v) for v, _ in numbered), default=0))
        infos = _s3.head_many(s3, self.bucket, [key for _, key in numbered])
        for (version, _), info in zip(numbered, infos, strict=True):
            if info is not None and info.sha256:
                record = self._record(name, version, info)
                state.versions[int(version)] = self._live_entry(record, info.etag, "")
        return state

    def _store(self, s3: Any, name: str, loaded: Loaded, state: ArtifactState) -> Loaded | None:
        """Compare-and-swap the state. Returns the state now stored and its ETag: ``state``
        when written, or, when the change's token is found in the stored document (a
        retried request whose first attempt was applied), that document as read back,
        since other writers may have changed it after our change, and their changes must
        not be written over from our copy. None when another writer changed it first
        (re-read, decide again)."""
        token = state.ops[-1]
        key = self.state_key(name)
        try:
            etag = _s3.put_document(
                s3,
                self.bucket,
                key,
                state.to_bytes(),
                if_match=loaded.etag,
                if_none_match=loaded.etag is None,
            )
            return Loaded(state, etag)
        except Precondition:
            document = _s3.get_document(s3, self.bucket, key)
            if document is None:
                return None
            stored = ArtifactState.from_bytes(document.body, self.uri(key))
            return Loaded(stored, document.etag) if stored.applied(token) else None

    # ------------------------------------------------------------ reads
    def get_version(self, session: Session, name: str, version: VersionId) -> VersionRecord | None:
        info = _s3.head(session.s3, self.bucket, self.version_key(name, version))
        return None if info is None else self._record(name, version, info)

    def list_versions(self, session: Session, name: str) -> list[VersionRecord]:
        s3 = session.s3
        listing, document, latest = _pool.parallel(
            lambda: _s3.list_objects(s3, self.bucket, self.versions_dir(name)),
            lambda: _s3.get_document(s3, self.bucket, self.state_key(name)),
            lambda: _s3.head(s3, self.bucket, self.version_key(name, LATEST)),
        )
        index: dict[int, VersionEntry] = {}
        if document is not None:
            try:
                index = ArtifactState.from_bytes(document.body, "").versions
            except CorruptRecordError:
                index = {}  # an unreadable index only costs a HEAD per version here
        found = self._listed(s3, name, listing, index)
        records = [found[n][0] for n in sorted(found, reverse=True)]
        return ([self._record(name, LATEST, latest)] if latest else []) + records

    def _listed(
        self, s3: Any, name: str, listing: _s3.Listing, index: dict[int, VersionEntry]
    ) -> dict[int, tuple[VersionRecord, str]]:
        """{number: (record, ETag)} of the listed version keys: from the index where the
        listed ETag is the one it recorded (the same bytes: a copy keeps its source's
        ETag), else from a HEAD. A version being deleted stays visible until its key is
        gone (a deletion that died half-way is finished by the next one)."""
        found: dict[int, tuple[VersionRecord, str]] = {}
        unknown: list[tuple[int, str]] = []
        for item in listing.objects:
            version = self._parse_file(item.key[len(self.versions_dir(name)) :])
            if version is None or version == LATEST:
                continue
            entry = index.get(int(version))
            if entry is not None and same_etag(entry.etag, item.etag):
                record = self._entry_record(name, int(version), entry, item.last_modified)
                found[int(version)] = (record, item.etag)
            else:
                unknown.append((int(version), item.key))
        keys = [key for _, key in unknown]
        for (number, _), info in zip(unknown, _s3.head_many(s3, self.bucket, keys), strict=True):
            if info is not None:
                found[number] = (self._record(name, number, info), info.etag)
        return found

    def latest_published_number(self, session: Session, name: str) -> int:
        directory = self.versions_dir(name)
        # Numbered keys sort after "000000_LATEST..." and its neighbours, newest first.
        listing = _s3.list_objects(
            session.s3, self.bucket, directory, start_after=f"{directory}000000~", max_keys=50
        )
        if len(listing.objects) >= 50:
            listing = _s3.list_objects(session.s3, self.bucket, directory)
        numbers = [
            int(version)
            for item in listing.objects
            if (version := self._parse_file(item.key[len(directory) :])) not in (None, LATEST)
        ]
        return max(numbers, default=0)

    def list_names(self, session: Session) -> list[str]:
        # One LIST: keys are grouped by "/versions/", so each artifact that holds version
        # files comes back once as "{root}{name}/versions/", and other keys are ignored.
        listing = _s3.list_objects(session.s3, self.bucket, self.root, delimiter="/versions/")
        names = {prefix[len(self.root) : -len("/versions/")] for prefix in listing.prefixes}
        return sorted(n for n in names if _model.is_artifact_name(n))

    # ------------------------------------------------------------ LATEST and publish
    def write_latest(
        self,
        session: Session,
        request: PutRequest,
        content: _content.Content,
        progress: _s3.Progress | None,
    ) -> VersionRecord:
        s3, name = session.s3, request.name
        key = self.version_key(name, LATEST)
        current = _s3.head(s3, self.bucket, key)
        if current is not None and current.sha256 == content.sha256:
            if progress:
                progress(content.size, content.size)
            return self._record(name, LATEST, current)
        metadata = {
            **request.metadata,
            constants.METADATA_KEY_ARTIFACT_NAME: name,
            constants.METADATA_KEY_ARTIFACT_SHA256: content.sha256,
        }
        upload = _transfer.UploadRequest(
            self.bucket, key, metadata, request.content_type, request.tags
        )
        try:
            written = _transfer.upload(s3, upload, content, self.transfer, progress)
        except Precondition as error:  # only conditional writes can fail this way
            raise ContentionError(f"writing LATEST of {name!r} was refused: {error}") from error
        # The object's own time (S3 sets it; the response does not say it): read it back,
        # unless another put replaced the object already.
        info = _s3.head(s3, self.bucket, key, if_match=written.etag)
        if info is not None:
            return self._record(name, LATEST, info)
        return VersionRecord(
            name=name,
            version=LATEST,
            sha256=content.sha256,
            update_at=_model.whole_seconds(_model.utc_now()),
            key=key,
            size=content.size,
            content_type=request.content_type,
            metadata=dict(request.metadata),
        )

    def publish(self, session: Session, name: str) -> VersionRecord:
        s3 = session.s3
        latest_key = self.version_key(name, LATEST)
        for _ in attempts(f"publishing {name!r}"):
            loaded, latest, newest = _pool.parallel(
                lambda: self._load(s3, name, rebuild=False),
                lambda: _s3.head(s3, self.bucket, latest_key),
                lambda: self._newest_listed(s3, name),
            )
            if latest is None:
                raise ArtifactNotFoundError(f"artifact {name!r} has no LATEST to publish")
            latest_record = self._record(name, LATEST, latest)
            state = loaded.state
            if state.purging:
                raise ArtifactNotFoundError(f"artifact {name!r} is being purged")
            self._confirm_listed(state, newest)
            unchanged = self._unchanged(s3, name, state, latest, newest)
            if unchanged is not None:
                return unchanged
            entry = VersionEntry(
                status=PENDING,
                sha256=latest_record.sha256,
                size=latest.size,
                etag=latest.etag,
                update_at=None,
                content_type=latest.content_type,
                token=new_token(),
            )
            number = state.reserve(entry)
            if not self._store(s3, name, loaded, state):
                continue
            published = self._copy_latest(session, name, number, latest, latest_record)
            if published is not None:
                return published
        raise AssertionError("unreachable")

    def _newest_listed(self, s3: Any, name: str) -> dict[int, _s3.ListedObject]:
        """The newest version keys (numbered keys sort newest first, after LATEST's): the
        numbers another client may have published since the state last saw them."""
        directory = self.versions_dir(name)
        listing = _s3.list_objects(
            s3, self.bucket, directory, start_after=f"{directory}000000~", max_keys=20
        )
        found: dict[int, _s3.ListedObject] = {}
        for item in listing.objects:
            version = self._parse_file(item.key[len(directory) :])
            if version is not None and version != LATEST:
                found[int(version)] = item
        return found

    @staticmethod
    def _confirm_listed(state: ArtifactState, listed: dict[int, _s3.ListedObject]) -> None:
        """Count listed numbers as handed out, and confirm reserved copies the listing
        shows (same ETag as their source: the same bytes)."""
        state.hwm = max([state.hwm, *listed])
        for number, item in listed.items():
            entry = state.versions.get(number)
            if entry is not None and entry.status == PENDING and same_etag(entry.etag, item.etag):
                entry.status = LIVE
                entry.etag = item.etag
                entry.update_at = _model.whole_seconds(item.last_modified).isoformat()

    def _unchanged(
        self,
        s3: Any,
        name: str,
        state: ArtifactState,
        latest: _s3.ObjectInfo,
        listed: dict[int, _s3.ListedObject],
    ) -> VersionRecord | None:
        """The newest version when it already holds LATEST's bytes (the listing says which
        versions exist; the index, what a confirmed one holds)."""
        if not listed:
            return None
        number = max(listed)
        entry = state.versions.get(number)
        if entry is not None and entry.status == DELETING:
            # Being deleted (or left marked by a deletion that died): the next deletion
            # removes it, so it is not handed out again; a new number holds the bytes.
            return None
        if entry is not None and entry.status == LIVE:
            if entry.sha256 != latest.sha256:
                return None
            return self._entry_record(name, number, entry, None)
        # Written by another client, or a copy the listing did not confirm: its own
        # metadata says what it holds. (A reservation's sha256 is what LATEST held when
        # the number was reserved; the copy may hold newer bytes: LATEST changed before
        # it landed, or the server ignored CopySourceIfMatch.)
        info = _s3.head(s3, self.bucket, self.version_key(name, number))
        if info is None or info.sha256 != latest.sha256:
            return None
        return self._record(name, number, info)

    def _copy_latest(
        self,
        session: Session,
        name: str,
        number: int,
        latest: _s3.ObjectInfo,
        latest_record: VersionRecord,
    ) -> VersionRecord | None:
        """Copy LATEST to the reserved ``number``. If LATEST changed since it was read, the
        copy is refused and made again from LATEST as it is now (the number is not handed
        out until its object exists, so nobody has seen it name other bytes), for as long
        as the call's deadline allows: a reserved number given up would be a gap no later
        publish fills. None when the number cannot be used (another client's object holds
        it): the caller reserves another."""
        s3 = session.s3
        key = self.version_key(name, number)
        for _ in attempts(f"publishing {name!r} as version {number}"):
            try:
                result = _transfer.copy(
                    s3,
                    self.bucket,
                    latest.key,
                    key,
                    source=latest,
                    transfer=self.transfer,
                    once=session.s3_once,
                )
            except Precondition:
                info = _s3.head(s3, self.bucket, key)
                if info is not None:
                    if info.sha256 == latest_record.sha256:  # our earlier attempt landed
                        self._check_not_purged(s3, name, number, key, info.etag)
                        return self._record(name, number, info)
                    return None  # another client's object holds this number
                fresh = _s3.head(s3, self.bucket, latest.key)
                if fresh is None:
                    raise ArtifactNotFoundError(
                        f"artifact {name!r} lost its LATEST while it was being published"
                    ) from None
                latest, latest_record = fresh, self._record(name, LATEST, fresh)
                continue
            self._check_not_purged(s3, name, number, key, result.etag)
            return self._copied(s3, name, number, key, result, latest, latest_record)
        raise AssertionError("unreachable")

    def _check_not_purged(self, s3: Any, name: str, number: int, key: str, etag: str) -> None:
        """A copy may land after a whole ``purge_artifact`` ran (a long copy, or a publisher
        paused after its reservation), which would bring the purged artifact back. The
        state, read once the copy landed, must still be there, not purging, with our
        number below its high-water mark; else the copy is taken back and nothing is
        published. (Costs one GET per publish; a purge that starts after this read lists
        the copy and deletes it like any other version.)"""
        loaded = self._load(s3, name, rebuild=False)
        if loaded.etag is not None and not loaded.state.purging and loaded.state.hwm >= number:
            return
        with contextlib.suppress(Precondition):
            _s3.delete(s3, self.bucket, key, if_match=etag)
        raise ArtifactNotFoundError(
            f"artifact {name!r} was purged while version {number} was being published; "
            "nothing was published"
        )

    def _copied(
        self,
        s3: Any,
        name: str,
        number: int,
        key: str,
        result: _transfer.CopyResult,
        latest: _s3.ObjectInfo,
        latest_record: VersionRecord,
    ) -> VersionRecord | None:
        """The record of a landed copy, from what the server reported or a HEAD."""
        sha = result.holds(latest)
        if sha != latest_record.sha256 or result.last_modified is None:
            # LATEST changed under a server that ignores CopySourceIfMatch, or the server
            # reported too little: the copy is self-consistent, so read what it holds.
            info = _s3.head(s3, self.bucket, key)
            return None if info is None else self._record(name, number, info)
        return VersionRecord(
            name=name,
            version=number,
            sha256=sha,
            update_at=_model.whole_seconds(result.last_modified),
            key=key,
            size=latest.size,
            content_type=latest.content_type,
            metadata=latest_record.metadata,
        )

    # ------------------------------------------------------------ deletion
    def retire(self, session: Session, name: str, choose: Chooser, *, strict: bool) -> RetireResult:
        s3 = session.s3
        chosen: list[int] | None = None
        for _ in attempts(f"deleting versions of {name!r}"):
            loaded, alias_listing, version_listing = _pool.parallel(
                lambda: self._load(s3, name),
                lambda: _s3.list_objects(s3, self.bucket, self.aliases_dir(name)),
                lambda: _s3.list_objects(s3, self.bucket, self.versions_dir(name)),
            )
            state = loaded.state
            if state.purging:
                return RetireResult([], {})
            users = self._alias_users(s3, name, state, alias_listing)
            listed = self._listed(s3, name, version_listing, state.versions)
            self._confirm(state, listed)
            if chosen is None:
                records = [listed[n][0] for n in sorted(listed, reverse=True)]
                chosen = [int(v) for v in choose(records, users) if v != LATEST]
            wanted = sorted(set(chosen), reverse=True)
            present = {n: listed[n][0] for n in wanted if n in listed}
            in_use: dict[VersionId, list[str]] = {
                n: sorted(users[n]) for n in wanted if n in users and n in present
            }
            if strict and in_use:
                return RetireResult([], in_use)
            doomed = [n for n in wanted if n in present and n not in users]
            leftovers = [
                n for n, e in state.versions.items() if e.status == DELETING and n not in doomed
            ]
            if not doomed and not leftovers:
                return RetireResult([], in_use)
            token = new_token()
            for number in doomed:
                entry = self._live_entry(present[number], listed[number][1], token)
                entry.status = DELETING
                state.versions[number] = entry
            state.record(token)
            if not self._store(s3, name, loaded, state):
                continue
            # The entries stay "deleting" until a later deletion lists their keys gone.
            gone = doomed + leftovers
            _s3.delete_many(s3, self.bucket, [self.version_key(name, n) for n in gone])
            return RetireResult([present[n] for n in doomed], in_use)
        raise AssertionError("unreachable")

    def _confirm(self, state: ArtifactState, listed: dict[int, tuple[VersionRecord, str]]) -> None:
        """Record in the index what a listing confirmed: versions whose copy landed
        (pending, or written by another client) become live entries; entries without a
        key are forgotten, including finished deletions (their numbers stay used:
        ``hwm`` keeps them)."""
        for number, (record, etag) in listed.items():
            entry = state.versions.get(number)
            if entry is None or entry.status == PENDING:
                state.versions[number] = self._live_entry(record, etag, "")
                state.hwm = max(state.hwm, number)
        for number in list(state.versions):
            if number not in listed:
                # never landed, deleted (by an earlier deletion or another client)
                del state.versions[number]

    def _alias_users(
        self, s3: Any, name: str, state: ArtifactState, listing: _s3.Listing
    ) -> dict[int, list[str]]:
        """{version: [aliases that route to it]}, updating the registrations in ``state``
        with what the alias objects show (see :meth:`_alias_targets`)."""
        users: dict[int, list[str]] = {}
        listed: dict[str, _s3.ListedObject] = {}
        for item in listing.objects:
            kind = self.classify(item.key)
            if kind is not None and kind[0] == "alias":
                listed[kind[2]] = item
        for alias in sorted(set(listed) | set(state.aliases)):
            for target in self._alias_targets(s3, name, alias, state, listed.get(alias)):
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
        if entry is not None and shown:
            entry.landed = True
        if entry is not None and entry.landed:
            if shown or (entry.deleted and listed is None):
                return entry.targets
            del state.aliases[alias]  # changed by another client since: the object decides
            return self._shown_targets(s3, name, alias)
        if entry is None:
            return self._shown_targets(s3, name, alias) if listed is not None else []
        key = self.alias_key(name, alias)
        document = _s3.get_document(s3, self.bucket, key)
        seq = -1 if document is None else _seq(document.metadata)
        if seq == entry.seq or document is None or 0 <= seq < entry.seq:
            try:
                if seq != entry.seq:
                    self._roll_forward(s3, name, alias, entry, document)
                entry.landed = True
                return entry.targets
            except Precondition:
                pass  # the object changed while we looked: count both
        return entry.targets + self._shown_targets(s3, name, alias)

    def _shown_targets(self, s3: Any, name: str, alias: str) -> list[VersionId]:
        """What the alias object routes to now (nothing when absent or unreadable)."""
        document = _s3.get_document(s3, self.bucket, self.alias_key(name, alias))
        if document is None:
            return []
        try:
            return self._parse_alias(name, alias, document).targets
        except CorruptRecordError:
            return []  # an unreadable alias routes nowhere; verify() reports it

    def _roll_forward(
        self,
        s3: Any,
        name: str,
        alias: str,
        entry: AliasEntry,
        document: _s3.Document | None,
    ) -> None:
        """Make the alias object show its latest registered write (or be deleted)."""
        key = self.alias_key(name, alias)
        etag = document.etag if document is not None else None
        if entry.deleted:
            if etag is not None:
                _s3.delete(s3, self.bucket, key, if_match=etag)
            return
        body = self._alias_body(name, alias, entry)
        _s3.put_document(
            s3,
            self.bucket,
            key,
            body,
            if_match=etag,
            if_none_match=etag is None,
            metadata={SEQ_METADATA: str(entry.seq), TOKEN_METADATA: entry.token},
        )

    # ------------------------------------------------------------ aliases
    def _alias_body(self, name: str, alias: str, entry: AliasEntry) -> bytes:
        version = _model.parse_version(entry.version)
        secondary = entry.secondary_version
        return alias_body(
            name,
            alias,
            entry,
            self.uri(self.version_key(name, version)),
            None if secondary is None else self.uri(self.version_key(name, int(secondary))),
        )

    def _parse_alias(self, name: str, alias: str, document: _s3.Document) -> AliasRecord:
        where = self.uri(self.alias_key(name, alias))
        try:
            data = json.loads(document.body)
            if not isinstance(data, dict):
                raise ValueError("the document is not a JSON object")
            target = _model.stored_target(
                data["version"],
                data.get("secondary_version"),
                data.get("secondary_version_weight"),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise CorruptRecordError(
                f"alias {alias!r} of {name!r} ({where}) is not a valid alias document: {error}. "
                "Point the alias again with put_alias, or delete it."
            ) from error
        update_at = _alias_time(data.get("update_at"), document.last_modified)
        return AliasRecord.of(name, alias, target, update_at, document.etag.strip('"'))

    def get_alias(self, session: Session, name: str, alias: str) -> AliasRecord | None:
        document = _s3.get_document(session.s3, self.bucket, self.alias_key(name, alias))
        return None if document is None else self._parse_alias(name, alias, document)

    def list_aliases(self, session: Session, name: str) -> list[AliasRecord]:
        s3 = session.s3
        listing = _s3.list_objects(s3, self.bucket, self.aliases_dir(name))
        aliases = [
            kind[2]
            for item in listing.objects
            if (kind := self.classify(item.key)) is not None and kind[0] == "alias"
        ]
        documents = _pool.fan_out(
            lambda alias: _s3.get_document(s3, self.bucket, self.alias_key(name, alias)), aliases
        )
        return [
            self._parse_alias(name, alias, document)
            for alias, document in zip(aliases, documents, strict=True)
            if document is not None
        ]

    def write_alias(
        self,
        session: Session,
        name: str,
        alias: str,
        target: AliasTarget,
        expected_revision: str | None,
    ) -> AliasRecord:
        s3 = session.s3
        for _ in attempts(f"pointing alias {alias!r} of {name!r}"):
            loaded = self._load(s3, name)
            state = loaded.state
            if state.purging:
                raise ArtifactNotFoundError(f"artifact {name!r} is being purged")
            previous = state.aliases.get(alias)
            expected = self._expected_object(s3, name, alias, previous, expected_revision)
            self._require_targets(s3, name, alias, state, target)
            entry = AliasEntry(
                seq=state.next_seq(),
                token=new_token(),
                deleted=False,
                version=_model.version_str(target.version),
                secondary_version=(
                    None if target.secondary_version is None else str(target.secondary_version)
                ),
                secondary_version_weight=target.secondary_version_weight,
                update_at=_model.whole_seconds(_model.utc_now()).isoformat(),
            )
            body = self._alias_body(name, alias, entry)
            entry.etag = predicted_etag(body)
            state.register_alias(alias, entry)
            written = self._store(s3, name, loaded, state)
            if not written:
                continue
            revision, created = self._materialize(s3, name, alias, entry, body, expected)
            self._landed(s3, name, alias, entry, written, created)
            update_at = _model.parse_time(entry.update_at)
            return AliasRecord.of(name, alias, target, update_at, revision.strip('"'))
        raise AssertionError("unreachable")

    def _expected_object(
        self,
        s3: Any,
        name: str,
        alias: str,
        previous: AliasEntry | None,
        expected_revision: str | None,
    ) -> str | None:
        """The ETag the alias object should have now (None: it should not exist), after
        checking ``expected_revision`` against the alias's latest registered write.
        Raises ConcurrentModificationError when the alias moved on since that revision."""
        if expected_revision is None:
            # Never registered: most likely new (create it; an object written by another
            # client makes the create fail, and it is then written over).
            return None if previous is None or previous.deleted else previous.etag
        wanted = quoted(expected_revision)
        if previous is not None and not previous.deleted and same_etag(previous.etag, wanted):
            return wanted
        info = _s3.head(s3, self.bucket, self.alias_key(name, alias))
        current = (
            info is not None
            and same_etag(info.etag, wanted)
            and (previous is None or (not previous.deleted and _seq(info.metadata) == previous.seq))
        )
        if not current:
            raise ConcurrentModificationError(
                f"alias {alias!r} of {name!r} changed since revision {expected_revision}; "
                "read it again and retry"
            )
        return wanted

    def _require_targets(
        self, s3: Any, name: str, alias: str, state: ArtifactState, target: AliasTarget
    ) -> None:
        """Raise ArtifactNotFoundError unless every target version exists and is not being
        deleted; versions the index does not vouch for are checked (and adopted)."""
        unknown: list[VersionId] = []
        for version in target.versions:
            entry = state.versions.get(int(version)) if version != LATEST else None
            if entry is not None and entry.status == DELETING:
                self._missing(name, alias, version)
            if entry is None or entry.status != LIVE:
                unknown.append(version)
        keys = [self.version_key(name, v) for v in unknown]
        for version, info in zip(unknown, _s3.head_many(s3, self.bucket, keys), strict=True):
            if info is None or not info.sha256:
                self._missing(name, alias, version)
            if version != LATEST:
                record = self._record(name, version, info)
                state.versions[int(version)] = self._live_entry(record, info.etag, "")
                state.hwm = max(state.hwm, int(version))

    @staticmethod
    def _missing(name: str, alias: str, version: VersionId) -> NoReturn:
        raise ArtifactNotFoundError(
            f"artifact {name!r} has no version {_model.version_str(version)}; "
            f"alias {alias!r} was not changed"
        )

    def _materialize(
        self,
        s3: Any,
        name: str,
        alias: str,
        entry: AliasEntry,
        body: bytes,
        expected: str | None,
    ) -> tuple[str, str | None]:
        """Write the registered alias document over the one expected; returns the
        revision that holds it (or the newer write that superseded it), and the ETag of
        the object this call created (None when it replaced one, or wrote nothing)."""
        key = self.alias_key(name, alias)
        metadata = {SEQ_METADATA: str(entry.seq), TOKEN_METADATA: entry.token}
        for _ in range(16):
            try:
                etag = _s3.put_document(
                    s3,
                    self.bucket,
                    key,
                    body,
                    if_match=expected,
                    if_none_match=expected is None,
                    metadata=metadata,
                )
            except Precondition:
                current = _s3.head(s3, self.bucket, key)
                if current is not None and current.metadata.get(TOKEN_METADATA) == entry.token:
                    # Ours landed: this very request, retried after its answer was lost
                    # (a create, when it was one: a later deletion must still take it back).
                    return current.etag, current.etag if expected is None else None
                if current is not None and _seq(current.metadata) >= entry.seq:
                    return current.etag, None  # a later write superseded ours
                if current is None and self._superseded(s3, name, alias, entry):
                    return str(entry.etag), None
                expected = None if current is None else current.etag
                continue
            return etag, etag if expected is None else None
        raise ContentionError(f"alias {alias!r} of {name!r}: too many concurrent writers")

    def _superseded(self, s3: Any, name: str, alias: str, entry: AliasEntry) -> bool:
        """Whether a later registration replaced ``entry`` (True), or ``entry`` is still
        the latest (False). Raises ArtifactNotFoundError if the artifact was purged."""
        loaded = self._load(s3, name)
        if loaded.etag is None or loaded.state.purging:
            raise ArtifactNotFoundError(
                f"artifact {name!r} was purged; alias {alias!r} was not written"
            )
        latest = loaded.state.aliases.get(alias)
        return latest is not None and latest.seq > entry.seq

    def _landed(
        self,
        s3: Any,
        name: str,
        alias: str,
        entry: AliasEntry,
        loaded: Loaded,
        created: str | None,
    ) -> None:
        """Record that the alias object shows ``entry`` (from then on the object decides,
        whoever changes it). A create cannot be fenced by a deletion that ran first: one
        that landed after the artifact was purged, or after a later deletion of the alias
        registered, is taken back."""
        for _ in range(8):
            state = loaded.state
            latest = state.aliases.get(alias)
            purged = loaded.etag is None or bool(state.purging)
            if purged or latest is None or latest.seq != entry.seq or latest.landed:
                deleted_later = latest is not None and latest.deleted and latest.seq > entry.seq
                if created is not None and (purged or deleted_later):
                    with contextlib.suppress(Precondition):
                        _s3.delete(s3, self.bucket, self.alias_key(name, alias), if_match=created)
                if purged:
                    raise ArtifactNotFoundError(
                        f"artifact {name!r} was purged; alias {alias!r} was not written"
                    )
                return
            latest.landed = True
            state.record(new_token())
            if self._store(s3, name, loaded, state):
                return
            loaded = self._load(s3, name)

    def delete_alias(
        self, session: Session, name: str, alias: str, expected_revision: str | None
    ) -> bool:
        s3 = session.s3
        for _ in attempts(f"deleting alias {alias!r} of {name!r}"):
            loaded, info = _pool.parallel(
                lambda: self._load(s3, name),
                lambda: _s3.head(s3, self.bucket, self.alias_key(name, alias)),
            )
            state = loaded.state
            previous = state.aliases.get(alias)
            if expected_revision is not None:
                expected: str | None = self._expected_object(
                    s3, name, alias, previous, expected_revision
                )
            else:
                if info is None and (previous is None or previous.deleted):
                    return False
                expected = None if info is None else info.etag
            if state.purging or (loaded.etag is None and expected is None):
                return False
            entry = AliasEntry(
                seq=state.next_seq(),
                token=new_token(),
                deleted=True,
                update_at=_model.utc_now().isoformat(),
            )
            state.register_alias(alias, entry)
            written = self._store(s3, name, loaded, state)
            if not written:
                continue
            self._remove_alias_object(s3, name, alias, entry, expected)
            self._landed(s3, name, alias, entry, written, None)
            return True
        raise AssertionError("unreachable")

    def _remove_alias_object(
        self, s3: Any, name: str, alias: str, entry: AliasEntry, expected: str | None
    ) -> None:
        key = self.alias_key(name, alias)
        for _ in range(16):
            if expected is None:
                return
            try:
                _s3.delete(s3, self.bucket, key, if_match=expected)
                return
            except Precondition:
                current = _s3.head(s3, self.bucket, key)
                if current is None or _seq(current.metadata) > entry.seq:
                    return  # gone already (a retry of ours), or rewritten by a later write
                expected = current.etag
        raise ContentionError(f"alias {alias!r} of {name!r}: too many concurrent writers")

    # ------------------------------------------------------------ purge
    def purge_artifact(self, session: Session, name: str) -> None:
        s3 = session.s3
        if not self._owned_keys(s3, name):
            return  # nothing of this layout here: never write into someone else's folder
        for _ in attempts(f"purging {name!r}"):
            loaded = self._load(s3, name)
            token = new_token()
            loaded.state.purging = token
            loaded.state.record(token)
            stored = self._store(s3, name, loaded, loaded.state)
            if stored is not None:
                loaded = stored
                break
        # LATEST first: once it is gone no publish can copy it into a new version.
        _s3.delete(s3, self.bucket, self.version_key(name, LATEST))
        keys = self._owned_keys(s3, name)
        keys |= {self.alias_key(name, alias) for alias in loaded.state.aliases}
        keys.discard(self.state_key(name))
        _s3.delete_many(s3, self.bucket, sorted(keys))
        _s3.delete(s3, self.bucket, self.state_key(name))

    def _owned_keys(self, s3: Any, name: str) -> set[str]:
        listing = _s3.list_objects(s3, self.bucket, self.artifact_dir(name))
        return {item.key for item in listing.objects if self.classify(item.key) is not None}

    def purge_all(self, session: Session) -> None:
        listing = _s3.list_objects(session.s3, self.bucket, self.root, delimiter="/")
        names = [
            prefix[len(self.root) : -1]
            for prefix in listing.prefixes
            if _model.is_artifact_name(prefix[len(self.root) : -1])
        ]
        _pool.fan_out(lambda name: self.purge_artifact(session, name), names)

    # ------------------------------------------------------------ verification
    def verify_names(self, session: Session) -> tuple[list[str], list[Problem]]:
        listing = _s3.list_objects(session.s3, self.bucket, self.root)
        keys = [item.key for item in listing.objects]
        problems: list[Problem] = []
        names = owners(keys, self.root, self.owner, self.is_other_layout, problems)
        return sorted(names), problems

    def inventory(self, session: Session, name: str) -> Inventory:
        s3 = session.s3
        listing = _s3.list_objects(s3, self.bucket, self.artifact_dir(name))
        problems: list[Problem] = []
        version_keys: dict[VersionId, str] = {}
        alias_names: list[str] = []
        state_key = self.state_key(name)
        for item in listing.objects:
            kind = self.classify(item.key)
            if kind is None:
                if not self.is_other_layout(item.key):
                    problems.append(
                        Problem("orphan_object", name, item.key, "not part of the layout")
                    )
            elif kind[0] == "version":
                version_keys[_model.parse_version(kind[2])] = item.key
            elif kind[0] == "alias":
                alias_names.append(kind[2])
            elif kind[0] == "trash":
                problems.append(
                    Problem("orphan_object", name, item.key, "left by an interrupted deletion")
                )
        deleting = self._verify_state(s3, name, state_key, problems)
        versions = self._verify_versions(s3, name, version_keys, problems)
        aliases = self._verify_aliases(s3, name, alias_names, problems)
        live = {r.version for r in versions if r.version not in deleting}
        return Inventory(
            versions=versions,
            aliases=aliases,
            live=live,
            alias_locations={a: self.alias_key(name, a) for a in alias_names},
            problems=problems,
        )

    def _verify_state(
        self, s3: Any, name: str, key: str, problems: list[Problem]
    ) -> set[VersionId]:
        """Versions the state says are being deleted (and problems with the state)."""
        document = _s3.get_document(s3, self.bucket, key)
        if document is None:
            return set()
        try:
            state = ArtifactState.from_bytes(document.body, self.uri(key))
        except CorruptRecordError as error:
            problems.append(Problem("corrupt_record", name, key, str(error)))
            return set()
        return {n for n, e in state.versions.items() if e.status == DELETING}

    def _verify_versions(
        self, s3: Any, name: str, keys: dict[VersionId, str], problems: list[Problem]
    ) -> list[VersionRecord]:
        ordered = list(keys.items())
        infos = _s3.head_many(s3, self.bucket, [key for _, key in ordered])
        records: list[VersionRecord] = []
        for (version, key), info in zip(ordered, infos, strict=True):
            if info is None:
                continue
            if not info.sha256:
                problems.append(
                    Problem(
                        "missing_sha256",
                        name,
                        key,
                        f"version {_model.version_str(version)} records no sha256",
                    )
                )
                continue
            records.append(self._record(name, version, info))
        return records

    def _verify_aliases(
        self, s3: Any, name: str, aliases: list[str], problems: list[Problem]
    ) -> list[AliasRecord]:
        documents = _pool.fan_out(
            lambda alias: _s3.get_document(s3, self.bucket, self.alias_key(name, alias)), aliases
        )
        records: list[AliasRecord] = []
        for alias, document in zip(aliases, documents, strict=True):
            if document is None:
                continue
            try:
                records.append(self._parse_alias(name, alias, document))
            except CorruptRecordError as error:
                problems.append(
                    Problem("corrupt_record", name, self.alias_key(name, alias), str(error))
                )
        return records


def _seq(metadata: dict[str, str]) -> int:
    """The registration sequence number an alias object carries (-1: none, i.e. written
    by another client)."""
    try:
        return int(metadata.get(SEQ_METADATA, "-1"))
    except ValueError:
        return -1


def _alias_time(written: object, modified: datetime) -> datetime:
    """An alias's time: the one its document records (what put_alias returned), else
    the object's LastModified (the seed's library writes "unknown" there)."""
    if isinstance(written, str):
        with contextlib.suppress(ValueError):
            return _model.whole_seconds(_model.parse_time(written))
    return _model.whole_seconds(modified)
