"""Which repository the command line talks to, and the session it uses.

Every setting is resolved in one order: command-line option, ``VERSIONED_*`` variable,
project file (``./versioned.toml``, else ``[tool.versioned]`` in ``./pyproject.toml``),
generic ``AWS_*`` variable, built-in default. The generic AWS variables come last so that
a project file can pin its bucket's region while the shell's ``AWS_DEFAULT_REGION`` serves
other tools; ``VERSIONED_*`` variables override the file for one shell or one CI job.

A project file is part of a repository someone else may have written, so it may not choose
where signed requests go: its ``endpoint_url`` is ignored (with a warning) unless
``VERSIONED_ALLOW_PROJECT_ENDPOINT=1`` is set.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from .. import constants

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

    from ..repository import Repository

FIELDS: Final = ("bucket", "prefix", "suffix", "region", "profile", "endpoint_url", "table")

#: The dedicated variable of each setting.
OWN_ENV: Final = {field: f"VERSIONED_{field.upper()}" for field in FIELDS}

#: Generic AWS variables consulted after the project file.
AWS_ENV: Final = {
    "region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "profile": ("AWS_PROFILE",),
    "endpoint_url": ("AWS_ENDPOINT_URL",),
}

DEFAULTS: Final = {"prefix": constants.S3_PREFIX, "suffix": ""}

CONFIG_FILE: Final = "versioned.toml"
PYPROJECT_FILE: Final = "pyproject.toml"

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


class ConfigError(click.ClickException):
    """A project file or a setting is unusable (exit code 2, like a usage error)."""

    exit_code = 2


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
        }


def load_project_file(directory: Path) -> tuple[dict[str, str], str | None]:
    """The settings of ``versioned.toml`` (top-level keys) or, failing that, of
    ``[tool.versioned]`` in ``pyproject.toml``, plus a label naming the file."""
    own = directory / CONFIG_FILE
    if own.is_file():
        return _check_table(_read_toml(own), CONFIG_FILE), CONFIG_FILE
    pyproject = directory / PYPROJECT_FILE
    if pyproject.is_file():
        table = _read_toml(pyproject).get("tool", {}).get("versioned")
        if table is not None:
            label = f"{PYPROJECT_FILE} [tool.versioned]"
            return _check_table(table, label), label
    return {}, None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from error


def _check_table(table: object, label: str) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ConfigError(f"{label}: expected a table of settings")
    settings: dict[str, str] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key not in FIELDS:
            raise ConfigError(f"{label}: unknown setting {raw_key!r}; known: {', '.join(FIELDS)}")
        if not isinstance(value, str):
            raise ConfigError(f"{label}: {raw_key} must be a string, got {value!r}")
        settings[key] = value
    return settings


def resolve(options: Mapping[str, str], environ: Mapping[str, str], directory: Path) -> Settings:
    """Merge options, environment, project file and defaults (in that order of precedence).

    Empty environment variables count as unset; an empty option (``--suffix ""``) is a value.
    Raises ConfigError for an unreadable project file or an endpoint URL without a scheme.
    """
    project, project_label = load_project_file(directory)
    warnings: list[str] = []
    if "endpoint_url" in project and not project_endpoint_allowed(environ):
        ignored = project.pop("endpoint_url")
        if options.get("endpoint_url") is None and not environ.get(OWN_ENV["endpoint_url"]):
            warnings.append(
                f"ignoring endpoint_url = {ignored!r} in {project_label}: a project file may "
                f"not redirect your AWS credentials; export {ALLOW_PROJECT_ENDPOINT_ENV}=1 "
                "to use it"
            )
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for field in FIELDS:
        candidates: list[tuple[str | None, str]] = [
            (options.get(field), f"option --{field.replace('_', '-')}"),
            (environ.get(OWN_ENV[field]) or None, f"env {OWN_ENV[field]}"),
            (project.get(field), f"file {project_label}"),
            *((environ.get(name) or None, f"env {name}") for name in AWS_ENV.get(field, ())),
            (DEFAULTS.get(field), "default"),
        ]
        for value, source in candidates:
            if value is not None:
                values[field] = value
                sources[field] = source
                break
        else:
            values[field] = None
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
    )


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
            "./versioned.toml"
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
    region = settings.region or session.boto_ses.region_name
    if not region:
        raise ConfigError(
            "no AWS region: pass --region, set VERSIONED_REGION or AWS_DEFAULT_REGION, "
            'or add region = "..." to ./versioned.toml'
        )
    return str(region)
