"""Every code block of docs/configuration.md runs as written, in order, in one directory,
against the suite's endpoint; what the page promises shows in the output."""

from __future__ import annotations

from pathlib import Path

from _dockit import page_blocks, run_page, terminal_env
from _testkit import ROOT, Endpoints

PAGE = ROOT / "docs" / "configuration.md"


def test_the_page_has_its_blocks() -> None:
    assert [language for language, _ in page_blocks(PAGE)] == ["bash", "bash", "bash"]


def test_every_block_runs_in_order(endpoints: Endpoints, tmp_path: Path) -> None:
    env = terminal_env(endpoints, tmp_path)
    # the user file goes to this test's directory, never to the home of whoever runs it
    env["XDG_CONFIG_HOME"] = str(tmp_path / "user-config")
    env["COLUMNS"] = "200"
    workdir = tmp_path / "work"
    workdir.mkdir()
    named, project, completion = run_page(PAGE, env, workdir)
    user_file = tmp_path / "user-config" / "versioned" / "config.toml"
    assert user_file.is_file()
    assert "models-prod" in named and "[repositories.prod]" in named, named
    assert f"User file: {user_file}, repository 'prod'" in named, named
    assert "No artifacts in s3://models-dev/versioned-artifacts." in named, named
    assert "file ../../versioned.toml" in project, project
    assert "'.bin'" in project and "model" in project, project
    assert "_versioned_completion" in completion, completion
    assert completion.strip().endswith("plain,model"), completion
