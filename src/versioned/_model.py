"""Pure domain rules shared by both storage layouts: no I/O here.

Each rule lives in exactly one function: version parsing and encodings, name and alias
validation, the traffic-weight rule and weighted routing, timestamps, and which versions a
purge removes (and why the others stay).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from . import constants
from .exc import ArgumentTypeError, ValidationError, VersionLimitError

LATEST = constants.LATEST_VERSION

#: A normalised version: the int 1..999999, or "LATEST".
VersionId = int | str

RESERVED_METADATA_KEYS = frozenset(
    {
        constants.METADATA_KEY_ARTIFACT_SHA256,
        constants.METADATA_KEY_ARTIFACT_NAME,
        constants.METADATA_KEY_UPDATE_AT,
    }
)


# ---------------------------------------------------------------- names
def validate_artifact_name(name: object) -> str:
    """Return ``name`` if it is a valid artifact name, else raise ValidationError/TypeError.

    Valid: a non-empty ASCII str of at most 128 characters, without "/", "\\" or control
    characters, not "." or "..", and not starting with "__" (reserved for alias keys).
    """
    if not isinstance(name, str):
        raise TypeError(f"artifact name must be a str, got {type(name).__name__}")
    problem = artifact_name_problem(name)
    if problem:
        raise ValidationError(problem)
    return name


def artifact_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid artifact name, or None when it is."""
    if not name:
        return "artifact name must not be empty"
    if len(name) > constants.MAX_ARTIFACT_NAME_LENGTH:
        return (
            f"artifact name is {len(name)} characters long; "
            f"the limit is {constants.MAX_ARTIFACT_NAME_LENGTH}"
        )
    if name in (".", ".."):
        return f"artifact name {name!r} is not allowed"
    if "/" in name or "\\" in name:
        return f"artifact name {name!r} must not contain '/' or '\\'"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return f"artifact name {name!r} must not contain control characters"
    if not name.isascii():
        return (
            f"artifact name {name!r} must be ASCII (it is stored in S3 object metadata, "
            "which only holds ASCII)"
        )
    if name.startswith("__"):
        return f"artifact name {name!r} must not start with '__' (reserved)"
    return None


def is_artifact_name(name: str) -> bool:
    return artifact_name_problem(name) is None


def validate_alias_name(alias: object) -> str:
    """Return ``alias`` if valid: starts with a letter; letters, digits and '_' only; not
    "LATEST"; at most 64 characters. Hyphens are refused (the DynamoDB layout's rule)."""
    if not isinstance(alias, str):
        raise TypeError(f"alias must be a str, got {type(alias).__name__}")
    problem = alias_name_problem(alias)
    if problem:
        raise ValidationError(problem)
    return alias


def alias_name_problem(alias: str) -> str | None:
    """Why ``alias`` is not a valid alias name, or None when it is."""
    if not alias:
        return "alias must not be empty"
    if alias == LATEST:
        return "alias cannot be 'LATEST' (it names the mutable version)"
    if "-" in alias:
        return f"alias {alias!r} must not contain '-'; use '_' instead"
    if not alias[0].isascii() or not alias[0].isalpha():
        return f"alias {alias!r} must start with a letter"
    if len(alias) > constants.MAX_ALIAS_NAME_LENGTH:
        return f"alias {alias!r} is longer than {constants.MAX_ALIAS_NAME_LENGTH}"
    if not all(ch.isascii() and (ch.isalnum() or ch == "_") for ch in alias):
        return f"alias {alias!r} may only hold letters, digits and '_'"
    return None


def is_alias_name(alias: str) -> bool:
    return alias_name_problem(alias) is None


# ---------------------------------------------------------------- versions
def parse_version(version: object, *, allow_latest: bool = True) -> VersionId:
    """Normalise a user-given version: None/"LATEST" -> "LATEST", 3/"3"/"000003" -> 3."""
    if version is None or version == LATEST:
        if not allow_latest:
            raise ValidationError("this operation needs a published version number, not LATEST")
        return LATEST
    if isinstance(version, bool):
        raise TypeError("version must be an int, a digit string or 'LATEST', not a bool")
    if isinstance(version, int):
        number = version
    elif isinstance(version, str):
        if not version.isascii() or not version.isdigit():
            raise ValidationError(f"version {version!r} is neither 'LATEST' nor a number")
        number = int(version)
    else:
        raise TypeError(f"version must be an int or str, got {type(version).__name__}")
    if not 1 <= number <= constants.MAX_VERSION:
        raise ValidationError(f"version {number} is outside 1..{constants.MAX_VERSION}")
    return number


def version_str(version: VersionId) -> str:
    """The public string form of a normalised version: "LATEST" or "7"."""
    return LATEST if version == LATEST else str(int(version))


def zfill_version(version: VersionId) -> str:
    """The six-digit form used in DynamoDB sort keys and S3 keys: "LATEST" or "000007"."""
    return LATEST if version == LATEST else str(int(version)).zfill(constants.VERSION_ZFILL)


def parse_zfilled(text: str) -> VersionId | None:
    """Inverse of :func:`zfill_version` for exact encodings only; None otherwise."""
    if text == LATEST:
        return LATEST
    if len(text) == constants.VERSION_ZFILL and text.isascii() and text.isdigit():
        number = int(text)
        if 1 <= number <= constants.MAX_VERSION:
            return number
    return None


def encode_filename(version: int | str | None) -> str:
    """S3-only layout: the file stem of a version, sorting newest first.

    >>> encode_filename(None), encode_filename(1), encode_filename(2)
    ('000000_LATEST', '999999_000001', '999998_000002')
    """
    parsed = parse_version(version)
    if parsed == LATEST:
        return "000000_LATEST"
    number = int(parsed)
    return f"{constants.MAX_VERSION + 1 - number:06d}_{number:06d}"


def parse_filename(stem: str) -> VersionId | None:
    """The version an exact S3-only file stem names, or None for anything else.

    >>> parse_filename("999998_000002"), parse_filename("999998_000002-copy")
    (2, None)
    """
    if stem == "000000_LATEST":
        return LATEST
    head, sep, tail = stem.partition("_")
    if not (sep and len(head) == 6 and len(tail) == 6 and (head + tail).isascii()):
        return None
    if not (head.isdigit() and tail.isdigit()):
        return None
    number = int(tail)
    if not 1 <= number <= constants.MAX_VERSION or int(head) != constants.MAX_VERSION + 1 - number:
        return None
    return number


def decode_filename(filename: str) -> str:
    """Inverse of :func:`encode_filename` (the seed's public helper).

    >>> decode_filename("999998_000002")
    '2'
    """
    base = filename.rsplit("/", 1)[-1]
    stem, extension = base[:13], base[13:]  # a suffix such as ".bin" may follow the stem
    parsed = parse_filename(stem) if not extension or extension.startswith(".") else None
    if parsed is None:
        raise ValidationError(f"{filename!r} is not a versioned file name")
    return version_str(parsed)


def next_version(high_water_mark: int) -> int:
    """The number a publish creates after ``high_water_mark``; refuses to pass 999999."""
    number = high_water_mark + 1
    if number > constants.MAX_VERSION:
        raise VersionLimitError(
            f"version {constants.MAX_VERSION} was already handed out; no higher version can be "
            "published. Purge the artifact or use a new artifact name."
        )
    return number


# ---------------------------------------------------------------- aliases
@dataclasses.dataclass(frozen=True)
class AliasTarget:
    """A validated alias routing rule."""

    version: VersionId
    secondary_version: int | None
    secondary_version_weight: int | None

    @property
    def versions(self) -> list[VersionId]:
        """The versions this rule routes to (primary first)."""
        if self.secondary_version is None:
            return [self.version]
        return [self.version, self.secondary_version]


def validate_alias_target(
    version: object, secondary_version: object, secondary_version_weight: object
) -> AliasTarget:
    """Check an alias's routing rule: weight is an int in 0..99 (bool refused), given
    exactly when a secondary version is, and the two versions differ. A missing or
    non-int weight is a TypeError, as in the seed's library."""
    primary = parse_version(version)
    if secondary_version is None:
        if secondary_version_weight is not None:
            raise ValidationError("secondary_version_weight needs a secondary_version")
        return AliasTarget(primary, None, None)
    secondary = parse_version(secondary_version)
    if secondary == LATEST:
        raise ValidationError("secondary_version must be a published version, not LATEST")
    if isinstance(secondary_version_weight, bool) or not isinstance(secondary_version_weight, int):
        raise ArgumentTypeError(
            "secondary_version needs secondary_version_weight, an int in 0..99; got "
            f"{secondary_version_weight!r}"
        )
    if not 0 <= secondary_version_weight <= 99:
        raise ValidationError(
            f"secondary_version_weight must be in 0..99, got {secondary_version_weight}"
        )
    if secondary == primary:
        raise ValidationError(
            f"version and secondary_version are both {version_str(primary)}; they must differ"
        )
    return AliasTarget(primary, int(secondary), secondary_version_weight)


def stored_target(version: object, secondary: object, weight: object) -> AliasTarget:
    """The routing rule of a stored alias record; ValueError/TypeError when the record
    does not hold a valid one (an empty secondary version counts as none)."""
    primary = parse_version(version)
    if secondary in (None, ""):
        return AliasTarget(primary, None, None)
    number = int(parse_version(secondary, allow_latest=False))
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 99:
        raise ValueError(f"secondary_version_weight {weight!r} is not an int in 0..99")
    return AliasTarget(primary, number, weight)


def choose_weighted(
    primary: str, secondary: str | None, weight: int | None, rng: random.Random | None = None
) -> str:
    """Pick ``secondary`` with probability weight/100, else ``primary``."""
    if secondary is None or not weight:
        return primary
    draw = (rng or random).randint(1, 100)
    return secondary if draw <= weight else primary


def route_by_key(
    primary: VersionId,
    secondary: int | None,
    weight: int | None,
    key: str,
    *,
    name: str,
    alias: str,
) -> VersionId:
    """The routing rule for a ``key`` (sticky routing). The sha256 of the artifact, the
    alias, the secondary version and the key (never ``hash()``: the same in every
    process, machine and Python version), read as a number modulo 100, is the key's
    slot; slots below ``weight`` get ``secondary``. Raising the weight only moves keys
    from primary to secondary (5 -> 25 -> 50 moves none back); another secondary version
    (a new canary) draws a fresh sample of keys."""
    if secondary is None or not weight:
        return primary
    material = json.dumps([name, alias, int(secondary), key], ensure_ascii=False)
    digest = hashlib.sha256(material.encode("utf-8")).digest()
    slot = int.from_bytes(digest[:8], "big") % 100
    return secondary if slot < weight else primary


# ---------------------------------------------------------------- time
def utc_now() -> datetime:
    return datetime.now(UTC)


def whole_seconds(moment: datetime) -> datetime:
    """``moment`` in UTC, truncated to the second (the precision S3's HEAD reports)."""
    return moment.astimezone(UTC).replace(microsecond=0)


def format_dynamodb_time(moment: datetime) -> str:
    """PynamoDB's UTCDateTimeAttribute form: '2025-06-26T23:57:20.123456+0000'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f%z")


def parse_time(text: str) -> datetime:
    """Parse an ISO-8601 / PynamoDB timestamp into an aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# ---------------------------------------------------------------- retention
def check_retention_args(keep_last_n: object, purge_older_than_secs: object) -> None:
    if isinstance(keep_last_n, bool) or not isinstance(keep_last_n, int):
        raise TypeError(f"keep_last_n must be an int, got {type(keep_last_n).__name__}")
    if isinstance(purge_older_than_secs, bool) or not isinstance(
        purge_older_than_secs, int | float
    ):
        raise TypeError(
            f"purge_older_than_secs must be a number, got {type(purge_older_than_secs).__name__}"
        )
    for label, value in (
        ("keep_last_n", keep_last_n),
        ("purge_older_than_secs", purge_older_than_secs),
    ):
        if value != value:  # NaN compares false with everything: no age it could mean
            raise ValidationError(f"{label} must be a number, got {value}")
        if value < 0:
            raise ValidationError(f"{label} must be >= 0, got {value}")


@dataclasses.dataclass(frozen=True)
class RetentionDecision:
    """Which published versions a purge removes (newest first) and why each other stays."""

    remove: list[int]
    keep: dict[int, str]


def decide_retention(
    versions: Iterable[tuple[int, datetime]],
    *,
    keep_last_n: int,
    purge_older_than_secs: float,
    now: datetime,
    alias_users: Mapping[int, list[str]],
    rollout_users: Mapping[int, list[str]] | None = None,
) -> RetentionDecision:
    """A version goes only if it is not among the newest ``keep_last_n``, is older than
    ``purge_older_than_secs`` and no alias points at it nor running rollout names it.
    LATEST is never a candidate."""
    ordered = sorted(versions, key=lambda pair: pair[0], reverse=True)
    try:
        threshold = now - timedelta(seconds=purge_older_than_secs)
    except OverflowError:  # older than datetime can say (inf: "never by age"): none is
        threshold = datetime.min.replace(tzinfo=UTC)
    remove: list[int] = []
    keep: dict[int, str] = {}
    for index, (number, updated) in enumerate(ordered):
        users = alias_users.get(number)
        rollouts = (rollout_users or {}).get(number)
        if users:
            keep[number] = "alias " + ", ".join(sorted(users))
        elif rollouts:  # "rollout prod": a running rollout's start or target
            keep[number] = ", ".join(sorted(set(rollouts)))
        elif index < keep_last_n:
            keep[number] = f"among the newest {keep_last_n}"
        elif updated >= threshold:
            keep[number] = f"younger than {describe_seconds(purge_older_than_secs)}"
        else:
            remove.append(number)
    return RetentionDecision(remove, keep)


def describe_seconds(seconds: float) -> str:
    """'90 days', '2 hours', '45 seconds': the largest unit that divides evenly."""
    if seconds == float("inf"):
        return "forever"
    whole = int(seconds)
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if whole and whole % size == 0:
            count = whole // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} second{'s' if seconds != 1 else ''}"


def alias_users(aliases: Iterable[tuple[str, Iterable[VersionId]]]) -> dict[int, list[str]]:
    """{published version: [aliases routing to it]} from (alias, targets) pairs."""
    users: dict[int, list[str]] = {}
    for alias, targets in aliases:
        for target in targets:
            if target != LATEST:
                users.setdefault(int(target), []).append(alias)
    return users


# ---------------------------------------------------------------- put arguments
def check_user_metadata(metadata: object) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict of str to str, got {type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("metadata keys and values must be str")
        if key.lower() in RESERVED_METADATA_KEYS:
            raise ValidationError(f"metadata key {key!r} is reserved by versioned")
        if not key or not key.isascii() or not value.isascii():
            raise ValidationError(
                f"metadata {key!r}: S3 metadata keys (non-empty) and values must be ASCII"
            )
    return {str(key): str(value) for key, value in metadata.items()}


def check_tags(tags: object) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise TypeError(f"tags must be a dict of str to str, got {type(tags).__name__}")
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("tag keys and values must be str")
    if len(tags) > 10:
        raise ValidationError("S3 allows at most 10 tags per object")
    return {str(key): str(value) for key, value in tags.items()}


def check_content_type(content_type: object) -> str | None:
    if content_type is not None and not isinstance(content_type, str):
        raise TypeError("content_type must be a str")
    return content_type or None
