"""Guard rails and plain hints (issue 18): deleting LATEST, the suffix of another
repository, command and option names from other tools, an endpoint that is not S3, and a
second sandbox on another port."""

from __future__ import annotations

import contextlib
import errno
import http.server
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from _clikit import Cli, CliEnv, LineReader, assert_one_error_line, process_env
from _testkit import Endpoints, LoopbackServer, raw_client

from versioned.cli import cli
from versioned.cli._errors import EXIT_CONFLICT, EXIT_NOT_FOUND, EXIT_USAGE


# ------------------------------------------------------------------ item 5: LATEST
def test_deleting_latest_on_dynamodb_needs_yes_and_is_explained_afterwards(
    cli_env: CliEnv,
    cli_run: Cli,
    monkeypatch: pytest.MonkeyPatch,
    endpoints: Endpoints,
    cli_any_table: None,
) -> None:
    table = f"cli-latest-{cli_env.bucket[-10:]}"
    monkeypatch.setenv("VERSIONED_TABLE", table)
    cli_run("bootstrap")
    cli_run("put", "model", "-", input=b"v1")
    cli_run("publish", "model")
    raw = raw_client(endpoints, "dynamodb")

    def latest_item() -> dict[str, Any]:
        key = {"pk": {"S": "model"}, "sk": {"S": "LATEST"}}
        answer = raw.get_item(TableName=table, Key=key, ConsistentRead=True)
        item: dict[str, Any] = answer["Item"]
        return item

    # without a terminal to ask on, --yes is required; nothing is deleted
    refused = cli_run("delete", "model", "LATEST", code=EXIT_USAGE)
    line = assert_one_error_line(refused.stderr)
    assert "leaves it without LATEST" in line and "--yes" in line, line
    assert "until the next `versioned put model FILE`" in line
    assert latest_item().get("is_deleted", {}).get("BOOL") is not True

    done = cli_run("delete", "model", "LATEST", "--yes")
    assert "model has no LATEST until the next `versioned put model FILE`" in done.stdout
    assert latest_item()["is_deleted"] == {"BOOL": True}
    assert "deleted_at" in latest_item()

    for command in (
        ["get", "model", "-o", "out.bin"],
        ["publish", "model"],
        ["alias", "set", "model", "prod", "LATEST"],
        ["show", "model", "LATEST"],
    ):
        result = cli_run(*command, code=EXIT_NOT_FOUND)
        line = assert_one_error_line(result.stderr)
        assert "LATEST of 'model' was deleted at 20" in line, (command, line)
        assert "put a new one (`versioned put NAME FILE`)" in line, (command, line)
    # an alias of version 1 is unaffected, and a new put brings LATEST back
    cli_run("alias", "set", "model", "prod", "1")
    cli_run("put", "model", "-", input=b"v2")
    assert cli_run.json("show", "model", "LATEST")["version"] == "LATEST"


def test_s3_only_refusal_to_delete_latest_names_the_command(cli_env: CliEnv, cli_run: Cli) -> None:
    cli_run("bootstrap")
    cli_run("put", "model", "-", input=b"v1")
    result = cli_run("delete", "model", "LATEST", code=EXIT_USAGE)
    line = assert_one_error_line(result.stderr)
    assert "`versioned purge-artifact model`" in line, line
    assert "purge_artifact" not in line


# ------------------------------------------------------------------ item 3: the suffix
@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "seed_made"])
@pytest.mark.parametrize("command", [["versions", "model"], ["verify"], ["names"]])
def test_a_repository_opened_with_another_suffix_names_the_suffix(
    cli_env: CliEnv, cli_run: Cli, cli_raw_s3: Any, recorded: bool, command: list[str]
) -> None:
    """Item 3: with the README's `.bin` and the CLI's default (no suffix), `versions` said
    "No versions" while `names` listed the artifact, and `verify` reported every object
    twice. Now every command says which suffix the prefix holds."""
    cli_run("bootstrap")
    cli_run("--prefix", "artifacts", "--suffix", ".bin", "put", "model", "-", input=b"v1")
    cli_run("--prefix", "artifacts", "--suffix", ".bin", "publish", "model")
    if not recorded:
        marker = "artifacts/.versioned-repository.json"
        cli_raw_s3.delete_object(Bucket=cli_env.bucket, Key=marker)
    result = cli_run("--prefix", "artifacts", *command, code=EXIT_CONFLICT)
    line = assert_one_error_line(result.stderr)
    assert "suffix '.bin'" in line and "pass --suffix .bin" in line, line
    assert line.count("model") <= 1 and result.stdout == ""


# ------------------------------------------------------------------ item 9: names
@pytest.mark.parametrize(
    ("words", "suggested"),
    [
        (["ls"], ["`versioned names`", "`versioned versions NAME`"]),
        (["list"], ["`versioned names`", "`versioned alias list NAME`"]),
        (["rm"], ["`versioned delete NAME VERSION`", "`versioned purge-artifact NAME`"]),
        (["alias", "ls"], ["`versioned alias list NAME`"]),
        (["alias", "rm"], ["`versioned alias delete NAME ALIAS`"]),
    ],
)
def test_commands_of_other_tools_point_at_ours(
    cli_env: CliEnv, cli_run: Cli, words: list[str], suggested: list[str]
) -> None:
    line = assert_one_error_line(cli_run(*words, code=EXIT_USAGE).stderr)
    assert f"no command {words[-1]!r}" in line
    for usage in suggested:
        assert usage in line, line


@pytest.mark.parametrize("option", ["--quiet", "--silent", "--forse", "--tabel"])
def test_an_unknown_option_never_suggests_an_unrelated_one(
    cli_env: CliEnv, cli_run: Cli, option: str
) -> None:
    """Item 9: `--quiet` suggested `--bucket` (a close match once both lose their dashes
    is what counts, not the shared "--")."""
    result = cli_run.runner.invoke(cli, ["config", option])
    if result.exit_code == 0:  # the option exists (a real -q/--quiet)
        return
    assert result.exit_code == EXIT_USAGE
    line = assert_one_error_line(result.stderr)
    for unrelated in ("--bucket", "--repo", "--prefix", "--profile", "--region"):
        assert unrelated not in line, line


def test_close_options_are_still_suggested(cli_env: CliEnv, cli_run: Cli) -> None:
    line = assert_one_error_line(cli_run("names", "--jsn", code=EXIT_USAGE).stderr)
    assert "Did you mean '--json'?" in line
    line = assert_one_error_line(cli_run("names", "--tabel", "t", code=EXIT_USAGE).stderr)
    assert "Did you mean '--table'?" in line
    line = assert_one_error_line(cli_run("names", "--verbose", code=EXIT_USAGE).stderr)
    assert "give it before the command (versioned --verbose names ...)" in line


# ------------------------------------------------------------------ item 10: endpoints
class NotS3(http.server.BaseHTTPRequestHandler):
    """A web server that is not S3: 404 with an HTML page for every request."""

    def _answer(self) -> None:
        body = b"<html><body>Not Found</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class PlainNotFound(http.server.BaseHTTPRequestHandler):
    """http.server's own 404 page (``python -m http.server`` in the wrong directory)."""

    def do_GET(self) -> None:
        self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("handler", [NotS3, PlainNotFound])
def test_an_endpoint_that_is_not_s3_is_named(
    cli_env: CliEnv, cli_run: Cli, handler: type[http.server.BaseHTTPRequestHandler]
) -> None:
    """Item 10: "LIST ... failed: 404 Not Found." with no hint."""
    server = LoopbackServer(handler)
    try:
        result = cli_run("names", "--endpoint-url", server.url, code=1)
    finally:
        server.close()
    line = assert_one_error_line(result.stderr)
    assert f"The endpoint {server.url} (option --endpoint-url) answered " in line, line
    assert "without an AWS error code" in line
    assert "it does not look like S3" in line and f"curl -i {server.url}/" in line


@contextlib.contextmanager
def holding_port(port: int) -> Iterator[None]:
    """Hold ``port`` on 127.0.0.1 (or leave it to whoever holds it already)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError as error:
            assert error.errno == errno.EADDRINUSE, error
        yield
    finally:
        sock.close()


def test_a_second_sandbox_says_it_moved_to_another_port(cli_env: CliEnv) -> None:
    """Item 10: a second `versioned sandbox` silently moved to another port."""
    with holding_port(5000):
        process = subprocess.Popen(
            [sys.executable, "-m", "versioned", "sandbox", "--bucket", "second"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=process_env(),
        )
        try:
            lines = LineReader(process).until("is in use", timeout=60)
        finally:
            process.terminate()
            process.wait(timeout=30)
    exports = [line for line in lines if line.startswith("export VERSIONED_ENDPOINT_URL=")]
    port = exports[0].rsplit(":", 1)[-1]
    assert port != "5000"
    note = lines[-1]
    assert note.startswith("Note: port 5000 is in use"), note
    assert f"listens on port {port}" in note and "versioned sandbox --port 5000" in note


def test_verify_names_each_problem_once_with_the_suffix_hint(
    cli_repo: str, cli_env: CliEnv, cli_run: Cli, cli_raw_s3: Any
) -> None:
    """Item 3: `verify` reported every object twice, in two wordings, and never hinted at
    the suffix of the objects it did not recognise."""
    cli_run("put", "model", "-", input=b"v1")
    cli_run("publish", "model")
    root = "versioned-artifacts/model/"
    other_suffix = "versions/999999_000001.bin" if cli_repo == "s3_only" else "000001.bin"
    for key in (root + other_suffix, root + "junk"):
        cli_raw_s3.put_object(Bucket=cli_env.bucket, Key=key, Body=b"x")
    report = cli_run.json("verify", code=5)
    locations = [problem["location"] for problem in report["problems"]]
    assert len(locations) == len(set(locations)), report
    assert locations.count(root + "junk") == 1, report
    shared = [problem for problem in report["problems"] if problem["kind"] == "shared_prefix"]
    assert len(shared) == 1 and "open that one with suffix '.bin'" in shared[0]["detail"]
