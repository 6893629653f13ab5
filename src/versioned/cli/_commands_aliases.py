"""``versioned alias ...``: named pointers to versions, with an optional canary."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Final

import click

from .. import exc
from . import _output as out
from ._commands_history import alias_history, alias_rollback
from ._connection import Connection, connect
from ._errors import ErrorHandlingGroup
from ._lookup import explained, no_alias, require_artifact
from ._options import json_option, repository_options, version_value

if TYPE_CHECKING:
    from ..repository import Alias

#: compare-and-swap attempts of ``alias set`` before it writes unconditionally
SET_ATTEMPTS: Final = 3


@dataclasses.dataclass(frozen=True)
class AliasTarget:
    """What ``alias set`` writes: the version, the canary and its weight, and the revision
    the alias must still be at (None: the one just read)."""

    version: str | None
    secondary_version: str | None
    secondary_version_weight: int | None
    expected_revision: str | None
    #: why, recorded in the alias's history
    reason: str | None = None


@click.group("alias", cls=ErrorHandlingGroup)
def alias_group() -> None:
    """Manage aliases: pointers to versions, canaries."""


def current_alias(conn: Connection, name: str, alias: str) -> Alias | None:
    """The alias, or None when it does not exist."""
    try:
        return conn.repo.get_alias(name=name, alias=alias, bsm=conn.bsm)
    except exc.AliasNotFoundError:
        return None


def replace_alias(
    conn: Connection, name: str, alias: str, target: AliasTarget, force: bool = False
) -> tuple[Alias | None, Alias]:
    """Write the alias and return (what it replaced, what it is now).

    Unless the caller gave an expected revision, the write is conditional on the revision
    just read (re-read and retried on a race), so "before" is exactly what was replaced.
    """
    expected = target.expected_revision
    before = current_alias(conn, name, alias)
    for attempt in range(SET_ATTEMPTS):
        revision = expected
        if revision is None and before is not None and attempt < SET_ATTEMPTS - 1:
            revision = before.revision
        try:
            after = conn.repo.put_alias(
                name=name,
                alias=alias,
                version=target.version,
                secondary_version=target.secondary_version,
                secondary_version_weight=target.secondary_version_weight,
                expected_revision=revision,
                reason=target.reason,
                force=force,
                bsm=conn.bsm,
            )
            return before, after
        except exc.ConcurrentModificationError:
            if expected is not None or attempt == SET_ATTEMPTS - 1:
                raise
            before = current_alias(conn, name, alias)
    raise AssertionError("unreachable")


@alias_group.command("set")
@click.argument("name")
@click.argument("alias")
@click.argument("version", required=False, callback=version_value)
@click.option("--canary", "canary", metavar="VERSION", help="Send --weight % of traffic here.")
@click.option(
    "--weight", type=click.IntRange(0, 99), metavar="PERCENT", help="The canary's share, 0..99."
)
@click.option(
    "--expected-revision",
    metavar="REVISION",
    help="Only write if the alias is still at this revision (else exit code 4).",
)
@click.option("--reason", metavar="TEXT", help="Why: recorded in the alias's history.")
@click.option("--force", is_flag=True, help="Move an alias the retention policy protects.")
@json_option
@repository_options
@click.pass_context
def alias_set(
    ctx: click.Context,
    name: str,
    alias: str,
    version: str | None,
    canary: str | None,
    weight: int | None,
    expected_revision: str | None,
    reason: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Point ALIAS of NAME at VERSION (LATEST when omitted).

    Prints what the alias pointed at before and after.

    \b
    Examples:
      versioned alias set model prod 2                        # blue/green switch
      versioned alias set model prod 2 --canary 3 --weight 10 # 10% to version 3
    """
    if (canary is None) != (weight is None):
        raise click.UsageError("--canary and --weight go together")
    conn = connect(ctx)
    with explained(conn, name):
        before, after = replace_alias(
            conn,
            name,
            alias,
            AliasTarget(version, canary, weight, expected_revision, reason),
            force,
        )
    if as_json:
        out.emit_json({**out.jsonable(after), "previous": out.jsonable(before)})
        return
    change = f"{out.describe_target(before)} -> {out.describe_target(after)}"
    out.done(f"alias {alias} of {name}: {change}")
    out.show(out.alias_table(after, f"{name}: alias {alias}"))


@alias_group.command("get")
@click.argument("name")
@click.argument("alias")
@json_option
@repository_options
@click.pass_context
def alias_get(ctx: click.Context, name: str, alias: str, as_json: bool) -> None:
    """Show ALIAS of NAME."""
    conn = connect(ctx)
    with explained(conn, name, alias):
        result = conn.repo.get_alias(name=name, alias=alias, bsm=conn.bsm)
    if as_json:
        out.emit_json(result)
    else:
        out.show(out.alias_table(result, f"{name}: alias {alias}"))


@alias_group.command("list")
@click.argument("name")
@json_option
@repository_options
@click.pass_context
def alias_list(ctx: click.Context, name: str, as_json: bool) -> None:
    """List the aliases of NAME."""
    conn = connect(ctx)
    aliases = conn.repo.list_aliases(name=name, bsm=conn.bsm)
    if not aliases:
        require_artifact(conn, name)
    if as_json:
        out.emit_json(aliases)
    elif not aliases:
        out.say(f"No aliases of {name!r}.")
    else:
        out.show(out.aliases_table(f"Aliases of {name}", aliases))


@alias_group.command("delete")
@click.argument("name")
@click.argument("alias")
@click.option(
    "--expected-revision",
    metavar="REVISION",
    help="Only delete if the alias is still at this revision (else exit code 4).",
)
@click.option("--reason", metavar="TEXT", help="Why: recorded in the alias's history.")
@click.option("--force", is_flag=True, help="Delete an alias the retention policy protects.")
@json_option
@repository_options
@click.pass_context
def alias_delete(
    ctx: click.Context,
    name: str,
    alias: str,
    expected_revision: str | None,
    reason: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Delete ALIAS of NAME (its versions stay).

    An alias that does not exist is exit code 3 (nothing deleted).
    """
    conn = connect(ctx)
    try:
        before = conn.repo.get_alias(name=name, alias=alias, bsm=conn.bsm)
    except (exc.AliasNotFoundError, exc.ArtifactNotFoundError):
        require_artifact(conn, name)
        raise no_alias(conn, name, alias, "; nothing deleted") from None
    conn.repo.delete_alias(
        name=name,
        alias=alias,
        expected_revision=expected_revision,
        reason=reason,
        force=force,
        bsm=conn.bsm,
    )
    if as_json:
        out.emit_json({"name": name, "alias": alias, "deleted": True, "previous": before})
    else:
        out.done(f"Deleted alias {alias} of {name} (it pointed at {out.describe_target(before)})")


alias_group.add_command(alias_history)
alias_group.add_command(alias_rollback)
