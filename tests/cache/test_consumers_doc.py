"""Every code block of docs/consumers.md runs as written, in order, in one directory,
against the suite's endpoint (the environment `versioned sandbox` would print)."""

from __future__ import annotations

from pathlib import Path

from _dockit import page_blocks, run_page, terminal_env
from _testkit import ROOT, Endpoints

PAGE = ROOT / "docs" / "consumers.md"


def test_the_page_has_python_and_shell_blocks() -> None:
    languages = [language for language, _ in page_blocks(PAGE)]
    assert set(languages) == {"python", "bash"} and languages.count("python") == 2


def test_every_block_runs_in_order(endpoints: Endpoints, tmp_path: Path) -> None:
    env = terminal_env(endpoints, tmp_path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    outputs = run_page(PAGE, env, workdir)
    text = "\n".join(outputs)
    assert "prod is now version 2: b'weights v2'" in text
    assert "not in the cache: a clear error" in text
    assert '"sha256"' in text
    assert any((tmp_path / "cache" / "blobs").glob("??/*"))
