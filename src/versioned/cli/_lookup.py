"""Telling the truth about names: "no artifact 'modle' (did you mean 'model'?)".

The library answers an unknown artifact with an empty list (and deletes of missing things
are silent no-ops, as the seed wants); the command line checks, so that a typo never looks
like success.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterable, Iterator

from .. import exc
from ._connection import Connection
from ._errors import CliError, not_found


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or "" when none is close."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def artifact_exists(conn: Connection, name: str) -> bool:
    """Whether ``name`` has LATEST (1 request) or, failing that, any stored object."""
    try:
        conn.repo.get_artifact_version(name=name, bsm=conn.bsm)
        return True
    except exc.ArtifactNotFoundError:
        return name in conn.repo.list_artifact_names(bsm=conn.bsm)


def no_artifact(conn: Connection, name: str) -> CliError:
    names = conn.repo.list_artifact_names(bsm=conn.bsm)
    hint = did_you_mean(name, names)
    if hint:
        return not_found(f"no artifact {name!r}{hint}")
    where = f"s3://{conn.settings.bucket}/{conn.settings.prefix}".rstrip("/")
    return not_found(f"no artifact {name!r} in {where}; `versioned names` lists them")


def require_artifact(conn: Connection, name: str) -> None:
    """Raise the not-found error (exit code 3) unless artifact ``name`` exists."""
    if not artifact_exists(conn, name):
        raise no_artifact(conn, name)


def no_alias(conn: Connection, name: str, alias: str, consequence: str = "") -> CliError:
    known = [item.alias for item in conn.repo.list_aliases(name=name, bsm=conn.bsm)]
    hint = did_you_mean(alias, known)
    return not_found(f"alias {alias} of {name} does not exist{consequence}{hint}")


@contextlib.contextmanager
def explained(conn: Connection, name: str, alias: str | None = None) -> Iterator[None]:
    """Turn a library not-found error about a missing *artifact* into "no artifact 'x'
    (did you mean 'y'?)", and one about a missing alias into one naming close aliases."""
    try:
        yield
    except (exc.ArtifactNotFoundError, exc.AliasNotFoundError) as error:
        if not artifact_exists(conn, name):
            raise no_artifact(conn, name) from error
        if alias is not None and isinstance(error, exc.AliasNotFoundError):
            raise no_alias(conn, name, alias) from error
        raise
