"""Run a how-to page of docs/ as a reader would: every fenced block in order, in one
directory, in a fresh terminal's environment pointed at the suite's endpoint(s) (what
`versioned sandbox` would have exported)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from _clikit import script_directory
from _testkit import CREDENTIALS, REGION, Endpoints, unique_bucket

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def page_blocks(page: Path) -> list[tuple[str, str]]:
    """(language, text) of each fenced code block of ``page``, in order."""
    return [(match[1], match[2]) for match in FENCE.finditer(page.read_text())]


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
        VERSIONED_STATE_DIR=str(tmp / "state"),
        PYTHONIOENCODING="utf-8",
        PATH=f"{script_directory()}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    if endpoints.shared:
        env["AWS_ENDPOINT_URL"] = endpoints.s3
    else:
        env.update(AWS_ENDPOINT_URL_S3=endpoints.s3, AWS_ENDPOINT_URL_DYNAMODB=endpoints.dynamodb)
    return env


def run_page(page: Path, env: dict[str, str], workdir: Path) -> list[str]:
    """Run every block of ``page`` in order (python with this interpreter, bash with
    ``set -euo pipefail``); each must succeed. Returns each block's stdout + stderr."""
    outputs = []
    for language, text in page_blocks(page):
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
    return outputs
