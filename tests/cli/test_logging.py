"""``versioned -v`` shows the library's log on stderr; without it the log stays silent."""

from __future__ import annotations

import subprocess

import pytest
from _clikit import CliEnv, assert_one_error_line, process_env, versioned_command

MISSING_BUCKET = ["names", "--bucket", "no-such-bucket-logged"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*versioned_command(), *args],
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_verbose_the_library_log_is_not_shown(cli_env: CliEnv) -> None:
    result = _run(*MISSING_BUCKET)
    assert result.returncode == 1
    line = assert_one_error_line(result.stderr)
    assert "does not exist: run `versioned bootstrap`" in line
    assert "DEBUG" not in result.stderr


@pytest.mark.parametrize("flag", ["-v", "--verbose"])
def test_verbose_shows_the_library_log_at_debug_on_stderr(cli_env: CliEnv, flag: str) -> None:
    result = _run(flag, *MISSING_BUCKET)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    logged = [line for line in lines if line.startswith("DEBUG versioned.")]
    assert logged, result.stderr
    assert any(
        "s3://no-such-bucket-logged" in line and "BucketNotFoundError" in line for line in logged
    ), result.stderr
    assert lines[-1].startswith("Error: bucket 'no-such-bucket-logged' does not exist")
