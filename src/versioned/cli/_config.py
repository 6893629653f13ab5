"""The configuration files, found the way ruff and git find theirs.

- The project file: the nearest ``versioned.toml`` (top-level keys), or ``pyproject.toml``
  holding a ``[tool.versioned]`` table, in the current directory or one above it. The
  search stops at the home directory (it is searched) or the filesystem root. A
  ``pyproject.toml`` without the table does not stop it.
- The user file, ``config.toml`` in the platform's user configuration directory
  (``~/.config/versioned/config.toml`` on Linux, ``$XDG_CONFIG_HOME`` honoured): named
  repositories, one ``[repositories.NAME]`` table each, chosen by ``--repo NAME`` or
  ``VERSIONED_REPO``, else by its top-level ``default = "NAME"``.

Every table holds the same keys (see ``FIELDS``); an unknown key is refused with the file
and the key named.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import click

FIELDS: Final = ("bucket", "prefix", "suffix", "region", "profile", "endpoint_url", "table")
CONFIG_FILE: Final = "versioned.toml"
PYPROJECT_FILE: Final = "pyproject.toml"
USER_FILE: Final = "config.toml"
#: the user file's keys besides the repositories: the repository used without --repo
USER_KEYS: Final = ("default", "repositories")
REPO_ENV: Final = "VERSIONED_REPO"


class ConfigError(click.ClickException):
    """A configuration file or a setting is unusable (exit code 2, like a usage error)."""

    exit_code = 2


@dataclasses.dataclass(frozen=True)
class Found:
    """The settings one file (or one table of it) gives, and the label naming it."""

    values: dict[str, str]
    label: str | None = None
    path: Path | None = None
    #: the named repository (user file only)
    name: str | None = None


NOTHING: Final = Found({})


def show_path(path: Path, directory: Path) -> str:
    """``path`` relative to ``directory`` when it is there or above, else as given."""
    try:
        return os.path.relpath(path, directory)
    except ValueError:  # another drive (Windows)
        return str(path)


def search_directories(directory: Path, home: Path | None) -> list[Path]:
    """``directory`` and its parents, up to ``home`` (included) or the root."""
    found: list[Path] = []
    for candidate in (directory, *directory.parents):
        found.append(candidate)
        if home is not None and candidate == home:
            break
    return found


def home_directory() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError, OSError):
        return None


def find_project_file(directory: Path) -> Found:
    """The nearest project file's settings (NOTHING when there is none)."""
    start = directory.resolve()
    for folder in search_directories(start, home_directory()):
        own = folder / CONFIG_FILE
        if own.is_file():
            label = show_path(own, start)
            return Found(check_table(read_toml(own), label), label, own)
        pyproject = folder / PYPROJECT_FILE
        if pyproject.is_file():
            table = read_toml(pyproject).get("tool", {}).get("versioned")
            if table is not None:
                label = f"{show_path(pyproject, start)} [tool.versioned]"
                return Found(check_table(table, label), label, pyproject)
    return NOTHING


def user_file(environ: Mapping[str, str]) -> Path:
    """Where the user file is (it may not exist)."""
    import platformdirs

    xdg = environ.get("XDG_CONFIG_HOME")
    if xdg and os.name == "posix":
        return Path(xdg) / "versioned" / USER_FILE
    return Path(platformdirs.user_config_dir("versioned", appauthor=False)) / USER_FILE


def show_user_path(path: Path) -> str:
    """``path`` with the home directory written ``~``."""
    home = home_directory()
    if home is not None and path.resolve().is_relative_to(home):
        return f"~/{path.resolve().relative_to(home)}"
    return str(path)


def load_user_repository(environ: Mapping[str, str], chosen: str | None) -> Found:
    """The settings of the chosen named repository in the user file: ``chosen`` (from
    --repo or VERSIONED_REPO), else the file's ``default``; NOTHING without either.
    Raises ConfigError for a name the file does not define."""
    path = user_file(environ)
    if not path.is_file():
        if chosen:
            raise ConfigError(
                f"no repository {chosen!r}: {path} does not exist; add a "
                f"[repositories.{chosen}] table to it (see `versioned config --help`)"
            )
        return NOTHING
    document = read_toml(path)
    for key in document:
        if key not in USER_KEYS:
            raise ConfigError(
                f"{path}: unknown key {key!r}; known: {', '.join(USER_KEYS)} "
                "(settings go in [repositories.NAME] tables)"
            )
    repositories = document.get("repositories", {})
    if not isinstance(repositories, dict):
        raise ConfigError(f"{path}: repositories must be tables, [repositories.NAME]")
    tables = {
        key: check_table(table, f"{show_user_path(path)} [repositories.{key}]")
        for key, table in repositories.items()
    }
    default = document.get("default")
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"{path}: default must be a repository name, got {default!r}")
    name = chosen or default
    if not name:
        return NOTHING
    if name not in repositories:
        close = difflib.get_close_matches(name, list(repositories), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(sorted(repositories)) or "none"
        source = "the file's default" if not chosen else "--repo / VERSIONED_REPO"
        raise ConfigError(f"no repository {name!r} ({source}) in {path}{hint}; defined: {known}")
    label = f"{show_user_path(path)} [repositories.{name}]"
    return Found(tables[name], label, path, name)


def repository_names(environ: Mapping[str, str]) -> list[str]:
    """The named repositories of the user file ([] when unreadable or absent)."""
    path = user_file(environ)
    try:
        document = read_toml(path) if path.is_file() else {}
    except ConfigError:
        return []
    repositories = document.get("repositories", {})
    return sorted(repositories) if isinstance(repositories, dict) else []


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from error


def check_table(table: object, label: str) -> dict[str, str]:
    """The settings of one table; ConfigError naming the file and the key otherwise."""
    if not isinstance(table, dict):
        raise ConfigError(f"{label}: expected a table of settings")
    settings: dict[str, str] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key not in FIELDS:
            close = difflib.get_close_matches(key, FIELDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{label}: unknown setting {raw_key!r}{hint}; known: {', '.join(FIELDS)}"
            )
        if not isinstance(value, str):
            raise ConfigError(f"{label}: {raw_key} must be a string, got {value!r}")
        settings[key] = value
    return settings
