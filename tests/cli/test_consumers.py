"""The consumer commands: fetch, url, watch --exec, cache ls | verify | prune."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from pathlib import Path

import pytest
from _chaoskit import wait_until
from _clikit import Cli, CliEnv, assert_one_error_line, process_env, versioned_command
from _testkit import sha256_hex

V1, V2 = b"consumer bytes, version one", b"consumer bytes, version two!"


@pytest.fixture
def published(
    cli_repo: str, cli_run: Cli, cli_env: CliEnv, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """app: versions 1 and 2, alias prod -> 1; VERSIONED_CACHE_DIR set; returns the cache."""
    for data in (V1, V2):
        source = cli_env.workdir / "source.bin"
        source.write_bytes(data)
        cli_run("put", "app", str(source))
        cli_run("publish", "app")
    cli_run("alias", "set", "app", "prod", "1")
    cache = cli_env.workdir / "cache"
    monkeypatch.setenv("VERSIONED_CACHE_DIR", str(cache))
    return cache


def test_fetch_prints_the_cached_path(
    published: Path, cli_run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = Path(cli_run("fetch", "app", "--alias", "prod").stdout.strip())
    assert path.read_bytes() == V1 and path.is_relative_to(published)
    document = cli_run.json("fetch", "app", "--version", "2")
    assert (document["sha256"], document["size"], document["version"]) == (
        sha256_hex(V2),
        len(V2),
        "2",
    )
    assert Path(document["path"]).read_bytes() == V2
    monkeypatch.setenv("VERSIONED_OFFLINE", "1")
    assert Path(cli_run("fetch", "app", "--alias", "prod").stdout.strip()) == path
    result = cli_run("fetch", "app", "--alias", "beta", code=1)
    assert "not in the local cache" in assert_one_error_line(result.stderr)


def test_url_downloads_without_credentials(published: Path, cli_run: Cli) -> None:
    signed = cli_run.json("url", "app", "--alias", "prod", "--expires", "10m")
    with urllib.request.urlopen(signed["url"], timeout=30) as response:
        assert response.read() == V1
    assert (signed["version"], signed["sha256"]) == ("1", sha256_hex(V1))
    plain = cli_run("url", "app", "--version", "2").stdout.strip()
    with urllib.request.urlopen(plain, timeout=30) as response:
        assert response.read() == V2


def test_cache_ls_verify_and_prune(published: Path, cli_run: Cli) -> None:
    first = Path(cli_run("fetch", "app", "--alias", "prod").stdout.strip())
    entries = cli_run.json("cache", "ls")
    assert [(e["name"], e["label"], e["version"]) for e in entries] == [("app", "prod", "1")]
    assert "check out" in cli_run("cache", "verify").stderr + cli_run("cache", "verify").stdout
    cli_run("alias", "set", "app", "prod", "2")
    second = Path(cli_run("fetch", "app", "--alias", "prod").stdout.strip())
    cli_run("cache", "prune", "--dry-run")
    assert first.exists()
    cli_run("cache", "prune")
    assert not first.exists() and second.exists()  # version 1: no ref points at it now
    os.chmod(second, 0o644)
    second.write_bytes(b"x" * len(V2))
    result = cli_run("cache", "verify", code=5)
    assert "corrupted" in result.stderr and not second.exists()


def test_watch_runs_the_command_after_each_change(
    published: Path, cli_run: Cli, cli_env: CliEnv
) -> None:
    log = cli_env.workdir / "versions.txt"
    command = 'echo "$VERSIONED_VERSION $(cat "$VERSIONED_PATH")" >> versions.txt'
    watcher = subprocess.Popen(
        [*versioned_command(), "watch", "app", "prod", "--exec", command, "--interval", "50ms",
         "--count", "2"],
        cwd=cli_env.workdir,
        env=process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert wait_until(lambda: log.exists() and log.read_text().count("\n") >= 1, 60)
        cli_run("alias", "set", "app", "prod", "2")
        _, stderr = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, stderr
    assert log.read_text().splitlines() == [f"1 {V1.decode()}", f"2 {V2.decode()}"]
