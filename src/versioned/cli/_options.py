"""Options shared by the commands, and the parsing of KEY=VALUE pairs and durations."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from typing import Any, Final, TypeVar

import click

from .. import constants
from ._completion import complete_setting
from ._connection import OPTIONS_KEY
from ._contract import json_option
from ._errors import DEBUG_KEY

F = TypeVar("F", bound=Callable[..., Any])


def _remember_setting(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None and param.name:
        ctx.meta.setdefault(OPTIONS_KEY, {})[param.name] = value


def _remember_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[DEBUG_KEY] = True


def show_library_log(ctx: click.Context) -> None:
    """Show the ``versioned`` logger at DEBUG on stderr until the invocation ends (the
    library itself never prints: without this, its log goes nowhere)."""
    logger = logging.getLogger("versioned")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(level)

    ctx.call_on_close(restore)


def _show_log(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        show_library_log(ctx)


verbose_option = click.option(
    "-v",
    "--verbose",
    is_flag=True,
    expose_value=False,
    callback=_show_log,
    help="Show the library's log on stderr: retries, conflicts, repairs, translated errors.",
)


SETTING_OPTIONS: Final = [
    ("--bucket", "NAME", "S3 bucket of the repository.", "VERSIONED_BUCKET"),
    (
        "--prefix",
        "PREFIX",
        f"Key prefix in the bucket [default: {constants.S3_PREFIX}].",
        "VERSIONED_PREFIX",
    ),
    ("--suffix", "SUFFIX", "File-name suffix of stored versions, e.g. .bin.", "VERSIONED_SUFFIX"),
    ("--region", "REGION", "AWS region.", "VERSIONED_REGION; AWS_REGION, AWS_DEFAULT_REGION"),
    ("--profile", "NAME", "AWS profile.", "VERSIONED_PROFILE; AWS_PROFILE"),
    (
        "--endpoint-url",
        "URL",
        "S3 and DynamoDB endpoint, e.g. http://127.0.0.1:5000 (`versioned sandbox`).",
        "VERSIONED_ENDPOINT_URL; AWS_ENDPOINT_URL",
    ),
    ("--table", "NAME", "DynamoDB table: selects the S3 + DynamoDB backend.", "VERSIONED_TABLE"),
    (
        "--repo",
        "NAME",
        "A named repository of the user file (`versioned config --help`).",
        "VERSIONED_REPO",
    ),
]


def repository_options(command: F) -> F:
    """Add the repository-selection options and --debug (also accepted before the command)."""
    for flag, metavar, text, env in reversed(SETTING_OPTIONS):
        command = click.option(
            flag,
            metavar=metavar,
            help=f"{text} [env: {env}]",
            expose_value=False,
            callback=_remember_setting,
            shell_complete=complete_setting(flag),
        )(command)
    return click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=_remember_debug,
        help="Show the traceback of a failure. [env: VERSIONED_DEBUG=1]",
    )(command)


__all__ = ["json_option", "parse_duration", "repository_options", "version_value"]


def version_value(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A VERSION argument or option: a number, or LATEST in any case (``latest``)."""
    if value is not None and value.strip().upper() == constants.LATEST_VERSION:
        return constants.LATEST_VERSION
    return value


def parse_pairs(
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
    """Seconds in "90d", "12h", "30m", "45s", "1d12h" or "0"; a bare number other than 0
    is refused (is "30" seconds or days?), with the hint of its spellings."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration like 90d, 12h, 30m or 45s")
    if any(not unit for _, unit in parts) and compact.strip("0"):
        number = parts[-1][0]
        raise ValueError(
            f"{text!r} has no unit: write {number}s, {number}m, {number}h or {number}d"
        )
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def duration_option(ctx: click.Context, param: click.Parameter, value: str) -> int:
    try:
        return parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from error
