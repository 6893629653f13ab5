"""The settings, session and repository of one invocation, checked before the first request.

Two checks fail fast with a hint instead of letting boto3 retry for seconds: an explicit
endpoint that nothing listens on (connection refused, unknown host), and a session without
credentials.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import click

from ._errors import (
    NO_CREDENTIALS,
    SETTINGS_KEY,
    CliError,
    unreachable_message,
    usage_problem,
)
from ._settings import (
    Sessions,
    Settings,
    make_repository,
    make_session,
    resolve,
    service_endpoints,
    session_region,
)

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

    from ..repository import Repository

OPTIONS_KEY: Final = "versioned.options"
WARNED_KEY: Final = "versioned.warned"

#: how long the endpoint check waits for a TCP connection before leaving it to boto3
CONNECT_CHECK_SECS: Final = 2.0


@dataclasses.dataclass(frozen=True)
class Connection:
    """The resolved settings, the boto session and the repository of one invocation."""

    settings: Settings
    bsm: BotoSesManager
    repo: Repository


def current_settings(ctx: click.Context) -> Settings:
    """The settings of this invocation; their warnings go to stderr (once)."""
    settings = resolve(ctx.meta.get(OPTIONS_KEY, {}), os.environ, Path.cwd())
    if settings.warnings and not ctx.meta.get(WARNED_KEY):
        ctx.meta[WARNED_KEY] = True
        for warning in settings.warnings:
            click.echo(click.style("Warning: ", fg="yellow", bold=True) + warning, err=True)
    return settings


def connect(ctx: click.Context) -> Connection:
    """Resolve the settings, check the endpoint and the credentials, build the repository."""
    settings = current_settings(ctx)
    ctx.meta[SETTINGS_KEY] = settings
    for endpoint in service_endpoints(settings, os.environ):
        check_endpoint(endpoint)
    bsm = make_session(settings, ctx.find_object(Sessions))
    check_credentials(bsm)
    repo = make_repository(settings, session_region(settings, bsm))
    return Connection(settings, bsm, repo)


def _proxied(scheme: str, host: str) -> bool:
    """Whether requests to ``host`` go through a proxy (then a direct connect proves
    nothing)."""
    return scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host)


def check_endpoint(url: str) -> None:
    """Fail at once when nothing listens at ``url`` (connection refused) or its host does
    not resolve. Anything else (a slow network, a proxy) is left to the request itself."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if not host or _proxied(scheme, host):
        return
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as error:
        raise usage_problem(f"endpoint URL {url!r}: {error}") from None
    try:
        with socket.create_connection((host, port), timeout=CONNECT_CHECK_SECS):
            pass
    except ConnectionRefusedError:
        raise CliError(unreachable_message(url, "connection refused")) from None
    except socket.gaierror:
        raise CliError(unreachable_message(url, f"unknown host {host}")) from None
    except OSError:
        return


def check_credentials(bsm: BotoSesManager) -> None:
    """Fail at once, with what to do, when the session finds no credentials."""
    if bsm.boto_ses.get_credentials() is None:
        raise CliError(NO_CREDENTIALS)
