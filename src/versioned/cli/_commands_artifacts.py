"""Commands on the versions of one artifact: ``put``, ``publish``, ``versions``, ``show``,
``get``, ``delete``."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import BinaryIO, Final

import click

from .. import exc
from . import _output as out
from ._conflicts import own_prefix
from ._connection import Connection, connect
from ._errors import not_found, usage_problem
from ._lookup import explained, require_artifact
from ._options import json_option, parse_pairs, repository_options

__all__ = ["delete", "get", "publish", "put", "show_version", "versions"]

CHUNK: Final = 1024 * 1024


def _reject_json_with_stdout(as_json: bool, output: str) -> None:
    if as_json and output == "-":
        raise click.UsageError("--json cannot be combined with -o - (stdout carries the bytes)")


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
    content: BinaryIO | Path = sys.stdin.buffer if file == "-" else Path(file)
    with own_prefix(), out.transfer_progress(f"put {name}") as progress:
        artifact = conn.repo.put_artifact(
            name=name,
            content=content,
            content_type=content_type,
            metadata=metadata or None,
            tags=tags or None,
            progress=progress,
            bsm=conn.bsm,
        )
    if as_json:
        out.emit_json(artifact)
    else:
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


@click.command()
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


@click.command("show")
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


@click.command()
@click.argument("name")
@click.option("--version", "version", metavar="VERSION", help="A version number or LATEST.")
@click.option("--alias", metavar="ALIAS", help="Download the version ALIAS points at.")
@click.option(
    "--key",
    metavar="KEY",
    help="With --alias: the version KEY (a user, a host) is routed to, canary or not.",
)
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
    key: str | None,
    output: str,
    as_json: bool,
) -> None:
    """Download a version (LATEST by default).

    With --alias, the version the alias points at (its primary version, not the canary);
    with --alias and --key, the version that key is routed to (sticky: the same key
    gets the same version for as long as the alias's canary and weight stay).
    The bytes are checked against the recorded sha256: a file is written only when they
    match; on stdout a mismatch is reported after the bytes. Either way, exit code 5.
    """
    if version is not None and alias is not None:
        raise click.UsageError("give --version or --alias, not both")
    if key is not None and alias is None:
        raise click.UsageError("--key routes through an alias: give --alias too")
    _reject_json_with_stdout(as_json, output)
    check_output_path(output)
    conn = connect(ctx)
    alias_object = None
    with explained(conn, name, alias):
        if alias is not None:
            alias_object = conn.repo.get_alias(name=name, alias=alias, bsm=conn.bsm)
            version = alias_object.route(key) if key is not None else alias_object.version
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


@click.command()
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
    soft = conn.repo.soft_delete
    if as_json:
        out.emit_json({"name": name, "version": version, "deleted": True, "soft": soft})
        return
    how = "Soft-deleted" if soft else "Deleted"
    out.done(f"{how} version {version} of {name}")
