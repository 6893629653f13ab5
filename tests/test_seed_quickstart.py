"""The seed's quick start (examples/s3_only_quickstart.py), run as a user would run it."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from _testkit import ROOT

QUICKSTART = ROOT / "examples" / "s3_only_quickstart.py"


@pytest.fixture(scope="module")
def quickstart_output() -> str:
    assert QUICKSTART.is_file(), QUICKSTART
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") or key == "AWS_CA_BUNDLE"
    }
    env.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SECURITY_TOKEN="testing",
        AWS_SESSION_TOKEN="testing",
        PYTHONIOENCODING="utf-8",
        COLUMNS="200",
    )
    code = f"import runpy; runpy.run_path({str(QUICKSTART)!r}, run_name='__main__')"
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
    return completed.stdout


@pytest.mark.parametrize(
    "expected",
    [
        "Downloaded content matches: True",
        "Artifacts in repository: ['my_application']",
        "Version 2 (stable): ",
        "Deleted 1 old versions",
        "Remaining versions: 3",
        "Production verified at version 2",
        "https://console.aws.amazon.com/s3/object/mybucket"
        "?prefix=artifacts/my_application/versions/000000_LATEST.bin",
        "https://console.aws.amazon.com/s3/object/mybucket"
        "?prefix=artifacts/my_application/versions/999999_000001.bin",
    ],
)
def test_quickstart_prints(quickstart_output: str, expected: str) -> None:
    assert expected in quickstart_output


def test_quickstart_canary_split(quickstart_output: str) -> None:
    stable = re.search(r"Version 2 \(stable\): (\d+) requests", quickstart_output)
    canary = re.search(r"Version 3 \(canary\): (\d+) requests", quickstart_output)
    assert stable and canary, quickstart_output
    assert 50 <= int(canary.group(1)) <= 150
    assert int(stable.group(1)) + int(canary.group(1)) == 1000


def test_quickstart_lists_versions_newest_first(quickstart_output: str) -> None:
    listed = re.findall(r"- Version (LATEST|\d+): ", quickstart_output)
    assert listed[:2] == ["LATEST", "1"]  # after the first publish
    assert listed[2:6] == ["LATEST", "3", "2", "1"]  # before the clean-up
