"""Storage failures become the library's exception classes through one table per service,
so callers (the CLI among them) decide on classes and attributes, never on botocore."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _testkit import ONE_ATTEMPT, closed_port_url, raw_client, unique_bucket, unique_table
from boto_session_manager import BotoSesManager

from versioned import _dynamodb, _s3, exc


def test_a_missing_bucket_is_a_bucket_not_found_error(
    make_bsm: Callable[..., BotoSesManager],
) -> None:
    s3 = _s3.make_client(make_bsm(), "s3")
    bucket = unique_bucket()
    with pytest.raises(exc.BucketNotFoundError) as raised:
        _s3.list_objects(s3, bucket, "artifacts/")
    error = raised.value
    assert isinstance(error, exc.ArtifactS3BackendError)
    assert isinstance(error, exc.StorageNotFoundError)
    assert error.code == "NoSuchBucket"
    assert f"s3://{bucket}/artifacts/" in str(error) and "bootstrap()" in str(error)


def test_a_missing_table_is_a_table_not_found_error(
    make_bsm: Callable[..., BotoSesManager],
) -> None:
    dynamodb = _s3.make_client(make_bsm(), "dynamodb")
    table = unique_table()
    with pytest.raises(exc.TableNotFoundError) as raised:
        _dynamodb.get(dynamodb, table, "pk", "sk")
    error = raised.value
    assert isinstance(error, exc.ArtifactDynamoDBBackendError)
    assert isinstance(error, exc.StorageNotFoundError)
    assert error.code == "ResourceNotFoundException"
    assert repr(table) in str(error) and "bootstrap()" in str(error)


def test_an_unreachable_endpoint_is_an_endpoint_unreachable_error() -> None:
    url = closed_port_url()
    with pytest.raises(exc.S3EndpointUnreachableError) as from_s3:
        _s3.head(raw_client(url, "s3", config=ONE_ATTEMPT), "bucket", "key")
    with pytest.raises(exc.DynamoDBEndpointUnreachableError) as from_dynamodb:
        _dynamodb.get(raw_client(url, "dynamodb", config=ONE_ATTEMPT), "table", "pk", "sk")
    assert isinstance(from_s3.value, exc.ArtifactS3BackendError)
    assert isinstance(from_dynamodb.value, exc.ArtifactDynamoDBBackendError)
    for error in (from_s3.value, from_dynamodb.value):
        assert isinstance(error, exc.EndpointUnreachableError)
        assert error.code == "EndpointConnectionError"
        assert url in str(error)


def test_missing_credentials_are_a_credentials_error(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with pytest.raises(exc.S3CredentialsError) as raised:
        _s3.head(raw_client(s3_endpoint, "s3", config=ONE_ATTEMPT, credentials={}), "bucket", "key")
    assert raised.value.missing
    assert isinstance(raised.value, exc.CredentialsError)
    assert isinstance(raised.value, exc.ArtifactS3BackendError)
    assert "No AWS credentials were found" in str(raised.value)


def test_every_table_entry_builds_an_error_of_its_service() -> None:
    for table, service in (
        (_s3.ERROR_TABLE, exc.ArtifactS3BackendError),
        (_dynamodb.ERROR_TABLE, exc.ArtifactDynamoDBBackendError),
    ):
        for code, translation in table.items():
            error = translation.error("a request failed.", code)
            assert isinstance(error, service), code
            assert error.code == code
