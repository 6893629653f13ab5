"""The ``versioned`` command group and its commands (a client of the public API only)."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any, Final

import click
from rich.console import Console
from rich.table import Table

from .. import __version__, constants, exc
from . import _output as out
from ._aliases import alias_group
from ._connection import Connection, connect, current_settings
from ._errors import (
    EXIT_CODES_HELP,
    EXIT_INTEGRITY,
    ErrorHandlingGroup,
    not_found,
    usage_problem,
)
from ._lookup import explained, require_artifact
from ._options import (
    duration_option,
    json_option,
    parse_duration,
    parse_pairs,
    repository_options,
    verbose_option,
)
from ._purge import Plan, plan_purge
from ._settings import ALLOW_PROJECT_ENDPOINT_ENV

__all__ = ["cli", "parse_duration"]

CHUNK: Final = 1024 * 1024

# ------------------------------------------------------------------ the group
HELP = f"""Versioned binary artifacts on Amazon S3 (optionally with DynamoDB).

Immutable numbered versions, a mutable LATEST, and aliases that route traffic to one
version or split it with a canary.

\b
Repository selection, highest precedence first:
  1. options (--bucket, --prefix, --suffix, --region, --profile, --endpoint-url, --table),
     given before or after the command
  2. VERSIONED_BUCKET, VERSIONED_PREFIX, VERSIONED_SUFFIX, VERSIONED_REGION,
     VERSIONED_PROFILE, VERSIONED_ENDPOINT_URL, VERSIONED_TABLE
  3. ./versioned.toml (top-level keys) or [tool.versioned] in ./pyproject.toml,
     keys: bucket, prefix, suffix, region, profile, table (and endpoint_url, used
     only with {ALLOW_PROJECT_ENDPOINT_ENV}=1: a project file may not send your
     credentials elsewhere)
  4. AWS_REGION / AWS_DEFAULT_REGION, AWS_PROFILE, AWS_ENDPOINT_URL
A table name selects the S3 + DynamoDB backend; without one, the S3-only backend.
Give the two backends different prefixes (or buckets): never the same one.

Read commands take --json for one JSON document on stdout (the library's field names).
Errors are one line on stderr; --debug adds the traceback, -v the library's log.

{EXIT_CODES_HELP}"""


@click.group(
    "versioned", cls=ErrorHandlingGroup, help=HELP, context_settings={"max_content_width": 100}
)
@click.version_option(__version__, prog_name="versioned")
@verbose_option
@repository_options
def cli() -> None:
    pass


cli.add_command(alias_group)


def _reject_json_with_stdout(as_json: bool, output: str) -> None:
    if as_json and output == "-":
        raise click.UsageError("--json cannot be combined with -o - (stdout carries the bytes)")


# ------------------------------------------------------------------ repository
@cli.command()
@json_option
@repository_options
@click.pass_context
def bootstrap(ctx: click.Context, as_json: bool) -> None:
    """Create the bucket (and table) if missing.

    With --table, also the DynamoDB table. Idempotent.
    """
    conn = connect(ctx)
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


@cli.command("config")
@json_option
@repository_options
@click.pass_context
def show_config(ctx: click.Context, as_json: bool) -> None:
    """Show the resolved repository settings.

    Each value with where it came from; sends no AWS request.
    """
    settings = current_settings(ctx)
    if as_json:
        out.emit_json(settings.as_dict())
        return
    table = Table(title=f"Backend: {settings.backend}", title_justify="left")
    table.add_column("setting")
    table.add_column("value", overflow="fold")
    table.add_column("from")
    for field, value in settings.as_dict().items():
        if field in ("backend", "sources", "warnings"):
            continue
        table.add_row(field, "-" if value is None else repr(value), settings.sources.get(field, ""))
    out.show(table)


# ------------------------------------------------------------------ artifacts
@cli.command()
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--content-type", metavar="TYPE", help="Content-Type of the stored object.")
@click.option(
    "--metadata",
    "-m",
    multiple=True,
    metavar="KEY=VALUE",
    callback=parse_pairs,
    help="User metadata; repeatable.",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="KEY=VALUE",
    callback=parse_pairs,
    help="S3 tag; repeatable.",
)
@json_option
@repository_options
@click.pass_context
def put(
    ctx: click.Context,
    name: str,
    file: str,
    content_type: str | None,
    metadata: dict[str, str],
    tags: dict[str, str],
    as_json: bool,
) -> None:
    """Upload FILE as the LATEST version of NAME.

    FILE "-" reads stdin. A large upload shows a progress bar on stderr.

    Unchanged content (same sha256) writes nothing.
    """
    conn = connect(ctx)
    content: Any = sys.stdin.buffer if file == "-" else Path(file)
    optional: dict[str, Any] = {}
    if content_type is not None:
        optional["content_type"] = content_type
    if metadata:
        optional["metadata"] = metadata
    if tags:
        optional["tags"] = tags
    with out.transfer_progress(f"put {name}") as progress:
        artifact = conn.repo.put_artifact(
            name=name, content=content, progress=progress, bsm=conn.bsm, **optional
        )
    if as_json:
        out.emit_json(artifact)
    else:
        out.show(out.artifact_table(artifact, f"{name}: LATEST"))


def newest_published_number(conn: Connection, name: str) -> int:
    """The newest published version number of ``name`` (0 when none)."""
    reader = getattr(conn.repo, "get_latest_published_artifact_version_number", None)
    if reader is not None:
        return int(reader(name=name, bsm=conn.bsm))
    listed = conn.repo.list_artifact_versions(name=name, bsm=conn.bsm)
    numbers = [int(a.version) for a in listed if a.version != constants.LATEST_VERSION]
    return max(numbers, default=0)


@cli.command()
@click.argument("name")
@json_option
@repository_options
@click.pass_context
def publish(ctx: click.Context, name: str, as_json: bool) -> None:
    """Snapshot LATEST of NAME as the next immutable version.

    When LATEST equals the newest version, no version is created and that version is
    shown ("LATEST is unchanged"). A large artifact shows a spinner on stderr.
    """
    conn = connect(ctx)
    with explained(conn, name):
        latest = conn.repo.get_artifact_version(name=name, bsm=conn.bsm)
        before = newest_published_number(conn, name)
        size = out.size_of(latest)
        large = size is None or size > out.PROGRESS_THRESHOLD
        with out.activity(f"publishing {name} (server-side copy)", wanted=large):
            artifact = conn.repo.publish_artifact_version(name=name, bsm=conn.bsm)
    unchanged = int(artifact.version) <= before
    if as_json:
        out.emit_json({**out.jsonable(artifact), "unchanged": unchanged})
        return
    if unchanged:
        out.say(f"LATEST is unchanged; version {artifact.version} already holds it.")
    out.show(out.artifact_table(artifact, f"{name}: version {artifact.version}"))


@cli.command()
@click.argument("name")
@click.option("--wide", is_flag=True, help="Also the full sha256 and S3 URI of each version.")
@json_option
@repository_options
@click.pass_context
def versions(ctx: click.Context, name: str, wide: bool, as_json: bool) -> None:
    """List the versions of NAME.

    LATEST first, then newest first; 80 columns wide unless --wide.
    """
    conn = connect(ctx)
    artifacts = conn.repo.list_artifact_versions(name=name, bsm=conn.bsm)
    if not artifacts:
        require_artifact(conn, name)
    if as_json:
        out.emit_json(artifacts)
        return
    if not artifacts:
        out.say(f"No versions of {name!r}.")
        return
    aliases = conn.repo.list_aliases(name=name, bsm=conn.bsm)
    out.show(
        out.versions_table(f"Versions of {name}", artifacts, aliases, wide=wide), unbounded=wide
    )


@cli.command("show")
@click.argument("name")
@click.argument("version", required=False)
@json_option
@repository_options
@click.pass_context
def show_version(ctx: click.Context, name: str, version: str | None, as_json: bool) -> None:
    """Show one version of NAME (LATEST by default).

    Its size, content type, sha256, S3 URI, user metadata and the aliases routing to it.
    """
    conn = connect(ctx)
    with explained(conn, name):
        artifact = conn.repo.get_artifact_version(name=name, version=version, bsm=conn.bsm)
    aliases = conn.repo.list_aliases(name=name, bsm=conn.bsm)
    users = out.alias_users(aliases).get(artifact.version, [])
    if as_json:
        out.emit_json({**out.jsonable(artifact), "aliases": users})
        return
    out.show(out.show_table(artifact, users, f"{name}: version {artifact.version}"))


@cli.command()
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
    table.add_column("artifact")
    for name in found:
        table.add_row(name)
    out.show(table)


def check_output_path(output: str) -> None:
    """Refuse, before any request, a destination that cannot be written."""
    if output == "-":
        return
    path = Path(output)
    if path.is_dir():
        raise usage_problem(f"-o {output} is a directory; give a file path, e.g. {path / 'NAME'}")
    parent = path.absolute().parent
    if not parent.exists():
        raise usage_problem(f"-o {output}: directory {parent} does not exist; create it first")
    if not parent.is_dir():
        raise usage_problem(f"-o {output}: {parent} is not a directory")
    if not os.access(parent, os.W_OK):
        raise usage_problem(f"-o {output}: directory {parent} is not writable")


@cli.command()
@click.argument("name")
@click.option("--version", "version", metavar="VERSION", help="A version number or LATEST.")
@click.option("--alias", metavar="ALIAS", help="Download the version ALIAS points at.")
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="PATH",
    help='Destination file; "-" writes the bytes to stdout.',
)
@json_option
@repository_options
@click.pass_context
def get(
    ctx: click.Context,
    name: str,
    version: str | None,
    alias: str | None,
    output: str,
    as_json: bool,
) -> None:
    """Download a version (LATEST by default).

    With --alias, the version the alias points at (its primary version, not the canary).
    The bytes are checked against the recorded sha256: a file is written only when they
    match; on stdout a mismatch is reported after the bytes. Either way, exit code 5.
    """
    if version is not None and alias is not None:
        raise click.UsageError("give --version or --alias, not both")
    _reject_json_with_stdout(as_json, output)
    check_output_path(output)
    conn = connect(ctx)
    alias_object = None
    with explained(conn, name, alias):
        if alias is not None:
            alias_object = conn.repo.get_alias(name=name, alias=alias, bsm=conn.bsm)
            version = alias_object.version
        artifact = conn.repo.get_artifact_version(name=name, version=version, bsm=conn.bsm)
    if output == "-":
        stream = sys.stdout.buffer
        with artifact.open(bsm=conn.bsm) as reader:
            shutil.copyfileobj(reader, stream, CHUNK)
        stream.flush()
        return
    with out.transfer_progress(f"get {name} {artifact.version}") as progress:
        artifact.download(bsm=conn.bsm, path=output, progress=progress)
    size = os.path.getsize(output)
    if as_json:
        out.emit_json({"artifact": artifact, "alias": alias_object, "path": output, "size": size})
        return
    via = f" (alias {alias})" if alias else ""
    out.done(f"Wrote {size} bytes of {name} version {artifact.version}{via} to {output}")


@cli.command()
@click.argument("name")
@click.argument("version")
@json_option
@repository_options
@click.pass_context
def delete(ctx: click.Context, name: str, version: str, as_json: bool) -> None:
    """Delete VERSION of NAME.

    Refused (exit code 4) while an alias points at it; a version that does not exist is
    exit code 3. The S3-only backend deletes the bytes and refuses LATEST; the S3 +
    DynamoDB backend soft-deletes (bytes stay).
    """
    conn = connect(ctx)
    try:
        conn.repo.get_artifact_version(name=name, version=version, bsm=conn.bsm)
    except exc.ArtifactNotFoundError:
        require_artifact(conn, name)
        raise not_found(f"version {version} of {name} does not exist; nothing deleted") from None
    conn.repo.delete_artifact_version(name=name, version=version, bsm=conn.bsm)
    soft = bool(getattr(conn.repo, "soft_delete", False))
    if as_json:
        out.emit_json({"name": name, "version": version, "deleted": True, "soft": soft})
        return
    how = "Soft-deleted" if soft else "Deleted"
    out.done(f"{how} version {version} of {name}")


# ------------------------------------------------------------------ lifecycle
def _plan_document(plan: Plan) -> dict[str, Any]:
    return {
        "purge_time": plan.purge_time,
        "versions": plan.delete,
        "kept": [
            {"version": kept.artifact.version, "reason": kept.reason, "artifact": kept.artifact}
            for kept in plan.keep
        ],
    }


def _show_plan(name: str, plan: Plan) -> None:
    if plan.delete:
        title = f"Would purge {len(plan.delete)} version(s) of {name} (dry run: nothing deleted)"
    else:
        title = f"Would purge nothing of {name}: every version is kept (dry run)"
    out.say(title)
    table = out.compact_table()
    table.add_column("version", justify="right", no_wrap=True)
    table.add_column("updated", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("why kept")
    for artifact, action, reason in plan.rows():
        table.add_row(artifact.version, out.when(artifact), action, reason)
    out.show(table)


def _show_purged(name: str, purged: list[Any]) -> None:
    if not purged:
        out.say(f"Purged nothing: no version of {name} matches.")
        return
    out.say(f"Purged {len(purged)} version(s) of {name}")
    table = out.compact_table()
    table.add_column("version", justify="right", no_wrap=True)
    table.add_column("updated", no_wrap=True)
    table.add_column("sha256", no_wrap=True)
    for artifact in purged:
        table.add_row(artifact.version, out.when(artifact), out.short_sha(artifact.sha256))
    out.show(table)


@cli.command()
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
        plan = plan_purge(conn, name, keep, older_than)
        if not plan.delete and not plan.keep:
            require_artifact(conn, name)
        if as_json:
            out.emit_json({**document, **_plan_document(plan)})
        else:
            _show_plan(name, plan)
        return
    purge_time, purged = conn.repo.purge_artifact_versions(
        name=name, keep_last_n=keep, purge_older_than_secs=older_than, bsm=conn.bsm
    )
    if not purged:
        require_artifact(conn, name)
    if as_json:
        out.emit_json({**document, "purge_time": purge_time, "versions": purged})
    else:
        _show_purged(name, purged)


def _confirm_destruction(yes: bool, what: str) -> None:
    if yes:
        return
    if sys.stdin.isatty():
        click.confirm(f"Irreversibly delete {what}?", abort=True)
        return
    raise click.UsageError(f"refusing to delete {what} without --yes")


@cli.command("purge-artifact")
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


@cli.command("purge-all")
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


@cli.command()
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
        out.emit_json({"ok": report.ok, "problems": report.problems})
    elif report.ok:
        out.done(f"No problems found{f' in {name}' if name else ''}.")
    else:
        table = Table(title=f"{len(report.problems)} problem(s)", title_justify="left")
        for column in ("kind", "name", "location", "detail"):
            table.add_column(column, overflow="fold")
        for problem in report.problems:
            table.add_row(problem.kind, problem.name, problem.location, problem.detail)
        out.show(table)
    if not report.ok:
        ctx.exit(EXIT_INTEGRITY)


# ------------------------------------------------------------------ local endpoint
#: The sandbox's DynamoDB layout gets its own prefix: the two layouts must never share one.
SANDBOX_TABLE: Final = "versioned-sandbox"
SANDBOX_DYNAMODB_PREFIX: Final = f"{constants.S3_PREFIX}-dynamodb"


def sandbox_lines(endpoint_url: str, bucket: str) -> list[str]:
    from ._sandbox import export_lines

    return [
        f"Local S3 + DynamoDB endpoint (moto) on {endpoint_url}; bucket {bucket!r} created.",
        "In another shell, run:",
        "",
        *export_lines(endpoint_url, bucket),
        "",
        f"That is the S3-only layout (prefix {constants.S3_PREFIX}). For the S3 + DynamoDB layout,",
        "use its own prefix, never the S3-only one:",
        f"  export VERSIONED_TABLE={SANDBOX_TABLE} "
        f"VERSIONED_PREFIX={SANDBOX_DYNAMODB_PREFIX} && versioned bootstrap",
        "and to go back to the S3-only layout: unset VERSIONED_TABLE VERSIONED_PREFIX",
        "Press Ctrl-C to stop (all data is in memory and goes with the server).",
    ]


@cli.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port on 127.0.0.1 [default: 5000, or a free one if 5000 is taken; 0: a free one].",
)
@click.option("--bucket", default="versioned-sandbox", show_default=True, help="Bucket to create.")
@click.option("--verbose", is_flag=True, help="Log every request the endpoint serves.")
def sandbox(port: int | None, bucket: str, verbose: bool) -> None:
    """Run a local S3 + DynamoDB endpoint.

    A moto server on 127.0.0.1, in the foreground until Ctrl-C.

    Prints the environment to export in another shell so that both this command line and
    the library (through boto3's AWS_ENDPOINT_URL) use it, and the settings that give
    the S3 + DynamoDB layout a prefix of its own. Needs moto[server].
    """
    from .. import s3_only_backend
    from ._sandbox import moto_endpoint, sandbox_session

    with moto_endpoint(port, quiet=not verbose) as endpoint_url:
        s3_only_backend.Repository(aws_region="us-east-1", s3_bucket=bucket).bootstrap(
            bsm=sandbox_session(endpoint_url)
        )
        # Stop on Ctrl-C or SIGTERM, even when started with SIGINT ignored (as background
        # jobs of a non-interactive shell are, which Python would otherwise inherit).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        click.echo("\n".join(sandbox_lines(endpoint_url, bucket)))
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("\nSandbox stopped.")


@cli.command()
@click.option(
    "--backend",
    type=click.Choice(["all", "s3", "dynamodb"]),
    default="all",
    show_default=True,
    help="Which storage layout(s) to run the story on.",
)
def demo(backend: str) -> None:
    """Run the quick-start story on a local endpoint.

    Starts a moto server on 127.0.0.1, runs put, publish, aliases, a blue/green switch, a
    canary with its measured split, a rollback and a purge through the library on each
    backend, printing every step, and stops the server. Exit code 1 if any check fails.
    Needs moto[server].
    """
    from ._demo import run_demo

    if not run_demo(Console(highlight=False), backend):
        raise click.exceptions.Exit(1)
