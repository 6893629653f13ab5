"""The copy the library re-sends itself goes through the one retry policy and, when every
attempt fails, gives up with a ContentionError naming the operation, the record and the
attempts, without leaving anything behind."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from _testkit import ONE_ATTEMPT, closed_port_url, raw_client, unique_bucket
from boto_session_manager import BotoSesManager

from versioned import _s3, _transfer, exc
from versioned._retry import RetryPolicy


def _unreachable_s3() -> Any:
    """An S3 client that sends each request once to a port nobody listens on."""
    return raw_client(closed_port_url(), "s3", config=ONE_ATTEMPT)


def test_a_copy_whose_attempts_all_fail_raises_contention_error(
    make_bsm: Callable[..., BotoSesManager], raw_s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = unique_bucket()
    raw_s3.create_bucket(Bucket=bucket)
    raw_s3.put_object(Bucket=bucket, Key="source.bin", Body=b"the source")
    s3 = _s3.make_client(make_bsm(), "s3")
    source = _s3.head(s3, bucket, "source.bin")
    assert source is not None
    policy = RetryPolicy(max_attempts=3, base_secs=0.0, cap_secs=0.0)
    with (
        caplog.at_level(logging.DEBUG, logger="versioned"),
        pytest.raises(exc.ContentionError) as raised,
    ):
        _transfer.copy(
            s3,
            bucket,
            "source.bin",
            "copy.bin",
            source=source,
            transfer=_transfer.TransferSettings(),
            once=_unreachable_s3(),
            retry=policy,
        )
    error = raised.value
    assert (error.operation, error.record, error.attempts) == (
        "copy",
        f"s3://{bucket}/copy.bin",
        3,
    )
    assert "EndpointConnectionError" in str(error)
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("copy ")]
    assert len(retries) == 2 and all("EndpointConnectionError" in line for line in retries)
    listed = raw_s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert [item["Key"] for item in listed] == ["source.bin"]


def test_a_copy_stops_retrying_once_an_earlier_attempt_landed(
    make_bsm: Callable[..., BotoSesManager], raw_s3: Any
) -> None:
    """The destination exists after a failed attempt: the copy is not sent again."""
    bucket = unique_bucket()
    raw_s3.create_bucket(Bucket=bucket)
    raw_s3.put_object(Bucket=bucket, Key="source.bin", Body=b"the source")
    raw_s3.put_object(Bucket=bucket, Key="copy.bin", Body=b"an earlier attempt")
    s3 = _s3.make_client(make_bsm(), "s3")
    source = _s3.head(s3, bucket, "source.bin")
    assert source is not None
    with pytest.raises(_s3.Precondition):
        _transfer.copy(
            s3,
            bucket,
            "source.bin",
            "copy.bin",
            source=source,
            transfer=_transfer.TransferSettings(),
            if_none_match=False,
            once=_unreachable_s3(),
            retry=RetryPolicy(max_attempts=3, base_secs=0.0, cap_secs=0.0),
        )
    body = raw_s3.get_object(Bucket=bucket, Key="copy.bin")["Body"].read()
    assert body == b"an earlier attempt"
