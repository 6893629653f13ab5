"""Which repository the command line talks to, and the session it uses.

Every setting is resolved in one order: command-line option, ``VERSIONED_*`` variable,
project file (the nearest ``versioned.toml`` or ``pyproject.toml [tool.versioned]`` up the
directory tree), the user file's chosen repository (``--repo NAME`` / ``VERSIONED_REPO``,
see ``_config``), generic ``AWS_*`` variable, built-in default. The generic AWS variables
come late so that a file can pin its bucket's region while the shell's
``AWS_DEFAULT_REGION`` serves other tools; ``VERSIONED_*`` variables override the files
for one shell or one CI job.

A project file is part of a repository someone else may have written, so it may not choose
where signed requests go: its ``endpoint_url`` is ignored (with a warning) unless
``VERSIONED_ALLOW_PROJECT_ENDPOINT=1`` is set. The user's own file may.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .. import constants
from .._s3 import boto_session
from ._config import (
    FIELDS,
    REPO_ENV,
    ConfigError,
    Found,
    find_project_file,
    load_user_repository,
)

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

    from ..repository import Repository


#: The dedicated variable of each setting.
OWN_ENV: Final = {field: f"VERSIONED_{field.upper()}" for field in FIELDS}

#: Generic AWS variables consulted after the project file.
AWS_ENV: Final = {
    "region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "profile": ("AWS_PROFILE",),
    "endpoint_url": ("AWS_ENDPOINT_URL",),
}

DEFAULTS: Final = {"prefix": constants.S3_PREFIX, "suffix": ""}

#: Set to 1 to let a project file choose the endpoint (off by default: a cloned repository
#: must not redirect your signed requests and credentials to a host of its choosing).
ALLOW_PROJECT_ENDPOINT_ENV: Final = "VERSIONED_ALLOW_PROJECT_ENDPOINT"

#: Variables that decide which credentials a session finds (part of the session cache key).
CREDENTIAL_ENV: Final = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The resolved settings and, for each, where its value came from."""

    bucket: str | None
    prefix: str
    suffix: str
    region: str | None
    profile: str | None
    endpoint_url: str | None
    table: str | None
    sources: Mapping[str, str]
    #: things the user should know about how the settings were chosen (stderr lines)
    warnings: tuple[str, ...] = ()
    #: the user file's named repository in use, and the files read
    repo: str | None = None
    files: Mapping[str, str | None] = dataclasses.field(default_factory=dict)

    @property
    def backend(self) -> str:
        """Either "s3" (S3-only layout) or "s3+dynamodb" (selected by a table name)."""
        return "s3+dynamodb" if self.table else "s3"

    def as_dict(self) -> dict[str, Any]:
        values = {field: getattr(self, field) for field in FIELDS}
        return {
            "backend": self.backend,
            **values,
            "sources": dict(self.sources),
            "warnings": list(self.warnings),
            "repo": self.repo,
            "files": dict(self.files),
        }


def resolve(options: Mapping[str, str], environ: Mapping[str, str], directory: Path) -> Settings:
    """Merge options, environment, files and defaults (in that order of precedence).

    Empty environment variables count as unset; an empty option (``--suffix ""``) is a value.
    Raises ConfigError for an unreadable file, an unknown key or repository name, or an
    endpoint URL without a scheme.
    """
    project = find_project_file(directory)
    chosen = options.get("repo") or environ.get(REPO_ENV) or None
    user = load_user_repository(environ, chosen)
    warnings = _drop_project_endpoint(project, options, environ)
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for field in FIELDS:
        candidates: list[tuple[str | None, str]] = [
            (options.get(field), f"option --{field.replace('_', '-')}"),
            (environ.get(OWN_ENV[field]) or None, f"env {OWN_ENV[field]}"),
            (project.values.get(field), f"file {project.label}"),
            (user.values.get(field), f"file {user.label}"),
            *((environ.get(name) or None, f"env {name}") for name in AWS_ENV.get(field, ())),
            (DEFAULTS.get(field), "default"),
        ]
        values[field], sources[field] = next(
            ((value, source) for value, source in candidates if value is not None),
            (None, ""),
        )
        if values[field] is None:
            del sources[field]
    if values["endpoint_url"] is not None:
        check_endpoint_url(values["endpoint_url"], sources["endpoint_url"])
    return Settings(
        bucket=values["bucket"],
        prefix=values["prefix"] or "",
        suffix=values["suffix"] or "",
        region=values["region"],
        profile=values["profile"],
        endpoint_url=values["endpoint_url"],
        table=values["table"],
        sources=sources,
        warnings=tuple(warnings),
        repo=user.name,
        files={
            "project": None if project.path is None else str(project.path),
            "user": None if user.path is None else str(user.path),
        },
    )


def _drop_project_endpoint(
    project: Found, options: Mapping[str, str], environ: Mapping[str, str]
) -> list[str]:
    """Remove the project file's endpoint_url unless allowed; the warning to show (none
    when an option or VERSIONED_ENDPOINT_URL decides the endpoint anyway)."""
    if "endpoint_url" not in project.values or project_endpoint_allowed(environ):
        return []
    ignored = project.values.pop("endpoint_url")
    if options.get("endpoint_url") is not None or environ.get(OWN_ENV["endpoint_url"]):
        return []
    return [
        f"ignoring endpoint_url = {ignored!r} in {project.label}: a project file may "
        f"not redirect your AWS credentials; export {ALLOW_PROJECT_ENDPOINT_ENV}=1 "
        "to use it"
    ]


def project_endpoint_allowed(environ: Mapping[str, str]) -> bool:
    return environ.get(ALLOW_PROJECT_ENDPOINT_ENV, "").strip().lower() in ("1", "true", "yes")


_URL: Final = re.compile(r"^https?://[^/?#\s]+", re.IGNORECASE)


def check_endpoint_url(url: str, source: str) -> None:
    """Raise ConfigError unless ``url`` is an http:// or https:// URL with a host."""
    if _URL.match(url):
        return
    where = f"endpoint URL {url!r} ({source.removeprefix('env ')})"
    if "://" not in url:
        raise ConfigError(f"{where} has no scheme; did you mean http://{url} ?")
    raise ConfigError(f"{where} must start with http:// or https://")


def service_endpoints(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """The endpoints requests will go to (for a quick reachability check): the explicit
    one, else the per-service variables botocore honours, else AWS_ENDPOINT_URL."""
    if settings.endpoint_url is None:
        return []
    if settings.sources.get("endpoint_url") != "env AWS_ENDPOINT_URL":
        return [settings.endpoint_url]
    services = ["S3"] + (["DYNAMODB"] if settings.table else [])
    return sorted({environ.get(f"AWS_ENDPOINT_URL_{s}") or settings.endpoint_url for s in services})


class Sessions:
    """Sessions reused across invocations for equal settings, held by whoever drives the
    command line in-process (tests, the demo) and passed as the click context's ``obj``.

    Building a session loads botocore's service models, which is slow when many commands
    run in one process. The credential variables are part of the key: a changed
    environment gets a new session, never the credentials an earlier one found."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[str | None, ...], BotoSesManager] = {}

    def get(
        self, key: tuple[str | None, ...], build: Callable[[], BotoSesManager]
    ) -> BotoSesManager:
        if key not in self._sessions:
            self._sessions[key] = build()
        return self._sessions[key]


def make_session(settings: Settings, sessions: Sessions | None = None) -> BotoSesManager:
    """A BotoSesManager for the settings (region, profile and endpoint only when given),
    taken from ``sessions`` when the caller keeps one."""
    # botocore resolves AWS_ENDPOINT_URL itself, and lets AWS_ENDPOINT_URL_S3 /
    # AWS_ENDPOINT_URL_DYNAMODB override it per service: passing it explicitly would not.
    explicit = settings.sources.get("endpoint_url") not in (None, "env AWS_ENDPOINT_URL")
    endpoint = settings.endpoint_url if explicit else None

    def build() -> BotoSesManager:
        return _session(settings.region, settings.profile, endpoint)

    if sessions is None:
        return build()
    credentials = tuple(os.environ.get(name) for name in CREDENTIAL_ENV)
    return sessions.get((settings.region, settings.profile, endpoint, *credentials), build)


def _session(region: str | None, profile: str | None, endpoint_url: str | None) -> BotoSesManager:
    from boto_session_manager import BotoSesManager

    kwargs: dict[str, Any] = {}
    if region:
        kwargs["region_name"] = region
    if profile:
        kwargs["profile_name"] = profile
    if endpoint_url:
        kwargs["default_client_kwargs"] = {"endpoint_url": endpoint_url}
    return BotoSesManager(**kwargs)


def make_repository(settings: Settings, region: str) -> Repository:
    """The S3-only Repository, or the S3 + DynamoDB one when a table is configured."""
    if not settings.bucket:
        raise ConfigError(
            'no bucket: pass --bucket, set VERSIONED_BUCKET, or add bucket = "..." to '
            "versioned.toml (or choose a repository with --repo NAME)"
        )
    if settings.table:
        from .. import s3_and_dynamodb_backend

        return s3_and_dynamodb_backend.Repository(
            aws_region=region,
            s3_bucket=settings.bucket,
            s3_prefix=settings.prefix,
            dynamodb_table_name=settings.table,
            suffix=settings.suffix,
        )
    from .. import s3_only_backend

    return s3_only_backend.Repository(
        aws_region=region,
        s3_bucket=settings.bucket,
        s3_prefix=settings.prefix,
        suffix=settings.suffix,
    )


def session_region(settings: Settings, session: BotoSesManager) -> str:
    """The region to give the Repository: the resolved setting, else the profile's."""
    region = settings.region or boto_session(session).region_name
    if not region:
        raise ConfigError(
            "no AWS region: pass --region, set VERSIONED_REGION or AWS_DEFAULT_REGION, "
            'or add region = "..." to versioned.toml'
        )
    return str(region)
