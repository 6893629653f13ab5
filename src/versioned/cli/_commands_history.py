"""``versioned alias history`` and ``versioned alias rollback``: what an alias pointed at,
when, who changed it and why; and going back to an earlier state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click
from rich.table import Table

from .. import exc
from ..history import AliasChange
from . import _output as out
from ._connection import Connection, connect
from ._lookup import explained, require_artifact

if TYPE_CHECKING:
    from ..repository import Alias
from ._options import json_option, parse_duration, repository_options


def parse_moment(text: str) -> datetime:
    """``--at``: an ISO-8601 time (naive: UTC), or a duration ago ("3h", "2d", "1d12h")."""
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO-8601 time (2025-06-26T03:00:00Z) nor a duration "
            "ago (3h, 2d)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _moment_option(ctx: click.Context, param: click.Parameter, value: str | None) -> object:
    if value is None:
        return None
    try:
        return parse_moment(value)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from error


def describe_change(change: AliasChange) -> str:
    """What the alias pointed at after ``change``: "2", "2 + 10% to 3", "(deleted)"."""
    if change.version is None:
        return "(deleted)"
    version = str(change.version)
    if change.secondary_version is None:
        return version
    return f"{version} + {change.secondary_version_weight}% to {change.secondary_version}"


#: revisions in the table are shortened to this many characters (``--json``: whole);
#: ``alias rollback --to`` takes any unique prefix
SHORT_REVISION = 12


def history_table(title: str, changes: Sequence[AliasChange]) -> Table:
    """One row per change, newest first; 80 columns wide (the revision shortened)."""
    table = out.compact_table(title)
    table.add_column("changed (UTC)", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("target", no_wrap=True)
    table.add_column("actor", overflow="fold")
    table.add_column("reason", overflow="fold")
    table.add_column("revision", no_wrap=True)
    for change in changes:
        table.add_row(
            change.changed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            change.action,
            describe_change(change),
            change.actor,
            change.reason or "",
            change.revision[:SHORT_REVISION],
        )
    return table


@click.command("history")
@click.argument("name")
@click.argument("alias")
@click.option(
    "--at",
    "moment",
    metavar="TIME",
    callback=_moment_option,
    help="Only the change in force at TIME: ISO 8601 (UTC unless it says) or a duration "
    "ago (3h, 2d).",
)
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Only the newest N changes.")
@json_option
@repository_options
@click.pass_context
def alias_history(
    ctx: click.Context,
    name: str,
    alias: str,
    moment: datetime | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Show every change of ALIAS of NAME, newest first: when, what it pointed at after,
    who changed it and why.

    \b
    Examples:
      versioned alias history model prod
      versioned alias history model prod --at 2025-06-26T03:00:00Z   # what was prod then
      versioned alias history model prod --at 3h --json               # 3 hours ago
    """
    conn = connect(ctx)
    with explained(conn, name):
        if moment is not None:
            found = conn.repo.alias_at(name=name, alias=alias, when=moment, bsm=conn.bsm)
            changes = [] if found is None else [found]
        else:
            changes = conn.repo.list_alias_history(
                name=name, alias=alias, limit=limit, bsm=conn.bsm
            )
    if not changes:
        require_artifact(conn, name)
    if as_json:
        if moment is not None:
            out.emit_json(out.jsonable(changes[0]) if changes else None)
        else:
            out.emit_json(changes)
    elif not changes:
        when = "" if moment is None else f" at {out.format_time(moment)}"
        out.say(f"No recorded change of alias {alias!r} of {name!r}{when}.")
    else:
        title = f"{name}: alias {alias}"
        if moment is not None:
            title += f" at {out.format_time(moment)}"
        out.show(history_table(title, changes))


@click.command("rollback")
@click.argument("name")
@click.argument("alias")
@click.option(
    "--to",
    "to_revision",
    metavar="REVISION",
    help="Go back to the state recorded at REVISION, or a unique prefix of it (default: the "
    "one before the newest).",
)
@click.option("--reason", metavar="TEXT", help="Why: recorded in the alias's history.")
@click.option(
    "--expected-revision",
    metavar="REVISION",
    help="Only write if the alias is still at this revision (else exit code 4).",
)
@json_option
@repository_options
@click.pass_context
def alias_rollback(
    ctx: click.Context,
    name: str,
    alias: str,
    to_revision: str | None,
    reason: str | None,
    expected_revision: str | None,
    as_json: bool,
) -> None:
    """Point ALIAS of NAME back at the state before its newest change (or at --to).

    Refused, writing nothing, when a version of that state no longer exists.

    \b
    Examples:
      versioned alias rollback model prod --reason "v7 raises 500s"
      versioned alias rollback model prod --to 3f2a...   # a revision from `alias history`
    """
    conn = connect(ctx)
    with explained(conn, name, alias):
        try:
            before: Alias | None = conn.repo.get_alias(name=name, alias=alias, bsm=conn.bsm)
        except exc.AliasNotFoundError:
            before = None  # deleted: a rollback brings it back
        if to_revision is not None:
            to_revision = full_revision(conn, name, alias, to_revision)
        after = conn.repo.rollback_alias(
            name=name,
            alias=alias,
            to_revision=to_revision,
            reason=reason,
            expected_revision=expected_revision,
            bsm=conn.bsm,
        )
    if as_json:
        out.emit_json({**out.jsonable(after), "previous": out.jsonable(before)})
        return
    change = f"{out.describe_target(before)} -> {out.describe_target(after)}"
    out.done(f"rolled back alias {alias} of {name}: {change}")
    out.show(out.alias_table(after, f"{name}: alias {alias}"))


def full_revision(conn: Connection, name: str, alias: str, given: str) -> str:
    """The recorded revision ``given`` starts (it may be one shortened as the table
    shows it); ``given`` itself when none or several do (the library then says)."""
    changes = conn.repo.list_alias_history(name=name, alias=alias, bsm=conn.bsm)
    matches = {c.revision for c in changes if c.revision.startswith(given)}
    if given in matches or len(matches) != 1:
        return given
    return matches.pop()
