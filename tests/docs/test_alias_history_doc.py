"""Every code block of docs/alias-history.md runs as written, in order, in one directory,
against the suite's endpoint; what the page promises shows in the output."""

from __future__ import annotations

import json
from pathlib import Path

from _dockit import page_blocks, run_page, terminal_env
from _testkit import ROOT, Endpoints

PAGE = ROOT / "docs" / "alias-history.md"


def test_the_page_has_its_blocks() -> None:
    languages = [language for language, _ in page_blocks(PAGE)]
    assert languages == ["bash", "bash", "bash", "python"]


def test_the_readme_links_the_page() -> None:
    assert "docs/alias-history.md" in (ROOT / "README.md").read_text()


def test_every_block_runs_in_order(endpoints: Endpoints, tmp_path: Path) -> None:
    env = terminal_env(endpoints, tmp_path)
    env["COLUMNS"] = "160"  # the history as one table (narrower: a key: value list each)
    workdir = tmp_path / "work"
    workdir.mkdir()
    history, at, rollback, library = run_page(PAGE, env, workdir)
    table = history[history.rindex("changed (UTC)") :]
    assert "canary" in table and "release" in table and "-bot" in table, history
    assert table.index("2 + 10% to 3") < table.index("first"), history  # newest first
    assert "No recorded change" in at, at
    found = json.loads(at[at.index("{") :])
    assert found["version"] == 3 and found["reason"] == "v3 looks good", at
    assert "rolled back alias prod of model" in rollback, rollback
    assert rollback.count("rolled back alias prod of model") == 2, rollback
    lines = library.splitlines()
    assert lines[0].endswith("put 2 v2") and lines[1].endswith("put 1 first release"), library
    assert "now: 2" in library and "a day ago: None" in library, library
    assert "rolled back to 1" in library, library
    assert "refused:" in library and "Nothing was written" in library, library
