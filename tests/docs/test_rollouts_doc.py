"""Every code block of docs/rollouts.md runs as written, in order, in one directory,
against the suite's endpoint; what the page promises shows in the output."""

from __future__ import annotations

import re
from pathlib import Path

from _dockit import page_blocks, run_page, terminal_env
from _testkit import ROOT, Endpoints

PAGE = ROOT / "docs" / "rollouts.md"


def test_the_page_has_its_blocks() -> None:
    languages = [language for language, _ in page_blocks(PAGE)]
    assert languages == ["bash", "python", "bash", "python"]


def test_the_readme_links_the_page() -> None:
    assert "docs/rollouts.md" in (ROOT / "README.md").read_text()


def test_every_block_runs_in_order(endpoints: Endpoints, tmp_path: Path) -> None:
    env = terminal_env(endpoints, tmp_path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    get_block, route_block, cli_block, abort_block = run_page(PAGE, env, workdir)
    assert re.search(r"^weights v[12]$", get_block, re.MULTILINE), get_block
    shares = [int(n) for n in re.findall(r"^\d+%: (\d+) of 10000", route_block, re.MULTILINE)]
    assert len(shares) == 3, route_block
    for share, weight in zip(shares, (5, 25, 50), strict=True):
        assert abs(share - weight * 100) < 250, (share, weight)
    assert "nobody moved back: True" in route_block, route_block
    assert "step 1/3: 25% to version 3" in cli_block and "step 3/3: 100%" in cli_block
    assert "No rollout of alias prod of model is running." in cli_block, cli_block
    assert "aborted at step 2: the health check returned False" in abort_block, abort_block
    assert "prod is back on version 1" in abort_block
    assert "running rollout: None" in abort_block
