"""Every code block of docs/consumers.md runs as written, in order, in one directory,
against the suite's endpoint (the environment `versioned sandbox` would print)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from _clikit import script_directory
from _testkit import CREDENTIALS, REGION, ROOT, Endpoints, unique_bucket

PAGE = ROOT / "docs" / "consumers.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def page_blocks() -> list[tuple[str, str]]:
    return [(match[1], match[2]) for match in FENCE.finditer(PAGE.read_text())]


def terminal_env(endpoints: Endpoints, tmp: Path) -> dict[str, str]:
    """A fresh terminal's environment pointed at the suite's endpoint(s)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VERSIONED_"))}
    env.update(
        AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"),
        AWS_ACCESS_KEY_ID=CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=CREDENTIALS["aws_secret_access_key"],
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        VERSIONED_BUCKET=unique_bucket(),
        VERSIONED_CACHE_DIR=str(tmp / "cache"),
        PYTHONIOENCODING="utf-8",
        PATH=f"{script_directory()}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    if endpoints.shared:
        env["AWS_ENDPOINT_URL"] = endpoints.s3
    else:
        env.update(AWS_ENDPOINT_URL_S3=endpoints.s3, AWS_ENDPOINT_URL_DYNAMODB=endpoints.dynamodb)
    return env


def test_the_page_has_python_and_shell_blocks() -> None:
    languages = [language for language, _ in page_blocks()]
    assert set(languages) == {"python", "bash"} and languages.count("python") == 2


def test_every_block_runs_in_order(endpoints: Endpoints, tmp_path: Path) -> None:
    env = terminal_env(endpoints, tmp_path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    outputs = []
    for language, text in page_blocks():
        command = (
            [sys.executable, "-c", text]
            if language == "python"
            else ["bash", "-c", "set -euo pipefail\n" + text]
        )
        completed = subprocess.run(
            command, cwd=workdir, env=env, capture_output=True, text=True, timeout=180, check=False
        )
        assert completed.returncode == 0, f"{text}\n{completed.stdout}\n{completed.stderr}"
        outputs.append(completed.stdout + completed.stderr)
    text = "\n".join(outputs)
    assert "prod is now version 2: b'weights v2'" in text
    assert "not in the cache: a clear error" in text
    assert '"sha256"' in text
    assert any((tmp_path / "cache" / "blobs").glob("??/*"))
