"""Reading an alias's history back: the state at a moment, and rollback (engine logic,
over the layout's ``list_alias_history`` and the engine's ``put_alias``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from . import _model, history
from .exc import ArgumentTypeError, ArtifactNotFoundError, ValidationError
from .history import AliasChange

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

    from ._engine import Engine
    from ._layouts import AliasRecord


def moment(when: object) -> datetime:
    """``when`` as an aware UTC datetime; a naive one is taken as UTC."""
    if not isinstance(when, datetime):
        raise ArgumentTypeError(f"when must be a datetime, not {type(when).__name__}")
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def alias_at(
    engine: Engine, bsm: BotoSesManager, name: str, alias: str, when: object
) -> AliasChange | None:
    """The change in force at ``when`` (its ``version`` is None when the alias was
    deleted then); None when the alias had no recorded change yet. A change made at
    ``when`` exactly is in force at ``when``."""
    at = moment(when)
    for change in engine.list_alias_history(bsm, name, alias, None):
        if change.changed_at <= at:
            return change
    return None


def rollback_target(
    changes: list[AliasChange], name: str, alias: str, to_revision: object
) -> AliasChange:
    """The recorded state a rollback returns to: the one before the newest change, or
    the newest one recorded at ``to_revision``."""
    if to_revision is not None and not isinstance(to_revision, str):
        raise ArgumentTypeError(
            f"to_revision must be a str or None, not {type(to_revision).__name__}"
        )
    if to_revision is None:
        if len(changes) < 2:
            raise ValidationError(
                f"alias {alias!r} of {name!r} has no earlier recorded state to roll back to; "
                "nothing was written"
            )
        target = changes[1]
    else:
        found = [c for c in changes if c.revision == to_revision]
        if not found:
            raise ValidationError(
                f"alias {alias!r} of {name!r} has no recorded revision {to_revision!r} "
                "(see list_alias_history); nothing was written"
            )
        target = found[0]
    if target.version is None:
        raise ValidationError(
            f"alias {alias!r} of {name!r} did not exist at revision {target.revision} "
            f"({target.changed_at.isoformat()}); delete it instead. Nothing was written"
        )
    return target


def rollback_alias(
    engine: Engine,
    bsm: BotoSesManager,
    name: str,
    alias: str,
    options: tuple[object, object, object],
) -> AliasRecord:
    """Point ``alias`` back at a recorded state (``options``: to_revision, reason,
    expected_revision), as a change of its own (action ``rollback``). Refuses, writing
    nothing, when a version of that state no longer exists."""
    to_revision, reason, expected_revision = options
    _model.validate_artifact_name(name)
    _model.validate_alias_name(alias)
    for label, value in (("to_revision", to_revision), ("reason", reason)):
        if value is not None and not isinstance(value, str):
            kind = type(value).__name__
            raise ArgumentTypeError(f"{label} must be a str or None, not {kind}")
    changes = engine.list_alias_history(bsm, name, alias, None if to_revision else 2)
    target = rollback_target(changes, name, alias, to_revision)
    try:
        return engine.put_alias(
            bsm,
            name,
            alias,
            target.version,
            target.secondary_version,
            target.secondary_version_weight,
            expected_revision,
            reason,
            history.ROLLBACK,
        )
    except ArtifactNotFoundError as error:
        raise ArtifactNotFoundError(
            f"cannot roll alias {alias!r} of {name!r} back to revision {target.revision} "
            f"({_describe(target)}): {error}. Nothing was written"
        ) from error


def _describe(change: AliasChange) -> str:
    version = _model.version_str(change.version) if change.version is not None else "none"
    if change.secondary_version is None:
        return f"version {version}"
    return (
        f"version {version}, {change.secondary_version_weight}% to "
        f"{_model.version_str(change.secondary_version)}"
    )
