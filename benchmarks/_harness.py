"""Shared helpers of the benchmark scripts: the test kit (tests/_testkit.py: a local moto
server, sessions, raw clients, the request counter) made importable, and a bootstrapped
repository of either layout. Import this module before ``_testkit``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from boto_session_manager import BotoSesManager

TESTS_DIR = str(Path(__file__).resolve().parents[1] / "tests")
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ.setdefault(_key, _value)


def make_repository(backend: str, bsm: BotoSesManager, bucket: str, table: str) -> Any:
    """A bootstrapped repository: "s3-only" (prefix s3only) or "s3+ddb" (prefix ddb)."""
    from versioned import s3_and_dynamodb_backend, s3_only_backend

    repo: Any
    if backend == "s3-only":
        repo = s3_only_backend.Repository(
            aws_region="us-east-1", s3_bucket=bucket, s3_prefix="s3only"
        )
    else:
        repo = s3_and_dynamodb_backend.Repository(
            aws_region="us-east-1", s3_bucket=bucket, s3_prefix="ddb", dynamodb_table_name=table
        )
    repo.bootstrap(bsm=bsm)
    return repo
