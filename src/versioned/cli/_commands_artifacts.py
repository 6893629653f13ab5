"""Commands on the versions of one artifact: ``put``, ``publish``, ``versions``, ``show``,
``get``, ``delete``."""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

import click

from .. import constants, exc
from . import _download
from . import _output as out
from ._conflicts import own_prefix
from ._connection import Connection, connect, current_settings
from ._contract import json_flag_only
from ._errors import EXIT_ERROR, not_found, usage_problem
from ._lookup import explained, require_artifact
from ._options import json_option, parse_pairs, repository_options, version_value
from ._records import complete, unchanged_put

if TYPE_CHECKING:
    from ..repository import Alias, Artifact

__all__ = ["delete", "get", "publish", "put", "show_version", "versions"]

CHUNK: Final = 1024 * 1024


def _reject_json_with_stdout(as_json: bool, output: str | None) -> None:
    if as_json and output == "-":
        raise click.UsageError("--json cannot be combined with -o - (stdout carries the bytes)")


@contextlib.contextmanager
def resume_hint() -> Iterator[None]:
    """A put that failed but kept the parts it sent says how to send only the rest."""
    try:
        yield
    except (Exception, KeyboardInterrupt) as error:
        if any("resume=True" in note for note in getattr(error, "__notes__", ())):
            click.echo(
                "The parts sent are kept: run the same command with --resume to send "
                "only the rest.",
                err=True,
            )
        raise


@click.command()
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
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the upload an interrupted put of this FILE left: only the missing "
    "parts are sent.",
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
    resume: bool,
    as_json: bool,
) -> None:
    """Upload FILE as the LATEST version of NAME.

    FILE "-" reads stdin. A large upload shows a progress bar on stderr.

    Unchanged content (same sha256) writes nothing. A large FILE's upload survives an
    interruption (Ctrl-C, a crash, a lost network): run the same command with --resume
    to send only the parts the server does not hold yet.
    """
    if resume and file == "-":
        raise usage_problem("--resume needs a FILE path: an upload from stdin cannot be resumed")
    conn = connect(ctx)
    content: BinaryIO | Path = sys.stdin.buffer if file == "-" else Path(file)
    with (
        resume_hint(),
        own_prefix(),
        unchanged_put(conn, name) as before,
        out.transfer_progress(f"put {name}") as progress,
    ):
        artifact = conn.repo.put_artifact(
            name=name,
            content=content,
            content_type=content_type,
            metadata=metadata or None,
            tags=tags or None,
            progress=progress,
            resume=resume,
            bsm=conn.bsm,
        )
    unchanged = before.same_as(artifact)
    if as_json:
        out.emit_json({**out.jsonable(artifact), "unchanged": unchanged})
        return
    if unchanged:
        out.say(f"LATEST of {name} is unchanged (same sha256); no bytes were uploaded.")
    out.show(out.artifact_table(artifact, f"{name}: LATEST"))


def newest_published_number(conn: Connection, name: str) -> int:
    """The newest published version number of ``name`` (0 when none)."""
    return conn.repo.get_latest_published_artifact_version_number(name=name, bsm=conn.bsm)


@click.command()
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
    with own_prefix(), explained(conn, name):
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


#: how many versions ``versioned versions`` lists without --limit / --all: a screenful
DEFAULT_VERSIONS_LIMIT = 20


@click.command()
@click.argument("name")
@click.option("--wide", is_flag=True, help="Also the full sha256 and S3 URI of each version.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=DEFAULT_VERSIONS_LIMIT,
    show_default=True,
    help="List at most this many (LATEST counts), newest first.",
)
@click.option("--all", "list_all", is_flag=True, help="List every version (overrides --limit).")
@json_option
@repository_options
@click.pass_context
def versions(
    ctx: click.Context, name: str, wide: bool, limit: int, list_all: bool, as_json: bool
) -> None:
    """List the versions of NAME.

    LATEST first, then newest first: a screenful (--limit N), or every one (--all);
    80 columns wide unless --wide.
    """
    conn = connect(ctx)
    artifacts = conn.repo.list_artifact_versions(
        name=name, bsm=conn.bsm, limit=None if list_all else limit
    )
    if not artifacts:
        require_artifact(conn, name)
    if as_json:
        out.emit_json(complete(conn, artifacts))
        return
    if not artifacts:
        out.say(f"No versions of {name!r}.")
        return
    aliases = conn.repo.list_aliases(name=name, bsm=conn.bsm)
    out.show(
        out.versions_table(f"Versions of {name}", artifacts, aliases, wide=wide), unbounded=wide
    )
    if not list_all and len(artifacts) == limit:
        out.say(f"The newest {limit} shown; --all lists every version, --limit N more or fewer.")


@click.command("show")
@click.argument("name")
@click.argument("version", required=False, callback=version_value)
@json_option
@repository_options
@click.pass_context
def show_version(ctx: click.Context, name: str, version: str | None, as_json: bool) -> None:
    """Show VERSION of NAME (a number or latest, the default).

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


def chosen_version(
    version: str | None, version_option: str | None, alias: str | None
) -> str | None:
    """The one version ``get`` was given: VERSION, --version or --alias (usage error if
    more than one)."""
    if version is not None and version_option is not None and version != version_option:
        raise click.UsageError(f"VERSION {version} and --version {version_option} differ")
    version = version if version is not None else version_option
    if version is not None and alias is not None:
        raise click.UsageError("give VERSION (or --version) or --alias, not both")
    return version


@click.command()
@click.argument("name")
@click.argument("version", required=False, callback=version_value)
@click.option(
    "--version",
    "version_option",
    metavar="VERSION",
    callback=version_value,
    help="The same as the VERSION argument.",
)
@click.option("--alias", metavar="ALIAS", help="Download the version ALIAS points at.")
@click.option(
    "--key",
    metavar="KEY",
    help="With --alias: the version KEY (a user, a host) is routed to, canary or not.",
)
@click.option(
    "-o",
    "--output",
    metavar="PATH",
    help="A file, a directory (DIR/ or an existing one: DIR/NAME{suffix}), or - for "
    "stdout [default: ./NAME{suffix}].",
)
@click.option(
    "--force", is_flag=True, help="Replace a file holding other bytes; write to a terminal."
)
@json_flag_only
@repository_options
@click.pass_context
def get(
    ctx: click.Context,
    name: str,
    version: str | None,
    version_option: str | None,
    alias: str | None,
    key: str | None,
    output: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Download VERSION of NAME (LATEST by default), like `aws s3 cp`.

    With --alias, the version the alias points at (its primary version, not the canary);
    with --alias and --key, the version that key is routed to (sticky: the same key
    gets the same version for as long as the alias's canary and weight stay).
    A file is written only when the bytes match the recorded sha256; one that holds them
    already is left alone; one with other bytes is replaced only with --force. On stdout
    a mismatch is reported after the bytes. Either way, exit code 5.

    \b
    Examples:
      versioned get model 2                 # ./model{suffix}
      versioned get model --alias prod -o models/
      versioned get model --alias prod --key user-42
      versioned get model -o - | sha256sum
    """
    version = chosen_version(version, version_option, alias)
    if key is not None and alias is None:
        raise click.UsageError("--key routes through an alias: give --alias too")
    _reject_json_with_stdout(as_json, output)
    target = _download.destination(output, name, current_settings(ctx).suffix)
    if target is None:
        _download.refuse_terminal(force)
    conn = connect(ctx)
    alias_object = None
    with explained(conn, name, alias):
        if alias is not None:
            alias_object = conn.repo.get_alias(name=name, alias=alias, bsm=conn.bsm)
            version = alias_object.route(key) if key is not None else alias_object.version
        artifact = conn.repo.get_artifact_version(name=name, version=version, bsm=conn.bsm)
    if target is None:
        _stream(conn, artifact)
        return
    unchanged = _download.already_there(target, artifact.sha256, force)
    if not unchanged:
        with out.transfer_progress(f"get {name} {artifact.version}") as progress:
            artifact.download(bsm=conn.bsm, path=target, progress=progress)
    _report_download(artifact, alias_object, target, unchanged, as_json)


def _stream(conn: Connection, artifact: Artifact) -> None:
    """The bytes on stdout (a reader that goes away ends the command quietly)."""
    stream = sys.stdout.buffer
    with artifact.open(bsm=conn.bsm) as reader:
        shutil.copyfileobj(reader, stream, CHUNK)
    stream.flush()


def _report_download(
    artifact: Artifact, alias: Alias | None, target: Path, unchanged: bool, as_json: bool
) -> None:
    size = target.stat().st_size
    if as_json:
        document = {
            "artifact": artifact,
            "alias": alias,
            "path": str(target),
            "size": size,
            "unchanged": unchanged,
        }
        row = [str(target), artifact.version, artifact.sha256, size, unchanged]
        out.emit_json(document, text=[row])
        return
    via = f" (alias {alias.alias})" if alias else ""
    what = f"{artifact.name} version {artifact.version}{via}"
    if unchanged:
        out.done(f"{target} already holds {what} ({size} bytes, same sha256); nothing downloaded")
    else:
        out.done(f"Wrote {size} bytes of {what} to {target}")


@click.command()
@click.argument("name")
@click.argument("version", callback=version_value)
@click.option("-y", "--yes", is_flag=True, help="Delete LATEST (S3 + DynamoDB) without asking.")
@json_option
@repository_options
@click.pass_context
def delete(ctx: click.Context, name: str, version: str, yes: bool, as_json: bool) -> None:
    """Delete VERSION of NAME (a number, or latest).

    Refused (exit code 4) while an alias points at it; a version that does not exist is
    exit code 3. The S3-only backend deletes the bytes and refuses LATEST (`versioned
    purge-artifact NAME` deletes the whole artifact); the S3 + DynamoDB backend
    soft-deletes (bytes stay), and deletes LATEST only when confirmed (or with --yes).
    """
    conn = connect(ctx)
    try:
        conn.repo.get_artifact_version(name=name, version=version, bsm=conn.bsm)
    except exc.ArtifactNotFoundError:
        require_artifact(conn, name)
        raise not_found(f"version {version} of {name} does not exist; nothing deleted") from None
    latest = version == constants.LATEST_VERSION
    if latest:
        confirm_latest_deletion(conn, name, yes)
    try:
        conn.repo.delete_artifact_version(name=name, version=version, bsm=conn.bsm)
    except exc.LatestNotDeletableError:
        raise usage_problem(
            f"the S3-only layout keeps LATEST of {name} until the artifact goes: "
            f"`versioned purge-artifact {name}` deletes it whole (every version and alias); "
            "to replace LATEST, `versioned put` a new one"
        ) from None
    soft = conn.repo.soft_delete
    if as_json:
        out.emit_json({"name": name, "version": version, "deleted": True, "soft": soft})
        return
    how = "Soft-deleted" if soft else "Deleted"
    out.done(f"{how} version {version} of {name}")
    if latest:
        out.say(f"{name} has no LATEST until the next `versioned put {name} FILE`.")


def confirm_latest_deletion(conn: Connection, name: str, yes: bool) -> None:
    """Ask before deleting LATEST (S3 + DynamoDB): get, publish and alias set LATEST fail
    until the next put. Without a terminal to ask on, --yes is required."""
    if yes or not conn.repo.soft_delete:
        return
    consequence = (
        f"Deleting LATEST of {name} leaves it without LATEST: get, publish and alias set "
        f"{name} ... LATEST fail until the next `versioned put {name} FILE` (published "
        "versions and aliases are kept)"
    )
    if not sys.stdin.isatty():
        raise usage_problem(f"{consequence}. Pass --yes to delete it.")
    if not click.confirm(f"{consequence}. Delete it?", default=False, err=True):
        click.echo("Nothing deleted.", err=True)
        raise click.exceptions.Exit(EXIT_ERROR)
