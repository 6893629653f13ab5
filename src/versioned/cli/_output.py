"""Output: one JSON document (or text lines) on stdout, or Rich tables; progress on stderr.

How a command prints follows the output contract of :mod:`._contract` (``--output``,
``--quiet``, ``--no-progress``); tables are fitted to the terminal by :mod:`._fit`.

Every timestamp the command line prints goes through :func:`when` (tables) or
:func:`iso_time` (JSON): UTC, to the second, whichever layout or call it came from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.console import Console
from rich.live import Live
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from . import _fit
from ._contract import current_mode, text_lines

if TYPE_CHECKING:
    from ..repository import Alias, Artifact

#: Transfers above this size get a progress bar (when stderr is a terminal).
PROGRESS_THRESHOLD = 8 * 1024 * 1024


def iso_time(moment: datetime) -> str:
    """A timestamp in JSON: ISO-8601 in UTC, to the second (2025-06-26T23:57:20+00:00)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def stamp(update_at: object) -> object:
    """A record's ``update_at`` (an ISO string in S3-only, a datetime in S3 + DynamoDB) as
    the aware datetime both layouts' ``update_datetime`` give (a naive time is UTC)."""
    moment = datetime.fromisoformat(update_at) if isinstance(update_at, str) else update_at
    if isinstance(moment, datetime) and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def jsonable(value: Any) -> Any:
    """Dataclasses become dicts (field names as declared), datetimes ISO-8601 strings.

    An ``update_at`` field goes through :func:`stamp`, so both layouts (str or datetime
    ``update_at``) print the same format and precision.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        if "update_at" in fields:
            fields["update_at"] = stamp(fields["update_at"])
        if "metadata" in fields and "sha256" in fields and fields["metadata"] is None:
            fields["metadata"] = {}  # an artifact: its metadata is always an object
        return {name: jsonable(field) for name, field in fields.items()}
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def emit_json(document: Any, *, text: Iterable[Sequence[Any]] | None = None) -> None:
    """Write exactly one JSON document to stdout, or with ``--output text`` its text
    form: a line per record, tab-separated (``text``: the lines' fields instead, for a
    document whose records are nested)."""
    ready = jsonable(document)
    if current_mode().format == "text":
        lines = text_lines(ready, None if text is None else jsonable(list(text)))
        click.echo("\n".join(lines))
        return
    click.echo(json.dumps(ready, indent=2))


def stdout_console() -> Console:
    """Rich output on stdout. Markup is off: names and messages are printed as they are."""
    return Console(highlight=False, markup=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, markup=False)


def say(message: str) -> None:
    """One line on stdout, never wrapped (nothing with --quiet)."""
    if current_mode().quiet:
        return
    stdout_console().print(message, soft_wrap=True)


def done(message: str) -> None:
    """One line on stdout after a green check mark (nothing with --quiet)."""
    if current_mode().quiet:
        return
    stdout_console().print(Text.assemble(("✓ ", "green"), message), soft_wrap=True)


def when(artifact_or_alias: Artifact | Alias) -> str:
    """The update time of an artifact or alias, as every table prints it."""
    return format_time(artifact_or_alias.update_datetime)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def short_sha(sha256: str | None) -> str:
    return f"{sha256[:12]}…" if sha256 else "-"


def human_size(size: int | None) -> str:
    """1023 B, 1.0 KiB, 9.5 MiB ...; "-" when unknown."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def size_of(artifact: Artifact) -> int | None:
    """The artifact's size in bytes when the library reports it (Artifact.size)."""
    return artifact.size


def key_value_table(title: str, rows: Iterable[tuple[str, Any]]) -> Table:
    """Two borderless columns, so that a sha256 fits on one line of 80 columns."""
    table = Table(title=title, show_header=False, title_justify="left", box=None)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", no_wrap=True)
    for key, value in rows:
        table.add_row(key, "-" if value is None else str(value))
    return table


def artifact_rows(artifact: Artifact) -> list[tuple[str, Any]]:
    size = size_of(artifact)
    return [
        ("name", artifact.name),
        ("version", artifact.version),
        ("updated", when(artifact)),
        ("size", None if size is None else f"{size} bytes ({human_size(size)})"),
        ("sha256", artifact.sha256),
        ("s3uri", artifact.s3uri),
    ]


def artifact_table(artifact: Artifact, title: str) -> Table:
    return key_value_table(title, artifact_rows(artifact))


def metadata_text(metadata: Mapping[str, str] | None) -> str | None:
    if metadata is None:
        return None
    return "\n".join(f"{key}={value}" for key, value in sorted(metadata.items())) or "(none)"


def show_table(artifact: Artifact, users: Sequence[str], title: str) -> Table:
    """Everything about one version: the rows of artifact_table, its content type, user
    metadata and the aliases that route to it."""
    rows = artifact_rows(artifact)
    rows[4:4] = [("content type", artifact.content_type)]
    rows += [
        ("metadata", metadata_text(artifact.metadata)),
        ("aliases", ", ".join(users) or "(none)"),
    ]
    return key_value_table(title, rows)


def describe_target(alias: Alias | None) -> str:
    """ "2", or "2 + 10% to 3" for a canary."""
    if alias is None:
        return "(none)"
    if alias.secondary_version is None:
        return str(alias.version)
    return f"{alias.version} + {alias.secondary_version_weight}% to {alias.secondary_version}"


def alias_table(alias: Alias, title: str) -> Table:
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
        ("revision", alias.revision),
        ("version s3uri", alias.version_s3uri),
    ]
    if alias.secondary_version_s3uri:
        rows.append(("canary s3uri", alias.secondary_version_s3uri))
    return key_value_table(title, rows)


def alias_users(aliases: Sequence[Alias]) -> dict[str, list[str]]:
    """{version: ["prod", "beta (10%)"]}: the aliases routing to each version."""
    users: dict[str, list[str]] = {}
    for alias in aliases:
        users.setdefault(alias.version, []).append(alias.alias)
        if alias.secondary_version is not None:
            users.setdefault(alias.secondary_version, []).append(
                f"{alias.alias} ({alias.secondary_version_weight}%)"
            )
    return users


def compact_table(title: str | None = None, *, drop: Sequence[str] = ()) -> _fit.RecordTable:
    """A table without outer borders, so that five columns fit 80 terminal columns; the
    ``drop`` columns (headers) go first, in order, on a narrow terminal (see _fit)."""
    table = _fit.RecordTable(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False
    )
    table.drop_order = tuple(drop)
    return table


def versions_table(
    title: str, artifacts: Sequence[Artifact], aliases: Sequence[Alias], *, wide: bool = False
) -> Table:
    """One row per version; 80 columns wide unless ``wide`` (full sha256 and S3 URI)."""
    users = alias_users(aliases)
    table = compact_table(title, drop=("updated", "sha256"))
    table.add_column("version", justify="right", no_wrap=True)
    table.add_column("updated", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("sha256", no_wrap=True)
    table.add_column("aliases")
    if wide:
        table.add_column("s3uri", no_wrap=True)
    for artifact in artifacts:
        row = [
            artifact.version,
            when(artifact),
            human_size(size_of(artifact)),
            artifact.sha256 if wide else short_sha(artifact.sha256),
            ", ".join(users.get(artifact.version, [])),
        ]
        table.add_row(*row, *([artifact.s3uri] if wide else []))
    return table


def aliases_table(title: str, aliases: Sequence[Alias]) -> Table:
    table = compact_table(title, drop=("updated",))
    table.add_column("alias", no_wrap=True)
    table.add_column("version", justify="right", no_wrap=True)
    table.add_column("canary", justify="right", no_wrap=True)
    table.add_column("weight", justify="right", no_wrap=True)
    table.add_column("updated", no_wrap=True)
    table.add_column("revision", no_wrap=True)
    for alias in aliases:
        canary = alias.secondary_version is not None
        table.add_row(
            alias.alias,
            alias.version,
            alias.secondary_version if canary else "",
            f"{alias.secondary_version_weight}%" if canary else "",
            when(alias),
            alias.revision or "",
        )
    return table


def show(renderable: Any, *, unbounded: bool = False) -> None:
    """Print on stdout, fitted to the terminal (_fit: identifiers whole, ``key: value``
    lists when narrow) unless ``unbounded`` (--wide output: each row on one line, however
    long). Nothing with --quiet."""
    if current_mode().quiet:
        return
    console = stdout_console()
    if unbounded:
        console = Console(highlight=False, markup=False, width=UNBOUNDED_WIDTH)
    _fit.print_fitted(console, renderable)


UNBOUNDED_WIDTH = 1000


# ------------------------------------------------------------------ progress
def progress_wanted() -> bool:
    """Progress is drawn on stderr, so it shows whenever stderr is a terminal (also with
    stdout redirected: ``versioned put ... > log``), unless --no-progress or --quiet."""
    mode = current_mode()
    return mode.progress and not mode.quiet and sys.stderr.isatty()


class BinarySpeedColumn(ProgressColumn):
    """The transfer speed in MiB/s, the unit every table uses (Rich's own says MB/s)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("?", style="progress.data.speed")
        return Text(f"{human_size(int(speed))}/s", style="progress.data.speed")


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
                    DownloadColumn(binary_units=True),
                    BinarySpeedColumn(),
                    TimeRemainingColumn(),
                    console=stderr_console(),
                    redirect_stdout=False,
                    redirect_stderr=False,
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
    """Yield a progress callback, or None when stderr is not a terminal."""
    if not progress_wanted():
        yield None
        return
    bar = TransferBar(description)
    try:
        yield bar
    finally:
        bar.close()


@contextlib.contextmanager
def activity(description: str, *, wanted: bool = True) -> Iterator[None]:
    """A spinner with ``description`` on stderr while the block runs (a terminal only);
    for work with no progress to report, such as a server-side copy."""
    if not (wanted and progress_wanted()):
        yield
        return
    live = Live(
        Spinner("dots", text=description),
        console=stderr_console(),
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    live.start(refresh=True)
    try:
        yield
    finally:
        live.stop()
