"""Exit codes, and the group that turns every failure into one line on stderr.

Each line says what happened and, for the setup problems a new user meets (no endpoint, no
credentials, no bucket or table), what to do next in command-line terms.
"""

from __future__ import annotations

import contextlib
import difflib
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
    if (
        isinstance(error, exc.BackendError)
        and error.code is not None
        and not_an_aws_code(error.code)
    ):
        return not_s3_message(error, settings)
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


def not_an_aws_code(code: str) -> bool:
    """An error "code" botocore made up from an answer that held none: the HTTP status, or
    nothing (an HTML page)."""
    return code == "" or code.isdigit()


def not_s3_message(error: exc.BackendError, settings: Settings | None) -> str:
    """An answer with an HTTP status and no AWS error code: not an S3 (or DynamoDB) API."""
    endpoint = settings.endpoint_url if settings else None
    text = " ".join(str(error).split())
    status = f"HTTP {error.code}" if error.code else "an answer"
    if not endpoint:
        return f"{text} ({status} without an AWS error code)"
    source = settings.sources.get("endpoint_url", "") if settings else ""
    service = "DynamoDB" if isinstance(error, exc.ArtifactDynamoDBBackendError) else "S3"
    return (
        f"{text} The endpoint {endpoint} ({source}) answered {status} without an "
        f"AWS error code: it does not look like {service}. Check the URL (`versioned config` "
        f"shows where it comes from; `curl -i {endpoint}/` should answer with S3's XML, e.g. "
        "ListAllMyBucketsResult or an Error/Code element)."
    )


def unreachable_message(endpoint_url: str | None, detail: str) -> str:
    if endpoint_url:
        return (
            f"cannot connect to {endpoint_url} ({detail}): start `versioned sandbox` and "
            "export what it prints, or fix --endpoint-url / VERSIONED_ENDPOINT_URL "
            "(unset it, and AWS_ENDPOINT_URL, to use AWS)"
        )
    return f"cannot reach AWS ({detail}): check the network, --region and AWS_DEFAULT_REGION"


def prefix_taken_message(error: exc.RepositoryConflictError, outcome: str) -> str:
    """A prefix serving another repository, with the way out in command-line terms: the
    suffix to pass when only the suffix differs, else another prefix."""
    if error.found_suffix is not None:
        suffix = error.found_suffix
        shown = suffix or "''"
        return (
            f"{error.location} holds {error.found}; {outcome}. It is the same kind of "
            f"repository with suffix {suffix!r}: pass --suffix {shown} (or set "
            f'VERSIONED_SUFFIX, or suffix = "{suffix}" in versioned.toml), or give this '
            "repository its own prefix (--prefix or VERSIONED_PREFIX)."
        )
    return (
        f"{error.location} already holds {error.found}; {outcome}. Give this repository "
        "its own prefix (--prefix or VERSIONED_PREFIX), or use the settings of the "
        "repository that is there."
    )


def describe(error: BaseException, settings: Settings | None = None) -> str:
    """One line saying what happened and, for common setup problems, what to do."""
    hint = setup_hint(error, settings)
    if hint is not None:
        return hint
    if isinstance(error, exc.RepositoryConflictError) and error.location is not None:
        return prefix_taken_message(error, "nothing was read or written")
    text = " ".join(str(error).split())
    if isinstance(error, exc.VersionedError):
        text = text.replace("run Repository.bootstrap() first", "run `versioned bootstrap` first")
        if isinstance(error, exc.LatestDeletedError):
            text = text.replace("; put a new one", "; put a new one (`versioned put NAME FILE`)")
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
    if isinstance(error, click.NoSuchOption) and error.ctx is not None:
        message = (
            f"No such option {error.option_name!r}.{option_hint(error.ctx, error.option_name)}"
        )
    else:
        message = " ".join(error.format_message().split())
    if error.ctx is not None:
        message = f"{message} Try '{error.ctx.command_path} --help'."
    return usage_problem(message)


def option_hint(ctx: click.Context, option: str) -> str:
    """ " Did you mean '--json'?" for a close option of the command (by the option's name,
    not its dashes: "--quiet" is not close to "--bucket"), or where the option belongs
    (the group's, given after the command), or "" when nothing fits."""
    own = [name for param in ctx.command.params for name in getattr(param, "opts", ())]
    bare = {name.lstrip("-"): name for name in own if name.startswith("--")}
    close = difflib.get_close_matches(option.lstrip("-"), list(bare), n=1, cutoff=0.7)
    if close:
        return f" Did you mean {bare[close[0]]!r}?"
    wanted = OPTION_SYNONYMS.get(option, ())
    for synonym in wanted:
        if synonym in own:
            return f" Did you mean {synonym!r}?"
    parent = ctx.parent
    if parent is not None:
        above = [name for param in parent.command.params for name in getattr(param, "opts", ())]
        if option in above:
            return (
                f" {option} is an option of `{parent.command_path}`: give it before the "
                f"command ({parent.command_path} {option} {ctx.info_name} ...)."
            )
    return ""


#: options users of other tools type, and this command line's spelling
OPTION_SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "--silent": ("--quiet",),
    "-s": ("--quiet",),
    "--quiet": ("--no-progress",),
    "--yes": ("--force",),
    "-y": ("--yes", "--force"),
    "--force": ("--yes",),
    "--out": ("--output",),
    "--format": ("--output", "--json"),
    "--version-id": ("--version",),
}

#: commands users of aws, gh, docker and huggingface-cli type, with what to run instead
COMMAND_SYNONYMS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "versioned": {
        "ls": ("names", "versions NAME", "alias list NAME"),
        "list": ("names", "versions NAME", "alias list NAME"),
        "rm": ("delete NAME VERSION", "purge-artifact NAME"),
        "remove": ("delete NAME VERSION", "purge-artifact NAME"),
        "del": ("delete NAME VERSION", "purge-artifact NAME"),
        "cp": ("get NAME", "put NAME FILE"),
        "download": ("get NAME",),
        "pull": ("get NAME",),
        "upload": ("put NAME FILE",),
        "push": ("put NAME FILE",),
        "release": ("publish NAME",),
        "info": ("show NAME",),
        "describe": ("show NAME",),
        "init": ("bootstrap",),
        "create": ("bootstrap",),
        "configure": ("config",),
        "check": ("verify",),
        "aliases": ("alias list NAME",),
    },
    "alias": {
        "ls": ("list NAME",),
        "rm": ("delete NAME ALIAS",),
        "remove": ("delete NAME ALIAS",),
        "add": ("set NAME ALIAS VERSION",),
        "create": ("set NAME ALIAS VERSION",),
        "update": ("set NAME ALIAS VERSION",),
        "show": ("get NAME ALIAS",),
    },
}


def command_hint(group: click.Group, ctx: click.Context, word: str) -> str | None:
    """The commands to run instead of ``word`` (a synonym from another tool), or None."""
    known = COMMAND_SYNONYMS.get(group.name or "", {}).get(word.lower())
    if not known:
        return None
    offered = [
        f"`{ctx.command_path} {usage}`" for usage in known if usage.split()[0] in group.commands
    ]
    if not offered:
        return None
    choice = offered[0] if len(offered) == 1 else f"{', '.join(offered[:-1])} or {offered[-1]}"
    return f"no command {word!r}: run {choice} (`{ctx.command_path} --help` lists every command)"


class ErrorHandlingGroup(click.Group):
    """A click group whose commands fail with one ``Error: ...`` line and an exit code."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            hint = command_hint(self, ctx, args[0]) if args else None
            if hint is None:
                raise
            raise usage_problem(hint) from None

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
            # The reader went away (``versioned get ... -o - | head``): it has what it
            # wanted, so stop quietly and successfully, as ``cat`` does under ``head``.
            with contextlib.suppress(Exception):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(EXIT_OK) from None
        except Exception as error:
            if debug_enabled(ctx):
                traceback.print_exception(error, file=sys.stderr)
            line = describe(error, ctx.meta.get(SETTINGS_KEY))
            click.echo(click.style("Error: ", fg="red", bold=True) + line, err=True)
            raise click.exceptions.Exit(exit_code_for(error)) from None
