"""Consumers: fetch through the verified local cache, offline or stale, and signed URLs.

A fetch resolves what it is asked for as cheaply as its ref allows, then serves the blob
from :mod:`versioned._cache` (downloading it, verified, when absent):

- a published version number with a ref: 0 requests;
- an alias with a ref: 1 request (:meth:`Engine.poll_alias`: a conditional GET on
  S3-only, one GetItem on S3 + DynamoDB), + 1 per changed or LATEST target;
- LATEST: 1 request (its record); anything without a ref: the engine's checked reads.

``VERSIONED_OFFLINE=1`` resolves from refs alone (0 requests). When the endpoint cannot
be reached, the last resolved ref is served with a :class:`StaleCacheWarning`, if it is
at most ``max_stale_secs`` old (None: any age) and ``offline_fallback`` is on.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import _cache, _model, _s3, _verified
from ._cache import Ref, Target
from ._engine import Engine
from ._layouts import AliasPoll, AliasRecord, VersionRecord
from ._model import LATEST, VersionId
from ._watch import Watcher
from .exc import (
    AliasNotFoundError,
    EndpointUnreachableError,
    IntegrityError,
    OfflineError,
    StaleCacheWarning,
    ValidationError,
)

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

logger = logging.getLogger(__name__)

OFFLINE_VARIABLE = "VERSIONED_OFFLINE"
#: the longest a presigned URL may live (S3's limit for SigV4: 7 days)
MAX_URL_SECS = 7 * 24 * 3600


def offline() -> bool:
    """True when ``VERSIONED_OFFLINE`` is set to 1/true/yes/on."""
    return os.environ.get(OFFLINE_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


@dataclasses.dataclass(frozen=True)
class Wanted:
    """A validated fetch: an alias (routed by ``key``), or a version (LATEST or N)."""

    name: str
    alias: str | None
    version: VersionId
    key: str | None

    @property
    def kind(self) -> str:
        return "aliases" if self.alias is not None else "versions"

    @property
    def label(self) -> str:
        return self.alias if self.alias is not None else _model.version_str(self.version)

    def describe(self) -> str:
        if self.alias is not None:
            return f"alias {self.alias!r} of {self.name!r}"
        return f"version {_model.version_str(self.version)} of {self.name!r}"


def check_wanted(name: object, alias: object, version: object, key: object) -> Wanted:
    """Validate a fetch's arguments (ValidationError / TypeError, before any request)."""
    checked = _model.validate_artifact_name(name)
    if key is not None and not isinstance(key, str):
        raise TypeError(f"key must be a str, got {type(key).__name__}")
    if alias is not None:
        if version is not None:
            raise ValidationError("give an alias or a version, not both")
        return Wanted(checked, _model.validate_alias_name(alias), LATEST, key)
    return Wanted(checked, None, _model.parse_version(version), key)


def check_max_stale(max_stale_secs: object) -> float | None:
    if max_stale_secs is None:
        return None
    if isinstance(max_stale_secs, bool) or not isinstance(max_stale_secs, int | float):
        raise TypeError("max_stale_secs must be a number or None")
    if max_stale_secs < 0:
        raise ValidationError("max_stale_secs must be >= 0")
    return float(max_stale_secs)


def route(ref: Ref, wanted: Wanted) -> Target:
    """The target ``wanted.key`` is routed to (:func:`versioned._model.route_by_key`);
    the primary when there is no key or no secondary."""
    key = wanted.key
    if key is None or ref.secondary is None or wanted.alias is None:
        return ref.primary
    chosen = _model.route_by_key(
        ref.primary.version,
        int(ref.secondary.version),
        ref.weight,
        key,
        name=wanted.name,
        alias=wanted.alias,
    )
    return ref.secondary if str(chosen) == ref.secondary.version else ref.primary


@dataclasses.dataclass(frozen=True)
class SignedURL:
    """A presigned GET of one version: anyone holding ``url`` may download the bytes
    until ``expires_at``; check them against ``sha256`` and ``size``."""

    url: str
    name: str
    version: str
    sha256: str
    size: int | None
    expires_at: datetime


@dataclasses.dataclass(frozen=True)
class FetchOptions:
    """Where the cache is, how stale a ref may be served when storage cannot be reached
    (None: any age; ``offline_fallback`` False: never), and a progress callback."""

    cache_dir: str | os.PathLike[str] | None = None
    max_stale_secs: float | None = None
    offline_fallback: bool = True
    progress: _s3.Progress | None = None

    @classmethod
    def of(
        cls,
        cache_dir: object,
        max_stale_secs: object,
        offline_fallback: object,
        progress: _s3.Progress | None,
    ) -> FetchOptions:
        if cache_dir is not None and not isinstance(cache_dir, str | os.PathLike):
            raise TypeError("cache_dir must be a path (str or os.PathLike) or None")
        return cls(cache_dir, check_max_stale(max_stale_secs), bool(offline_fallback), progress)


class Consumer:
    """Fetch, signed URLs and the cheap alias check, over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------ fetch
    def fetch(self, bsm: BotoSesManager, wanted: Wanted, options: FetchOptions) -> pathlib.Path:
        """The path of the verified bytes ``wanted`` names, in the local cache."""
        cache = _cache.Cache(options.cache_dir)
        refs = cache.refs(self.engine.cache_identity())
        known = refs.read(wanted.name, wanted.kind, wanted.label)
        if offline():
            return self._offline(cache, wanted, known)
        try:
            ref, path = self._online(bsm, cache, wanted, known, options)
        except EndpointUnreachableError as error:
            return self._stale(cache, wanted, known, error, options)
        if ref is not known:  # a cached version number: nothing new to record
            refs.write(wanted.name, wanted.kind, wanted.label, ref)
        return path

    def _online(
        self,
        bsm: BotoSesManager,
        cache: _cache.Cache,
        wanted: Wanted,
        known: Ref | None,
        options: FetchOptions,
    ) -> tuple[Ref, pathlib.Path]:
        """Resolve and download. LATEST may be replaced between its read and the
        download (its bytes then hash to another sha256): resolved again, once."""
        for attempt in range(2):
            ref = self._resolve(bsm, wanted, known)
            target = route(ref, wanted)
            try:
                path = cache.blobs.ensure(
                    target, self._chunks(bsm, target), self._where(target), options.progress
                )
            except IntegrityError:
                if target.version != LATEST or attempt:
                    raise
                logger.debug("LATEST of %r changed while it was fetched; again", wanted.name)
                continue
            return ref, path
        raise AssertionError("unreachable")

    def _where(self, target: Target) -> str:
        return f"s3://{self.engine.layout.bucket}/{target.key}"

    def _chunks(self, bsm: BotoSesManager, target: Target) -> _cache.ChunkSource:
        bucket = self.engine.layout.bucket

        def chunks(start: int) -> Iterator[bytes]:
            s3 = self.engine.session(bsm).s3
            return _verified.object_chunks(s3, bucket, target.key, start)

        return chunks

    def _offline(self, cache: _cache.Cache, wanted: Wanted, known: Ref | None) -> pathlib.Path:
        if known is None:
            raise OfflineError(
                f"{wanted.describe()} is not in the local cache {cache.root}, and "
                f"{OFFLINE_VARIABLE} forbids asking storage: fetch it once online, or point "
                f"{_cache.CACHE_DIR_VARIABLE} at a cache that holds it"
            )
        path = cache.blobs.present(route(known, wanted))
        if path is None:
            raise OfflineError(
                f"{wanted.describe()} resolved to bytes the local cache {cache.root} no "
                f"longer holds (pruned or corrupted), and {OFFLINE_VARIABLE} forbids "
                "downloading them: fetch it once online"
            )
        return path

    def _stale(
        self,
        cache: _cache.Cache,
        wanted: Wanted,
        known: Ref | None,
        error: EndpointUnreachableError,
        options: FetchOptions,
    ) -> pathlib.Path:
        """Serve the last resolved ref when storage cannot be reached, if allowed."""
        if not options.offline_fallback or known is None:
            raise error
        age = max(0.0, _cache.now() - known.checked_at)
        if options.max_stale_secs is not None and age > options.max_stale_secs:
            raise OfflineError(
                f"storage cannot be reached ({error}), and the cached {wanted.describe()} "
                f"was last confirmed {_model.describe_seconds(int(age))} ago, more than "
                f"max_stale_secs={options.max_stale_secs:g} allows"
            ) from error
        target = route(known, wanted)
        path = cache.blobs.present(target)
        if path is None:
            raise error
        warnings.warn(
            StaleCacheWarning(
                f"storage cannot be reached ({error}); serving the cached "
                f"{wanted.describe()} (version {target.version}), last confirmed "
                f"{_model.describe_seconds(int(age))} ago"
            ),
            stacklevel=4,
        )
        return path

    # ------------------------------------------------------------ resolution
    def _resolve(self, bsm: BotoSesManager, wanted: Wanted, known: Ref | None) -> Ref:
        if wanted.alias is None:
            if known is not None and wanted.version != LATEST:
                return known  # a published version never changes: 0 requests
            record = self._version(bsm, wanted.name, wanted.version, checked=known is None)
            return Ref(self._target(bsm, record), revision=record.sha256, checked_at=_cache.now())
        if known is None:
            return self._alias_ref(bsm, self.engine.get_alias(bsm, wanted.name, wanted.alias), None)
        poll = self.engine.poll_alias(bsm, wanted.name, wanted.alias, known.revision)
        if poll.changed:
            if poll.record is None:
                raise AliasNotFoundError(f"artifact {wanted.name!r} has no alias {wanted.alias!r}")
            return self._alias_ref(bsm, poll.record, known)
        targets = [self._fresh(bsm, wanted.name, target) for target in known.targets]
        return dataclasses.replace(
            known,
            primary=targets[0],
            secondary=targets[1] if len(targets) > 1 else None,
            checked_at=_cache.now(),
        )

    def _fresh(self, bsm: BotoSesManager, name: str, target: Target) -> Target:
        """The target as stored now: read again only when it is LATEST (mutable)."""
        if target.version != LATEST:
            return target
        return self._target(bsm, self._version(bsm, name, LATEST, checked=False))

    def _alias_ref(self, bsm: BotoSesManager, record: AliasRecord, known: Ref | None) -> Ref:
        """A ref of the alias ``record``; targets the old ref already holds are reused."""
        held = {t.version: t for t in (known.targets if known else []) if t.version != LATEST}
        targets = []
        for version in record.targets:
            label = _model.version_str(version)
            if label in held:
                targets.append(held[label])
            else:
                found = self._version(bsm, record.name, version, checked=known is None)
                targets.append(self._target(bsm, found))
        return Ref(
            primary=targets[0],
            secondary=targets[1] if len(targets) > 1 else None,
            weight=record.secondary_version_weight,
            revision=record.fingerprint,
            checked_at=_cache.now(),
        )

    def _version(
        self, bsm: BotoSesManager, name: str, version: VersionId, *, checked: bool
    ) -> VersionRecord:
        """One version's record: through the engine's checked read the first time, the
        layout's plain read once a ref vouches for the repository."""
        if checked:
            return self.engine.get_version(bsm, name, version)
        record = self.engine.layout.get_version(self.engine.session(bsm), name, version)
        if record is None:
            return self.engine.get_version(bsm, name, version)  # raises ArtifactNotFoundError
        return record

    def _target(self, bsm: BotoSesManager, record: VersionRecord) -> Target:
        size = record.size
        if size is None:  # not recorded (an item another client wrote): ask the object
            info = _s3.head(self.engine.session(bsm).s3, self.engine.layout.bucket, record.key)
            size = 0 if info is None else info.size
        return Target(_model.version_str(record.version), record.sha256, size, record.key)

    # ------------------------------------------------------------ watch
    def watch(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        on_change: Callable[[Any], object],
        convert: Callable[[AliasRecord], Any],
        interval_secs: float,
        on_error: Callable[[BaseException], object] | None,
    ) -> Watcher:
        """Read the alias now (AliasNotFoundError when missing), then poll it in a daemon
        thread; see :class:`versioned._watch.Watcher`."""
        baseline = self.engine.get_alias(bsm, name, alias)

        def poll(revision: str | None) -> AliasPoll:
            return self.engine.poll_alias(bsm, name, alias, revision)

        watcher = Watcher(poll, baseline, on_change, convert, interval_secs, on_error)
        return watcher.start()

    # ------------------------------------------------------------ signed URLs
    def url(self, bsm: BotoSesManager, wanted: Wanted, expires_secs: object) -> SignedURL:
        """A presigned GET of the version ``wanted`` resolves to. Requests: 1 for a version
        (its record), 2 for an alias (the alias, the version); the signing sends none."""
        if isinstance(expires_secs, bool) or not isinstance(expires_secs, int | float):
            raise TypeError("expires_secs must be a number of seconds")
        if not 1 <= expires_secs <= MAX_URL_SECS:
            raise ValidationError(f"expires_secs must be within 1..{MAX_URL_SECS} (7 days)")
        version = wanted.version
        if wanted.alias is not None:
            alias = self.engine.get_alias(bsm, wanted.name, wanted.alias)
            version = alias.version
            if wanted.key is not None:
                version = _model.route_by_key(
                    alias.version,
                    alias.secondary_version,
                    alias.secondary_version_weight,
                    wanted.key,
                    name=wanted.name,
                    alias=wanted.alias,
                )
        record = self.engine.get_version(bsm, wanted.name, version)
        session = self.engine.session(bsm)
        seconds = int(expires_secs)
        signed = _verified.presigned_get(session.s3, self.engine.layout.bucket, record.key, seconds)
        return SignedURL(
            url=signed,
            name=record.name,
            version=_model.version_str(record.version),
            sha256=record.sha256,
            size=record.size,
            expires_at=_model.utc_now() + timedelta(seconds=seconds),
        )
