"""Retention, the pure part: the stored document (encode, decode, validate) and the rule
that decides, for one artifact, which versions a run deletes and why every other stays.

The document (one per artifact, one for the repository default), documented in
docs/retention.md::

    {"format": 1,
     "policy": {"keep_last": 10, "keep_younger_than_secs": 2592000,
                "delete_older_than_secs": 7776000, "protected_aliases": ["prod"],
                "keep_rollback_targets": 3},
     "holds": {"4": {"reason": "incident 123", "by": "alice", "at": "2026-...Z"}}}

``policy`` may be null (none set); ``holds`` is absent or an object keyed by version
number. Unknown fields, wrong types, negative counts and non-finite ages are refused:
when setting, ValidationError naming the field before anything is stored; when a stored
(hand-edited) document is read, CorruptRecordError naming the document and the field, and
nothing is deleted.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from . import _model
from .exc import ArgumentTypeError, CorruptRecordError, ValidationError
from .history import AliasChange
from .retention import Hold, RetentionPolicy

FORMAT = 1
POLICY_FIELDS = (
    "keep_last",
    "keep_younger_than_secs",
    "delete_older_than_secs",
    "protected_aliases",
    "keep_rollback_targets",
)
DOCUMENT_FIELDS = ("format", "policy", "holds")
HOLD_FIELDS = ("reason", "by", "at")


class PolicyProblem(ValueError):
    """What is wrong with a policy or document, naming the field."""


# ------------------------------------------------------------------ validation
def _count(field: str, value: object, *, optional: bool) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        wanted = "an int or None" if optional else "an int"
        raise PolicyProblem(f"{field} must be {wanted}, not {value!r}")
    if value < 0:
        raise PolicyProblem(f"{field} must be >= 0, not {value}")
    return value


def _age(field: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyProblem(f"{field} must be a number of seconds or None, not {value!r}")
    if not math.isfinite(value):
        raise PolicyProblem(f"{field} must be a finite number of seconds, not {value}")
    if value < 0:
        raise PolicyProblem(f"{field} must be >= 0, not {value}")
    return value


def _aliases(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise PolicyProblem(f"protected_aliases must be a list of alias names, not {value!r}")
    names: list[str] = []
    for alias in value:
        problem = _model.alias_name_problem(alias) if isinstance(alias, str) else "not a str"
        if problem:
            raise PolicyProblem(f"protected_aliases: {alias!r}: {problem}")
        names.append(alias)
    return tuple(sorted(set(names)))


def checked_policy(policy: RetentionPolicy) -> RetentionPolicy:
    """The policy with its fields checked and normalised (aliases sorted, deduplicated)."""
    return RetentionPolicy(
        keep_last=_count("keep_last", policy.keep_last, optional=True),
        keep_younger_than_secs=_age("keep_younger_than_secs", policy.keep_younger_than_secs),
        delete_older_than_secs=_age("delete_older_than_secs", policy.delete_older_than_secs),
        protected_aliases=_aliases(policy.protected_aliases),
        keep_rollback_targets=_count(
            "keep_rollback_targets", policy.keep_rollback_targets, optional=False
        )
        or 0,
    )


def validate_policy(policy: object) -> RetentionPolicy:
    """A policy given to ``set_retention``: ValidationError naming the field."""
    if not isinstance(policy, RetentionPolicy):
        raise ArgumentTypeError(
            f"policy must be a versioned.retention.RetentionPolicy, not {type(policy).__name__}"
        )
    try:
        return checked_policy(policy)
    except PolicyProblem as problem:
        raise ValidationError(f"retention policy refused: {problem}; nothing was stored") from None


def policy_from_json(data: object) -> RetentionPolicy:
    """A policy from its JSON object (PolicyProblem naming the field)."""
    if not isinstance(data, dict):
        raise PolicyProblem(f"policy must be an object, not {data!r}")
    unknown = sorted(set(data) - set(POLICY_FIELDS))
    if unknown:
        raise PolicyProblem(f"unknown field(s) {', '.join(unknown)} in policy")
    return checked_policy(
        RetentionPolicy(
            keep_last=data.get("keep_last"),
            keep_younger_than_secs=data.get("keep_younger_than_secs"),
            delete_older_than_secs=data.get("delete_older_than_secs"),
            protected_aliases=data.get("protected_aliases", ()),
            keep_rollback_targets=data.get("keep_rollback_targets", 0),
        )
    )


def policy_to_json(policy: RetentionPolicy) -> dict[str, Any]:
    return {
        "keep_last": policy.keep_last,
        "keep_younger_than_secs": policy.keep_younger_than_secs,
        "delete_older_than_secs": policy.delete_older_than_secs,
        "protected_aliases": list(policy.protected_aliases),
        "keep_rollback_targets": policy.keep_rollback_targets,
    }


# ------------------------------------------------------------------ the document
@dataclasses.dataclass(frozen=True)
class Document:
    """One stored retention document: the artifact's policy (or the default) and holds."""

    policy: RetentionPolicy | None = None
    holds: Mapping[int, Hold] = dataclasses.field(default_factory=dict)


def _refuse_constant(token: str) -> float:
    raise PolicyProblem(f"{token} is not a number JSON allows")


def decode(body: bytes | str, name: str | None, location: str) -> Document:
    """A stored document, checked; CorruptRecordError naming ``location`` and the field."""
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
        return _document(data, name or "")
    except (PolicyProblem, ValueError, TypeError) as problem:
        raise CorruptRecordError(
            f"retention document {location} is not valid ({problem}); nothing was deleted. "
            "Fix the document, or set the policy again (versioned retention set) when only "
            "the policy is damaged"
        ) from None


def salvage(body: bytes | str, name: str | None, location: str) -> Document:
    """A document whose policy is damaged, with its holds (what ``set_retention`` keeps
    when it replaces such a policy); the CorruptRecordError when the holds are unreadable
    too (the document must then be fixed or removed by hand: holds are never dropped)."""
    try:
        return decode(body, name, location)
    except CorruptRecordError as damaged:
        try:
            data = json.loads(body, parse_constant=lambda token: None)
            raw_holds = (data.get("holds") or {}) if isinstance(data, dict) else None
            if not isinstance(raw_holds, dict):
                raise damaged from None
            holds = {int(k): _hold(name or "", k, v) for k, v in raw_holds.items()}
        except (PolicyProblem, ValueError, TypeError):
            raise damaged from None
        return Document(None, holds)


def _document(data: object, name: str) -> Document:
    if not isinstance(data, dict):
        raise PolicyProblem("the document must be a JSON object")
    unknown = sorted(set(data) - set(DOCUMENT_FIELDS))
    if unknown:
        raise PolicyProblem(f"unknown field(s) {', '.join(unknown)}")
    if data.get("format") != FORMAT:
        raise PolicyProblem(f"format must be {FORMAT}, not {data.get('format')!r}")
    raw_policy = data.get("policy")
    policy = None if raw_policy is None else policy_from_json(raw_policy)
    raw_holds = data.get("holds") or {}
    if not isinstance(raw_holds, dict):
        raise PolicyProblem("holds must be an object keyed by version number")
    holds = {}
    for key, entry in raw_holds.items():
        hold = _hold(name, key, entry)
        holds[hold.version] = hold
    return Document(policy, holds)


def _hold(name: str, key: str, entry: object) -> Hold:
    if not key.isdigit() or int(key) < 1:
        raise PolicyProblem(f"holds: {key!r} is not a version number")
    if not isinstance(entry, dict) or set(entry) != set(HOLD_FIELDS):
        raise PolicyProblem(f"holds.{key} must have exactly the fields {', '.join(HOLD_FIELDS)}")
    if not all(isinstance(entry[field], str) for field in HOLD_FIELDS):
        raise PolicyProblem(f"holds.{key}: reason, by and at must be strings")
    try:
        held_at = _model.parse_time(entry["at"])
    except ValueError as error:
        raise PolicyProblem(f"holds.{key}.at: {error}") from None
    return Hold(name, int(key), entry["reason"], entry["by"], held_at)


def encode(document: Document) -> str:
    """The stored form (keys sorted, compact)."""
    data: dict[str, Any] = {
        "format": FORMAT,
        "policy": None if document.policy is None else policy_to_json(document.policy),
        "holds": {
            str(version): {
                "reason": hold.reason,
                "by": hold.held_by,
                "at": _model.whole_seconds(hold.held_at).isoformat(),
            }
            for version, hold in sorted(document.holds.items())
        },
    }
    return json.dumps(data, sort_keys=True, allow_nan=False, separators=(",", ":"))


# ------------------------------------------------------------------ the rule
@dataclasses.dataclass(frozen=True)
class Candidate:
    """A published version as the rule sees it."""

    version: int
    update_at: datetime
    size: int | None


@dataclasses.dataclass
class Decision:
    """Which versions go (newest first) and every reason each other version stays."""

    delete: list[int]
    keep: dict[int, list[str]]


def rollback_targets(changes: Iterable[AliasChange], current: set[int], count: int) -> list[int]:
    """The last ``count`` distinct earlier targets in an alias's history (newest first;
    the current targets and LATEST do not count)."""
    found: list[int] = []
    for change in changes:
        for target in (change.version, change.secondary_version):
            if target is None or target == _model.LATEST or len(found) >= count:
                continue
            number = int(target)
            if number not in current and number not in found:
                found.append(number)
    return found


def decide(
    versions: Iterable[Candidate],
    *,
    policy: RetentionPolicy | None,
    now: datetime,
    aliases: Mapping[str, Sequence[object]],
    histories: Mapping[str, Sequence[AliasChange]],
    holds: Mapping[int, Hold],
    rollouts: Mapping[int, Sequence[str]] | None = None,
) -> Decision:
    """Keep-wins: a version goes only if the policy selects it and no reason keeps it
    (``rollouts``: the versions running rollouts name, with "rollout ALIAS" labels)."""
    ordered = sorted(versions, key=lambda candidate: candidate.version, reverse=True)
    keep: dict[int, list[str]] = {c.version: [] for c in ordered}

    def add(version: int, reason: str) -> None:
        if version in keep:
            keep[version].append(reason)

    protected = set(policy.protected_aliases) if policy else set()
    for alias, targets in sorted(aliases.items()):
        label = f"alias {alias}" + (" (protected)" if alias in protected else "")
        numbers = {int(t) for t in targets if t != _model.LATEST and isinstance(t, int | str)}
        for number in sorted(numbers):
            add(number, label)
        if policy and policy.keep_rollback_targets:
            changes = histories.get(alias, ())
            for number in rollback_targets(changes, numbers, policy.keep_rollback_targets):
                add(number, f"rollback target of {alias}")
    for version, labels in (rollouts or {}).items():
        for label in labels:
            add(version, label)
    for version, hold in holds.items():
        add(version, f"hold by {hold.held_by}: {hold.reason}")
    _policy_reasons(ordered, policy, now, add)
    delete = [c.version for c in ordered if not keep[c.version]]
    return Decision(delete, {v: reasons for v, reasons in keep.items() if reasons})


def _policy_reasons(
    ordered: list[Candidate],
    policy: RetentionPolicy | None,
    now: datetime,
    add: Any,
) -> None:
    if policy is None or not policy.deletes:
        reason = "no retention policy" if policy is None else "policy deletes nothing"
        for candidate in ordered:
            add(candidate.version, reason)
        return
    younger = _threshold(now, policy.keep_younger_than_secs)
    older = _threshold(now, policy.delete_older_than_secs)
    for index, candidate in enumerate(ordered):
        if policy.keep_last is not None and index < policy.keep_last:
            add(candidate.version, f"newest {policy.keep_last}")
        if younger is not None and candidate.update_at > younger:
            age = _model.describe_seconds(policy.keep_younger_than_secs or 0)
            add(candidate.version, f"younger than {age}")
        if older is not None and candidate.update_at >= older:
            age = _model.describe_seconds(policy.delete_older_than_secs or 0)
            add(candidate.version, f"not older than {age}")


def _threshold(now: datetime, seconds: float | None) -> datetime | None:
    if seconds is None:
        return None
    try:
        return now - timedelta(seconds=seconds)
    except OverflowError:
        return datetime.min.replace(tzinfo=now.tzinfo)
