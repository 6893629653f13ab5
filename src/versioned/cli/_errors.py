"""Exit codes, and the group that turns exceptions into one line on stderr."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from typing import Any, Final

import click

from .. import exc

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_NOT_FOUND: Final = 3
EXIT_CONFLICT: Final = 4
EXIT_INTEGRITY: Final = 5

EXIT_CODES_HELP: Final = f"""\b
Exit codes:
  {EXIT_OK}  success
  {EXIT_ERROR}  any other failure (AWS refused a request, missing bucket or table, ...)
  {EXIT_USAGE}  usage error: bad option or argument, invalid name, version or setting
  {EXIT_NOT_FOUND}  not found: no such artifact, version or alias
  {EXIT_CONFLICT}  conflict: alias changed since --expected-revision, version used by an
     alias, too many concurrent writers
  {EXIT_INTEGRITY}  integrity: stored bytes do not match their sha256 (or verify found
     problems)
"""

DEBUG_KEY: Final = "versioned.debug"


def exit_code_for(error: BaseException) -> int:
    """The documented exit code of a failure."""
    if isinstance(error, exc.ArtifactNotFoundError | exc.AliasNotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(error, exc.ConflictError):
        return EXIT_CONFLICT
    if isinstance(error, exc.IntegrityError):
        return EXIT_INTEGRITY
    if isinstance(error, exc.ValidationError):
        return EXIT_USAGE
    return EXIT_ERROR


def describe(error: BaseException) -> str:
    """One line saying what happened and, for common AWS setup problems, what to do."""
    text = " ".join(str(error).split())
    if isinstance(error, exc.VersionedError):
        return text or type(error).__name__
    name = type(error).__name__
    hints = {
        "NoCredentialsError": "configure AWS credentials (aws configure, AWS_PROFILE, or "
        "the exports printed by `versioned sandbox`)",
        "EndpointConnectionError": "is the endpoint up? (check --endpoint-url / "
        "VERSIONED_ENDPOINT_URL, or start `versioned sandbox`)",
        "ProfileNotFound": "check --profile / AWS_PROFILE",
    }
    hint = hints.get(name)
    line = f"{name}: {text}" if text else name
    return f"{line}; {hint}" if hint else line


def debug_enabled(ctx: click.Context) -> bool:
    return bool(ctx.meta.get(DEBUG_KEY)) or os.environ.get("VERSIONED_DEBUG", "") not in (
        "",
        "0",
    )


class ErrorHandlingGroup(click.Group):
    """A click group whose commands fail with one ``Error: ...`` line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (``versioned get ... -o - | head``): stop quietly.
            with contextlib.suppress(Exception):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(EXIT_ERROR) from None
        except Exception as error:
            if debug_enabled(ctx):
                traceback.print_exception(error, file=sys.stderr)
            click.echo(click.style("Error: ", fg="red", bold=True) + describe(error), err=True)
            raise click.exceptions.Exit(exit_code_for(error)) from None
