"""Where ``versioned get`` writes, the way ``aws s3 cp`` and ``gh release download`` do:

- no ``-o``: ``./NAME{suffix}``; ``-o DIR/`` or an existing directory: ``DIR/NAME{suffix}``;
  ``-o FILE``: that file; ``-o -``: stdout.
- A missing directory is refused before any request (exit code 2, with the mkdir to run).
- An existing file is never replaced by different bytes without ``--force``; one that holds
  the very bytes already is left as it is (and the command says so).
- Binary bytes are not written to a terminal without ``--force``.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Final

from ._errors import CliError, usage_problem

STDOUT: Final = "-"
_CHUNK: Final = 1024 * 1024


def destination(output: str | None, name: str, suffix: str) -> Path | None:
    """The file ``get`` writes (None: stdout), or a usage problem; sends no request."""
    if output == STDOUT:
        return None
    filename = f"{name}{suffix}"
    if output is None:
        return Path(filename)
    path = Path(output)
    if output.endswith(("/", os.sep)) or path.is_dir():
        if not path.is_dir():
            raise usage_problem(
                f"-o {output}: directory {output.rstrip('/' + os.sep)} does not exist; create "
                f"it first (mkdir -p {output}) or give a file path"
            )
        return _writable(path / filename, output)
    return _writable(path, output)


def _writable(path: Path, output: str) -> Path:
    parent = path.absolute().parent
    if not parent.exists():
        raise usage_problem(
            f"-o {output}: directory {parent} does not exist; create it first (mkdir -p {parent})"
        )
    if not parent.is_dir():
        raise usage_problem(f"-o {output}: {parent} is not a directory")
    if not os.access(parent, os.W_OK):
        raise usage_problem(f"-o {output}: directory {parent} is not writable")
    return path


def refuse_terminal(force: bool) -> None:
    """Refuse to write binary bytes to a terminal (stdout) unless ``force``."""
    if not force and sys.stdout.isatty():
        raise usage_problem(
            "refusing to write binary bytes to a terminal: redirect them (> FILE), pipe "
            "them (| ...), give -o FILE, or add --force"
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def already_there(path: Path, sha256: str, force: bool) -> bool:
    """Whether ``path`` holds the bytes with ``sha256`` already (nothing to download);
    a different file is refused unless ``force``."""
    if not path.exists() and not path.is_symlink():
        return False
    if path.is_dir():
        raise usage_problem(f"{path} is a directory")
    if path.is_file() and file_sha256(path) == sha256:
        return True
    if force:
        return False
    raise ExistsError(
        f"{path} exists and holds other bytes; add --force to replace it, or give another -o PATH"
    )


class ExistsError(CliError):
    """The destination exists with other bytes (exit code 2, like a usage problem)."""

    exit_code = 2
