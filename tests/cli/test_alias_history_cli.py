"""``versioned alias history`` / ``alias rollback`` and ``--reason``, through the entry point."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from _clikit import Cli, CliEnv, assert_one_error_line

from versioned.cli._commands_history import parse_moment


def publish(cli_run: Cli, cli_env: CliEnv, *contents: bytes) -> None:
    for i, content in enumerate(contents, start=1):
        path = cli_env.workdir / f"v{i}.bin"
        path.write_bytes(content)
        cli_run("put", "app", str(path))
        cli_run("publish", "app")


@pytest.fixture
def actor(monkeypatch: pytest.MonkeyPatch, cli_env: CliEnv) -> str:
    monkeypatch.setenv("VERSIONED_ACTOR", "alice")
    return "alice"


def test_history_table_and_json(cli_repo: str, cli_run: Cli, cli_env: CliEnv, actor: str) -> None:
    publish(cli_run, cli_env, b"one", b"two", b"three")
    cli_run("alias", "set", "app", "prod", "1", "--reason", "first release")
    cli_run("alias", "set", "app", "prod", "2", "--canary", "3", "--weight", "10")
    cli_run("alias", "delete", "app", "prod", "--reason", "retired")
    out = cli_run("alias", "history", "app", "prod").stdout
    assert "first release" in out and "retired" in out and "alice" in out
    assert "2 + 10% to 3" in out and "(deleted)" in out
    assert out.index("retired") < out.index("first release")  # newest first
    changes = cli_run.json("alias", "history", "app", "prod")
    assert [c["action"] for c in changes] == ["delete", "put", "put"]
    assert [c["version"] for c in changes] == [None, 2, 1]
    assert changes[2]["reason"] == "first release" and changes[0]["actor"] == "alice"
    assert set(changes[0]) >= {"revision", "changed_at", "secondary_version_weight"}
    newest = cli_run.json("alias", "history", "app", "prod", "--limit", "1")
    assert [c["action"] for c in newest] == ["delete"]


def test_history_at_a_time(cli_repo: str, cli_run: Cli, cli_env: CliEnv, actor: str) -> None:
    publish(cli_run, cli_env, b"one")
    cli_run("alias", "set", "app", "prod", "1")
    assert cli_run.json("alias", "history", "app", "prod", "--at", "1d") is None
    out = cli_run("alias", "history", "app", "prod", "--at", "1d").stdout
    assert "No recorded change" in out
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    found = cli_run.json("alias", "history", "app", "prod", "--at", later)
    assert found["version"] == 1 and found["action"] == "put"
    result = cli_run("alias", "history", "app", "prod", "--at", "soon", code=2)
    assert "neither an ISO-8601 time" in result.stderr


def test_history_of_an_unknown_artifact_is_not_found(cli_repo: str, cli_run: Cli) -> None:
    result = cli_run("alias", "history", "nope", "prod", code=3)
    assert "no artifact 'nope'" in assert_one_error_line(result.stderr)


def test_rollback(cli_repo: str, cli_run: Cli, cli_env: CliEnv, actor: str) -> None:
    publish(cli_run, cli_env, b"one", b"two", b"three")
    first = cli_run.json("alias", "set", "app", "prod", "1")
    cli_run("alias", "set", "app", "prod", "2")
    out = cli_run("alias", "rollback", "app", "prod", "--reason", "2 is slow").stdout
    assert "rolled back alias prod of app" in out
    assert cli_run.json("alias", "get", "app", "prod")["version"] == "1"
    cli_run("alias", "set", "app", "prod", "3")
    back = cli_run.json("alias", "rollback", "app", "prod", "--to", first["revision"])
    assert back["version"] == "1" and back["previous"]["version"] == "3"
    changes = cli_run.json("alias", "history", "app", "prod")
    assert [(c["action"], c["version"]) for c in changes[:2]] == [("rollback", 1), ("put", 3)]
    assert changes[2]["reason"] == "2 is slow"
    stale = changes[1]["revision"]  # version 3's (S3-only: an ETag, unlike version 1's)
    result = cli_run("alias", "rollback", "app", "prod", "--expected-revision", stale, code=4)
    assert assert_one_error_line(result.stderr)


def test_rollback_to_a_deleted_version_writes_nothing(
    cli_repo: str, cli_run: Cli, cli_env: CliEnv, actor: str
) -> None:
    publish(cli_run, cli_env, b"one", b"two")
    cli_run("alias", "set", "app", "prod", "1")
    cli_run("alias", "set", "app", "prod", "2")
    cli_run("delete", "app", "1")
    before = cli_run.json("alias", "history", "app", "prod")
    result = cli_run("alias", "rollback", "app", "prod", code=3)
    assert "no longer" in result.stderr or "has no version 1" in result.stderr
    assert cli_run.json("alias", "history", "app", "prod") == before


def test_parse_moment() -> None:
    assert parse_moment("2025-06-26T03:00:00") == datetime(2025, 6, 26, 3, tzinfo=UTC)
    assert parse_moment("2025-06-26T05:00:00+02:00") == datetime(2025, 6, 26, 3, tzinfo=UTC)
    ago = datetime.now(UTC) - parse_moment("3h")
    assert abs(ago - timedelta(hours=3)) < timedelta(minutes=1)
    with pytest.raises(ValueError):
        parse_moment("yesterday-ish")
