"""Commands that remove versions: ``purge`` (with ``--dry-run``, the library's
``PurgePlan``), ``purge-artifact``, ``purge-all``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from .. import constants
from ..lifecycle import PurgePlan
from ..repository import Artifact
from . import _output as out
from ._connection import Connection, connect
from ._lookup import require_artifact
from ._options import duration_option, json_option, repository_options
from ._records import complete

__all__ = ["purge", "purge_all", "purge_artifact"]


def plan_rows(plan: PurgePlan[Artifact]) -> list[tuple[Artifact, str, str]]:
    """(artifact, "delete" or "keep", reason), LATEST first, then newest first."""
    rows = [(artifact, "delete", "") for artifact in plan.delete]
    rows += [(kept.artifact, "keep", kept.reason) for kept in plan.keep]
    return sorted(rows, key=lambda row: _newest_first(row[0].version))


def _newest_first(version: str) -> int:
    return -(constants.MAX_VERSION + 1) if version == constants.LATEST_VERSION else -int(version)


def _plan_document(conn: Connection, plan: PurgePlan[Artifact]) -> dict[str, Any]:
    """The plan's JSON document, each artifact complete (its metadata read where the
    listing left it out)."""
    whole = complete(conn, [*plan.delete, *(kept.artifact for kept in plan.keep)])
    deleted, kept_artifacts = whole[: len(plan.delete)], whole[len(plan.delete) :]
    return {
        "purge_time": plan.purge_time,
        "versions": deleted,
        "kept": [
            {"version": artifact.version, "reason": kept.reason, "artifact": artifact}
            for kept, artifact in zip(plan.keep, kept_artifacts, strict=True)
        ],
    }


def _show_plan(name: str, plan: PurgePlan[Artifact]) -> None:
    if plan.delete:
        title = f"Would purge {len(plan.delete)} version(s) of {name} (dry run: nothing deleted)"
    else:
        title = f"Would purge nothing of {name}: every version is kept (dry run)"
    out.say(title)
    table = out.compact_table(drop=("updated",))
    table.add_column("version", justify="right", no_wrap=True)
    table.add_column("updated", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("why kept")
    for artifact, action, reason in plan_rows(plan):
        table.add_row(artifact.version, out.when(artifact), action, reason)
    out.show(table)


def _show_purged(name: str, purged: Sequence[Artifact]) -> None:
    if not purged:
        out.say(f"Purged nothing: no version of {name} matches.")
        return
    out.say(f"Purged {len(purged)} version(s) of {name}")
    table = out.compact_table(drop=("updated",))
    table.add_column("version", justify="right", no_wrap=True)
    table.add_column("updated", no_wrap=True)
    table.add_column("sha256", no_wrap=True)
    for artifact in purged:
        table.add_row(artifact.version, out.when(artifact), out.short_sha(artifact.sha256))
    out.show(table)


@click.command()
@click.argument("name")
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    default=constants.DEFAULT_KEEP_LAST_N,
    show_default=True,
    help="Always keep this many newest versions.",
)
@click.option(
    "--older-than",
    metavar="DURATION",
    default="90d",
    callback=duration_option,
    show_default=True,
    help="Only purge versions older than this (s, m, h, d, w units: 90d, 12h, 0).",
)
@click.option(
    "--dry-run", is_flag=True, help="Show what would be purged and what is kept, and why."
)
@json_option
@repository_options
@click.pass_context
def purge(
    ctx: click.Context, name: str, keep: int, older_than: int, dry_run: bool, as_json: bool
) -> None:
    """Delete old published versions of NAME.

    A version goes when it is not among the newest --keep, is older than --older-than and
    no alias points at it. LATEST always stays.
    """
    conn = connect(ctx)
    document: dict[str, Any] = {
        "name": name,
        "dry_run": dry_run,
        "keep_last_n": keep,
        "purge_older_than_secs": older_than,
    }
    if dry_run:
        plan = conn.repo.plan_purge(
            name=name, keep_last_n=keep, purge_older_than_secs=older_than, bsm=conn.bsm
        )
        if not plan.delete and not plan.keep:
            require_artifact(conn, name)
        if as_json:
            rows = [(a.version, action, reason) for a, action, reason in plan_rows(plan)]
            out.emit_json({**document, **_plan_document(conn, plan)}, text=rows)
        else:
            _show_plan(name, plan)
        return
    purge_time, purged = conn.repo.purge_artifact_versions(
        name=name, keep_last_n=keep, purge_older_than_secs=older_than, bsm=conn.bsm
    )
    if not purged:
        require_artifact(conn, name)
    if as_json:
        rows = [(artifact.version, "deleted", "") for artifact in purged]
        out.emit_json({**document, "purge_time": purge_time, "versions": purged}, text=rows)
    else:
        _show_purged(name, purged)


def _confirm_destruction(yes: bool, what: str) -> None:
    if yes:
        return
    if sys.stdin.isatty():
        click.confirm(f"Irreversibly delete {what}?", abort=True)
        return
    raise click.UsageError(f"refusing to delete {what} without --yes")


@click.command("purge-artifact")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@repository_options
@click.pass_context
def purge_artifact(ctx: click.Context, name: str, yes: bool, as_json: bool) -> None:
    """Delete every version and alias of NAME. Irreversible."""
    _confirm_destruction(yes, f"every version and alias of {name!r}")
    conn = connect(ctx)
    require_artifact(conn, name)
    conn.repo.purge_artifact(name=name, bsm=conn.bsm)
    if as_json:
        out.emit_json({"name": name, "purged": True})
    else:
        out.done(f"Purged {name}")


@click.command("purge-all")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@repository_options
@click.pass_context
def purge_all(ctx: click.Context, yes: bool, as_json: bool) -> None:
    """Delete every artifact of the repository. Irreversible."""
    conn = connect(ctx)
    where = f"s3://{conn.settings.bucket}/{conn.settings.prefix}"
    _confirm_destruction(yes, f"every artifact under {where}")
    conn.repo.purge_all(bsm=conn.bsm)
    if as_json:
        out.emit_json(
            {"bucket": conn.settings.bucket, "prefix": conn.settings.prefix, "purged": True}
        )
    else:
        out.done(f"Purged every artifact under {where}")
