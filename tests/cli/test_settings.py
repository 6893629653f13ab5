"""Where the command line sends requests: project files may not choose the endpoint, and
the sandbox never leads the two layouts onto one prefix."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
from _clikit import (
    Cli,
    CliEnv,
    parse_exports,
    process_env,
    recording_listener,
    versioned_command,
)

from versioned.cli._commands_local import sandbox_lines
from versioned.cli._settings import Sessions, make_session, resolve

PROJECT_FILES = {
    "versioned.toml": 'endpoint_url = "{url}"\n',
    "pyproject.toml": '[project]\nname = "x"\n\n[tool.versioned]\nendpoint-url = "{url}"\n',
}


@pytest.mark.parametrize("filename", sorted(PROJECT_FILES))
def test_project_file_endpoint_is_ignored_without_opt_in(
    cli_repo: str,
    cli_env: CliEnv,
    cli_run: Cli,
    cli_one_endpoint_url: str,
    monkeypatch: Any,
    filename: str,
) -> None:
    with recording_listener() as listener:
        (cli_env.workdir / filename).write_text(PROJECT_FILES[filename].format(url=listener.url))
        # the endpoint a user chose for this shell, beneath the file in precedence: one URL
        # for both services (a routing proxy when the test servers are split, instead of
        # the per-service variables cli_backend sets then)
        for variable in (
            "VERSIONED_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "AWS_ENDPOINT_URL_DYNAMODB",
        ):
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL", cli_one_endpoint_url)

        result = cli_run("put", "model", "-", input=b"bytes")
        assert cli_run.json("names") == ["model"]
        config = cli_run.json("config")
        assert listener.connections == 0 and not listener.received
    assert (config["endpoint_url"], config["sources"]["endpoint_url"]) == (
        cli_one_endpoint_url,
        "env AWS_ENDPOINT_URL",
    )
    warning = [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(warning) == 1, result.stderr
    assert f"ignoring endpoint_url = '{listener.url}'" in warning[0]
    assert "VERSIONED_ALLOW_PROJECT_ENDPOINT=1" in warning[0]
    assert config["warnings"] == [warning[0].removeprefix("Warning: ")]


def test_project_file_endpoint_is_used_with_opt_in(
    cli_env: CliEnv, cli_run: Cli, monkeypatch: Any
) -> None:
    """The opt-in works, and shows what the default prevents: signed requests, with the
    access key id, sent to whatever host the file names."""
    with recording_listener() as listener:
        (cli_env.workdir / "versioned.toml").write_text(f'endpoint_url = "{listener.url}"\n')
        monkeypatch.delenv("VERSIONED_ENDPOINT_URL")
        monkeypatch.setenv("VERSIONED_ALLOW_PROJECT_ENDPOINT", "1")
        config = cli_run.json("config")
        assert (config["endpoint_url"], config["warnings"]) == (listener.url, [])
        process = subprocess.Popen(
            [*versioned_command(), "names"],
            env=process_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert listener.request_seen.wait(timeout=30)
        finally:
            process.kill()
            process.wait(timeout=30)
        assert b"Credential=testing/" in listener.received


def test_an_option_or_variable_beats_an_ignored_file_silently(
    cli_env: CliEnv, cli_run: Cli
) -> None:
    (cli_env.workdir / "versioned.toml").write_text('endpoint_url = "http://file.invalid"\n')
    result = cli_run("config", "--json")
    assert "Warning" not in result.stderr  # VERSIONED_ENDPOINT_URL decides anyway


def test_sandbox_hint_gives_the_dynamodb_layout_its_own_prefix(
    cli_env: CliEnv, cli_run: Cli, monkeypatch: Any
) -> None:
    lines = sandbox_lines("http://127.0.0.1:5000", "versioned-sandbox")
    s3_only = parse_exports(lines)
    hint = next(line.strip() for line in lines if "VERSIONED_TABLE=" in line)
    dynamodb = dict(
        word.split("=", 1) for word in hint.split("&&")[0].removeprefix("export ").split()
    )
    assert "VERSIONED_PREFIX" in dynamodb and "VERSIONED_TABLE" in dynamodb
    assert any("unset VERSIONED_TABLE VERSIONED_PREFIX" in line for line in lines)

    for key, value in s3_only.items():
        monkeypatch.setenv(key, value)
    first = cli_run.json("config")
    for key, value in dynamodb.items():
        monkeypatch.setenv(key, value)
    second = cli_run.json("config")
    assert (first["backend"], second["backend"]) == ("s3", "s3+dynamodb")
    assert (first["bucket"], first["prefix"]) != (second["bucket"], second["prefix"])


def test_per_service_endpoint_variables_beat_aws_endpoint_url(
    cli_repo: str,
    cli_run: Cli,
    s3_endpoint: str,
    dynamodb_endpoint: str,
    monkeypatch: Any,
) -> None:
    """AWS_ENDPOINT_URL_S3 / _DYNAMODB override AWS_ENDPOINT_URL, as in botocore: the CLI
    must not turn the generic variable into an explicit endpoint for every service."""
    with recording_listener() as listener:
        monkeypatch.delenv("VERSIONED_ENDPOINT_URL", raising=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL", listener.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint)
        cli_run("put", "model", "-", input=b"bytes")
        assert cli_run.json("names") == ["model"]
        assert listener.connections == 0 and not listener.received


def test_sessions_are_reused_only_by_a_caller_that_keeps_them(
    monkeypatch: Any, tmp_path: Any
) -> None:
    """The command line holds no process-global session cache: a new session per call,
    unless the caller passes a ``Sessions``; that one never hands out a session built
    with other credentials."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "first")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    settings = resolve({"region": "us-east-1"}, os.environ, tmp_path)
    assert make_session(settings) is not make_session(settings)
    sessions = Sessions()
    kept = make_session(settings, sessions)
    assert make_session(settings, sessions) is kept
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "second")
    other = make_session(settings, sessions)
    assert other is not kept
    assert other.boto_ses.get_credentials().access_key == "second"
