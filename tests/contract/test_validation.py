"""Bad input is refused before any request is sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _testkit import Backend

from versioned import exc

BAD_NAMES = [
    pytest.param("", id="empty"),
    pytest.param("a/b", id="slash"),
    pytest.param("a\nb", id="newline"),
    pytest.param("a\x00b", id="nul"),
    pytest.param(".", id="dot"),
    pytest.param("..", id="dotdot"),
    pytest.param("n" * 129, id="129-chars"),
]

# Every operation that takes an artifact name, called with that name.
Operation = Callable[[Backend, Any], Any]
OPERATIONS: dict[str, Operation] = {
    "put_artifact": lambda b, n: b.repo.put_artifact(bsm=b.bsm, name=n, content=b"x"),
    "get_artifact_version": lambda b, n: b.repo.get_artifact_version(bsm=b.bsm, name=n),
    "list_artifact_versions": lambda b, n: b.repo.list_artifact_versions(bsm=b.bsm, name=n),
    "publish_artifact_version": lambda b, n: b.repo.publish_artifact_version(bsm=b.bsm, name=n),
    "delete_artifact_version": lambda b, n: b.repo.delete_artifact_version(
        bsm=b.bsm, name=n, version=1
    ),
    "put_alias": lambda b, n: b.repo.put_alias(bsm=b.bsm, name=n, alias="prod"),
    "get_alias": lambda b, n: b.repo.get_alias(bsm=b.bsm, name=n, alias="prod"),
    "list_aliases": lambda b, n: b.repo.list_aliases(bsm=b.bsm, name=n),
    "delete_alias": lambda b, n: b.repo.delete_alias(bsm=b.bsm, name=n, alias="prod"),
    "purge_artifact_versions": lambda b, n: b.repo.purge_artifact_versions(bsm=b.bsm, name=n),
    "purge_artifact": lambda b, n: b.repo.purge_artifact(bsm=b.bsm, name=n),
}


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_name_refused_before_any_request(offline_backend: Backend, name: str) -> None:
    backend = offline_backend
    backend.counter.reset()
    for operation, call in OPERATIONS.items():
        with pytest.raises(ValueError):
            call(backend, name)
            pytest.fail(f"{operation} accepted the name {name!r}")
        assert backend.counter.count == 0, operation


@pytest.mark.parametrize("name", [123, None, b"my_app"], ids=["int", "none", "bytes"])
def test_non_str_name_is_type_error(offline_backend: Backend, name: Any) -> None:
    backend = offline_backend
    backend.counter.reset()
    for operation, call in OPERATIONS.items():
        with pytest.raises(TypeError):
            call(backend, name)
            pytest.fail(f"{operation} accepted the name {name!r}")
        assert backend.counter.count == 0, operation


def test_validation_error_is_a_value_error() -> None:
    assert issubclass(exc.ValidationError, ValueError)
    assert issubclass(exc.ValidationError, exc.VersionedError)


def test_name_of_128_characters_works(backend: Backend) -> None:
    name = "n" * 128
    artifact = backend.put(name, b"long name")
    assert artifact.name == name
    fetched = backend.repo.get_artifact_version(bsm=backend.bsm, name=name)
    assert fetched.get_content(bsm=backend.bsm) == b"long name"
    assert backend.repo.list_artifact_names(bsm=backend.bsm) == [name]


@pytest.mark.parametrize("content", ["text", 42, None, 1.5], ids=["str", "int", "none", "float"])
def test_content_of_wrong_type_is_type_error(offline_backend: Backend, content: Any) -> None:
    backend = offline_backend
    backend.counter.reset()
    with pytest.raises(TypeError):
        backend.put("my_app", content)
    assert backend.counter.count == 0


@pytest.mark.parametrize(
    "version",
    [0, -1, 1_000_000, "abc", "", "1.5", True, 1.5],
    ids=["zero", "negative", "too-big", "abc", "empty", "str-float", "bool", "float"],
)
def test_bad_version_refused_before_any_request(offline_backend: Backend, version: Any) -> None:
    backend = offline_backend
    backend.counter.reset()
    with pytest.raises((ValueError, TypeError)):
        backend.repo.get_artifact_version(bsm=backend.bsm, name="my_app", version=version)
    with pytest.raises((ValueError, TypeError)):
        backend.repo.put_alias(bsm=backend.bsm, name="my_app", alias="prod", version=version)
    assert backend.counter.count == 0


@pytest.mark.parametrize("version", [True, 1.5], ids=["bool", "float"])
def test_version_of_wrong_type_is_type_error(offline_backend: Backend, version: Any) -> None:
    backend = offline_backend
    with pytest.raises(TypeError):
        backend.repo.get_artifact_version(bsm=backend.bsm, name="my_app", version=version)
    assert backend.counter.count == 0


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        pytest.param({"build": 42}, TypeError, id="int-value"),
        pytest.param({"build": None}, TypeError, id="none-value"),
        pytest.param({"artifact_sha256": "0" * 64}, ValueError, id="reserved-sha256"),
        pytest.param({"Artifact_SHA256": "0" * 64}, ValueError, id="reserved-sha256-case"),
    ],
)
def test_bad_metadata_refused_before_any_request(
    offline_backend: Backend, metadata: dict[str, Any], error: type[Exception]
) -> None:
    backend = offline_backend
    backend.counter.reset()
    with pytest.raises(error):
        backend.put("my_app", b"x", metadata=metadata)
    assert backend.counter.count == 0


# Regression (found by this suite; fixed in 1796d48): user metadata values are sent as S3
# object metadata, which must be ASCII; a value boto3 will refuse must be refused up front
# (ValueError, no request), not surface as ArtifactS3BackendError after requests were sent.
# Working end to end is fine too.
@pytest.mark.parametrize("value", ["café", "名前"])
def test_non_ascii_metadata_value_works_or_is_refused_up_front(
    backend: Backend, value: str
) -> None:
    backend.counter.reset()
    try:
        artifact = backend.put("my_app", b"x", metadata={"note": value})
    except ValueError:
        assert backend.counter.count == 0, "refused, but only after sending requests"
        return
    assert artifact.get_content(bsm=backend.bsm) == b"x"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"keep_last_n": -1}, ValueError, id="negative-keep"),
        pytest.param({"keep_last_n": True}, TypeError, id="bool-keep"),
        pytest.param({"purge_older_than_secs": -1}, ValueError, id="negative-age"),
        pytest.param({"purge_older_than_secs": False}, TypeError, id="bool-age"),
        pytest.param({"keep_last_n": "2"}, TypeError, id="str-keep"),
        # regression (fixed in 1796d48): 1.5 was accepted, then failed after the listing
        pytest.param({"keep_last_n": 1.5}, TypeError, id="float-keep"),
    ],
)
def test_bad_purge_arguments_refused_before_any_request(
    offline_backend: Backend, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    backend = offline_backend
    backend.counter.reset()
    with pytest.raises(error):
        backend.repo.purge_artifact_versions(bsm=backend.bsm, name="my_app", **kwargs)
    assert backend.counter.count == 0


def test_backend_errors_carry_the_aws_error_code(offline_backend: Backend) -> None:
    """A request AWS refuses surfaces as the library's error, naming AWS's code (the
    bucket, or the table, does not exist: the repository was never bootstrapped)."""
    with pytest.raises(exc.BackendError) as raised:
        offline_backend.repo.list_artifact_versions(bsm=offline_backend.bsm, name="app")
    expected = "NoSuchBucket" if offline_backend.kind == "s3_only" else "ResourceNotFoundException"
    assert raised.value.code == expected
    assert "bootstrap" in str(raised.value)
