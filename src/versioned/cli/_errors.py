"""Exit codes, and the group that turns every failure into one line on stderr.

Each line says what happened and, for the setup problems a new user meets (no endpoint, no
credentials, no bucket or table), what to do next in command-line terms.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from typing import TYPE_CHECKING, Any, Final

import click

from .. import exc

if TYPE_CHECKING:
    from ._settings import Settings

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_NOT_FOUND: Final = 3
EXIT_CONFLICT: Final = 4
EXIT_INTEGRITY: Final = 5
EXIT_INTERRUPTED: Final = 130  # 128 + SIGINT, as shells report Ctrl-C

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
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
"""

DEBUG_KEY: Final = "versioned.debug"
#: where ``connect`` leaves the resolved Settings, for the hints of a later failure
SETTINGS_KEY: Final = "versioned.settings"

NO_CREDENTIALS: Final = (
    "no AWS credentials found: run `aws configure` or pass --profile / set AWS_PROFILE; "
    "for a local endpoint, export the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY lines "
    "that `versioned sandbox` prints"
)


class CliError(click.ClickException):
    """A failure the command line explains itself: one line, exit code 1."""


class NotFoundError(CliError):
    """No such artifact, version or alias (exit code 3)."""

    exit_code = EXIT_NOT_FOUND


class UsageProblem(CliError):
    """A bad argument or setting found by the command line itself (exit code 2)."""

    exit_code = EXIT_USAGE


def not_found(message: str) -> CliError:
    return NotFoundError(message)


def usage_problem(message: str) -> CliError:
    return UsageProblem(message)


def exit_code_for(error: BaseException) -> int:
    """The documented exit code of a failure."""
    if isinstance(
        error, exc.ArtifactNotFoundError | exc.AliasNotFoundError | exc.RolloutNotFoundError
    ):
        return EXIT_NOT_FOUND
    if isinstance(error, exc.ConflictError):
        return EXIT_CONFLICT
    if isinstance(error, exc.IntegrityError):
        return EXIT_INTEGRITY
    if isinstance(error, exc.ValidationError):
        return EXIT_USAGE
    return EXIT_ERROR


def setup_hint(error: BaseException, settings: Settings | None = None) -> str | None:
    """The whole message for a setup problem the library reports (no credentials,
    rejected credentials, endpoint unreachable, bucket or table missing), or None."""
    if isinstance(error, exc.ProfileNotFoundError):
        return (
            f"the AWS profile {error.profile!r} could not be found: check --profile / "
            "AWS_PROFILE (`aws configure list-profiles`)"
        )
    if isinstance(error, exc.CredentialsError):
        if error.missing:
            return NO_CREDENTIALS
        return (
            f"AWS rejected the credentials ({error.code}): check --profile / AWS_PROFILE "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(error, exc.EndpointUnreachableError):
        return unreachable_message(settings.endpoint_url if settings else None, str(error))
    if isinstance(error, exc.BucketNotFoundError):
        bucket = repr((settings.bucket if settings else None) or "")
        return f"bucket {bucket} does not exist: run `versioned bootstrap` to create it"
    if isinstance(error, exc.TableNotFoundError):
        table = repr((settings.table if settings else None) or "")
        return (
            f"DynamoDB table {table} does not exist: run `versioned bootstrap` "
            "(with the same --table) to create it"
        )
    return None


def unreachable_message(endpoint_url: str | None, detail: str) -> str:
    if endpoint_url:
        return (
            f"cannot connect to {endpoint_url} ({detail}): start `versioned sandbox` and "
            "export what it prints, or fix --endpoint-url / VERSIONED_ENDPOINT_URL "
            "(unset it, and AWS_ENDPOINT_URL, to use AWS)"
        )
    return f"cannot reach AWS ({detail}): check the network, --region and AWS_DEFAULT_REGION"


def describe(error: BaseException, settings: Settings | None = None) -> str:
    """One line saying what happened and, for common setup problems, what to do."""
    hint = setup_hint(error, settings)
    if hint is not None:
        return hint
    text = " ".join(str(error).split())
    if isinstance(error, exc.VersionedError):
        text = text.replace("run Repository.bootstrap() first", "run `versioned bootstrap` first")
        return text or type(error).__name__
    name = type(error).__name__
    line = f"{name}: {text}" if text else name
    return line


def debug_enabled(ctx: click.Context) -> bool:
    return bool(ctx.meta.get(DEBUG_KEY)) or os.environ.get("VERSIONED_DEBUG", "") not in (
        "",
        "0",
    )


#: click >= 8.2 reports a group run without a command as a "usage error" that prints help
_HELP_ERRORS: Final[tuple[type[click.UsageError], ...]] = tuple(
    getattr(click.exceptions, name)
    for name in ("NoArgsIsHelpError",)
    if hasattr(click.exceptions, name)
)


def one_line_usage_error(error: click.UsageError) -> click.ClickException:
    """Click prints a usage error as four lines (usage, hint, blank, error); keep one."""
    if isinstance(error, _HELP_ERRORS):
        return error
    message = " ".join(error.format_message().split())
    if error.ctx is not None:
        message = f"{message} Try '{error.ctx.command_path} --help'."
    return usage_problem(message)


class ErrorHandlingGroup(click.Group):
    """A click group whose commands fail with one ``Error: ...`` line and an exit code."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as error:
            raise one_line_usage_error(error) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            raise one_line_usage_error(error) from None
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("\nInterrupted.", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            # The reader went away (``versioned get ... -o - | head``): stop quietly.
            with contextlib.suppress(Exception):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(EXIT_ERROR) from None
        except Exception as error:
            if debug_enabled(ctx):
                traceback.print_exception(error, file=sys.stderr)
            line = describe(error, ctx.meta.get(SETTINGS_KEY))
            click.echo(click.style("Error: ", fg="red", bold=True) + line, err=True)
            raise click.exceptions.Exit(exit_code_for(error)) from None
