"""Issue 18, items 1, 7, 8 and the small ones of 9/10 owned here: ``get`` paths like
``aws s3 cp``, a closed pipe, a terminal, VERSION positional, ``latest`` in any case, the
umask's mode, an unchanged put, durations with units."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from _clikit import (
    Cli,
    CliEnv,
    assert_one_error_line,
    process_env,
    run_with_stderr_on_a_terminal,
    versioned_command,
)
from _testkit import sha256_hex

V1 = b"the first version's bytes"
V2 = b"the second version's bytes, longer"


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The umask most users have; restored after the test."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def two_versions(cli_run: Cli) -> None:
    cli_run("put", "model", "-", input=V1)
    cli_run("publish", "model")
    cli_run("put", "model", "-", input=V2)
    cli_run("publish", "model")


# ------------------------------------------------------------------ item 1
def test_item1_a_missing_directory_is_refused_before_any_byte(
    cli_repo: str, cli_run: Cli, cli_env: CliEnv
) -> None:
    cli_run("put", "model", "-", input=V1)
    cli_run("alias", "set", "model", "prod")
    result = cli_run("get", "model", "--alias", "prod", "-o", "newdir/", code=2)
    line = assert_one_error_line(result.stderr)
    assert "newdir" in line and "does not exist" in line and "mkdir -p newdir/" in line
    assert list(cli_env.workdir.iterdir()) == []  # no file named newdir, no .part
    (cli_env.workdir / "newdir").mkdir()
    cli_run("get", "model", "--alias", "prod", "-o", "newdir/")
    assert (cli_env.workdir / "newdir" / "model").read_bytes() == V1
    (cli_env.workdir / "other").mkdir()  # an existing directory, without the slash
    cli_run("get", "model", "-o", "other")
    assert (cli_env.workdir / "other" / "model").read_bytes() == V1


def test_item1_the_destination_takes_the_suffix(
    cli_env: CliEnv, cli_run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERSIONED_SUFFIX", ".bin")
    cli_run("bootstrap")
    cli_run("put", "model", "-", input=V1)
    (cli_env.workdir / "models").mkdir()
    cli_run("get", "model", "-o", "models/")
    assert (cli_env.workdir / "models" / "model.bin").read_bytes() == V1
    cli_run("get", "model")
    assert (cli_env.workdir / "model.bin").read_bytes() == V1


# ------------------------------------------------------------------ item 8
def test_item8_version_is_positional_and_o_is_optional(
    cli_repo: str, cli_run: Cli, cli_env: CliEnv
) -> None:
    two_versions(cli_run)
    out = cli_run("get", "model", "1").stdout
    assert (cli_env.workdir / "model").read_bytes() == V1
    assert "Wrote" in out and "version 1" in out
    # the same bytes there already: fine, and said
    again = cli_run("get", "model", "1").stdout
    assert "already holds" in again and "nothing downloaded" in again
    # other bytes there: never replaced without --force
    line = assert_one_error_line(cli_run("get", "model", "2", code=2).stderr)
    assert "--force" in line and "model" in line
    assert (cli_env.workdir / "model").read_bytes() == V1
    cli_run("get", "model", "2", "--force")
    assert (cli_env.workdir / "model").read_bytes() == V2
    # --version still works; the two spellings must agree
    assert cli_run("get", "model", "--version", "1", "-o", "-").stdout_bytes == V1
    cli_run("get", "model", "1", "--version", "2", "-o", "-", code=2)
    cli_run("get", "model", "1", "--alias", "prod", "-o", "-", code=2)


def test_item9_latest_in_any_case_means_latest(cli_repo: str, cli_run: Cli) -> None:
    two_versions(cli_run)
    for spelling in ("latest", "Latest", "LATEST"):
        assert cli_run.json("show", "model", spelling)["version"] == "LATEST"
        assert cli_run("get", "model", spelling, "-o", "-").stdout_bytes == V2
    cli_run("alias", "set", "model", "prod", "latest")
    assert cli_run.json("alias", "get", "model", "prod")["version"] == "LATEST"


# ------------------------------------------------------------------ item 7
def test_item7_a_closed_pipe_ends_quietly(cli_repo: str, cli_run: Cli) -> None:
    data = os.urandom(4 * 1024 * 1024)  # far more than a pipe holds
    cli_run("put", "model", "-", input=data)
    process = subprocess.Popen(
        [*versioned_command(), "get", "model", "-o", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=process_env(),
    )
    assert process.stdout is not None and process.stderr is not None
    head = process.stdout.read(100)  # as `| head -c 100`, then the reader goes away
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, stderr
    assert head == data[:100] and stderr == ""


def test_item7_binary_is_not_written_to_a_terminal(
    cli_repo: str, cli_run: Cli, tmp_path: Path
) -> None:
    cli_run("put", "model", "-", input=b"\x00\x01PAYLOAD\xff")
    command = [*versioned_command(), "get", "model", "-o", "-"]
    refused = run_with_stderr_on_a_terminal(command, process_env(TERM="xterm"), None)
    assert refused.returncode == 2, refused.terminal
    assert "terminal" in refused.terminal and "--force" in refused.terminal
    assert "PAYLOAD" not in refused.terminal
    forced = run_with_stderr_on_a_terminal([*command, "--force"], process_env(), None)
    assert forced.returncode == 0 and "PAYLOAD" in forced.terminal


# ------------------------------------------------------------------ item 10: the umask
def test_item10_downloads_get_the_umask_mode(
    cli_repo: str, cli_run: Cli, cli_env: CliEnv, umask_022: None
) -> None:
    cli_run("put", "model", "-", input=V1)
    cli_run("get", "model", "-o", "model.bin")
    assert (cli_env.workdir / "model.bin").stat().st_mode & 0o777 == 0o644
    os.umask(0o027)
    cli_run("get", "model", "-o", "group.bin")
    assert (cli_env.workdir / "group.bin").stat().st_mode & 0o777 == 0o640
    assert sha256_hex((cli_env.workdir / "group.bin").read_bytes()) == sha256_hex(V1)


# ------------------------------------------------------------------ item 9: small ones
def test_item9_an_unchanged_put_says_so(cli_repo: str, cli_run: Cli) -> None:
    first = cli_run("put", "model", "-", input=V1).stdout
    assert "unchanged" not in first
    again = cli_run("put", "model", "-", input=V1).stdout
    assert "unchanged" in again and "model" in again
    assert cli_run.json("put", "model", "-", input=V1)["unchanged"] is True
    assert cli_run.json("put", "model", "-", input=V2)["unchanged"] is False


@pytest.mark.parametrize("older_than", ["30", "1d12"])
def test_item9_a_duration_without_a_unit_is_refused(
    cli_repo: str, cli_run: Cli, older_than: str
) -> None:
    cli_run("put", "model", "-", input=V1)
    result = cli_run("purge", "model", "--older-than", older_than, "--dry-run", code=2)
    line = assert_one_error_line(result.stderr)
    assert "no unit" in line and "d" in line.split("write")[-1], line
    assert cli_run.json("purge", "model", "--older-than", "0", "--dry-run")["dry_run"] is True
    assert (
        cli_run.json("purge", "model", "--older-than", "30d", "--dry-run")["purge_older_than_secs"]
        == 30 * 86400
    )


@pytest.mark.parametrize(
    "args",
    [
        ("watch", "model", "prod", "--exec", "true", "--interval", "5"),
        ("url", "model", "--expires", "3600"),
        ("fetch", "model", "--max-stale", "60"),
        ("cache", "prune", "--older-than", "30"),
    ],
)
def test_item9_every_duration_needs_a_unit(cli_env: CliEnv, cli_run: Cli, args: tuple[str]) -> None:
    line = assert_one_error_line(cli_run(*args, code=2).stderr)
    assert "no unit" in line, line
