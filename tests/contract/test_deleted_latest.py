"""After LATEST is deleted (the S3 + DynamoDB layout soft-deletes it), reading, publishing
and aliasing it say so and when, with LatestDeletedError (an ArtifactNotFoundError, so
callers catching that see no change); the S3-only layout still refuses the deletion."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from _testkit import Backend

from versioned import exc


def test_a_deleted_latest_is_named_with_its_time(backend: Backend) -> None:
    backend.put_and_publish("model", b"v1")
    if backend.kind == "s3_only":
        with pytest.raises(exc.LatestNotDeletableError, match="purge_artifact"):
            backend.repo.delete_artifact_version(bsm=backend.bsm, name="model", version="LATEST")
        return
    written = backend.repo.get_artifact_version(bsm=backend.bsm, name="model").update_at
    assert isinstance(written, datetime)  # the S3 + DynamoDB facade's timestamps
    backend.repo.delete_artifact_version(bsm=backend.bsm, name="model", version="LATEST")
    calls: dict[str, Callable[[], object]] = {
        "get": lambda: backend.repo.get_artifact_version(bsm=backend.bsm, name="model"),
        "publish": lambda: backend.publish("model"),
        "alias": lambda: backend.repo.put_alias(
            bsm=backend.bsm, name="model", alias="prod", version="LATEST"
        ),
    }
    for call in calls.values():
        with pytest.raises(exc.LatestDeletedError) as raised:
            call()
        assert isinstance(raised.value, exc.ArtifactNotFoundError)
        message = str(raised.value)
        assert message.startswith("LATEST of 'model' was deleted at 20"), message
        assert "put a new one" in message
        deleted_at = raised.value.deleted_at
        assert deleted_at is not None
        assert deleted_at >= written - timedelta(seconds=2)
    # other versions are unaffected: an alias of version 1, a missing version 9
    backend.repo.put_alias(bsm=backend.bsm, name="model", alias="prod", version=1)
    with pytest.raises(exc.ArtifactNotFoundError) as missing:
        backend.repo.get_artifact_version(bsm=backend.bsm, name="model", version=9)
    assert not isinstance(missing.value, exc.LatestDeletedError)
    backend.put("model", b"v2")  # a new LATEST
    assert backend.repo.get_artifact_version(bsm=backend.bsm, name="model").version == "LATEST"
