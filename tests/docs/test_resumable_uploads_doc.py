"""Every code block of docs/resumable-uploads.md runs as written, in order, in one
directory, against the suite's endpoint; the resume sends only the parts the
interrupted put did not."""

from __future__ import annotations

from pathlib import Path

from _dockit import page_blocks, run_page, terminal_env
from _testkit import ROOT, Endpoints

PAGE = ROOT / "docs" / "resumable-uploads.md"


def test_the_page_has_its_blocks() -> None:
    languages = [language for language, _ in page_blocks(PAGE)]
    assert languages == ["bash", "python", "bash", "python"]


def test_every_block_runs_in_order(endpoints: Endpoints, tmp_path: Path) -> None:
    env = terminal_env(endpoints, tmp_path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    _, interrupted, resumed, retried = run_page(PAGE, env, workdir)
    assert "put the same file again with resume=True" in interrupted, interrupted
    # 40 MiB in 8 MiB parts, stopped once 20 MiB were sent: 3 parts kept, 2 sent now
    assert "the server holds 3 parts" in resumed, resumed
    assert "3 of 5 parts were stored already, 2 sent" in resumed, resumed
    assert retried.strip() == "True", retried
    assert not list((tmp_path / "state" / "uploads").glob("*.json"))
