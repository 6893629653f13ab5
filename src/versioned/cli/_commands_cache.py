"""Consumer commands: ``fetch``, ``watch``, ``url`` and ``cache ls | verify | prune``.

These connect without the endpoint and credential pre-checks of the other commands: a
fetch must still answer from the local cache when ``VERSIONED_OFFLINE=1`` is set or the
endpoint is down (then it serves the last resolved bytes with a warning).
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from .. import exc
from ..cache import LocalCache
from . import _output as out
from ._connection import Connection, current_settings
from ._errors import EXIT_INTEGRITY, SETTINGS_KEY, ErrorHandlingGroup
from ._lookup import explained
from ._options import duration_option, json_option, repository_options
from ._settings import Sessions, make_repository, make_session, session_region

if TYPE_CHECKING:
    from ..repository import Alias

__all__ = ["cache_group", "fetch", "url", "watch"]

_SIZE: Final = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?")
_SIZE_UNITS: Final = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """Bytes in "10G", "500M", "1.5GiB", "4096" (binary units)."""
    match = _SIZE.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a size like 10G, 500M or 4096")
    return int(float(match[1]) * _SIZE_UNITS[match[2]])


def _size_option(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    try:
        return None if value is None else parse_size(value)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from error


def _optional_duration(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    return None if value is None else duration_option(ctx, param, value)


def consumer_connect(ctx: click.Context) -> Connection:
    """The settings, session and repository, without contacting anything."""
    settings = current_settings(ctx)
    ctx.meta[SETTINGS_KEY] = settings
    bsm = make_session(settings, ctx.find_object(Sessions))
    return Connection(settings, bsm, make_repository(settings, session_region(settings, bsm)))


@contextmanager
def stale_warnings() -> Iterator[None]:
    """Show a StaleCacheWarning as one "Warning:" line on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", exc.StaleCacheWarning)
        yield
    for warning in caught:
        prefix = click.style("Warning: ", fg="yellow", bold=True)
        click.echo(prefix + str(warning.message), err=True)


cache_dir_option = click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The local cache [env: VERSIONED_CACHE_DIR; default: the user cache directory].",
)
selector_options = [
    click.option("--alias", "alias", metavar="ALIAS", help="Fetch what ALIAS points at."),
    click.option("--version", "version", metavar="N", help="A version number or LATEST."),
    click.option("--key", metavar="KEY", help="Route by KEY (sticky) between an alias's versions."),
]


def _selectors(command: Any) -> Any:
    for option in reversed(selector_options):
        command = option(command)
    return command


@click.command()
@click.argument("name")
@_selectors
@cache_dir_option
@click.option(
    "--max-stale",
    metavar="DURATION",
    callback=_optional_duration,
    help="Endpoint down: serve cached bytes confirmed at most this long ago [default: any].",
)
@click.option("--no-offline-fallback", is_flag=True, help="Endpoint down: fail, never serve stale.")
@json_option
@repository_options
@click.pass_context
def fetch(
    ctx: click.Context,
    name: str,
    alias: str | None,
    version: str | None,
    key: str | None,
    cache_dir: Path | None,
    max_stale: int | None,
    no_offline_fallback: bool,
    as_json: bool,
) -> None:
    """Print the local path of NAME's bytes (LATEST, --version N or --alias A).

    The bytes are downloaded into the local cache once, checked against their sha256;
    later fetches of an unchanged alias send one small request and no content.
    VERSIONED_OFFLINE=1 answers from the cache alone.

    \b
    Examples:
      python serve.py --model "$(versioned fetch model --alias prod)"
      versioned fetch model --alias prod --key "$USER_ID" --json
    """
    conn = consumer_connect(ctx)
    with explained(conn, name, alias), stale_warnings():
        path = conn.repo.fetch(
            name=name,
            alias=alias,
            version=version,
            key=key,
            cache_dir=cache_dir,
            max_stale_secs=max_stale,
            offline_fallback=not no_offline_fallback,
            bsm=conn.bsm,
        )
    if as_json:
        document: dict[str, object] = {"name": name, "alias": alias, "key": key}
        document["path"] = str(path)
        document.update(sha256=path.name, size=path.stat().st_size)
        if alias is None:
            document["version"] = version or "LATEST"
        out.emit_json(document)
    else:
        click.echo(str(path))


_SUB_SECOND: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|s)")


def _interval(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """Seconds in "0.5s", "250ms" or any duration ("30s", "5m"); a bare number is refused
    with the hint, as everywhere."""
    match = _SUB_SECOND.fullmatch(value.strip().lower())
    if match is not None:
        return float(match[1]) / (1000 if match[2] == "ms" else 1)
    return float(duration_option(ctx, param, value))


@click.command()
@click.argument("name")
@click.argument("alias")
@click.option("--exec", "command", required=True, metavar="CMD", help="Run after each change.")
@click.option("--key", metavar="KEY", help="Route by KEY (sticky) between the alias's versions.")
@click.option(
    "--interval",
    default="30s",
    show_default=True,
    metavar="DURATION",
    callback=_interval,
    help="Time between polls (e.g. 30s, 5m, 0.5s, 250ms).",
)
@click.option("--count", type=click.IntRange(1), help="Exit after running CMD this many times.")
@cache_dir_option
@repository_options
@click.pass_context
def watch(
    ctx: click.Context,
    name: str,
    alias: str,
    command: str,
    key: str | None,
    interval: float,
    count: int | None,
    cache_dir: Path | None,
) -> None:
    """Run CMD now and after each change of ALIAS of NAME (hot reload).

    CMD runs in a shell with VERSIONED_PATH (the fetched bytes) and VERSIONED_VERSION
    set. Each poll is one request. Runs until Ctrl-C (or --count runs).

    \b
    Example:
      versioned watch model prod --exec 'kill -HUP "$(cat server.pid)"'
    """
    conn = consumer_connect(ctx)
    runner = _Runner(conn, name, key, command, cache_dir, count)
    with explained(conn, name, alias):
        runner.run(conn.repo.get_alias(name=name, alias=alias, bsm=conn.bsm))
        if runner.finished.is_set():
            return
        watcher = conn.repo.watch(
            name=name,
            alias=alias,
            on_change=runner.run,
            interval_secs=interval,
            on_error=runner.report,
            bsm=conn.bsm,
        )
    try:
        runner.finished.wait()
    finally:
        watcher.stop()
    if runner.failed:
        raise click.exceptions.Exit(1)


class _Runner:
    """Fetches the alias's version and runs the command, for ``watch``."""

    def __init__(
        self,
        conn: Connection,
        name: str,
        key: str | None,
        command: str,
        cache_dir: Path | None,
        count: int | None,
    ) -> None:
        self.conn, self.name, self.key, self.command = conn, name, key, command
        self.cache_dir, self.left = cache_dir, count
        self.finished = threading.Event()
        self.failed = False

    def run(self, alias: Alias) -> None:
        version = alias.route(self.key)
        path = self.conn.repo.fetch(
            name=self.name, version=version, cache_dir=self.cache_dir, bsm=self.conn.bsm
        )
        out.say(f"alias {alias.alias} of {self.name}: version {version} at {path}")
        env = {**os.environ, "VERSIONED_PATH": str(path), "VERSIONED_VERSION": version}
        result = subprocess.run(self.command, shell=True, env=env, check=False)
        if result.returncode != 0:
            self.report(RuntimeError(f"command exited with {result.returncode}"))
        if self.left is not None:
            self.left -= 1
            if self.left <= 0:
                self.finished.set()

    def report(self, error: BaseException) -> None:
        click.echo(click.style("Error: ", fg="red", bold=True) + str(error), err=True)


@click.command()
@click.argument("name")
@_selectors
@click.option(
    "--expires",
    default="1h",
    show_default=True,
    metavar="DURATION",
    callback=duration_option,
    help="How long the URL works (at most 7d).",
)
@json_option
@repository_options
@click.pass_context
def url(
    ctx: click.Context,
    name: str,
    alias: str | None,
    version: str | None,
    key: str | None,
    expires: int,
    as_json: bool,
) -> None:
    """Print a presigned download URL of NAME (LATEST, --version N or --alias A).

    For consumers without AWS credentials (a container, a browser); check the bytes
    against the sha256 that --json prints.
    """
    conn = consumer_connect(ctx)
    with explained(conn, name, alias):
        signed = conn.repo.url(
            name=name, alias=alias, version=version, key=key, expires_secs=expires, bsm=conn.bsm
        )
    if as_json:
        out.emit_json(signed)
    else:
        click.echo(signed.url)


@click.group("cache", cls=ErrorHandlingGroup)
def cache_group() -> None:
    """Inspect, check and prune the local cache of fetched artifacts."""


@cache_group.command("ls")
@cache_dir_option
@json_option
def cache_ls(cache_dir: Path | None, as_json: bool) -> None:
    """List what the cache holds: each alias or version fetched, and its bytes."""
    entries = list(LocalCache(cache_dir).entries())
    if as_json:
        out.emit_json([{**vars(e), "path": e.path and str(e.path)} for e in entries])
        return
    if not entries:
        out.say(f"The cache {LocalCache(cache_dir).root} is empty.")
        return
    table = out.compact_table(f"Cache {LocalCache(cache_dir).root}", drop=("checked", "sha256"))
    for column in ("repository", "name", "fetched", "version", "sha256", "size", "checked"):
        table.add_column(column, no_wrap=True)
    for entry in entries:
        table.add_row(
            entry.repository,
            entry.name,
            entry.label,
            entry.version,
            out.short_sha(entry.sha256),
            out.human_size(entry.size) if entry.path else "(not cached)",
            out.iso_time(entry.checked_at),
        )
    out.show(table)


@cache_group.command("verify")
@cache_dir_option
def cache_verify(cache_dir: Path | None) -> None:
    """Hash every cached blob; corrupted ones are removed (exit code 5)."""
    cache = LocalCache(cache_dir)
    count = len(cache.blobs())
    corrupted = cache.verify()
    for path in corrupted:
        click.echo(f"corrupted (removed): {path}", err=True)
    if corrupted:
        raise click.exceptions.Exit(EXIT_INTEGRITY)
    out.done(f"{count} blob(s) in {cache.root} check out")


@cache_group.command("prune")
@cache_dir_option
@click.option("--max-size", metavar="SIZE", callback=_size_option, help="Shrink to SIZE (10G).")
@click.option(
    "--older-than", metavar="DURATION", callback=_optional_duration, help="Downloaded before."
)
@click.option("--include-referenced", is_flag=True, help="Also blobs a ref still points at.")
@click.option("--dry-run", is_flag=True, help="Only show what would be removed.")
def cache_prune(
    cache_dir: Path | None,
    max_size: int | None,
    older_than: int | None,
    include_referenced: bool,
    dry_run: bool,
) -> None:
    """Remove cached blobs no alias or version fetched points at any more.

    With --older-than and/or --max-size, only those downloaded before then, oldest first,
    until the cache fits. --include-referenced lets it remove any blob (a later fetch
    downloads it again; an offline one fails).
    """
    result = LocalCache(cache_dir).prune(max_size, older_than, include_referenced, dry_run)
    verb = "Would remove" if dry_run else "Removed"
    out.done(
        f"{verb} {len(result.removed)} file(s), {out.human_size(result.freed_bytes)}; "
        f"{out.human_size(result.kept_bytes)} kept"
    )
