"""`bootstrap`, `put` and `publish` on a prefix that holds another repository (the other
layout) refuse with the conflict exit code, naming what is there and how to pick another
prefix; nothing is written."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from _clikit import Cli, CliEnv, assert_one_error_line

from versioned.cli._errors import EXIT_CONFLICT


def all_keys(raw_s3: Any, bucket: str) -> list[str]:
    listed = raw_s3.list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "seed_made"])
@pytest.mark.parametrize("first", ["s3_only", "s3_and_dynamodb"])
@pytest.mark.parametrize("command", ["bootstrap", "put", "publish"])
def test_a_prefix_of_the_other_layout_is_refused(
    first: str,
    command: str,
    recorded: bool,
    cli_env: CliEnv,
    cli_run: Cli,
    cli_raw_s3: Any,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    cli_any_table: None,
) -> None:
    table = f"cli-table-{uuid.uuid4().hex[:12]}"
    first_table = ["--table", table] if first == "s3_and_dynamodb" else []
    other_table = [] if first_table else ["--table", f"cli-other-{uuid.uuid4().hex[:12]}"]
    payload = tmp_path / "model.bin"
    payload.write_bytes(b"the first repository's bytes")
    cli_run("bootstrap", *first_table)
    cli_run("put", "model", str(payload), *first_table)
    cli_run("publish", "model", *first_table)
    if not recorded:  # as the seed's library leaves a prefix: recognised by its keys
        marker = "versioned-artifacts/.versioned-repository.json"
        cli_raw_s3.delete_object(Bucket=cli_env.bucket, Key=marker)
    before = all_keys(cli_raw_s3, cli_env.bucket)

    arguments = {
        "bootstrap": ["bootstrap"],
        "put": ["put", "model", str(payload)],
        "publish": ["publish", "model"],
    }[command]
    result = cli_run(*arguments, *other_table, code=EXIT_CONFLICT)

    line = assert_one_error_line(result.stderr)
    there = "an S3-only repository" if first == "s3_only" else "an S3 + DynamoDB repository"
    assert f"s3://{cli_env.bucket}/versioned-artifacts/ already holds {there}" in line, line
    if not recorded:
        assert "'model'" in line, line
    assert "--prefix" in line, line
    assert "ready" not in result.stdout
    assert all_keys(cli_raw_s3, cli_env.bucket) == before
