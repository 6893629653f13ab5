"""Every code block of docs/cli-output.md runs as written, in order, in one directory,
against the suite's endpoint; what the page promises shows in the output."""

from __future__ import annotations

import re
from pathlib import Path

from _dockit import page_blocks, run_page, terminal_env
from _testkit import ROOT, Endpoints

PAGE = ROOT / "docs" / "cli-output.md"


def test_the_page_has_its_blocks() -> None:
    languages = [language for language, _ in page_blocks(PAGE)]
    assert languages == ["bash", "python", "bash", "bash", "bash"]


def test_every_block_runs_in_order(endpoints: Endpoints, tmp_path: Path) -> None:
    env = terminal_env(endpoints, tmp_path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    tour, script, text, download, narrow = run_page(PAGE, env, workdir)
    lines = tour.splitlines()
    assert any(line.startswith("model\t2\t") for line in lines), tour  # --output text
    assert re.search(r"^prod 2 [0-9a-f]{12} \{}$", script, re.MULTILINE), script
    assert re.search(r"^1 [0-9a-f]{64}$", text, re.MULTILINE), text
    assert re.search(r"^prod\t2\t[0-9a-f]{32}$", text, re.MULTILINE), text
    assert (workdir / "models" / "model").read_bytes() == b"weights v2\n"
    assert download == "weights", download
    assert "alias: prod" in narrow.splitlines() and "─" not in narrow, narrow
