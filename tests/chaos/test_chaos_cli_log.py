"""``versioned -v`` shows the library's DEBUG log for a retried request: a publish whose
server-side copy is refused once with 503 SlowDown retries the copy, and says so."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from _chaoskit import Ops, Place
from _faultproxy import FaultProxy, Request, s3_error


def _versioned(
    *args: str, place: Place, endpoint_url: str, home: Path
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``versioned`` script (else ``python -m versioned``) on ``place``."""
    script = Path(sys.executable).with_name("versioned")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "versioned"]
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "PYTHONIOENCODING": "utf-8",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "VERSIONED_ENDPOINT_URL": endpoint_url,
        "VERSIONED_BUCKET": place.bucket,
        "VERSIONED_PREFIX": place.prefix,
        "VERSIONED_SUFFIX": place.suffix,
    }
    return subprocess.run(
        [*command, *args], env=env, cwd=home, capture_output=True, text=True, timeout=120
    )


def _is_copy(request: Request) -> bool:
    return request.operation == "s3.CopyObject"


@pytest.mark.parametrize("verbose", [True, False], ids=["-v", "quiet"])
def test_a_retried_copy_is_logged_only_with_verbose(
    verbose: bool,
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    tmp_path: Path,
) -> None:
    ops = make_repo("s3_only")
    ops.put("app", b"the content to publish")
    proxy = make_proxy()
    refused = proxy.add("respond", when=_is_copy, response=s3_error("SlowDown", 503), times=1)
    flags = ["-v"] if verbose else []
    result = _versioned(
        *flags, "publish", "app", place=ops.place, endpoint_url=proxy.url, home=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert refused.fired == 1
    assert ops.latest_number("app") == 1
    logged = [line for line in result.stderr.splitlines() if line.startswith("DEBUG versioned")]
    if not verbose:
        assert logged == [], result.stderr
        return
    retried = [line for line in logged if ": copy s3://" in line]
    assert len(retried) == 1, result.stderr
    assert "SlowDown" in retried[0] and "attempt 2" in retried[0]
    assert f"s3://{ops.place.bucket}/{ops.place.root}app/versions/" in retried[0]
