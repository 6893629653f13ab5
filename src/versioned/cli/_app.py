"""The ``versioned`` command group and its commands (a client of the public API only)."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import click
from rich.console import Console
from rich.table import Table

from .. import __version__
from .. import constants as C
from . import _output as out
from ._errors import DEBUG_KEY, EXIT_CODES_HELP, EXIT_INTEGRITY, ErrorHandlingGroup
from ._settings import Settings, make_repository, make_session, resolve, session_region

F = TypeVar("F", bound=Callable[..., Any])

OPTIONS_KEY: Final = "versioned.options"
CHUNK: Final = 1024 * 1024


# ------------------------------------------------------------------ shared options
def _remember_setting(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None and param.name:
        ctx.meta.setdefault(OPTIONS_KEY, {})[param.name] = value


def _remember_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[DEBUG_KEY] = True


_SETTING_OPTIONS: Final = [
    ("--bucket", "NAME", "S3 bucket of the repository.", "VERSIONED_BUCKET"),
    (
        "--prefix",
        "PREFIX",
        f"Key prefix in the bucket [default: {C.S3_PREFIX}].",
        "VERSIONED_PREFIX",
    ),
    ("--suffix", "SUFFIX", "File-name suffix of stored versions, e.g. .bin.", "VERSIONED_SUFFIX"),
    ("--region", "REGION", "AWS region.", "VERSIONED_REGION; AWS_REGION, AWS_DEFAULT_REGION"),
    ("--profile", "NAME", "AWS profile.", "VERSIONED_PROFILE; AWS_PROFILE"),
    (
        "--endpoint-url",
        "URL",
        "S3 and DynamoDB endpoint (e.g. `versioned sandbox`).",
        "VERSIONED_ENDPOINT_URL; AWS_ENDPOINT_URL",
    ),
    ("--table", "NAME", "DynamoDB table: selects the S3 + DynamoDB backend.", "VERSIONED_TABLE"),
]


def repository_options(command: F) -> F:
    """Add the repository-selection options and --debug (also accepted before the command)."""
    for flag, metavar, text, env in reversed(_SETTING_OPTIONS):
        command = click.option(
            flag,
            metavar=metavar,
            help=f"{text} [env: {env}]",
            expose_value=False,
            callback=_remember_setting,
        )(command)
    return click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=_remember_debug,
        help="Show the traceback of a failure. [env: VERSIONED_DEBUG=1]",
    )(command)


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of tables."
)


@dataclasses.dataclass(frozen=True)
class Connection:
    """The resolved settings, the boto session and the repository of one invocation."""

    settings: Settings
    bsm: Any
    repo: Any


def current_settings(ctx: click.Context) -> Settings:
    return resolve(ctx.meta.get(OPTIONS_KEY, {}), os.environ, Path.cwd())


def connect(ctx: click.Context) -> Connection:
    settings = current_settings(ctx)
    bsm = make_session(settings)
    repo = make_repository(settings, session_region(settings, bsm))
    return Connection(settings, bsm, repo)


def _parse_pairs(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx=ctx, param=param)
        pairs[key] = value
    return pairs


_DURATION_PART: Final = re.compile(r"(\d+)([smhdw]?)")
_UNIT_SECONDS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> int:
    """Seconds in "90d", "12h", "30m", "45s", "1d12h" or a bare number of seconds."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration like 90d, 12h, 30m or 45s")
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def _duration_option(ctx: click.Context, param: click.Parameter, value: str) -> int:
    try:
        return parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from error


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
     keys: bucket, prefix, suffix, region, profile, endpoint_url, table
  4. AWS_REGION / AWS_DEFAULT_REGION, AWS_PROFILE, AWS_ENDPOINT_URL
A table name selects the S3 + DynamoDB backend; without one, the S3-only backend.

Read commands take --json for one JSON document on stdout (the library's field names).
Errors are one line on stderr; --debug adds the traceback.

{EXIT_CODES_HELP}"""


@click.group(cls=ErrorHandlingGroup, help=HELP, context_settings={"max_content_width": 100})
@click.version_option(__version__, prog_name="versioned")
@repository_options
def cli() -> None:
    pass


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
        if field in ("backend", "sources"):
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
    callback=_parse_pairs,
    help="User metadata; repeatable.",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_parse_pairs,
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

    FILE "-" reads stdin.

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


@cli.command()
@click.argument("name")
@json_option
@repository_options
@click.pass_context
def publish(ctx: click.Context, name: str, as_json: bool) -> None:
    """Snapshot LATEST of NAME as the next immutable version.

    When LATEST equals the newest version, that version is returned unchanged.
    """
    conn = connect(ctx)
    artifact = conn.repo.publish_artifact_version(name=name, bsm=conn.bsm)
    if as_json:
        out.emit_json(artifact)
    else:
        out.show(out.artifact_table(artifact, f"{name}: version {artifact.version}"))


@cli.command()
@click.argument("name")
@json_option
@repository_options
@click.pass_context
def versions(ctx: click.Context, name: str, as_json: bool) -> None:
    """List the versions of NAME.

    LATEST first, then newest first.
    """
    conn = connect(ctx)
    artifacts = conn.repo.list_artifact_versions(name=name, bsm=conn.bsm)
    if as_json:
        out.emit_json(artifacts)
        return
    if not artifacts:
        out.say(f"No versions of {name!r}.")
        return
    aliases = conn.repo.list_aliases(name=name, bsm=conn.bsm)
    out.show(out.versions_table(f"Versions of {name}", artifacts, aliases))


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


@cli.command()
@click.argument("name")
@click.option("--version", "version", metavar="VERSION", help="A version number or LATEST.")
@click.option("--alias", metavar="ALIAS", help="Download the version ALIAS points at.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
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
    conn = connect(ctx)
    alias_object = None
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
    out.done(
        f"Wrote {size} bytes of {name} version {artifact.version}{via} to {output}",
    )


@cli.command()
@click.argument("name")
@click.argument("version")
@json_option
@repository_options
@click.pass_context
def delete(ctx: click.Context, name: str, version: str, as_json: bool) -> None:
    """Delete VERSION of NAME.

    Refused (exit code 4) while an alias points at it. The S3-only backend deletes the
    bytes and refuses LATEST; the S3 + DynamoDB backend soft-deletes (bytes stay).
    """
    conn = connect(ctx)
    conn.repo.delete_artifact_version(name=name, version=version, bsm=conn.bsm)
    soft = conn.settings.backend == "s3+dynamodb"
    if as_json:
        out.emit_json({"name": name, "version": version, "deleted": True, "soft": soft})
        return
    how = "Soft-deleted" if soft else "Deleted"
    out.done(f"{how} version {version} of {name}")


# ------------------------------------------------------------------ lifecycle
def plan_purge(
    conn: Connection, name: str, keep_last_n: int, purge_older_than_secs: int
) -> tuple[datetime, list[Any]]:
    """What ``purge_artifact_versions`` would delete now, computed without writing."""
    plan = conn.repo.plan_purge(
        name=name,
        keep_last_n=keep_last_n,
        purge_older_than_secs=purge_older_than_secs,
        bsm=conn.bsm,
    )
    return plan.purge_time, list(plan.delete)


@cli.command()
@click.argument("name")
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    default=C.DEFAULT_KEEP_LAST_N,
    show_default=True,
    help="Always keep this many newest versions.",
)
@click.option(
    "--older-than",
    metavar="DURATION",
    default="90d",
    callback=_duration_option,
    show_default=True,
    help="Only purge versions older than this (s, m, h, d, w units: 90d, 12h, 0).",
)
@click.option("--dry-run", is_flag=True, help="List what would be purged; change nothing.")
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
    if dry_run:
        purge_time, doomed = plan_purge(conn, name, keep, older_than)
    else:
        purge_time, doomed = conn.repo.purge_artifact_versions(
            name=name, keep_last_n=keep, purge_older_than_secs=older_than, bsm=conn.bsm
        )
    if as_json:
        out.emit_json(
            {
                "name": name,
                "dry_run": dry_run,
                "purge_time": purge_time,
                "keep_last_n": keep,
                "purge_older_than_secs": older_than,
                "versions": doomed,
            }
        )
        return
    verb = "Would purge" if dry_run else "Purged"
    if not doomed:
        out.say(f"{'Would purge' if dry_run else 'Purged'} nothing: no version of {name} matches.")
        return
    table = Table(
        title=f"{verb} {len(doomed)} version(s) of {name}"
        + (" (dry run: nothing deleted)" if dry_run else ""),
        title_justify="left",
    )
    table.add_column("version", justify="right")
    table.add_column("updated")
    table.add_column("s3uri", overflow="fold")
    for artifact in doomed:
        table.add_row(artifact.version, out.when(artifact), artifact.s3uri)
    out.show(table)


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
    is found.
    """
    conn = connect(ctx)
    if not hasattr(conn.repo, "verify"):
        raise click.ClickException(f"the {conn.settings.backend} backend has no verify")
    report = conn.repo.verify(name=name, bsm=conn.bsm)
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


# ------------------------------------------------------------------ aliases
@cli.group("alias", cls=ErrorHandlingGroup)
def alias_group() -> None:
    """Manage aliases: pointers to versions, canaries."""


@alias_group.command("set")
@click.argument("name")
@click.argument("alias")
@click.argument("version", required=False)
@click.option("--canary", "canary", metavar="VERSION", help="Send --weight % of traffic here.")
@click.option(
    "--weight", type=click.IntRange(0, 99), metavar="PERCENT", help="The canary's share, 0..99."
)
@click.option(
    "--expected-revision",
    metavar="REVISION",
    help="Only write if the alias is still at this revision (else exit code 4).",
)
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
    as_json: bool,
) -> None:
    """Point ALIAS of NAME at VERSION (LATEST when omitted).

    \b
    Examples:
      versioned alias set model prod 2                        # blue/green switch
      versioned alias set model prod 2 --canary 3 --weight 10 # 10% to version 3
    """
    if (canary is None) != (weight is None):
        raise click.UsageError("--canary and --weight go together")
    conn = connect(ctx)
    result = conn.repo.put_alias(
        name=name,
        alias=alias,
        version=version,
        secondary_version=canary,
        secondary_version_weight=weight,
        expected_revision=expected_revision,
        bsm=conn.bsm,
    )
    if as_json:
        out.emit_json(result)
    else:
        out.show(out.alias_table(result, f"{name}: alias {alias}"))


@alias_group.command("get")
@click.argument("name")
@click.argument("alias")
@json_option
@repository_options
@click.pass_context
def alias_get(ctx: click.Context, name: str, alias: str, as_json: bool) -> None:
    """Show ALIAS of NAME."""
    conn = connect(ctx)
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
@json_option
@repository_options
@click.pass_context
def alias_delete(
    ctx: click.Context, name: str, alias: str, expected_revision: str | None, as_json: bool
) -> None:
    """Delete ALIAS of NAME (its versions stay)."""
    conn = connect(ctx)
    conn.repo.delete_alias(
        name=name, alias=alias, expected_revision=expected_revision, bsm=conn.bsm
    )
    if as_json:
        out.emit_json({"name": name, "alias": alias, "deleted": True})
    else:
        out.done(f"Deleted alias {alias} of {name}")


# ------------------------------------------------------------------ local endpoint
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
    the library (through boto3's AWS_ENDPOINT_URL) use it. Needs moto[server].
    """
    from .. import s3_only_backend
    from ._sandbox import export_lines, moto_endpoint, port_is_free, sandbox_session

    chosen = port
    if chosen is None:
        chosen = 5000 if port_is_free(5000) else 0
    with moto_endpoint(chosen, quiet=not verbose) as endpoint_url:
        s3_only_backend.Repository(aws_region="us-east-1", s3_bucket=bucket).bootstrap(
            bsm=sandbox_session(endpoint_url)
        )
        lines = [
            f"Local S3 + DynamoDB endpoint (moto) on {endpoint_url}; bucket {bucket!r} created.",
            "In another shell, run:",
            "",
            *export_lines(endpoint_url, bucket),
            "",
            "For the S3 + DynamoDB backend, also: export VERSIONED_TABLE=versioned-artifacts "
            "&& versioned bootstrap",
            "Press Ctrl-C to stop (all data is in memory and goes with the server).",
        ]
        # Stop on Ctrl-C or SIGTERM, even when started with SIGINT ignored (as background
        # jobs of a non-interactive shell are, which Python would otherwise inherit).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        click.echo("\n".join(lines))
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
