"""Pure domain rules shared by both storage layouts: no I/O here.

Each rule lives in exactly one function: version parsing and encodings, name and alias
validation, the traffic-weight rule and weighted routing, timestamps, and which versions a
purge removes.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from . import constants as C
from .exc import ValidationError

Version = int | str  # "LATEST" or a published number; the normalised form is "LATEST" or int

RESERVED_METADATA_KEYS = frozenset(
    {C.METADATA_KEY_ARTIFACT_SHA256, C.METADATA_KEY_ARTIFACT_NAME, C.METADATA_KEY_UPDATE_AT}
)


# ---------------------------------------------------------------- names
def validate_artifact_name(name: object) -> str:
    """Return ``name`` if it is a valid artifact name, else raise ValidationError/TypeError.

    Valid: a non-empty ASCII str of at most 128 characters, without "/", "\\" or control
    characters, not "." or "..", and not starting with "__" (reserved for alias keys).
    """
    if not isinstance(name, str):
        raise TypeError(f"artifact name must be a str, got {type(name).__name__}")
    if not name:
        raise ValidationError("artifact name must not be empty")
    if len(name) > C.MAX_ARTIFACT_NAME_LENGTH:
        raise ValidationError(
            f"artifact name is {len(name)} characters long; "
            f"the limit is {C.MAX_ARTIFACT_NAME_LENGTH}"
        )
    if name in (".", ".."):
        raise ValidationError(f"artifact name {name!r} is not allowed")
    if "/" in name or "\\" in name:
        raise ValidationError(f"artifact name {name!r} must not contain '/' or '\\'")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ValidationError(f"artifact name {name!r} must not contain control characters")
    if not name.isascii():
        raise ValidationError(
            f"artifact name {name!r} must be ASCII (it is stored in S3 object metadata, "
            "which only holds ASCII)"
        )
    if name.startswith("__"):
        raise ValidationError(f"artifact name {name!r} must not start with '__' (reserved)")
    return name


def validate_alias_name(alias: object) -> str:
    """Return ``alias`` if valid: starts with a letter; letters, digits and '_' only; not
    "LATEST"; at most 64 characters. Hyphens are refused (the DynamoDB layout's rule)."""
    if not isinstance(alias, str):
        raise TypeError(f"alias must be a str, got {type(alias).__name__}")
    if not alias:
        raise ValidationError("alias must not be empty")
    if alias == C.LATEST_VERSION:
        raise ValidationError("alias cannot be 'LATEST' (it names the mutable version)")
    if "-" in alias:
        raise ValidationError(f"alias {alias!r} must not contain '-'; use '_' instead")
    if not alias[0].isascii() or not alias[0].isalpha():
        raise ValidationError(f"alias {alias!r} must start with a letter")
    if len(alias) > C.MAX_ALIAS_NAME_LENGTH:
        raise ValidationError(f"alias {alias!r} is longer than {C.MAX_ALIAS_NAME_LENGTH}")
    if not all(ch.isascii() and (ch.isalnum() or ch == "_") for ch in alias):
        raise ValidationError(f"alias {alias!r} may only hold letters, digits and '_'")
    return alias


# ---------------------------------------------------------------- versions
def parse_version(version: object, *, allow_latest: bool = True) -> int | str:
    """Normalise a user-given version: None/"LATEST" -> "LATEST", 3/"3"/"000003" -> 3."""
    if version is None or version == C.LATEST_VERSION:
        if not allow_latest:
            raise ValidationError("this operation needs a published version number, not LATEST")
        return C.LATEST_VERSION
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
    if not 1 <= number <= C.MAX_VERSION:
        raise ValidationError(f"version {number} is outside 1..{C.MAX_VERSION}")
    return number


def version_str(version: int | str) -> str:
    """The public string form of a normalised version: "LATEST" or "7"."""
    return C.LATEST_VERSION if version == C.LATEST_VERSION else str(int(version))


def zfill_version(version: int | str) -> str:
    """The six-digit form used in keys and items: "LATEST" or "000007"."""
    if version == C.LATEST_VERSION:
        return C.LATEST_VERSION
    return str(int(version)).zfill(C.VERSION_ZFILL)


def encode_filename(version: int | str | None) -> str:
    """S3-only layout: the file stem of a version, sorting newest first.

    >>> encode_filename(None), encode_filename(1), encode_filename(2)
    ('000000_LATEST', '999999_000001', '999998_000002')
    """
    parsed = parse_version(version)
    if parsed == C.LATEST_VERSION:
        return "000000_LATEST"
    number = int(parsed)
    return f"{C.MAX_VERSION + 1 - number:06d}_{number:06d}"


def decode_filename(filename: str) -> str:
    """Inverse of :func:`encode_filename`; a suffix after the stem is ignored.

    >>> decode_filename("999998_000002.bin")
    '2'
    """
    stem = filename.rsplit("/", 1)[-1]
    if stem.startswith("000000_LATEST"):
        return C.LATEST_VERSION
    head, sep, tail = stem.partition("_")
    digits = tail[: C.VERSION_ZFILL]
    if not (sep and len(head) == 6 and head.isdigit() and len(digits) == 6 and digits.isdigit()):
        raise ValidationError(f"{filename!r} is not a versioned file name")
    number = int(digits)
    if not 1 <= number <= C.MAX_VERSION or int(head) != C.MAX_VERSION + 1 - number:
        raise ValidationError(f"{filename!r} is not a versioned file name")
    return str(number)


def next_version(newest: int | None) -> int:
    """The number a publish creates after ``newest``; refuses to go past 999999."""
    from .exc import VersionLimitError

    number = (newest or 0) + 1
    if number > C.MAX_VERSION:
        raise VersionLimitError(
            f"version {C.MAX_VERSION} already exists; no higher version can be published. "
            "Purge the artifact or use a new artifact name."
        )
    return number


# ---------------------------------------------------------------- aliases
@dataclasses.dataclass(frozen=True)
class AliasTarget:
    """A validated alias routing rule."""

    version: int | str
    secondary_version: int | None
    secondary_version_weight: int | None


def validate_alias_target(
    version: object, secondary_version: object, secondary_version_weight: object
) -> AliasTarget:
    """Check an alias's routing rule: weight is an int in 0..99 (bool refused), given
    exactly when a secondary version is, and the two versions differ."""
    primary = parse_version(version)
    if secondary_version is None:
        if secondary_version_weight is not None:
            raise ValidationError("secondary_version_weight needs a secondary_version")
        return AliasTarget(primary, None, None)
    secondary = parse_version(secondary_version)
    if secondary == C.LATEST_VERSION:
        raise ValidationError("secondary_version must be a published version, not LATEST")
    if secondary_version_weight is None:
        raise ValidationError("secondary_version needs a secondary_version_weight (0..99)")
    if isinstance(secondary_version_weight, bool) or not isinstance(secondary_version_weight, int):
        raise TypeError(
            "secondary_version_weight must be an int, "
            f"got {type(secondary_version_weight).__name__}"
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


def choose_weighted(
    primary: str, secondary: str | None, weight: int | None, rng: random.Random | None = None
) -> str:
    """Pick ``secondary`` with probability weight/100, else ``primary``."""
    if secondary is None or not weight:
        return primary
    draw = (rng or random).randint(1, 100)
    return secondary if draw <= weight else primary


# ---------------------------------------------------------------- time
def utc_now() -> datetime:
    return datetime.now(UTC)


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
        if value < 0:
            raise ValidationError(f"{label} must be >= 0, got {value}")


def select_versions_to_purge(
    versions: Iterable[tuple[int, datetime]],
    *,
    keep_last_n: int,
    purge_older_than_secs: float,
    now: datetime,
    protected: Iterable[int | str] = (),
) -> list[int]:
    """The published versions a purge removes, newest first.

    A version goes only if it is not among the newest ``keep_last_n``, is older than
    ``purge_older_than_secs`` and no alias points at it. LATEST is never a candidate.
    """
    keep = {int(v) for v in protected if v != C.LATEST_VERSION}
    ordered = sorted(versions, key=lambda pair: pair[0], reverse=True)
    threshold = now - timedelta(seconds=purge_older_than_secs)
    return [
        number
        for number, updated in ordered[keep_last_n:]
        if updated < threshold and number not in keep
    ]


def check_user_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
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
    return dict(metadata)


def check_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise TypeError(f"tags must be a dict of str to str, got {type(tags).__name__}")
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("tag keys and values must be str")
    if len(tags) > 10:
        raise ValidationError("S3 allows at most 10 tags per object")
    return dict(tags)
