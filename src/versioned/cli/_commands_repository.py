"""Commands about the repository as a whole: ``bootstrap``, ``config``, ``names``, ``verify``."""

from __future__ import annotations

import os

import click
from rich.table import Table

from . import _output as out
from ._config import user_file
from ._conflicts import own_prefix
from ._connection import connect, current_settings
from ._errors import EXIT_INTEGRITY
from ._lookup import require_artifact
from ._options import json_option, repository_options

__all__ = ["bootstrap", "names", "show_config", "verify"]


@click.command()
@json_option
@repository_options
@click.pass_context
def bootstrap(ctx: click.Context, as_json: bool) -> None:
    """Create the bucket (and table) if missing.

    With --table, also the DynamoDB table. Idempotent.
    """
    conn = connect(ctx)
    with own_prefix():
        conn.repo.bootstrap(bsm=conn.bsm)
    document = {
        "backend": conn.settings.backend,
        "bucket": conn.settings.bucket,
        "prefix": conn.settings.prefix,
        "table": conn.settings.table,
    }
    if as_json:
        out.emit_json(document)
        return
    where = f"s3://{conn.settings.bucket}/{conn.settings.prefix}"
    table = f" and DynamoDB table {conn.settings.table}" if conn.settings.table else ""
    out.done(f"Repository ready: {where}{table}")


@click.command("config")
@json_option
@repository_options
@click.pass_context
def show_config(ctx: click.Context, as_json: bool) -> None:
    """Show the resolved repository settings.

    Each value with where it came from (an option, a variable, a file, the default), and
    the files read; sends no AWS request.

    \b
    Files, nearest first:
      versioned.toml, or pyproject.toml [tool.versioned]: the nearest one in this
        directory or above it (up to the home directory)
      ~/.config/versioned/config.toml (the platform's user config directory): named
        repositories, one [repositories.NAME] table each, chosen with --repo NAME or
        VERSIONED_REPO, else by its top-level default = "NAME"
    Keys: bucket, prefix, suffix, region, profile, endpoint_url, table.
    """
    settings = current_settings(ctx)
    if as_json:
        out.emit_json(settings.as_dict())
        return
    table = Table(title=f"Backend: {settings.backend}", title_justify="left")
    table.add_column("setting")
    table.add_column("value", overflow="fold")
    table.add_column("from", overflow="fold")
    for field, value in settings.as_dict().items():
        if field in ("backend", "sources", "warnings", "repo", "files"):
            continue
        table.add_row(field, "-" if value is None else repr(value), settings.sources.get(field, ""))
    out.show(table)
    project = settings.files.get("project")
    out.say(f"Project file: {project or 'none (versioned.toml or pyproject.toml, here or above)'}")
    user = settings.files.get("user") or f"{user_file(os.environ)} (not read)"
    out.say(f"User file: {user}" + (f", repository {settings.repo!r}" if settings.repo else ""))


@click.command()
@json_option
@repository_options
@click.pass_context
def names(ctx: click.Context, as_json: bool) -> None:
    """List the artifact names in the repository."""
    conn = connect(ctx)
    found = conn.repo.list_artifact_names(bsm=conn.bsm)
    if as_json:
        out.emit_json(found)
        return
    if not found:
        out.say(f"No artifacts in s3://{conn.settings.bucket}/{conn.settings.prefix}.")
        return
    table = Table()
    table.add_column("artifact", no_wrap=True)
    for name in found:
        table.add_row(name)
    out.show(table)


@click.command()
@click.argument("name", required=False)
@json_option
@repository_options
@click.pass_context
def verify(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Check stored bytes, keys and aliases.

    Reports, for the repository or one artifact, bytes that do not match their sha256,
    stray objects and aliases pointing at missing versions. Exit code 5 when any problem
    is found, 3 when NAME does not exist.
    """
    conn = connect(ctx)
    report = conn.repo.verify(name=name, bsm=conn.bsm)
    if name is not None and report.ok:
        require_artifact(conn, name)
    if as_json:
        rows = [(p.kind, p.name, p.location, p.detail) for p in report.problems]
        out.emit_json({"ok": report.ok, "problems": report.problems}, text=rows)
    elif report.ok:
        out.done(f"No problems found{f' in {name}' if name else ''}.")
    else:
        table = Table(title=f"{len(report.problems)} problem(s)", title_justify="left")
        for column in ("kind", "name", "location", "detail"):
            table.add_column(column, no_wrap=column != "detail")
        for problem in report.problems:
            table.add_row(problem.kind, problem.name, problem.location, problem.detail)
        out.show(table)
    if not report.ok:
        ctx.exit(EXIT_INTEGRITY)
