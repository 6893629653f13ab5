"""Every code block of docs/retention.md runs as written, in order, in one directory,
against the suite's endpoint (the JSON block is the documented format: it must decode);
the Lambda block builds the zip and calls the handler from it alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from _dockit import page_blocks, terminal_env
from _testkit import ROOT, Endpoints

from versioned import _retention

PAGE = ROOT / "docs" / "retention.md"


def test_the_page_has_its_blocks() -> None:
    languages = [language for language, _ in page_blocks(PAGE)]
    assert languages == ["bash", "bash", "python", "json", "bash", "bash", "bash", "bash"]


def test_the_documented_document_decodes() -> None:
    (text,) = [text for language, text in page_blocks(PAGE) if language == "json"]
    document = _retention.decode(text, "model", "docs/retention.md")
    assert document.policy is not None and document.policy.protected_aliases == ("prod",)
    assert document.holds[4].held_by == "alice"


def run(text: str, language: str, env: dict[str, str], workdir: Path) -> str:
    command = (
        [sys.executable, "-c", text]
        if language == "python"
        else ["bash", "-c", "set -euo pipefail\n" + text]
    )
    completed = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert completed.returncode == 0, f"{text}\n{completed.stdout}\n{completed.stderr}"
    return completed.stdout + completed.stderr


def test_every_block_runs_in_order(endpoints: Endpoints, tmp_path: Path) -> None:
    env = {**terminal_env(endpoints, tmp_path), "VERSIONED_SOURCE": str(ROOT)}
    workdir = tmp_path / "work"
    workdir.mkdir()
    outputs = [
        run(text, language, env, workdir)
        for language, text in page_blocks(PAGE)
        if language != "json"
    ]
    policy_run, holds, python_block, cron, package, lambda_run, ci = outputs
    assert "alias prod (protected)" in policy_run and "newest 2" in policy_run, policy_run
    assert "2 version(s) to delete" in policy_run, policy_run
    assert "refused while held" in holds and "incident 42" in holds, holds
    assert "model delete ()" in python_block, python_block
    assert "retention apply --yes" in cron
    assert (workdir / "retention-lambda.zip").stat().st_size > 100_000, package
    summary = json.loads(lambda_run.strip().splitlines()[-1])
    assert summary["reports"][0]["name"] == "model" and summary["reports"][0]["dry_run"]
    assert ci.strip().endswith("1"), ci
