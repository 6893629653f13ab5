"""``versioned retention show|set|plan|apply``, ``hold`` and ``release``."""

from __future__ import annotations

from pathlib import Path

from _clikit import Cli, CliEnv

EXIT_CONFLICT = 4


def publish(cli_run: Cli, workdir: Path, count: int, name: str = "app") -> None:
    for number in range(1, count + 1):
        path = workdir / f"v{number}.bin"
        path.write_bytes(f"version {number} ".encode() * number)
        cli_run("put", name, str(path))
        cli_run("publish", name)


def test_set_show_plan_apply(cli_repo: str, cli_run: Cli, cli_env: CliEnv) -> None:
    publish(cli_run, cli_env.workdir, 4)
    cli_run("alias", "set", "app", "prod", "1")
    cli_run(
        "retention",
        "set",
        "app",
        "--keep-last",
        "1",
        "--keep-younger",
        "0",
        "--protect",
        "prod",
        "--keep-rollback",
        "2",
    )
    shown = cli_run.json("retention", "show", "app")["policy"]
    assert shown["keep_last"] == 1 and shown["protected_aliases"] == ["prod"]
    assert shown["keep_younger_than_secs"] == 0 and shown["keep_rollback_targets"] == 2

    table = cli_run("retention", "plan", "app").stdout
    assert "alias prod (protected)" in table and "newest 1" in table
    assert "2 version(s) to delete" in table
    plan = cli_run.json("retention", "plan", "app")
    assert plan["plans"][0]["delete"] == [3, 2]
    freed = 0 if cli_repo == "s3_and_dynamodb" else len(b"version 3 " * 3 + b"version 2 " * 2)
    assert plan["bytes_freed"] == freed

    applied = cli_run.json("retention", "apply", "app", "--yes")
    assert applied["reports"][0]["deleted"] == [3, 2]
    assert [v["version"] for v in cli_run.json("versions", "app")] == ["LATEST", "4", "1"]


def test_apply_without_yes_off_a_terminal_refuses(
    cli_repo: str, cli_run: Cli, cli_env: CliEnv
) -> None:
    publish(cli_run, cli_env.workdir, 2)
    cli_run("retention", "set", "app", "--keep-last", "0")
    result = cli_run("retention", "apply", "app", code=2)
    assert "--yes" in result.stderr
    assert [v["version"] for v in cli_run.json("versions", "app")] == ["LATEST", "2", "1"]


def test_protected_alias_needs_force(cli_repo: str, cli_run: Cli, cli_env: CliEnv) -> None:
    publish(cli_run, cli_env.workdir, 2)
    cli_run("alias", "set", "app", "prod", "1")
    cli_run("retention", "set", "--protect", "prod")  # the repository default
    result = cli_run("alias", "set", "app", "prod", "2", code=EXIT_CONFLICT)
    assert "protected" in result.stderr
    cli_run("alias", "delete", "app", "prod", code=EXIT_CONFLICT)
    cli_run("alias", "set", "app", "prod", "2", "--force")
    cli_run("alias", "delete", "app", "prod", "--force")


def test_hold_and_release(cli_repo: str, cli_run: Cli, cli_env: CliEnv) -> None:
    publish(cli_run, cli_env.workdir, 2)
    held = cli_run.json("hold", "app", "1", "--reason", "incident 42")
    assert held["version"] == 1 and held["reason"] == "incident 42"
    result = cli_run("delete", "app", "1", code=EXIT_CONFLICT)
    assert "held" in result.stderr and "incident 42" in result.stderr
    assert cli_run.json("release", "app", "1")["released"] is True
    assert "was not held" in cli_run("release", "app", "1").stdout
    cli_run("delete", "app", "1")


def test_nonsense_duration_is_a_usage_error(cli_repo: str, cli_run: Cli) -> None:
    result = cli_run("retention", "set", "app", "--keep-younger", "soon", code=2)
    assert "duration" in result.stderr
