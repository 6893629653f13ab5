"""A prefix that serves another repository, said in command-line terms."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .. import exc
from ._errors import EXIT_CONFLICT, CliError, prefix_taken_message


class PrefixTaken(CliError):
    """The bucket prefix serves another repository (exit code 4, a conflict)."""

    exit_code = EXIT_CONFLICT


@contextlib.contextmanager
def own_prefix() -> Iterator[None]:
    """Refuse a command on a prefix of another repository, naming it and the way out."""
    try:
        yield
    except exc.RepositoryConflictError as error:
        if error.location is None:
            raise
        raise PrefixTaken(prefix_taken_message(error, "nothing was changed")) from error
