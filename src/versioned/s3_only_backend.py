"""The S3-only layout: bytes, metadata and aliases all live in S3.

Layout under ``s3://{bucket}/{prefix}/{name}/``::

    versions/000000_LATEST{suffix}     LATEST (mutable)
    versions/999999_000001{suffix}     version 1 (newest versions list first)
    aliases/{alias}.json               alias routing rule

Every method takes the boto session (``bsm``) as its first argument. Writes that create a
version are conditional (``If-None-Match: *``), so concurrent publishers never share a
number; see docs/design.md for the request budget of each call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from . import _model, _s3
from . import constants as C
from ._model import decode_filename, encode_filename, validate_alias_name
from ._objects import AliasMethods, ArtifactMethods
from ._repository import RepositoryBase, object_metadata
from .exc import (
    AliasNotFoundError,
    ArtifactNotFoundError,
    ConcurrentModificationError,
    ContentionError,
    IntegrityError,
    ValidationError,
    VersionInUseError,
)
from .verify import Problem, VerifyReport

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

__all__ = [
    "Alias",
    "Artifact",
    "Repository",
    "decode_filename",
    "encode_filename",
    "validate_alias_name",
]

OPT: Any = None  # the seed's "not given" default for content_type / metadata / tags
PUBLISH_ATTEMPTS = 50


@dataclasses.dataclass
class Artifact(ArtifactMethods):
    """One version of an artifact. ``version`` is "LATEST" or "1", "2", ...;
    ``update_at`` is an ISO-8601 UTC string."""

    name: str
    version: str
    update_at: str
    s3uri: str
    sha256: str

    @property
    def update_datetime(self) -> datetime:
        return _model.parse_time(self.update_at)


@dataclasses.dataclass
class Alias(AliasMethods):
    """A named pointer to a version, optionally sending ``secondary_version_weight``% of
    traffic to ``secondary_version``. ``revision`` changes on every write (pass it back as
    ``expected_revision`` for optimistic concurrency)."""

    name: str
    alias: str
    update_at: str
    version: str
    secondary_version: str | None
    secondary_version_weight: int | None
    version_s3uri: str
    secondary_version_s3uri: str | None
    revision: str | None = None

    @property
    def update_datetime(self) -> datetime:
        return _model.parse_time(self.update_at)


@dataclasses.dataclass
class Repository(RepositoryBase):
    """An S3-only artifact repository rooted at ``s3://{s3_bucket}/{s3_prefix}/``.

    ``multipart_threshold``, ``part_size``, ``max_workers`` and ``single_copy_limit`` tune
    large transfers.
    """

    aws_region: str
    s3_bucket: str
    s3_prefix: str = C.S3_PREFIX
    suffix: str = ""
    _: dataclasses.KW_ONLY
    multipart_threshold: int = 16 * _s3.MiB
    part_size: int = 8 * _s3.MiB
    max_workers: int = 6
    single_copy_limit: int = 5 * 1024 * _s3.MiB

    def __post_init__(self) -> None:
        self._check_settings()

    # ------------------------------------------------------------ layout (one place)
    def _versions_dir(self, name: str) -> str:
        return f"{self._artifact_dir(name)}versions/"

    def _version_key(self, name: str, version: int | str) -> str:
        return f"{self._versions_dir(name)}{encode_filename(version)}{self.suffix}"

    def _trash_key(self, name: str, version: int | str) -> str:
        """Where a version's bytes wait while its deletion checks the aliases."""
        return f"{self._artifact_dir(name)}trash/{encode_filename(version)}{self.suffix}"

    def _aliases_dir(self, name: str) -> str:
        return f"{self._artifact_dir(name)}aliases/"

    def _alias_key(self, name: str, alias: str) -> str:
        return f"{self._aliases_dir(name)}{alias}.json"

    def _uri(self, key: str) -> str:
        return f"s3://{self.s3_bucket}/{key}"

    def _version_from_key(self, name: str, key: str) -> str | None:
        rest = key[len(self._versions_dir(name)) :]
        if "/" in rest or (self.suffix and not rest.endswith(self.suffix)):
            return None
        try:
            return decode_filename(rest[: len(rest) - len(self.suffix)] if self.suffix else rest)
        except ValidationError:
            return None

    def _client(self, bsm: BotoSesManager) -> Any:
        return _s3.client(bsm, "s3")

    def _artifact(self, name: str, version: str, info: _s3.ObjectInfo) -> Artifact:
        update_at = info.metadata.get(C.METADATA_KEY_UPDATE_AT) or info.last_modified.isoformat()
        return Artifact(
            name=name,
            version=version,
            update_at=update_at,
            s3uri=self._uri(info.key),
            sha256=info.sha256 or "",
        )

    # ------------------------------------------------------------ bootstrap
    def bootstrap(self, bsm: BotoSesManager) -> None:
        """Create the bucket in ``aws_region`` if it does not exist. Idempotent."""
        _s3.ensure_bucket(self._client(bsm), self.s3_bucket, self.aws_region)

    # ------------------------------------------------------------ artifacts
    def put_artifact(
        self,
        bsm: BotoSesManager,
        name: str,
        content: Any,
        content_type: str = OPT,
        metadata: dict[str, str] = OPT,
        tags: dict[str, str] = OPT,
        progress: _s3.Progress | None = None,
    ) -> Artifact:
        """Write ``content`` (bytes-like, a path or a binary file) as LATEST.

        Unchanged content (same sha256 as LATEST) writes nothing and returns LATEST as it
        is. Requests: 1 (HEAD) when unchanged, 2 (HEAD, PUT) otherwise; multipart above
        the repository's threshold.
        """
        request = self._put_request(name, content, content_type, metadata, tags)
        source = request.source
        try:
            s3 = self._client(bsm)
            key = self._version_key(name, C.LATEST_VERSION)
            current = _s3.head(s3, self.s3_bucket, key)
            if current is not None and current.sha256 == source.sha256:
                if progress:
                    progress(source.size, source.size)
                return self._artifact(name, C.LATEST_VERSION, current)
            update_at = _model.utc_now().isoformat()
            try:
                _s3.put_source(
                    s3,
                    self.s3_bucket,
                    key,
                    source,
                    metadata=request.object_metadata(update_at),
                    content_type=request.content_type,
                    tags=request.tags,
                    transfer=self._transfer,
                    progress=progress,
                )
            except ClientError as error:
                raise _s3.backend_error(error, "PUT", self.s3_bucket, key) from error
        finally:
            source.close()
        return Artifact(name, C.LATEST_VERSION, update_at, self._uri(key), source.sha256)

    def get_artifact_version(
        self, bsm: BotoSesManager, name: str, version: int | str | None = None
    ) -> Artifact:
        """One version (LATEST by default). 1 request. Raises ArtifactNotFoundError."""
        _model.validate_artifact_name(name)
        parsed = _model.parse_version(version)
        key = self._version_key(name, parsed)
        info = _s3.head(self._client(bsm), self.s3_bucket, key)
        if info is None:
            raise ArtifactNotFoundError(
                f"artifact {name!r} has no version {_model.version_str(parsed)} "
                f"in s3://{self.s3_bucket}/{self._root}"
            )
        return self._artifact(name, _model.version_str(parsed), info)

    def _list_version_keys(
        self, s3: Any, name: str, max_keys: int | None = None
    ) -> list[tuple[str, _s3.ListedObject]]:
        listed = _s3.list_objects(s3, self.s3_bucket, self._versions_dir(name), max_keys=max_keys)
        pairs = []
        for item in listed:
            version = self._version_from_key(name, item.key)
            if version is not None:
                pairs.append((version, item))
        return pairs

    def list_artifact_versions(self, bsm: BotoSesManager, name: str) -> list[Artifact]:
        """LATEST first, then published versions newest first. 1 LIST per 1000 versions plus
        one HEAD per version, sent in parallel."""
        _model.validate_artifact_name(name)
        s3 = self._client(bsm)
        pairs = self._list_version_keys(s3, name)
        infos = _s3.head_many(
            s3, self.s3_bucket, [item.key for _, item in pairs], _s3.FANOUT_WORKERS
        )
        return [
            self._artifact(name, version, info)
            for (version, _), info in zip(pairs, infos, strict=True)
            if info is not None
        ]

    def get_latest_published_artifact_version_number(self, bsm: BotoSesManager, name: str) -> int:
        """The newest published version number, 0 when none. 1 request."""
        _model.validate_artifact_name(name)
        for version, _ in self._list_version_keys(self._client(bsm), name, max_keys=2):
            if version != C.LATEST_VERSION:
                return int(version)
        return 0

    def publish_artifact_version(self, bsm: BotoSesManager, name: str) -> Artifact:
        """Snapshot LATEST as the next version number.

        When LATEST's sha256 equals the newest version's, that version is returned and
        nothing is written. The new version is created with a conditional write
        (If-None-Match), so two publishers never get the same number: the loser re-reads
        and retries. Requests: 2 when unchanged (LIST, HEAD), 3 when new (LIST, GET, PUT),
        more for objects above the multipart threshold (server-side multipart copy).
        Raises ArtifactNotFoundError without LATEST, ContentionError when retries run out.
        """
        _model.validate_artifact_name(name)
        s3 = self._client(bsm)
        for attempt in range(PUBLISH_ATTEMPTS):
            result = self._try_publish(s3, name)
            if result is not None:
                return result
            time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))
        raise ContentionError(
            f"publishing {name!r} lost the race for a version number {PUBLISH_ATTEMPTS} times "
            "to concurrent publishers; nothing was written. Retry later."
        )

    def _try_publish(self, s3: Any, name: str) -> Artifact | None:
        listed = self._list_version_keys(s3, name, max_keys=2)
        latest = next((item for v, item in listed if v == C.LATEST_VERSION), None)
        if latest is None:
            raise ArtifactNotFoundError(f"artifact {name!r} has no LATEST to publish")
        newest = next(((int(v), item) for v, item in listed if v != C.LATEST_VERSION), None)
        latest_info: _s3.ObjectInfo | None = None
        if newest is not None:
            number, item = newest
            same_md5 = item.etag == latest.etag and "-" not in item.etag
            if same_md5 or "-" in item.etag or "-" in latest.etag:
                # Equal single-part ETags mean equal MD5s; confirm by sha256 all the same.
                keys = [item.key] if same_md5 else [item.key, latest.key]
                infos = _s3.head_many(s3, self.s3_bucket, keys, 2)
                newest_info = infos[0]
                latest_info = infos[1] if len(infos) > 1 else None
                latest_sha = (
                    latest_info.sha256 if latest_info else newest_info and newest_info.sha256
                )
                if (
                    newest_info is not None
                    and newest_info.sha256
                    and (newest_info.sha256 == latest_sha)
                ):
                    return self._artifact(name, str(number), newest_info)
        number = _model.next_version(newest[0] if newest else None)
        key = self._version_key(name, number)
        try:
            if latest.size <= self.multipart_threshold:
                return self._publish_small(s3, name, latest.key, key, number)
            return self._publish_large(s3, name, latest, latest_info, key, number)
        except ClientError as error:
            if _s3.is_precondition_failed(error):
                return None  # another publisher took this number: re-read and retry
            if _s3.is_not_found(error):
                return None  # LATEST vanished mid-way (concurrent purge): re-read
            raise _s3.backend_error(error, "PUBLISH", self.s3_bucket, key) from error

    def _publish_small(
        self, s3: Any, name: str, latest_key: str, key: str, number: int
    ) -> Artifact | None:
        response = _s3.get_object(s3, self.s3_bucket, latest_key)
        if response is None:
            return None
        with _s3.translate("GET", self.s3_bucket, latest_key):
            data = response["Body"].read()
        metadata = {k.lower(): v for k, v in (response.get("Metadata") or {}).items()}
        sha = hashlib.sha256(data).hexdigest()
        recorded = metadata.get(C.METADATA_KEY_ARTIFACT_SHA256)
        if recorded and recorded != sha:
            raise IntegrityError(
                f"LATEST of {name!r} hashes to {sha[:12]}... but records {recorded[:12]}...: "
                "it was changed outside versioned. Put the artifact again before publishing."
            )
        update_at = _model.utc_now().isoformat()
        metadata = object_metadata(name, sha, update_at, metadata)
        extra: dict[str, Any] = {}
        if response.get("ContentType"):
            extra["ContentType"] = response["ContentType"]
        s3.put_object(
            Bucket=self.s3_bucket, Key=key, Body=data, Metadata=metadata, IfNoneMatch="*", **extra
        )
        return Artifact(name, str(number), update_at, self._uri(key), sha)

    def _publish_large(
        self,
        s3: Any,
        name: str,
        latest: _s3.ListedObject,
        latest_info: _s3.ObjectInfo | None,
        key: str,
        number: int,
    ) -> Artifact | None:
        info = latest_info or _s3.head(s3, self.s3_bucket, latest.key)
        if info is None or not info.sha256:
            return None
        update_at = _model.utc_now().isoformat()
        metadata = {**info.metadata, C.METADATA_KEY_UPDATE_AT: update_at}
        etag = _s3._multipart_copy(
            s3,
            self.s3_bucket,
            latest.key,
            key,
            info.size,
            self._transfer,
            info.etag,
            {"Metadata": metadata, "ContentType": info.content_type}
            if info.content_type
            else {"Metadata": metadata},
            True,
        )
        # CopySourceIfMatch protects the copy on AWS; re-check LATEST so that a store which
        # ignores it (moto) cannot leave bytes that disagree with the recorded sha256.
        after = _s3.head(s3, self.s3_bucket, latest.key)
        if after is None or after.etag != info.etag:
            _s3.delete(s3, self.s3_bucket, key, if_match=etag)
            return None
        return Artifact(name, str(number), update_at, self._uri(key), info.sha256)

    def delete_artifact_version(self, bsm: BotoSesManager, name: str, version: int | str) -> None:
        """Delete one published version's bytes. Deleting LATEST is refused, and so is a
        version an alias points at (VersionInUseError: move the alias first). A version
        that does not exist is fine."""
        _model.validate_artifact_name(name)
        parsed = int(_model.parse_version(version, allow_latest=False))
        self._retire(bsm, name, [parsed], strict=True)

    def _retire(
        self,
        bsm: BotoSesManager,
        name: str,
        numbers: list[int],
        *,
        strict: bool,
        sizes: dict[int, int] | None = None,
        aliases: list[Alias] | None = None,
    ) -> dict[int, str]:
        """Delete versions unless an alias uses them; returns {number: sha256} deleted.

        S3 has no transactions, so a deletion is write-then-read, as ``put_alias`` is:
        the bytes are first moved aside (to ``trash/``; the version is then absent for
        every reader), then the aliases are read; a version an alias has meanwhile been
        pointed at is moved back. ``put_alias`` checks its targets after writing, so one
        of the two always sees the other and no alias is left on deleted bytes.
        """
        s3 = self._client(bsm)
        in_use = self._alias_users(bsm, name, numbers, aliases)
        if in_use and strict:
            raise _in_use_error(name, in_use)
        doomed = [n for n in numbers if n not in in_use]
        moved = self._move(s3, name, doomed, to_trash=True, sizes=sizes)
        in_use = self._alias_users(bsm, name, list(moved))
        if in_use:  # an alias was pointed at a version while it was being deleted
            self._move(s3, name, list(in_use), to_trash=False)
        _s3.delete_many(s3, self.s3_bucket, [self._trash_key(name, n) for n in numbers])
        if in_use and strict:
            raise _in_use_error(name, in_use)
        return {n: sha for n, sha in moved.items() if n not in in_use}

    def _alias_users(
        self,
        bsm: BotoSesManager,
        name: str,
        numbers: list[int],
        aliases: list[Alias] | None = None,
    ) -> dict[int, list[str]]:
        """{version: aliases using it} for ``numbers`` (reads the aliases unless given)."""
        if not numbers:
            return {}
        wanted = set(numbers)
        users: dict[int, list[str]] = {}
        for alias in self.list_aliases(bsm, name) if aliases is None else aliases:
            for number in _alias_numbers(alias):
                if number in wanted:
                    users.setdefault(number, []).append(alias.alias)
        return users

    def _move(
        self,
        s3: Any,
        name: str,
        numbers: list[int],
        *,
        to_trash: bool,
        sizes: dict[int, int] | None = None,
    ) -> dict[int, str]:
        """Move versions to the trash (or back); returns {number: sha256} of what moved
        (the sha256 S3 computed while copying). Absent versions are skipped. Copies run in
        parallel (a HEAD first unless ``sizes`` are known), deletes are batched."""

        def move(number: int) -> tuple[int, str | None]:
            source, target = self._version_key(name, number), self._trash_key(name, number)
            if not to_trash:
                source, target = target, source
            info = None
            if sizes is not None and number in sizes and to_trash:
                size = sizes[number]
            else:
                info = _s3.head(s3, self.s3_bucket, source)
                if info is None:
                    return number, None
                size = info.size
            try:
                _, sha = _s3.copy_object(
                    s3, self.s3_bucket, source, target, size=size, transfer=self._transfer
                )
            except ClientError as error:
                if _s3.is_not_found(error):
                    return number, None
                raise _s3.backend_error(error, "COPY", self.s3_bucket, source) from error
            if sha is None:  # a multipart copy: S3 reports no whole-object checksum
                info = info or _s3.head(s3, self.s3_bucket, target)
                sha = info.sha256 if info else None
            return number, sha or ""

        if not numbers:
            return {}
        with ThreadPoolExecutor(max_workers=min(_s3.FANOUT_WORKERS, len(numbers))) as pool:
            moved = {n: sha for n, sha in pool.map(move, numbers) if sha is not None}
        if to_trash:
            _s3.delete_many(s3, self.s3_bucket, [self._version_key(name, n) for n in moved])
        return moved

    def list_artifact_names(self, bsm: BotoSesManager) -> list[str]:
        """Every artifact name in the repository, sorted. 1 request per 1000 names."""
        return sorted(_s3.list_folders(self._client(bsm), self.s3_bucket, self._root))

    # ------------------------------------------------------------ aliases
    def _alias_from_body(
        self, name: str, alias: str, body: bytes, etag: str, modified: datetime
    ) -> Alias:
        try:
            data = json.loads(body)
            version = _model.version_str(_model.parse_version(data["version"]))
            secondary = data.get("secondary_version")
            secondary_str = (
                None
                if secondary in (None, "")
                else _model.version_str(_model.parse_version(secondary))
            )
            weight = data.get("secondary_version_weight")
        except (ValueError, KeyError, TypeError) as error:
            raise ValidationError(
                f"alias {alias!r} of {name!r} is not a valid alias document: {error}"
            ) from error
        return Alias(
            name=name,
            alias=alias,
            update_at=data.get("update_at") or modified.isoformat(),
            version=version,
            secondary_version=secondary_str,
            secondary_version_weight=None if secondary_str is None else weight,
            version_s3uri=self._uri(self._version_key(name, version)),
            secondary_version_s3uri=(
                None if secondary_str is None else self._uri(self._version_key(name, secondary_str))
            ),
            revision=etag.strip('"'),
        )

    def put_alias(
        self,
        bsm: BotoSesManager,
        name: str,
        alias: str,
        version: int | str | None = None,
        secondary_version: int | str | None = None,
        secondary_version_weight: int | None = None,
        expected_revision: str | None = None,
    ) -> Alias:
        """Point ``alias`` at ``version`` (LATEST when None), optionally sending
        ``secondary_version_weight``% (0..99) of traffic to ``secondary_version``.

        Both versions must exist (ArtifactNotFoundError). With ``expected_revision``, the
        write succeeds only if the alias is still at that revision (else
        ConcurrentModificationError). Requests: 3 — check the targets (a HEAD, or one LIST
        over both), PUT, and check them again after writing, which is what keeps a
        concurrent delete or purge from leaving the alias on deleted bytes.
        """
        _model.validate_artifact_name(name)
        validate_alias_name(alias)
        target = _model.validate_alias_target(version, secondary_version, secondary_version_weight)
        if expected_revision is not None and not isinstance(expected_revision, str):
            raise TypeError("expected_revision must be a str")
        s3 = self._client(bsm)
        wanted = [target.version] + (
            [target.secondary_version] if target.secondary_version is not None else []
        )
        keys = [self._version_key(name, v) for v in wanted]
        self._require_versions(s3, name, alias, wanted, keys)
        update_at = _model.utc_now().isoformat()
        document = {
            "name": name,
            "alias": alias,
            "update_at": update_at,
            "version": _model.version_str(target.version),
            "secondary_version": (
                None if target.secondary_version is None else str(target.secondary_version)
            ),
            "secondary_version_weight": target.secondary_version_weight,
            "version_s3uri": self._uri(keys[0]),
            "secondary_version_s3uri": self._uri(keys[1]) if len(keys) > 1 else None,
        }
        body = json.dumps(document).encode()
        key = self._alias_key(name, alias)
        condition = {"IfMatch": _etag(expected_revision)} if expected_revision else {}
        try:
            response = s3.put_object(
                Bucket=self.s3_bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                **condition,
            )
        except ClientError as error:
            if expected_revision and (_s3.is_precondition_failed(error) or _s3.is_not_found(error)):
                raise ConcurrentModificationError(
                    f"alias {alias!r} of {name!r} changed since revision {expected_revision}; "
                    "read it again and retry"
                ) from error
            raise _s3.backend_error(error, "PUT", self.s3_bucket, key) from error
        etag = response["ETag"]
        try:
            # Read after write: a concurrent delete/purge either saw this alias (and kept
            # the versions) or removed them before this check, which then undoes the write.
            self._require_versions(s3, name, alias, wanted, keys)
        except ArtifactNotFoundError:
            with contextlib.suppress(ClientError):
                _s3.delete(s3, self.s3_bucket, key, if_match=etag)
            raise
        return self._alias_from_body(name, alias, body, etag, _model.utc_now())

    def _require_versions(
        self, s3: Any, name: str, alias: str, wanted: list[int | str], keys: list[str]
    ) -> None:
        """Raise ArtifactNotFoundError unless every key exists (1 request: a HEAD for one
        key, a LIST over the key range for two)."""
        if len(keys) == 1:
            present = {keys[0]} if _s3.head(s3, self.s3_bucket, keys[0]) else set()
        else:
            listed = _s3.list_objects(
                s3,
                self.s3_bucket,
                self._versions_dir(name),
                max_keys=1000,
                start_after=min(keys)[:-1],
            )
            present = {item.key for item in listed} & set(keys)
            for key in set(keys) - present:
                if len(listed) >= 1000 and _s3.head(s3, self.s3_bucket, key):
                    present.add(key)
        for version, key in zip(wanted, keys, strict=True):
            if key not in present:
                raise ArtifactNotFoundError(
                    f"artifact {name!r} has no version {_model.version_str(version)}; "
                    f"alias {alias!r} was not changed"
                )

    def get_alias(self, bsm: BotoSesManager, name: str, alias: str) -> Alias:
        """One alias. 1 request. Raises AliasNotFoundError."""
        _model.validate_artifact_name(name)
        validate_alias_name(alias)
        return self._read_alias(self._client(bsm), name, alias)

    def _read_alias(self, s3: Any, name: str, alias: str) -> Alias:
        key = self._alias_key(name, alias)
        response = _s3.get_object(s3, self.s3_bucket, key)
        if response is None:
            raise AliasNotFoundError(f"artifact {name!r} has no alias {alias!r}")
        with _s3.translate("GET", self.s3_bucket, key):
            body = response["Body"].read()
        return self._alias_from_body(name, alias, body, response["ETag"], response["LastModified"])

    def list_aliases(self, bsm: BotoSesManager, name: str) -> list[Alias]:
        """Every alias of ``name``, sorted by alias name. 1 LIST + 1 GET per alias
        (in parallel)."""
        _model.validate_artifact_name(name)
        s3 = self._client(bsm)
        directory = self._aliases_dir(name)
        names = [
            item.key[len(directory) : -len(".json")]
            for item in _s3.list_objects(s3, self.s3_bucket, directory)
            if item.key.endswith(".json") and "/" not in item.key[len(directory) :]
        ]

        def read(alias: str) -> Alias | None:
            try:
                return self._read_alias(s3, name, alias)
            except (AliasNotFoundError, ValidationError):
                return None

        if len(names) <= 1:
            found = [read(alias) for alias in names]
        else:
            with ThreadPoolExecutor(max_workers=min(_s3.FANOUT_WORKERS, len(names))) as pool:
                found = list(pool.map(read, names))
        return [alias for alias in found if alias is not None]

    def delete_alias(
        self, bsm: BotoSesManager, name: str, alias: str, expected_revision: str | None = None
    ) -> None:
        """Delete an alias; a missing alias is fine unless ``expected_revision`` is given
        (then any change since that revision raises ConcurrentModificationError)."""
        _model.validate_artifact_name(name)
        validate_alias_name(alias)
        key = self._alias_key(name, alias)
        try:
            _s3.delete(
                self._client(bsm),
                self.s3_bucket,
                key,
                if_match=_etag(expected_revision) if expected_revision else None,
            )
        except ClientError as error:
            raise ConcurrentModificationError(
                f"alias {alias!r} of {name!r} changed since revision {expected_revision}; "
                "read it again and retry"
            ) from error

    # ------------------------------------------------------------ lifecycle
    def purge_artifact_versions(
        self,
        bsm: BotoSesManager,
        name: str,
        keep_last_n: int = C.DEFAULT_KEEP_LAST_N,
        purge_older_than_secs: int = C.DEFAULT_PURGE_OLDER_THAN_SECS,
    ) -> tuple[datetime, list[Artifact]]:
        """Delete published versions that are not among the newest ``keep_last_n``, are
        older than ``purge_older_than_secs`` and are not an alias's target. LATEST always
        stays. Returns (purge time, deleted versions). Age is the object's LastModified.
        Requests: one LIST and the aliases (in parallel), one server-side copy per deleted
        version to ``trash/`` (in parallel; see ``_retire``), the aliases again, and two
        batched deletes: no request per kept version."""
        _model.validate_artifact_name(name)
        _model.check_retention_args(keep_last_n, purge_older_than_secs)
        purge_time = _model.utc_now()
        s3 = self._client(bsm)
        with ThreadPoolExecutor(max_workers=2) as pool:
            listed_future = pool.submit(self._list_version_keys, s3, name)
            aliases_future = pool.submit(self.list_aliases, bsm, name)
            listed, aliases = listed_future.result(), aliases_future.result()
        published = {int(v): item for v, item in listed if v != C.LATEST_VERSION}
        doomed = _model.select_versions_to_purge(
            [(number, item.last_modified) for number, item in published.items()],
            keep_last_n=keep_last_n,
            purge_older_than_secs=purge_older_than_secs,
            now=purge_time,
            protected=[n for alias in aliases for n in _alias_numbers(alias)],
        )
        deleted = self._retire(
            bsm,
            name,
            doomed,
            strict=False,
            sizes={n: published[n].size for n in doomed},
            aliases=aliases,
        )
        return purge_time, [
            Artifact(
                name=name,
                version=str(n),
                update_at=published[n].last_modified.isoformat(),
                s3uri=self._uri(published[n].key),
                sha256=deleted[n],
            )
            for n in doomed
            if n in deleted
        ]

    def purge_artifact(self, bsm: BotoSesManager, name: str) -> None:
        """Delete every version and alias of ``name``. Irreversible."""
        _model.validate_artifact_name(name)
        _s3.delete_prefix(self._client(bsm), self.s3_bucket, self._artifact_dir(name))

    def purge_all(self, bsm: BotoSesManager) -> None:
        """Delete every artifact under the repository's prefix. Irreversible."""
        _s3.delete_prefix(self._client(bsm), self.s3_bucket, self._root)

    # ------------------------------------------------------------ verification
    def verify(self, bsm: BotoSesManager, name: str | None = None) -> VerifyReport:
        """Walk the repository (or one artifact) and report every inconsistency: objects
        that are not part of the layout, versions whose bytes do not hash to their recorded
        sha256 (or record none), and aliases pointing at missing versions."""
        s3 = self._client(bsm)
        names = [_model.validate_artifact_name(name)] if name else self.list_artifact_names(bsm)
        report = VerifyReport()
        for artifact_name in names:
            self._verify_artifact(s3, bsm, artifact_name, report)
        return report

    def _verify_artifact(
        self, s3: Any, bsm: BotoSesManager, name: str, report: VerifyReport
    ) -> None:
        base = self._artifact_dir(name)
        aliases_dir = self._aliases_dir(name)
        version_keys: list[tuple[str, str]] = []
        for item in _s3.list_objects(s3, self.s3_bucket, base):
            version = (
                self._version_from_key(name, item.key)
                if item.key.startswith(self._versions_dir(name))
                else None
            )
            if version is not None:
                version_keys.append((version, item.key))
            elif not (
                item.key.startswith(aliases_dir)
                and item.key.endswith(".json")
                and "/" not in item.key[len(aliases_dir) :]
            ):
                report.add(Problem("orphan_object", name, item.key, "not part of the layout"))

        def check(pair: tuple[str, str]) -> Problem | None:
            version, key = pair
            response = _s3.get_object(s3, self.s3_bucket, key)
            if response is None:
                return None
            digest = hashlib.sha256()
            with _s3.translate("GET", self.s3_bucket, key):
                for chunk in response["Body"].iter_chunks(_s3.CHUNK):
                    digest.update(chunk)
            recorded = _s3._object_sha(response)
            if not recorded:
                return Problem("missing_sha256", name, key, f"version {version} records no sha256")
            if recorded != digest.hexdigest():
                return Problem(
                    "sha256_mismatch",
                    name,
                    key,
                    f"version {version} records {recorded[:12]}..., bytes hash to "
                    f"{digest.hexdigest()[:12]}...",
                )
            return None

        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            for problem in pool.map(check, version_keys):
                if problem:
                    report.add(problem)
        present = {version for version, _ in version_keys}
        for alias in self.list_aliases(bsm, name):
            for target in [alias.version] + (
                [alias.secondary_version] if alias.secondary_version else []
            ):
                if target not in present:
                    report.add(
                        Problem(
                            "dangling_alias",
                            name,
                            self._alias_key(name, alias.alias),
                            f"alias {alias.alias!r} points at missing version {target}",
                        )
                    )


def _in_use_error(name: str, users: dict[int, list[str]]) -> VersionInUseError:
    described = "; ".join(
        f"version {number} by alias(es) {', '.join(sorted(aliases))}"
        for number, aliases in sorted(users.items())
    )
    return VersionInUseError(
        f"artifact {name!r}: {described} is in use; point the alias(es) elsewhere first"
    )


def _etag(revision: str) -> str:
    """An alias revision is its object's ETag without the quotes HTTP puts around it."""
    return revision if revision.startswith('"') else f'"{revision}"'


def _alias_numbers(alias: Alias) -> list[int]:
    """The published version numbers an alias routes to."""
    return [
        int(v)
        for v in (alias.version, alias.secondary_version)
        if v is not None and v != C.LATEST_VERSION
    ]
