"""Retention as code: ``retention show|set|plan|apply``, ``hold`` and ``release``
(docs/retention.md)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

import click

from ..retention import RetentionPlan, RetentionPolicy, RetentionReport
from . import _output as out
from ._connection import connect
from ._options import json_option, parse_duration, repository_options

__all__ = ["hold", "release", "retention_group"]


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from error


def _policy_document(policy: RetentionPolicy | None) -> dict[str, Any] | None:
    return None if policy is None else dataclasses.asdict(policy)


@click.group("retention")
def retention_group() -> None:
    """Retention policies: what a scheduled run may delete, and what it never deletes."""


@retention_group.command("show")
@click.argument("name", required=False)
@json_option
@repository_options
@click.pass_context
def show(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Show the policy of NAME (without NAME: the repository default)."""
    conn = connect(ctx)
    policy = conn.repo.get_retention(name=name, bsm=conn.bsm)
    if as_json:
        out.emit_json({"name": name, "policy": _policy_document(policy)})
        return
    label = name or "the repository default"
    if policy is None:
        out.say(f"No retention policy for {label}.")
        return
    rows = [(field, value) for field, value in dataclasses.asdict(policy).items()]
    out.show(out.key_value_table(f"Retention policy of {label}", rows))


@retention_group.command("set")
@click.argument("name", required=False)
@click.option("--keep-last", type=click.IntRange(min=0), help="Keep the newest N versions.")
@click.option(
    "--keep-younger",
    metavar="DURATION",
    callback=_duration,
    help="Keep versions younger than this (30d).",
)
@click.option(
    "--delete-older",
    metavar="DURATION",
    callback=_duration,
    help="Only delete versions older than this (90d).",
)
@click.option("--protect", multiple=True, metavar="ALIAS", help="A protected alias (repeatable).")
@click.option(
    "--keep-rollback",
    type=click.IntRange(min=0),
    default=0,
    help="Keep the last K earlier targets of every alias.",
)
@click.option("--clear", is_flag=True, help="Remove the policy.")
@json_option
@repository_options
@click.pass_context
def set_policy(
    ctx: click.Context,
    name: str | None,
    keep_last: int | None,
    keep_younger: int | None,
    delete_older: int | None,
    protect: Sequence[str],
    keep_rollback: int,
    clear: bool,
    as_json: bool,
) -> None:
    """Store the policy of NAME (without NAME: the repository default)."""
    policy = (
        None
        if clear
        else RetentionPolicy(
            keep_last=keep_last,
            keep_younger_than_secs=keep_younger,
            delete_older_than_secs=delete_older,
            protected_aliases=tuple(protect),
            keep_rollback_targets=keep_rollback,
        )
    )
    conn = connect(ctx)
    conn.repo.set_retention(name=name, policy=policy, bsm=conn.bsm)
    if as_json:
        out.emit_json({"name": name, "policy": _policy_document(policy)})
    else:
        label = name or "the repository default"
        out.done(f"Retention policy of {label} {'removed' if clear else 'set'}")


def _plan_table(plans: Sequence[RetentionPlan]) -> None:
    table = out.compact_table()
    for column in ("artifact", "version", "action", "size", "why"):
        table.add_column(
            column,
            no_wrap=column != "why",
            justify="right" if column in ("version", "size") else "left",
        )
    for plan in plans:
        sizes = {k.version: k.size for k in plan.keep}
        for version in plan.delete:
            table.add_row(plan.name, str(version), "delete", "", "")
        for kept in plan.keep:
            table.add_row(
                plan.name,
                str(kept.version),
                "keep",
                out.human_size(sizes.get(kept.version)),
                "; ".join(kept.reasons),
            )
    out.show(table)
    deleted = sum(len(p.delete) for p in plans)
    freed = sum(p.bytes_freed for p in plans)
    removed = sum(p.bytes_deleted for p in plans)
    out.say(
        f"{deleted} version(s) to delete, {out.human_size(removed)} in them; "
        f"bytes freed: {out.human_size(freed)}"
    )


@retention_group.command("plan")
@click.argument("name", required=False)
@json_option
@repository_options
@click.pass_context
def plan(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """What `retention apply` would delete (NAME, or every artifact), and why the rest stays."""
    conn = connect(ctx)
    plans = conn.repo.plan_retention(name=name, bsm=conn.bsm)
    if as_json:
        out.emit_json({"plans": plans, "bytes_freed": sum(p.bytes_freed for p in plans)})
    else:
        _plan_table(plans)


def _show_reports(reports: Sequence[RetentionReport]) -> None:
    for report in reports:
        label = report.name or "(repository)"
        deleted = ", ".join(map(str, report.deleted)) or "nothing"
        out.say(f"{label}: deleted {deleted}, freed {out.human_size(report.bytes_freed)}")
        for upload in report.aborted_uploads:
            out.say(f"  aborted upload {upload.upload_id} of {upload.key}")
        for orphan in report.orphans:
            state = "deleted" if orphan.deleted else "orphan"
            out.say(f"  {state}: {orphan.key} ({out.human_size(orphan.size)})")
        for error in report.errors:
            out.say(f"  error: {error}")


@retention_group.command("apply")
@click.argument("name", required=False)
@click.option("--yes", is_flag=True, help="Do not show the plan and ask.")
@click.option("--delete-orphans", is_flag=True, help="Also delete verify()'s orphan objects.")
@click.option(
    "--uploads-older-than",
    metavar="DURATION",
    default="7d",
    callback=_duration,
    show_default=True,
    help="Abort multipart uploads older than this.",
)
@json_option
@repository_options
@click.pass_context
def apply(
    ctx: click.Context,
    name: str | None,
    yes: bool,
    delete_orphans: bool,
    uploads_older_than: int,
    as_json: bool,
) -> None:
    """Apply the retention policies (NAME, or every artifact). Without --yes, on a
    terminal: show the plan and ask; elsewhere: refuse."""
    conn = connect(ctx)
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("refusing to apply retention without --yes (not a terminal)")
        _plan_table(conn.repo.plan_retention(name=name, bsm=conn.bsm))
        click.confirm("Delete these versions?", abort=True)
    reports = conn.repo.apply_retention(
        name=name,
        delete_orphans=delete_orphans,
        upload_age_secs=uploads_older_than,
        bsm=conn.bsm,
    )
    if as_json:
        out.emit_json({"reports": reports, "bytes_freed": sum(r.bytes_freed for r in reports)})
    else:
        _show_reports(reports)
    if any(report.errors for report in reports):
        ctx.exit(1)


@click.command("hold")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", required=True, help="Why (an incident, a legal hold).")
@json_option
@repository_options
@click.pass_context
def hold(ctx: click.Context, name: str, version: int, reason: str, as_json: bool) -> None:
    """Hold VERSION of NAME: nothing deletes it until it is released."""
    conn = connect(ctx)
    placed = conn.repo.hold_version(name=name, version=version, reason=reason, bsm=conn.bsm)
    if as_json:
        out.emit_json(placed)
    else:
        out.done(f"Held version {version} of {name} ({placed.held_by}: {reason})")


@click.command("release")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@json_option
@repository_options
@click.pass_context
def release(ctx: click.Context, name: str, version: int, as_json: bool) -> None:
    """Release the hold on VERSION of NAME."""
    conn = connect(ctx)
    released = conn.repo.release_version(name=name, version=version, bsm=conn.bsm)
    if as_json:
        out.emit_json({"name": name, "version": version, "released": released})
    elif released:
        out.done(f"Released version {version} of {name}")
    else:
        out.say(f"Version {version} of {name} was not held.")
