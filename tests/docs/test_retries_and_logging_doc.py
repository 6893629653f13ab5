"""Every code block of docs/retries-and-logging.md runs as written, in order, in one
directory, against the suite's endpoint; what the page promises shows in the output."""

from __future__ import annotations

from pathlib import Path

from _dockit import page_blocks, run_page, terminal_env
from _testkit import ROOT, Endpoints

PAGE = ROOT / "docs" / "retries-and-logging.md"


def test_the_page_has_its_blocks() -> None:
    languages = [language for language, _ in page_blocks(PAGE)]
    assert languages == ["bash", "python", "python", "python"]


def test_every_block_runs_in_order(endpoints: Endpoints, tmp_path: Path) -> None:
    env = terminal_env(endpoints, tmp_path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    cli, logging_block, policy_block, protocol_block = run_page(PAGE, env, workdir)
    # -v: the library's DEBUG lines on stderr, the command's own output unchanged
    assert "DEBUG" in cli and "recorded an S3-only repository" in cli, cli
    # the versioned logger, once given a handler, names what it did
    assert "versioned._layouts.marker DEBUG recorded an S3-only repository" in logging_block
    assert logging_block.splitlines()[0] == "1", logging_block  # stdout, then the log
    assert policy_block.strip().endswith("1"), policy_block
    assert protocol_block.strip() == "1", protocol_block
