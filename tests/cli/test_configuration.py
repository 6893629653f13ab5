"""Configuration files found the way ruff and git find theirs (the nearest project file up
the directory tree, then the user file's named repositories), `versioned config` naming
the source of each value, and shell completion from the repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _clikit import Cli, CliEnv, assert_one_error_line, process_env, versioned_command
from _testkit import closed_port_url

USER_FILE = """\
default = "dev"

[repositories.dev]
bucket = "dev-bucket"
region = "eu-west-1"
table = "dev-table"

[repositories.prod]
bucket = "prod-bucket"
prefix = "prod-prefix"
suffix = ".bin"
profile = "prod-profile"
"""


def user_file(cli_env: CliEnv, text: str) -> Path:
    """Write the user file where the CLI looks for it (XDG_CONFIG_HOME, set by cli_env)."""
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "versioned" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_project_file_is_found_up_the_directory_tree(
    cli_env: CliEnv, cli_run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 10: the project file was read only from the current directory."""
    monkeypatch.delenv("VERSIONED_BUCKET")
    (cli_env.workdir / "versioned.toml").write_text('bucket = "from-the-top"\n')
    deeper = cli_env.workdir / "src" / "pkg"
    deeper.mkdir(parents=True)
    # a pyproject.toml without [tool.versioned] on the way does not stop the search
    (cli_env.workdir / "src" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    monkeypatch.chdir(deeper)
    config = cli_run.json("config")
    assert config["bucket"] == "from-the-top"
    assert config["sources"]["bucket"] == "file ../../versioned.toml"
    assert config["files"]["project"] == str((cli_env.workdir / "versioned.toml").resolve())

    # the nearest one wins: a [tool.versioned] table closer to the current directory
    (cli_env.workdir / "src" / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.versioned]\nbucket = "from-the-middle"\n'
    )
    config = cli_run.json("config")
    assert (config["bucket"], config["sources"]["bucket"]) == (
        "from-the-middle",
        "file ../pyproject.toml [tool.versioned]",
    )


def test_the_search_stops_at_the_home_directory(
    cli_env: CliEnv, cli_run: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("VERSIONED_BUCKET")
    (tmp_path / "versioned.toml").write_text('bucket = "above-home"\n')
    monkeypatch.setenv("HOME", str(cli_env.workdir))
    (cli_env.workdir / "project").mkdir()
    monkeypatch.chdir(cli_env.workdir / "project")
    config = cli_run.json("config")
    assert config["bucket"] is None and config["files"]["project"] is None


def test_named_repositories_and_the_precedence_of_every_source(
    cli_env: CliEnv, cli_run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flag > VERSIONED_* > project file > the user file's chosen repository > AWS_* >
    default; --repo / VERSIONED_REPO choose, else the file's default."""
    path = user_file(cli_env, USER_FILE)
    monkeypatch.delenv("VERSIONED_BUCKET")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    label = "~/" if str(path).startswith(str(Path.home())) else ""

    config = cli_run.json("config")  # the default repository
    assert config["repo"] == "dev" and config["files"]["user"] == str(path)
    assert (config["bucket"], config["table"], config["region"]) == (
        "dev-bucket",
        "dev-table",
        "eu-west-1",  # the user file beats the generic AWS_DEFAULT_REGION
    )
    assert config["sources"]["bucket"].endswith("config.toml [repositories.dev]")
    assert config["sources"]["bucket"].startswith(f"file {label}")
    assert (config["prefix"], config["sources"]["prefix"]) == ("versioned-artifacts", "default")

    monkeypatch.setenv("VERSIONED_REPO", "prod")
    config = cli_run.json("config")
    assert (config["repo"], config["bucket"], config["suffix"]) == ("prod", "prod-bucket", ".bin")
    assert (config["region"], config["sources"]["region"]) == (
        "ap-south-1",
        "env AWS_DEFAULT_REGION",
    )
    assert config["table"] is None and config["backend"] == "s3"

    # --repo beats VERSIONED_REPO; the project file beats the repository; env beats both
    (cli_env.workdir / "versioned.toml").write_text('prefix = "project-prefix"\n')
    monkeypatch.setenv("VERSIONED_SUFFIX", ".onnx")
    config = cli_run.json("config", "--repo", "dev")
    assert config["repo"] == "dev" and config["bucket"] == "dev-bucket"
    assert (config["prefix"], config["sources"]["prefix"]) == (
        "project-prefix",
        "file versioned.toml",
    )
    assert (config["suffix"], config["sources"]["suffix"]) == (".onnx", "env VERSIONED_SUFFIX")
    config = cli_run.json("config", "--repo", "dev", "--bucket", "flag-bucket")
    assert (config["bucket"], config["sources"]["bucket"]) == ("flag-bucket", "option --bucket")

    table = cli_run("config", "--repo", "prod").stdout  # the table names the files too
    assert f"User file: {path}, repository 'prod'" in table
    assert f"Project file: {(cli_env.workdir / 'versioned.toml').resolve()}" in table


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[repositories.dev]\nbucket = "b"\nbukcet = "c"\n', "unknown setting 'bukcet'"),
        ('bucket = "b"\n', "unknown key 'bucket'"),
        ('default = "staging"\n[repositories.dev]\nbucket = "b"\n', "no repository 'staging'"),
    ],
)
def test_a_bad_user_file_is_refused_naming_the_file_and_the_key(
    cli_env: CliEnv, cli_run: Cli, text: str, named: str
) -> None:
    path = user_file(cli_env, text)
    line = assert_one_error_line(cli_run("config", code=2).stderr)
    assert str(path) in line or "config.toml [repositories.dev]" in line, line
    assert named in line, line


def test_an_unknown_repository_name_gets_a_suggestion(cli_env: CliEnv, cli_run: Cli) -> None:
    user_file(cli_env, USER_FILE)
    line = assert_one_error_line(cli_run("names", "--repo", "prd", code=2).stderr)
    assert "no repository 'prd'" in line and "did you mean 'prod'?" in line, line
    assert "defined: dev, prod" in line


def test_an_unknown_key_of_the_project_file_is_refused(cli_env: CliEnv, cli_run: Cli) -> None:
    (cli_env.workdir / "versioned.toml").write_text('bucket = "b"\ntabel = "t"\n')
    line = assert_one_error_line(cli_run("names", code=2).stderr)
    assert "versioned.toml: unknown setting 'tabel' (did you mean 'table'?)" in line, line


# ------------------------------------------------------------------ shell completion
def complete(words: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """What bash's completion function asks the entry point for ``words`` (the last word
    being completed), as `versioned completion bash` sets it up."""
    parts = words.split(" ")
    completion_env = {
        **env,
        "_VERSIONED_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(parts) - 1),
    }
    return subprocess.run(
        versioned_command(),
        env=completion_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def completed_values(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The values of bash_complete's ``type,value`` lines."""
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if "," in line]


def test_completion_prints_each_shell_script(cli_env: CliEnv, cli_run: Cli) -> None:
    for shell in ("bash", "zsh", "fish"):
        script = cli_run("completion", shell).stdout
        assert "_VERSIONED_COMPLETE" in script and "versioned" in script
    assert (
        "complete -o nosort -F _versioned_completion versioned"
        in cli_run("completion", "bash").stdout
    )
    cli_run("completion", "tcsh", code=2)


def test_completion_offers_artifact_and_alias_names(
    cli_repo: str, cli_env: CliEnv, cli_run: Cli
) -> None:
    for name in ("model", "mobile", "other"):
        cli_run("put", name, "-", input=name.encode())
    cli_run("publish", "model")
    cli_run("alias", "set", "model", "prod", "1")
    cli_run("alias", "set", "model", "preview", "1")
    env = process_env()
    assert completed_values(complete("versioned show mo", env, cli_env.workdir)) == [
        "mobile",
        "model",
    ]
    result = complete("versioned alias get model pr", env, cli_env.workdir)
    assert completed_values(result) == ["preview", "prod"]
    result = complete("versioned get model --alias p", env, cli_env.workdir)
    assert completed_values(result) == ["preview", "prod"]
    # options given on the line count: another bucket holds nothing
    result = complete("versioned --bucket no-such-bucket-here show mo", env, cli_env.workdir)
    assert completed_values(result) == [] and result.stderr == ""


def test_completion_offers_the_user_files_repositories(cli_env: CliEnv) -> None:
    user_file(cli_env, USER_FILE)
    result = complete("versioned names --repo p", process_env(), cli_env.workdir)
    assert completed_values(result) == ["prod"]


@pytest.mark.parametrize(
    "broken",
    [
        {"VERSIONED_ENDPOINT_URL": "closed"},
        {"VERSIONED_BUCKET": None},
        {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
        {"VERSIONED_ENDPOINT_URL": "no-scheme.invalid"},
    ],
    ids=["closed_port", "no_bucket", "no_credentials", "bad_url"],
)
def test_completion_that_cannot_ask_completes_nothing_silently(
    cli_env: CliEnv, broken: dict[str, Any]
) -> None:
    overrides = {
        key: closed_port_url() if value == "closed" else value for key, value in broken.items()
    }
    result = complete("versioned show mo", process_env(**overrides), cli_env.workdir)
    assert result.returncode == 0, result.stderr
    assert (result.stdout.strip(), result.stderr) == ("", "")
