"""Every request botocore sends again (throttling, 5xx, a lost connection) is logged at
DEBUG on the ``versioned`` logger, naming the operation, the attempt and why the attempt
before failed; a request that succeeds at once logs nothing of the kind."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from _faultproxy import FaultProxy, s3_error
from _testkit import Endpoints, make_session, raw_client, unique_bucket

from versioned import _s3


@pytest.fixture
def proxy(endpoints: Endpoints) -> Iterator[FaultProxy]:
    with FaultProxy(endpoints.s3, dynamodb=endpoints.dynamodb) as running:
        yield running


def resent(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("versioned") and "sent again" in r.getMessage()
    ]


def test_a_throttled_request_sent_again_is_logged_with_its_cause(
    proxy: FaultProxy, endpoints: Endpoints, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = unique_bucket()
    raw_client(endpoints, "s3").create_bucket(Bucket=bucket)
    s3 = _s3.make_client(make_session(proxy.url), "s3")
    proxy.add("respond", method="PUT", response=s3_error("SlowDown", 503), times=2)
    with caplog.at_level(logging.DEBUG, logger="versioned"):
        s3.put_object(Bucket=bucket, Key="k.bin", Body=b"bytes")
    lines = resent(caplog)
    assert len(lines) == 2, lines
    assert "PutObject sent again (attempt 2 of 9) after 503 SlowDown" in lines[0], lines
    assert "attempt 3 of 9" in lines[1] and f"/{bucket}/k.bin" in lines[1], lines


def test_a_lost_connection_sent_again_is_logged(
    proxy: FaultProxy, endpoints: Endpoints, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = unique_bucket()
    raw_client(endpoints, "s3").create_bucket(Bucket=bucket)
    s3 = _s3.make_client(make_session(proxy.url), "s3")
    proxy.add("reset", method="GET", times=1)
    with caplog.at_level(logging.DEBUG, logger="versioned"):
        assert _s3.get_document(s3, bucket, "missing.bin") is None
    lines = resent(caplog)
    assert len(lines) == 1 and "GetObject sent again (attempt 2 of 9)" in lines[0], lines
    assert "after ConnectionClosedError" in lines[0], lines


def test_a_request_that_succeeds_at_once_logs_no_resend(
    endpoints: Endpoints, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = unique_bucket()
    raw_client(endpoints, "s3").create_bucket(Bucket=bucket)
    s3 = _s3.make_client(make_session(endpoints), "s3")
    with caplog.at_level(logging.DEBUG, logger="versioned"):
        s3.put_object(Bucket=bucket, Key="k.bin", Body=b"bytes")
    assert resent(caplog) == []
