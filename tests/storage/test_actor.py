"""The actor alias history records: never an STS request to AWS for a local endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from _testkit import Endpoints, make_session

from versioned import _actor
from versioned._session import Session


def test_no_sts_request_leaves_for_aws_when_s3_is_another_endpoint(
    endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 and DynamoDB routed per service (the way a user points botocore at local
    servers): STS has no endpoint but AWS's, so the identity is not asked for at all and
    the OS user is recorded."""
    monkeypatch.delenv(_actor.ACTOR_ENV, raising=False)
    local = endpoints.s3.replace("127.0.0.1", "localhost")  # a second spelling: per service
    bsm = make_session(Endpoints(s3=endpoints.s3, dynamodb=local))
    sent: list[str] = []

    def record(request: Any, **_: Any) -> None:
        sent.append(str(request.url))

    bsm.boto_ses._session.register("before-send.sts", record)
    session = Session(bsm)
    assert session.s3.meta.endpoint_url == endpoints.s3
    assert _actor.actor(session) == _actor.os_user()
    assert sent == []
