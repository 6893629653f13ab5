"""Shell completion: ``versioned completion bash|zsh|fish`` prints click's script, and
artifact and alias names complete from the repository.

Completion runs on every Tab, so it must be quick and silent: it asks the repository with
a 2 s connect/read timeout and one attempt per request, gives up on its requests after
``COMPLETION_DEADLINE_SECS`` in all, and any failure (no endpoint, no credentials, a
setting missing, a refusal) completes nothing: never a traceback, never a line on stderr.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click
from click.shell_completion import CompletionItem

from ._config import repository_names

if TYPE_CHECKING:
    from ..repository import Repository

#: per request: how long to wait for a connection, and for an answer
COMPLETION_TIMEOUT_SECS: Final = 2.0
#: for the whole lookup's requests (a retry policy, a slow listing): then nothing is
#: completed
COMPLETION_DEADLINE_SECS: Final = 2 * COMPLETION_TIMEOUT_SECS + 1
SHELLS: Final = ("bash", "zsh", "fish")

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def complete_setting(flag: str) -> Completer | None:
    """The completion of a repository-selection option (``--repo``: the user file's
    named repositories), None for the others."""
    if flag != "--repo":
        return None

    def named(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        return matching(repository_names(os.environ), incomplete)

    return named


def matching(words: Iterable[str], incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(word) for word in words if word.startswith(incomplete)]


def completion_repository(ctx: click.Context) -> tuple[Repository, Any, tuple[str, ...]]:
    """The repository the command line would use, on a session whose clients time out
    after COMPLETION_TIMEOUT_SECS and send each request once, and the services it uses."""
    from botocore.config import Config

    from ._connection import OPTIONS_KEY, check_endpoint
    from ._settings import make_repository, resolve, service_endpoints, session_region

    settings = resolve(ctx.meta.get(OPTIONS_KEY, {}), os.environ, Path.cwd())
    for endpoint in service_endpoints(settings, os.environ):
        check_endpoint(endpoint)
    from boto_session_manager import BotoSesManager

    from .._s3 import ONE_ATTEMPT  # the library's own one-attempt policy

    timeouts = Config(connect_timeout=COMPLETION_TIMEOUT_SECS, read_timeout=COMPLETION_TIMEOUT_SECS)
    client_kwargs: dict[str, Any] = {"config": ONE_ATTEMPT.merge(timeouts)}
    if settings.endpoint_url and settings.sources.get("endpoint_url") != "env AWS_ENDPOINT_URL":
        client_kwargs["endpoint_url"] = settings.endpoint_url
    session_kwargs: dict[str, Any] = {"default_client_kwargs": client_kwargs}
    if settings.region:
        session_kwargs["region_name"] = settings.region
    if settings.profile:
        session_kwargs["profile_name"] = settings.profile
    bsm = BotoSesManager(**session_kwargs)
    services = ("s3", "dynamodb") if settings.table else ("s3",)
    return make_repository(settings, session_region(settings, bsm)), bsm, services


def ask_repository(
    ctx: click.Context, question: Callable[[Repository, Any], list[str]]
) -> list[str]:
    """``question(repo, bsm)``'s answer, or [] when the repository cannot be built or the
    question fails or takes longer than the deadline. Building the session (no request,
    but loading botocore's models takes CPU) is done first, outside the deadline; the
    requests run on a daemon thread that is abandoned when the deadline passes."""
    try:
        repo, bsm, services = completion_repository(ctx)
        warm_up(bsm, services)
    except Exception:  # completion must never fail
        return []
    answer: list[list[str]] = []

    def run() -> None:
        try:
            answer.append(question(repo, bsm))
        except BaseException:  # completion must never fail
            return

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=COMPLETION_DEADLINE_SECS)
    return answer[0] if answer else []


def warm_up(bsm: Any, services: Iterable[str]) -> None:
    """Load the services' models into the session (the clients the library makes later
    from the same session find them cached)."""
    from .._s3 import boto_session

    for service in services:
        boto_session(bsm).client(service)


def complete_artifact(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Artifact names of the repository starting with ``incomplete``."""
    names = ask_repository(ctx, lambda repo, bsm: repo.list_artifact_names(bsm=bsm))
    return matching(names, incomplete)


def complete_alias(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Alias names of the artifact already on the command line."""
    name = ctx.params.get("name") or first_argument(ctx, os.environ.get("COMP_WORDS", ""))
    if not isinstance(name, str) or not name:
        return []

    def aliases(repo: Repository, bsm: Any) -> list[str]:
        return [item.alias for item in repo.list_aliases(name=name, bsm=bsm)]

    return matching(ask_repository(ctx, aliases), incomplete)


def first_argument(ctx: click.Context, words: str) -> str | None:
    """The command's first argument in the words being completed. Click leaves
    ``ctx.params`` empty while the value of an option is completed (``get model --alias
    <Tab>``: the option's missing value stops its parse), so read the words instead."""
    parts = words.split()
    if ctx.info_name not in parts:
        return None
    takes_value = {
        opt
        for param in ctx.command.params
        if isinstance(param, click.Option) and not param.is_flag
        for opt in param.opts
    }
    rest = iter(parts[parts.index(ctx.info_name) + 1 :])
    for word in rest:
        if word in takes_value:
            next(rest, None)
        elif not word.startswith("-"):
            return word
    return None


#: the parameters completed from the repository, by name, in every command
COMPLETERS: Final[dict[str, Completer]] = {"name": complete_artifact, "alias": complete_alias}


def attach(group: click.Group) -> None:
    """Complete every parameter called ``name`` (an artifact) or ``alias`` in the group's
    commands, sub-groups included, unless it completes otherwise already. Done once where
    the commands are assembled, so a command added later gets it too."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            attach(command)
            continue
        for param in command.params:
            completer = COMPLETERS.get(param.name or "")
            if completer is not None and getattr(param, "_custom_shell_complete", 0) is None:
                param._custom_shell_complete = completer


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    bash:  eval "$(versioned completion bash)"        (in ~/.bashrc)
    zsh:   eval "$(versioned completion zsh)"         (in ~/.zshrc, after compinit)
    fish:  versioned completion fish > ~/.config/fish/completions/versioned.fish

    Commands, options, artifact names, alias names and --repo names complete; names are
    read from the repository the settings select (2 s timeout, silent on failure).
    """
    from click.shell_completion import get_completion_class

    root = click.get_current_context().find_root()
    completer_class = get_completion_class(shell)
    if completer_class is None:  # pragma: no cover - click ships all three
        raise click.ClickException(f"click has no completion for {shell}")
    script = completer_class(
        root.command, {}, root.info_name or "versioned", "_VERSIONED_COMPLETE"
    ).source()
    click.echo(script)
