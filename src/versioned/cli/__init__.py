"""The ``versioned`` command line: ``versioned --help``. Built on click, printed with Rich."""

from __future__ import annotations

from ._app import cli
from ._errors import (
    EXIT_CONFLICT,
    EXIT_ERROR,
    EXIT_INTEGRITY,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
)

__all__ = [
    "EXIT_CONFLICT",
    "EXIT_ERROR",
    "EXIT_INTEGRITY",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_USAGE",
    "cli",
    "main",
]


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="versioned")
