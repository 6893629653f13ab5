"""Output: one JSON document on stdout, or Rich tables; progress bars for big transfers."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

#: Transfers above this size get a progress bar (when both stdout and stderr are terminals).
PROGRESS_THRESHOLD = 8 * 1024 * 1024


def jsonable(value: Any) -> Any:
    """Dataclasses become dicts (field names as declared), datetimes ISO-8601 strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def emit_json(document: Any) -> None:
    """Write exactly one JSON document to stdout."""
    click.echo(json.dumps(jsonable(document), indent=2))


def stdout_console() -> Console:
    """Rich output on stdout. Markup is off: names and messages are printed as they are."""
    return Console(highlight=False, markup=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, markup=False)


def say(message: str) -> None:
    """One line on stdout, never wrapped."""
    stdout_console().print(message, soft_wrap=True)


def done(message: str) -> None:
    """One line on stdout after a green check mark."""
    stdout_console().print(Text.assemble(("✓ ", "green"), message), soft_wrap=True)


def when(artifact_or_alias: Any) -> str:
    moment: datetime = artifact_or_alias.update_datetime
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def short_sha(sha256: str | None) -> str:
    return f"{sha256[:12]}…" if sha256 else "-"


def key_value_table(title: str, rows: Iterable[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in rows:
        table.add_row(key, "-" if value is None else str(value))
    return table


def artifact_table(artifact: Any, title: str) -> Table:
    return key_value_table(
        title,
        [
            ("name", artifact.name),
            ("version", artifact.version),
            ("updated", when(artifact)),
            ("sha256", artifact.sha256),
            ("s3uri", artifact.s3uri),
        ],
    )


def alias_table(alias: Any, title: str) -> Table:
    rows: list[tuple[str, Any]] = [
        ("name", alias.name),
        ("alias", alias.alias),
        ("version", alias.version),
    ]
    if alias.secondary_version is not None:
        rows += [
            ("canary version", alias.secondary_version),
            ("canary weight", f"{alias.secondary_version_weight}%"),
        ]
    rows += [
        ("updated", when(alias)),
        ("revision", getattr(alias, "revision", None)),
        ("version s3uri", alias.version_s3uri),
    ]
    if alias.secondary_version_s3uri:
        rows.append(("canary s3uri", alias.secondary_version_s3uri))
    return key_value_table(title, rows)


def versions_table(title: str, artifacts: Sequence[Any], aliases: Sequence[Any]) -> Table:
    users: dict[str, list[str]] = {}
    for alias in aliases:
        users.setdefault(alias.version, []).append(alias.alias)
        if alias.secondary_version is not None:
            users.setdefault(alias.secondary_version, []).append(
                f"{alias.alias} ({alias.secondary_version_weight}%)"
            )
    table = Table(title=title, title_justify="left")
    table.add_column("version", justify="right")
    table.add_column("updated")
    table.add_column("sha256")
    table.add_column("aliases")
    table.add_column("s3uri", overflow="fold")
    for artifact in artifacts:
        table.add_row(
            artifact.version,
            when(artifact),
            short_sha(artifact.sha256),
            ", ".join(users.get(artifact.version, [])),
            artifact.s3uri,
        )
    return table


def aliases_table(title: str, aliases: Sequence[Any]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("alias")
    table.add_column("version", justify="right")
    table.add_column("canary", justify="right")
    table.add_column("weight", justify="right")
    table.add_column("updated")
    table.add_column("revision", overflow="fold")
    for alias in aliases:
        canary = alias.secondary_version is not None
        table.add_row(
            alias.alias,
            alias.version,
            alias.secondary_version if canary else "",
            f"{alias.secondary_version_weight}%" if canary else "",
            when(alias),
            getattr(alias, "revision", None) or "",
        )
    return table


def show(renderable: Any) -> None:
    stdout_console().print(renderable)


# ------------------------------------------------------------------ progress
def progress_wanted() -> bool:
    """Progress bars only when a person is watching both streams."""
    return sys.stdout.isatty() and sys.stderr.isatty()


class TransferBar:
    """A ``progress(done, total)`` callback that shows a Rich bar on stderr once it learns
    the transfer is larger than PROGRESS_THRESHOLD. Safe to call from worker threads."""

    def __init__(self, description: str) -> None:
        self._description = description
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if total <= PROGRESS_THRESHOLD:
            return
        with self._lock:
            if self._progress is None:
                self._progress = Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    DownloadColumn(),
                    TransferSpeedColumn(),
                    TimeRemainingColumn(),
                    console=stderr_console(),
                )
                self._progress.start()
                self._task = self._progress.add_task(self._description, total=total)
            self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None


@contextlib.contextmanager
def transfer_progress(description: str) -> Iterator[TransferBar | None]:
    """Yield a progress callback, or None when nobody is watching a terminal."""
    if not progress_wanted():
        yield None
        return
    bar = TransferBar(description)
    try:
        yield bar
    finally:
        bar.close()
