"""The ``versioned`` command line, driven through its entry point against a moto server."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _clikit import Cli, CliEnv, LineReader, assert_one_error_line
from _testkit import ARTIFACT_FIELDS, sha256_hex
from click.testing import CliRunner

from versioned.cli import _demo, cli
from versioned.cli._app import parse_duration
from versioned.cli._output import PROGRESS_THRESHOLD, TransferBar

V1 = b"Binary content for version 1.0 - timestamp: 2024-01-01"
V2 = b"Binary content for version 2.0 - enhanced features - timestamp: 2024-01-01"
V3 = b"Binary content for version 3.0 - performance optimizations - timestamp: 2024-01-01"


def write(directory: Path, filename: str, data: bytes) -> str:
    path = directory / filename
    path.write_bytes(data)
    return str(path)


def publish_three(cli_run: Cli, workdir: Path, name: str = "app") -> None:
    for number, data in enumerate((V1, V2, V3), start=1):
        cli_run("put", name, write(workdir, f"v{number}.bin", data))
        assert cli_run.json("publish", name)["version"] == str(number)


# ------------------------------------------------------------------ help and parsing
def test_help_documents_exit_codes() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for expected in ("Exit codes", "0 success", "2 usage error", "3 not found", "4 conflict"):
        assert expected in text
    assert "5 integrity" in text
    assert "VERSIONED_BUCKET" in text and "versioned.toml" in text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("45s", 45), ("30m", 1800), ("12h", 43200), ("90d", 7776000), ("1d12h", 129600)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "d", "3x", "1.5h", "-1d"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_progress_bar_only_for_large_transfers() -> None:
    bar = TransferBar("get x")
    bar(10, 100)
    assert bar._progress is None
    bar(0, PROGRESS_THRESHOLD + 1)
    bar(PROGRESS_THRESHOLD + 1, PROGRESS_THRESHOLD + 1)
    assert bar._progress is not None
    bar.close()
    assert bar._progress is None


# ------------------------------------------------------------------ full sessions
def test_session_human(cli_repo: str, cli_run: Cli, cli_env: CliEnv) -> None:
    work = cli_env.workdir
    out = cli_run(
        "put", "app", write(work, "v1.bin", V1), "-m", "team=ml", "--content-type", "x/y"
    ).stdout
    assert "LATEST" in out and sha256_hex(V1) in out
    assert "version 1" in cli_run("publish", "app").stdout
    cli_run("put", "app", write(work, "v2.bin", V2))
    assert "version 2" in cli_run("publish", "app").stdout

    out = cli_run("alias", "set", "app", "prod", "1").stdout
    assert "prod" in out and "revision" in out
    out = cli_run("alias", "set", "app", "prod", "2").stdout  # blue/green switch
    assert "canary" not in out

    cli_run("put", "app", write(work, "v3.bin", V3))
    assert "version 3" in cli_run("publish", "app").stdout
    out = cli_run("alias", "set", "app", "prod", "2", "--canary", "3", "--weight", "10").stdout
    assert "canary version" in out and "10%" in out
    out = cli_run("alias", "get", "app", "prod").stdout
    assert "canary weight" in out and "10%" in out

    out = cli_run("versions", "app").stdout
    assert "Versions of app" in out and "prod (10%)" in out
    for version in ("LATEST", "1", "2", "3"):
        assert f"{version} " in out or f" {version}" in out

    out = cli_run("alias", "set", "app", "prod", "2").stdout  # rollback: canary off
    assert "canary" not in out
    assert "prod" in cli_run("alias", "list", "app").stdout

    out = cli_run("purge", "app", "--keep", "1", "--older-than", "0").stdout
    assert "Purged 1 version(s) of app" in out
    assert re.search(r"^\s*1\s+\d{4}-", out, re.MULTILINE), out
    assert "Purged nothing" in cli_run("purge", "app", "--keep", "1", "--older-than", "0").stdout

    out = cli_run("get", "app", "--alias", "prod", "-o", str(work / "prod.bin")).stdout
    assert "version 2 (alias prod)" in out
    assert (work / "prod.bin").read_bytes() == V2
    assert "app" in cli_run("names").stdout
    assert "No problems found" in cli_run("verify").stdout


def test_session_json(cli_repo: str, cli_run: Cli, cli_env: CliEnv) -> None:
    work = cli_env.workdir
    put = cli_run.json("put", "app", write(work, "v1.bin", V1), "--metadata", "team=ml")
    assert set(put) >= set(ARTIFACT_FIELDS)
    assert (put["name"], put["version"], put["sha256"]) == ("app", "LATEST", sha256_hex(V1))
    assert put["s3uri"].startswith(f"s3://{cli_env.bucket}/versioned-artifacts/app/")
    assert cli_run.json("put", "app", write(work, "same.bin", V1))["sha256"] == sha256_hex(V1)
    first = cli_run.json("publish", "app")
    assert (first["version"], first["sha256"]) == ("1", sha256_hex(V1))
    assert cli_run.json("publish", "app")["version"] == "1"  # unchanged LATEST: no new version
    cli_run("put", "app", write(work, "v2.bin", V2))
    assert cli_run.json("publish", "app")["version"] == "2"

    alias = cli_run.json("alias", "set", "app", "prod", "1")
    assert alias["name"] == "app" and alias["alias"] == "prod"
    assert (alias["version"], alias["secondary_version"], alias["secondary_version_weight"]) == (
        "1",
        None,
        None,
    )
    assert alias["version_s3uri"] and alias["secondary_version_s3uri"] is None
    switched = cli_run.json(
        "alias", "set", "app", "prod", "2", "--expected-revision", alias["revision"]
    )
    assert switched["version"] == "2"

    cli_run("put", "app", write(work, "v3.bin", V3))
    assert cli_run.json("publish", "app")["version"] == "3"
    canary = cli_run.json("alias", "set", "app", "prod", "2", "--canary", "3", "--weight", "10")
    assert (canary["version"], canary["secondary_version"]) == ("2", "3")
    assert canary["secondary_version_weight"] == 10
    assert canary["secondary_version_s3uri"]
    fetched = cli_run.json("alias", "get", "app", "prod")
    assert fetched["secondary_version_weight"] == 10
    assert fetched["update_at"] == canary["update_at"] or fetched["update_at"]

    rollback = cli_run.json("alias", "set", "app", "prod", "2")
    assert (rollback["version"], rollback["secondary_version"]) == ("2", None)
    assert [a["alias"] for a in cli_run.json("alias", "list", "app")] == ["prod"]

    listed = cli_run.json("versions", "app")
    assert [a["version"] for a in listed] == ["LATEST", "3", "2", "1"]
    assert all(set(a) >= set(ARTIFACT_FIELDS) for a in listed)
    assert [a["sha256"] for a in listed] == [sha256_hex(v) for v in (V3, V3, V2, V1)]

    plan = cli_run.json("purge", "app", "--keep", "1", "--older-than", "0s", "--dry-run")
    assert plan["dry_run"] is True and plan["keep_last_n"] == 1
    assert plan["purge_older_than_secs"] == 0
    assert [a["version"] for a in plan["versions"]] == ["1"]
    assert len(cli_run.json("versions", "app")) == 4
    purged = cli_run.json("purge", "app", "--keep", "1", "--older-than", "0s")
    assert purged["dry_run"] is False
    assert [a["version"] for a in purged["versions"]] == ["1"]
    assert [a["version"] for a in cli_run.json("versions", "app")] == ["LATEST", "3", "2"]

    assert cli_run.json("names") == ["app"]
    got = cli_run.json("get", "app", "--alias", "prod", "-o", str(work / "prod.bin"))
    assert got["artifact"]["version"] == "2" and got["alias"]["alias"] == "prod"
    assert got["size"] == len(V2) and (work / "prod.bin").read_bytes() == V2
    latest = cli_run.json("get", "app", "-o", str(work / "latest.bin"))
    assert latest["artifact"]["version"] == "LATEST" and latest["alias"] is None
    assert cli_run.json("verify") == {"ok": True, "problems": []}

    assert cli_run.json("delete", "app", "3")["deleted"] is True
    assert [a["version"] for a in cli_run.json("versions", "app")] == ["LATEST", "2"]
    assert cli_run.json("alias", "delete", "app", "prod")["deleted"] is True
    assert cli_run.json("alias", "list", "app") == []


# ------------------------------------------------------------------ streaming
def test_stdin_put_and_stdout_get(cli_repo: str, cli_run: Cli) -> None:
    data = bytes(range(256)) * 1000 + b"\x00\xff\r\n"
    put = cli_run.json("put", "blob", "-", input=data)
    assert put["sha256"] == sha256_hex(data)
    assert cli_run("get", "blob", "-o", "-").stdout_bytes == data
    cli_run("publish", "blob")
    assert cli_run("get", "blob", "--version", "1", "-o", "-").stdout_bytes == data
    cli_run("alias", "set", "blob", "live", "1")
    assert cli_run("get", "blob", "--alias", "live", "-o", "-").stdout_bytes == data


# ------------------------------------------------------------------ exit codes
def test_not_found_exits_3(cli_repo: str, cli_run: Cli, cli_env: CliEnv) -> None:
    result = cli_run("get", "nothing", "-o", str(cli_env.workdir / "x"), code=3)
    assert "nothing" in assert_one_error_line(result.stderr)
    assert not (cli_env.workdir / "x").exists()
    cli_run("put", "app", "-", input=V1)
    assert "nope" in assert_one_error_line(cli_run("alias", "get", "app", "nope", code=3).stderr)
    cli_run("get", "app", "--version", "7", "-o", "-", code=3)
    cli_run("publish", "ghost", code=3)
    cli_run("alias", "set", "app", "prod", "9", code=3)


def test_usage_errors_exit_2(cli_repo: str, cli_run: Cli) -> None:
    cli_run("put", code=2)
    cli_run("frobnicate", code=2)
    cli_run("put", "app", "-", input=V1)
    cli_run("publish", "app")
    result = cli_run("alias", "set", "app", "prod", "1", "--canary", "2", code=2)
    line = assert_one_error_line(result.stderr)
    assert line.startswith("Error: --canary and --weight go together")
    cli_run("alias", "set", "app", "prod", "1", "--weight", "10", code=2)
    cli_run("alias", "set", "app", "prod", "1", "--canary", "2", "--weight", "100", code=2)
    cli_run("get", "app", "--version", "1", "--alias", "prod", "-o", "-", code=2)
    cli_run("get", "app", "-o", "-", "--json", code=2)
    cli_run("purge", "app", "--older-than", "3x", code=2)
    cli_run("put", "app", "-", "--metadata", "novalue", input=V1, code=2)
    # library ValidationErrors are usage errors too
    assert "-" in assert_one_error_line(cli_run("alias", "set", "app", "bad-alias", code=2).stderr)
    cli_run("get", "app", "--version", "one", "-o", "-", code=2)


def test_missing_bucket_setting_exits_2(cli_env: CliEnv, cli_run: Cli, monkeypatch: Any) -> None:
    monkeypatch.delenv("VERSIONED_BUCKET")
    assert "bucket" in assert_one_error_line(cli_run("names", code=2).stderr)


def test_conflicts_exit_4(cli_repo: str, cli_run: Cli) -> None:
    cli_run("put", "app", "-", input=V1)
    cli_run("publish", "app")
    cli_run("put", "app", "-", input=V2)
    cli_run("publish", "app")
    first = cli_run.json("alias", "set", "app", "prod", "1")
    cli_run("alias", "set", "app", "prod", "2")
    stale = ("--expected-revision", first["revision"])
    line = assert_one_error_line(cli_run("alias", "set", "app", "prod", "1", *stale, code=4).stderr)
    assert "prod" in line
    cli_run("alias", "delete", "app", "prod", *stale, code=4)
    assert cli_run.json("alias", "get", "app", "prod")["version"] == "2"
    line = assert_one_error_line(cli_run("delete", "app", "2", code=4).stderr)
    assert "prod" in line
    assert [a["version"] for a in cli_run.json("versions", "app")] == ["LATEST", "2", "1"]


def test_integrity_errors_exit_5(
    cli_repo: str, cli_run: Cli, cli_env: CliEnv, cli_raw_s3: Any
) -> None:
    cli_run("put", "app", "-", input=V1)
    version = cli_run.json("publish", "app")
    bucket, _, key = version["s3uri"][len("s3://") :].partition("/")
    head = cli_raw_s3.head_object(Bucket=bucket, Key=key)
    cli_raw_s3.put_object(Bucket=bucket, Key=key, Body=b"tampered", Metadata=head["Metadata"])

    target = cli_env.workdir / "out.bin"
    result = cli_run("get", "app", "--version", "1", "-o", str(target), code=5)
    assert "sha256" in assert_one_error_line(result.stderr)
    assert not target.exists()
    cli_run("get", "app", "--version", "1", "-o", "-", code=5)
    report = cli_run.json("verify", code=5)
    assert report["ok"] is False
    assert {p["kind"] for p in report["problems"]} == {"sha256_mismatch"}
    assert "sha256_mismatch" in cli_run("verify", "app", code=5).stdout


def test_backend_failure_exits_1(cli_env: CliEnv, cli_run: Cli) -> None:
    result = cli_run("names", "--bucket", "no-such-bucket-for-versioned", code=1)
    line = assert_one_error_line(result.stderr)
    assert "no-such-bucket-for-versioned" in line or "NoSuchBucket" in line


def test_debug_shows_traceback(cli_env: CliEnv, cli_run: Cli) -> None:
    result = cli_run("--debug", "names", "--bucket", "no-such-bucket-for-versioned", code=1)
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")


# ------------------------------------------------------------------ settings
def test_config_precedence(cli_env: CliEnv, cli_run: Cli, monkeypatch: Any) -> None:
    monkeypatch.delenv("VERSIONED_BUCKET")
    (cli_env.workdir / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.versioned]\nbucket = "from-pyproject"\n'
    )
    config = cli_run.json("config")
    assert config["bucket"] == "from-pyproject"
    assert config["sources"]["bucket"] == "file pyproject.toml [tool.versioned]"

    (cli_env.workdir / "versioned.toml").write_text(
        'bucket = "from-file"\nprefix = "file-prefix"\nregion = "eu-west-1"\n'
        'endpoint-url = "http://file.invalid"\n'
    )
    config = cli_run.json("config")
    assert (config["bucket"], config["prefix"]) == ("from-file", "file-prefix")
    assert config["sources"]["bucket"] == "file versioned.toml"
    assert config["region"] == "eu-west-1"  # the file beats the generic AWS_DEFAULT_REGION
    assert config["endpoint_url"] == cli_env.endpoint_url  # VERSIONED_ENDPOINT_URL beats it
    assert (config["suffix"], config["sources"]["suffix"]) == ("", "default")
    assert config["backend"] == "s3" and config["table"] is None

    monkeypatch.setenv("VERSIONED_BUCKET", "from-env")
    monkeypatch.setenv("VERSIONED_REGION", "us-west-2")
    config = cli_run.json("config")
    assert (config["bucket"], config["prefix"], config["region"]) == (
        "from-env",
        "file-prefix",
        "us-west-2",
    )
    assert config["sources"]["bucket"] == "env VERSIONED_BUCKET"

    config = cli_run.json("config", "--bucket", "from-option", "--table", "t")
    assert (config["bucket"], config["backend"]) == ("from-option", "s3+dynamodb")
    assert config["sources"]["bucket"] == "option --bucket"
    # options before the command count too; the command's own option wins
    assert cli_run.json("--bucket", "early", "config")["bucket"] == "early"
    assert cli_run.json("--bucket", "early", "config", "--bucket", "late")["bucket"] == "late"


def test_config_file_selects_the_repository(
    cli_backend: str, cli_env: CliEnv, cli_run: Cli, monkeypatch: Any
) -> None:
    monkeypatch.delenv("VERSIONED_BUCKET")
    (cli_env.workdir / "versioned.toml").write_text(
        f'bucket = "{cli_env.bucket}"\nprefix = "team-a"\nsuffix = ".bin"\n'
    )
    cli_run("bootstrap")
    put = cli_run.json("put", "model", "-", input=V1)
    assert put["s3uri"].startswith(f"s3://{cli_env.bucket}/team-a/model/")
    assert put["s3uri"].endswith(".bin")
    assert cli_run.json("names") == ["model"]
    if cli_backend == "s3_and_dynamodb":
        # A table serves one repository: another prefix on it is refused, not mixed in.
        error = cli_run("names", "--prefix", "team-b", code=4).stderr
        assert "serves the repository" in error and "team-a" in error
        return
    assert cli_run.json("names", "--prefix", "team-b") == []  # option beats the file
    monkeypatch.setenv("VERSIONED_PREFIX", "team-c")  # env beats the file
    assert cli_run.json("names") == []
    monkeypatch.setenv("VERSIONED_BUCKET", "no-such-bucket-for-versioned")
    cli_run("names", code=1)


@pytest.mark.parametrize(
    ("content", "message"),
    [('bucket = "x"\ncolour = "blue"\n', "unknown setting"), ("bucket = [", "cannot read")],
)
def test_bad_config_file_exits_2(cli_env: CliEnv, cli_run: Cli, content: str, message: str) -> None:
    (cli_env.workdir / "versioned.toml").write_text(content)
    assert message in assert_one_error_line(cli_run("names", code=2).stderr)


# ------------------------------------------------------------------ purge
def _raw_state(cli_raw_s3: Any, bucket: str) -> list[tuple[str, str]]:
    listed = cli_raw_s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted((item["Key"], item["ETag"]) for item in listed)


def test_purge_dry_run_writes_nothing(
    cli_repo: str, cli_run: Cli, cli_env: CliEnv, cli_raw_s3: Any
) -> None:
    publish_three(cli_run, cli_env.workdir)
    cli_run("alias", "set", "app", "prod", "1")
    before_objects = _raw_state(cli_raw_s3, cli_env.bucket)
    before_versions = cli_run.json("versions", "app")

    out = cli_run("purge", "app", "--keep", "0", "--older-than", "0", "--dry-run").stdout
    assert "Would purge 2 version(s) of app (dry run: nothing deleted)" in out
    plan = cli_run.json("purge", "app", "--keep", "0", "--older-than", "0", "--dry-run")
    assert [a["version"] for a in plan["versions"]] == ["3", "2"]  # 1 is prod's
    plan = cli_run.json("purge", "app", "--dry-run")  # defaults: keep 10, older than 90 days
    assert plan["versions"] == [] and plan["keep_last_n"] == 10
    assert plan["purge_older_than_secs"] == 90 * 86400

    assert _raw_state(cli_raw_s3, cli_env.bucket) == before_objects
    assert cli_run.json("versions", "app") == before_versions
    # the real purge removes exactly what the dry run listed
    purged = cli_run.json("purge", "app", "--keep", "0", "--older-than", "0")
    assert [a["version"] for a in purged["versions"]] == ["3", "2"]


def test_destructive_purges_need_yes(cli_repo: str, cli_run: Cli) -> None:
    cli_run("put", "app", "-", input=V1)
    cli_run("put", "other", "-", input=V2)
    cli_run("purge-artifact", "app", code=2)
    assert cli_run.json("names") == ["app", "other"]
    cli_run("purge-artifact", "app", "--yes")
    assert cli_run.json("names") == ["other"]
    cli_run("purge-all", "--yes")
    assert cli_run.json("names") == []


# ------------------------------------------------------------------ demo and sandbox
def test_demo_runs_the_quick_start_story(cli_env: CliEnv) -> None:
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "canary split over 1000 draws" in text
    assert "rollback done: production -> 2" in text
    assert "aborted at step 1" in text and "production restored to 2" in text
    assert text.count("rolled back 3 -> 2, alias_at(now) agrees") == 2
    assert "deleted versions ['1']" in text
    assert "S3-only backend: ✓ passed" in text
    assert "S3 + DynamoDB backend: ✓ passed" in text
    assert "✗" not in text


def test_demo_fails_when_a_check_fails(cli_env: CliEnv, monkeypatch: Any) -> None:
    monkeypatch.setattr(_demo, "measure_split", lambda alias, draws=1000: (draws, 0))
    result = CliRunner().invoke(cli, ["demo", "--backend", "s3"])
    assert result.exit_code == 1
    assert "✗ check failed: canary got 0 of 1000 draws" in result.stdout
    assert "S3-only backend: ✗ failed" in result.stdout


def test_sandbox_serves_until_interrupted(cli_env: CliEnv) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "versioned", "sandbox", "--port", "0", "--bucket", "sandboxed"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout = LineReader(process)
    try:
        lines = stdout.until("Press Ctrl-C", timeout=30)
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in lines
            if line.startswith("export ")
        )
        assert exports["VERSIONED_BUCKET"] == "sandboxed"
        assert exports["AWS_ENDPOINT_URL"] == exports["VERSIONED_ENDPOINT_URL"]
        assert exports["VERSIONED_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        environment: dict[str, str | None] = {"VERSIONED_BUCKET": None, **exports}
        sandbox = CliRunner(env=environment)
        assert sandbox.invoke(cli, ["put", "x", "-"], input=b"hello").exit_code == 0
        names = sandbox.invoke(cli, ["names", "--json"])
        assert json.loads(names.stdout) == ["x"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # SIGINT may be ignored where the suite runs
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    assert "Sandbox stopped." in stdout.until("Sandbox stopped.", timeout=5)[-1]


def test_local_endpoint_refuses_a_missing_aws_profile(cli_env: CliEnv, monkeypatch: Any) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile-for-versioned")
    for command in (["demo"], ["sandbox", "--port", "0"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1
        assert "Unset AWS_PROFILE" in assert_one_error_line(result.stderr)
