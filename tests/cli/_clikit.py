"""Helpers of the command-line tests (fixtures are in conftest.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from versioned.cli import cli


@dataclasses.dataclass(frozen=True)
class CliEnv:
    endpoint_url: str
    bucket: str
    workdir: Path


class Cli:
    """Invokes the ``versioned`` entry point in-process and checks the exit code."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: bytes | str | None = None, code: int = 0) -> Result:
        result = self.runner.invoke(cli, list(args), input=input)
        assert result.exit_code == code, (
            f"versioned {' '.join(args)} exited {result.exit_code}, expected {code}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}\nexception: {result.exception!r}"
        )
        return result

    def json(self, *args: str, input: bytes | str | None = None, code: int = 0) -> Any:
        """Run with --json and parse stdout (which must be exactly one JSON document)."""
        return json.loads(self(*args, "--json", input=input, code=code).stdout)
