"""Errors are one line saying what happened and what to do; progress goes to stderr."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _clikit import (
    Cli,
    CliEnv,
    assert_one_error_line,
    default_sigint,
    process_env,
    recording_listener,
    run_with_stderr_on_a_terminal,
    versioned_command,
)
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from click.testing import CliRunner

from versioned import _dynamodb, _s3, exc
from versioned.cli import cli
from versioned.cli._errors import describe
from versioned.cli._output import PROGRESS_THRESHOLD
from versioned.cli._settings import Settings

V1 = b"Binary content for version 1.0 - timestamp: 2024-01-01"


# ------------------------------------------------------------------ usage errors
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["alias", "set", "app", "prod", "1", "--canary", "2", "--weight", "150"], "--weight"),
        (["frobnicate"], "frobnicate"),
        (["--no-such-option", "names"], "--no-such-option"),
        (["put"], "NAME"),
        (["alias", "nope"], "nope"),
        (["purge", "app", "--older-than", "3x"], "3x"),
    ],
)
def test_usage_errors_are_one_line(
    cli_env: CliEnv, cli_run: Cli, args: list[str], expected: str
) -> None:
    line = assert_one_error_line(cli_run(*args, code=2).stderr)
    assert expected in line
    assert "--help" in line  # what to do next


@pytest.mark.parametrize("args", [[], ["alias"]])
def test_a_group_without_a_command_shows_its_help(cli_env: CliEnv, args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert "Commands:" in result.output and "Error:" not in result.output


def test_weight_out_of_range_names_the_range(cli_env: CliEnv, cli_run: Cli) -> None:
    result = cli_run("alias", "set", "app", "prod", "1", "--canary", "2", "--weight", "150", code=2)
    line = assert_one_error_line(result.stderr)
    assert "150" in line and "0<=x<=99" in line and "versioned alias set --help" in line


# ------------------------------------------------------------------ setup problems
def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("variable", ["VERSIONED_ENDPOINT_URL", "AWS_ENDPOINT_URL"])
@pytest.mark.parametrize(
    "args", [["names"], ["versions", "model"], ["put", "model", "-"], ["bootstrap"]]
)
def test_connection_refused_fails_fast_with_a_hint(
    cli_env: CliEnv, cli_run: Cli, monkeypatch: Any, variable: str, args: list[str]
) -> None:
    monkeypatch.delenv("VERSIONED_ENDPOINT_URL")
    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv(variable, url)
    started = time.monotonic()
    result = cli_run(*args, input=V1, code=1)
    assert time.monotonic() - started < 2.0  # no retrying for seconds
    line = assert_one_error_line(result.stderr)
    assert url in line and "connection refused" in line
    assert "`versioned sandbox`" in line and "VERSIONED_ENDPOINT_URL" in line


def test_missing_credentials_say_what_to_set(
    cli_env: CliEnv, cli_run: Cli, monkeypatch: Any
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    line = assert_one_error_line(cli_run("names", code=1).stderr)
    assert "no AWS credentials" in line
    assert "aws configure" in line and "AWS_PROFILE" in line and "`versioned sandbox`" in line


@pytest.mark.parametrize("how", ["option", "environment"])
def test_an_unknown_profile_is_named_with_what_to_check(
    how: str, cli_env: CliEnv, cli_run: Cli, monkeypatch: Any
) -> None:
    profile = "no-such-profile-for-versioned"
    if how == "option":
        result = cli_run("--profile", profile, "names", code=1)
    else:
        monkeypatch.setenv("AWS_PROFILE", profile)
        result = cli_run("names", code=1)
    line = assert_one_error_line(result.stderr)
    assert f"the AWS profile {profile!r} could not be found" in line, line
    assert "--profile" in line and "aws configure list-profiles" in line, line
    assert "Traceback" not in result.stderr and "botocore" not in result.stderr


def test_a_session_with_an_unknown_profile_raises_the_library_error() -> None:
    from boto_session_manager import BotoSesManager

    bsm = BotoSesManager(profile_name="no-such-profile-for-versioned", region_name="us-east-1")
    with pytest.raises(exc.ProfileNotFoundError) as raised:
        _s3.make_client(bsm, "s3")
    assert raised.value.profile == "no-such-profile-for-versioned"
    assert isinstance(raised.value, exc.CredentialsError) and raised.value.missing


def test_missing_bucket_or_table_says_run_bootstrap(cli_backend: str, cli_run: Cli) -> None:
    """Neither bucket nor table exists yet: whichever a command reaches first is named."""
    for args in (["versions", "model"], ["names"], ["put", "model", "-"]):
        line = assert_one_error_line(cli_run(*args, input=V1, code=1).stderr)
        assert "does not exist: run `versioned bootstrap`" in line, line
        assert "Repository.bootstrap" not in line
        assert "bucket 'cli-" in line or "DynamoDB table 'cli-table-" in line, line
    line = assert_one_error_line(cli_run("versions", "model", code=1).stderr)
    assert ("table" if cli_backend == "s3_and_dynamodb" else "bucket") in line
    cli_run("bootstrap")
    cli_run("put", "model", "-", input=V1)


def test_missing_bucket_is_named(cli_env: CliEnv, cli_run: Cli) -> None:
    line = assert_one_error_line(cli_run("names", "--bucket", "no-such-bucket-x1", code=1).stderr)
    assert line == (
        "Error: bucket 'no-such-bucket-x1' does not exist: run `versioned bootstrap` to create it"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:5000", "did you mean http://127.0.0.1:5000"),
        ("localhost:5000", "did you mean http://localhost:5000"),
        ("ftp://127.0.0.1:5000", "must start with http:// or https://"),
    ],
)
def test_endpoint_url_without_scheme_is_a_usage_error(
    cli_env: CliEnv, cli_run: Cli, monkeypatch: Any, value: str, expected: str
) -> None:
    line = assert_one_error_line(cli_run("names", "--endpoint-url", value, code=2).stderr)
    assert expected in line and "--endpoint-url" in line
    monkeypatch.setenv("VERSIONED_ENDPOINT_URL", value)
    line = assert_one_error_line(cli_run("names", code=2).stderr)
    assert expected in line and "VERSIONED_ENDPOINT_URL" in line


def test_get_checks_the_destination_before_downloading(
    cli_repo: str, cli_run: Cli, cli_env: CliEnv
) -> None:
    cli_run("put", "model", "-", input=V1)
    line = assert_one_error_line(cli_run("get", "model", "-o", "/missing/dir/x", code=2).stderr)
    assert "directory /missing/dir does not exist" in line and "mkdir -p /missing/dir" in line
    line = assert_one_error_line(cli_run("get", "model", "-o", "/missing/dir/", code=2).stderr)
    assert "directory /missing/dir does not exist" in line
    cli_run("get", "model", "-o", str(cli_env.workdir / "model.bin"))
    assert (cli_env.workdir / "model.bin").read_bytes() == V1


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "ListObjectsV2")


@pytest.mark.parametrize(
    ("cause", "translate", "expected"),
    [
        (NoCredentialsError(), _s3.backend_error, "no AWS credentials found: run `aws configure`"),
        (
            NoCredentialsError(),
            _dynamodb.backend_error,
            "no AWS credentials found: run `aws configure`",
        ),
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
            _s3.backend_error,
            "cannot connect to http://127.0.0.1:9",
        ),
        (
            _client_error("NoSuchBucket"),
            _s3.backend_error,
            "bucket 'b' does not exist: run `versioned bootstrap`",
        ),
        (
            _client_error("ResourceNotFoundException"),
            _dynamodb.backend_error,
            "DynamoDB table 't' does not exist: run `versioned bootstrap`",
        ),
        (
            _client_error("InvalidAccessKeyId"),
            _s3.backend_error,
            "AWS rejected the credentials (InvalidAccessKeyId)",
        ),
        (
            _client_error("UnrecognizedClientException"),
            _dynamodb.backend_error,
            "AWS rejected the credentials (UnrecognizedClientException)",
        ),
    ],
)
def test_library_errors_from_setup_problems_say_what_to_do(
    cause: Exception, translate: Callable[[Exception, str, str], Exception], expected: str
) -> None:
    """The library's translation of a setup problem is a class the CLI explains."""
    settings = Settings(
        bucket="b",
        prefix="artifacts",
        suffix="",
        region=None,
        profile=None,
        endpoint_url="http://127.0.0.1:9",
        table="t",
        sources={},
    )
    error = translate(cause, "LIST", "b")
    assert error.__cause__ is None  # the CLI decides on the class alone
    assert describe(error, settings).startswith(expected)


def test_library_hints_are_put_in_command_line_terms() -> None:
    error = exc.ArtifactS3BackendError(
        "PUT s3://b/k failed: Oops. run Repository.bootstrap() first"
    )
    assert describe(error).endswith("run `versioned bootstrap` first")


# ------------------------------------------------------------------ Ctrl-C
def test_ctrl_c_exits_130(cli_env: CliEnv) -> None:
    with recording_listener() as listener:  # accepts the request and never answers
        process = subprocess.Popen(
            [*versioned_command(), "names"],
            env=process_env(VERSIONED_ENDPOINT_URL=listener.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=default_sigint,
        )
        try:
            assert listener.request_seen.wait(timeout=30), "the request never arrived"
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130, stderr
    assert "Interrupted." in stderr and "Traceback" not in stderr


# ------------------------------------------------------------------ progress on stderr
def test_progress_and_spinner_draw_on_stderr_with_stdout_redirected(
    cli_env: CliEnv, cli_run: Cli, tmp_path: Path
) -> None:
    cli_run("bootstrap")  # the S3-only layout: drawing does not depend on the layout
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x5a" * (PROGRESS_THRESHOLD + 1024 * 1024))
    env = process_env(TERM="xterm", COLUMNS="100")
    log = tmp_path / "put.log"
    put = run_with_stderr_on_a_terminal([*versioned_command(), "put", "big", str(big)], env, log)
    assert put.returncode == 0, put.terminal
    assert "put big" in put.terminal  # the progress bar, on the terminal
    assert "big: LATEST" in log.read_text() and "put big" not in log.read_text()

    log = tmp_path / "publish.log"
    published = run_with_stderr_on_a_terminal([*versioned_command(), "publish", "big"], env, log)
    assert published.returncode == 0, published.terminal
    assert "publishing big" in published.terminal  # the spinner of a large publish
    assert "big: version 1" in log.read_text() and "publishing" not in log.read_text()
