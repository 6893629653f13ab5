"""The output contract every command shares (docs/cli-output.md):

- ``--output table|json|text`` (``--json`` is the short form of ``--output json``): tables
  for people; one JSON document on stdout (its schema in docs/schemas/); or text, one
  record per line, tab-separated fields in the JSON record's order, for scripts.
- ``-q/--quiet``: no tables, messages or progress (errors and warnings still go to stderr;
  what ``--output json|text`` or ``get -o -`` asked for is still printed).
- ``--no-progress``: no progress bar or spinner on stderr.

The options are accepted before or after the command; they are kept in the invocation's
``ctx.meta`` (shared by the group's and the command's contexts), so any helper can read
them through :func:`current_mode` without a parameter. A command adopts the contract with
the :func:`json_option` decorator (its ``as_json`` parameter is True for json and text) and
prints with :func:`versioned.cli._output.emit_json` (which renders text when asked).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

FORMATS: Final = ("table", "json", "text")
FORMAT_KEY: Final = "versioned.output"
QUIET_KEY: Final = "versioned.quiet"
NO_PROGRESS_KEY: Final = "versioned.no_progress"


@dataclasses.dataclass(frozen=True)
class OutputMode:
    """How this invocation prints: the format, ``--quiet`` and ``--no-progress``."""

    format: str = "table"
    quiet: bool = False
    progress: bool = True

    @property
    def machine(self) -> bool:
        """json or text: a document for a program, not a table."""
        return self.format != "table"


def current_mode() -> OutputMode:
    """The output mode of the running invocation (the defaults outside one)."""
    ctx = click.get_current_context(silent=True)
    return OutputMode() if ctx is None else mode_of(ctx.meta)


def mode_of(meta: Mapping[str, Any]) -> OutputMode:
    return OutputMode(
        format=str(meta.get(FORMAT_KEY, "table")),
        quiet=bool(meta.get(QUIET_KEY)),
        progress=not meta.get(NO_PROGRESS_KEY),
    )


def _remember_format(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta[FORMAT_KEY] = value.lower()


def _remember_json(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """``--json``: the short form of ``--output json``. Returns whether the invocation
    prints a document (json or text), the ``as_json`` a command receives."""
    if value and ctx.meta.get(FORMAT_KEY, "json") == "table":
        raise click.UsageError("--json contradicts --output table", ctx=ctx)
    if value:
        ctx.meta.setdefault(FORMAT_KEY, "json")
    return mode_of(ctx.meta).machine


def _remember_flag(key: str) -> Callable[[click.Context, click.Parameter, bool], None]:
    def remember(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            ctx.meta[key] = True

    return remember


output_format_option = click.option(
    "--output",
    "output_format",
    type=click.Choice(FORMATS, case_sensitive=False),
    metavar="table|json|text",
    expose_value=False,
    callback=_remember_format,
    help="table (default), json (one document, docs/schemas/), or text (tab-separated).",
)
quiet_option = click.option(
    "-q",
    "--quiet",
    is_flag=True,
    expose_value=False,
    callback=_remember_flag(QUIET_KEY),
    help="Errors only: no tables, messages or progress.",
)
no_progress_option = click.option(
    "--no-progress",
    is_flag=True,
    expose_value=False,
    callback=_remember_flag(NO_PROGRESS_KEY),
    help="No progress bar or spinner on stderr.",
)
_json_flag = click.option(
    "--json",
    "as_json",
    is_flag=True,
    callback=_remember_json,
    help="Short for --output json.",
)


def mode_options(command: F) -> F:
    """``--output``, ``-q/--quiet`` and ``--no-progress``, exposing nothing (the group's,
    and ``get``'s, whose ``-o/--output`` is the destination)."""
    for option in (no_progress_option, quiet_option, output_format_option):
        command = option(command)
    return command


def json_option(command: F) -> F:
    """The whole output contract on a command: ``--output``, ``--json`` (exposed as
    ``as_json``: True for json and text), ``-q/--quiet`` and ``--no-progress``."""
    return mode_options(_json_flag(command))


def json_flag_only(command: F) -> F:
    """``--json``, ``-q`` and ``--no-progress`` without ``--output`` (for ``get``, whose
    ``-o/--output`` is the destination; ``versioned --output text get ...`` still works)."""
    for option in (no_progress_option, quiet_option):
        command = option(command)
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        callback=_remember_json,
        help="One JSON document on stdout (`versioned --output text get` for text).",
    )(command)


# ------------------------------------------------------------------ text
def text_value(value: Any) -> str:
    """One field in text output: "" for null, true/false, k=v,k=v for an object (keys
    sorted: S3 keeps no order of metadata), a,b for a list; tabs and newlines become
    spaces (a record is one line)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return ",".join(f"{key}={text_value(item)}" for key, item in sorted(value.items()))
    if isinstance(value, list | tuple):
        return ",".join(text_value(item) for item in value)
    return " ".join(str(value).replace("\t", " ").splitlines())


def text_line(record: Any) -> str:
    if isinstance(record, Mapping):
        return "\t".join(text_value(value) for value in record.values())
    if isinstance(record, list | tuple):
        return "\t".join(text_value(value) for value in record)
    return text_value(record)


def text_lines(document: Any, rows: Iterable[Sequence[Any]] | None = None) -> list[str]:
    """The text form of a JSON-ready ``document``: a list gives a line per item, an object
    one line; ``rows`` (when given) are the lines instead, for nested documents."""
    if rows is not None:
        return [text_line(list(row)) for row in rows]
    if isinstance(document, list):
        return [text_line(item) for item in document]
    return [text_line(document)]
