"""``versioned versions NAME``: a screenful by default (``--limit N``), every one with --all."""

from __future__ import annotations

from pathlib import Path

from _clikit import Cli, CliEnv

from versioned.cli._commands_artifacts import DEFAULT_VERSIONS_LIMIT


def test_versions_limit_and_all(cli_repo: str, cli_run: Cli, cli_env: CliEnv) -> None:
    total = DEFAULT_VERSIONS_LIMIT + 3
    for j in range(1, total + 1):
        path = Path(cli_env.workdir) / "app.bin"
        path.write_bytes(f"version {j}".encode())
        cli_run("put", "app", str(path))
        cli_run("publish", "app")
    newest_first = ["LATEST", *(str(n) for n in range(total, 0, -1))]

    default = [a["version"] for a in cli_run.json("versions", "app")]
    assert default == newest_first[:DEFAULT_VERSIONS_LIMIT]
    assert [a["version"] for a in cli_run.json("versions", "app", "--limit", "3")] == [
        "LATEST",
        str(total),
        str(total - 1),
    ]
    assert [a["version"] for a in cli_run.json("versions", "app", "--all")] == newest_first
    both = cli_run.json("versions", "app", "--limit", "2", "--all")
    assert [a["version"] for a in both] == newest_first

    text = cli_run("versions", "app", "--limit", "4").stdout
    assert f" {total} " in text or f"{total} " in text
    assert "--all" in text, text
    assert "--all" not in cli_run("versions", "app", "--all").stdout

    refused = cli_run("versions", "app", "--limit", "0", code=2)
    assert "--limit" in refused.stderr
