"""``versioned rollout`` (steps, a health check command, status, abort from another
process) and ``versioned get --alias A --key K`` (sticky routing), on both backends."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from _chaoskit import wait_until
from _clikit import (
    Cli,
    CliEnv,
    assert_one_error_line,
    default_sigint,
    process_env,
    run_with_stderr_on_a_terminal,
    versioned_command,
)

from versioned import _model


def publish_two(cli_run: Cli, work: Path) -> None:
    for content in (b"one", b"two"):
        (work / "v.bin").write_bytes(content)
        cli_run("put", "app", str(work / "v.bin"))
        cli_run("publish", "app")
    cli_run("alias", "set", "app", "prod", "1")


def prod(cli_run: Cli) -> tuple[str, str | None, int | None]:
    alias = cli_run.json("alias", "get", "app", "prod")
    return alias["version"], alias["secondary_version"], alias["secondary_version_weight"]


def test_rollout_steps_through_with_a_passing_check(
    cli_repo: str, cli_run: Cli, cli_env: CliEnv
) -> None:
    publish_two(cli_run, cli_env.workdir)
    marker = cli_env.workdir / "checked"
    check = f"echo x >> {marker}"
    out = cli_run(
        "rollout", "app", "prod", "2", "--steps", "20,100", "--bake", "0.05", "--check", check
    ).stdout
    assert "step 1/2: 20% to version 2 (from 1)" in out
    assert "step 2/2: 100% to version 2" in out
    assert "alias prod of app -> 2" in out
    assert len(marker.read_text().splitlines()) == 5  # one bake, 5 checks
    assert prod(cli_run) == ("2", None, None)
    assert "No rollout" in cli_run("rollout", "status", "app", "prod").stdout
    assert cli_run.json("rollout", "status", "app", "prod") is None


def test_a_failing_check_command_restores_the_alias(
    cli_repo: str, cli_run: Cli, cli_env: CliEnv
) -> None:
    publish_two(cli_run, cli_env.workdir)
    result = cli_run(
        "rollout", "app", "prod", "2", "--bake", "0", "--check", "exit 3", code=1
    )  # fmt: skip
    line = assert_one_error_line(result.stderr)
    assert "aborted at step 1/3 (10%)" in line and "returned False" in line
    assert prod(cli_run) == ("1", None, None)


def test_status_and_abort_from_another_process(
    cli_repo: str, cli_run: Cli, cli_env: CliEnv
) -> None:
    publish_two(cli_run, cli_env.workdir)
    owner = subprocess.Popen(
        [*versioned_command(), "rollout", "app", "prod", "2", "--bake", "10m", "--check", "true"],
        env=process_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:

        def at_first_step() -> bool:
            status = cli_run.json("rollout", "status", "app", "prod")
            return status is not None and status["step"] == 1

        assert wait_until(at_first_step, timeout=60, step=0.2)
        out = cli_run("rollout", "status", "app", "prod").stdout
        assert "step 1/3: 10% to version 2" in out and f"pid {owner.pid}" in out
        refused = cli_run("rollout", "abort", "app", "prod", code=4)
        assert "owner is alive" in assert_one_error_line(refused.stderr)
        out = cli_run("rollout", "abort", "app", "prod", "--force", "--reason", "stop").stdout
        assert "rollout aborted; alias prod of app -> 1" in out
        assert prod(cli_run) == ("1", None, None)
        assert cli_run.json("rollout", "status", "app", "prod") is None
    finally:
        owner.kill()
        owner.wait(10)


def test_rollout_through_the_installed_script(cli_repo: str, cli_run: Cli, cli_env: CliEnv) -> None:
    publish_two(cli_run, cli_env.workdir)
    done = subprocess.run(
        [*versioned_command(), "rollout", "app", "prod", "2", "--steps", "50,100", "--bake", "0"],
        env=process_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "step 1/2: 50% to version 2" in done.stdout
    assert prod(cli_run) == ("2", None, None)
    missing = cli_run("rollout", "resume", "app", "prod", code=3)
    assert "no running rollout" in assert_one_error_line(missing.stderr)


def test_get_with_a_key_downloads_the_version_the_key_is_routed_to(
    cli_repo: str, cli_run: Cli, cli_env: CliEnv
) -> None:
    publish_two(cli_run, cli_env.workdir)
    cli_run("alias", "set", "app", "prod", "1", "--canary", "2", "--weight", "50")
    routed = {
        f"user-{i}": _model.route_by_key(1, 2, 50, f"user-{i}", name="app", alias="prod")
        for i in range(40)
    }
    keys = [
        next(k for k, v in routed.items() if v == 1),
        next(k for k, v in routed.items() if v == 2),
    ]
    for key in keys:
        target = cli_env.workdir / f"{key}.bin"
        document = cli_run.json("get", "app", "--alias", "prod", "--key", key, "-o", str(target))
        expected = routed[key]
        assert document["artifact"]["version"] == str(expected)
        assert target.read_bytes() == (b"one" if expected == 1 else b"two")
        again = cli_run("get", "app", "--alias", "prod", "--key", key, "-o", str(target)).stdout
        assert f"version {expected} (alias prod)" in again
    usage = cli_run("get", "app", "--key", "user-1", "-o", str(cli_env.workdir / "x"), code=2)
    assert "--alias" in assert_one_error_line(usage.stderr)


def test_the_live_view_on_a_terminal(cli_repo: str, cli_run: Cli, cli_env: CliEnv) -> None:
    publish_two(cli_run, cli_env.workdir)
    log = cli_env.workdir / "stdout.txt"
    args = ["rollout", "app", "prod", "2", "--steps", "50,100", "--bake", "2"]
    run = run_with_stderr_on_a_terminal([*versioned_command(), *args], process_env(), log)
    assert run.returncode == 0, run.terminal
    assert "step 1/2: 50% to version 2" in run.terminal and "left" in run.terminal, run.terminal
    assert log.read_text().strip() == "✓ alias prod of app -> 2"  # no step lines: on the view


def test_ctrl_c_puts_the_alias_back(cli_repo: str, cli_run: Cli, cli_env: CliEnv) -> None:
    publish_two(cli_run, cli_env.workdir)
    owner = subprocess.Popen(
        [*versioned_command(), "rollout", "app", "prod", "2", "--bake", "10m"],
        env=process_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_sigint,
    )  # fmt: skip
    try:
        assert wait_until(lambda: prod(cli_run) == ("1", "2", 10), timeout=60, step=0.2), (
            owner.stderr
        )
        owner.send_signal(signal.SIGINT)
        _, stderr = owner.communicate(timeout=60)
    finally:
        owner.kill()
        owner.wait(10)
    assert owner.returncode == 130, stderr
    assert "Interrupted" in stderr
    assert prod(cli_run) == ("1", None, None)
    assert cli_run.json("rollout", "status", "app", "prod") is None
