"""Aliases: routing rules, weighted draws, optimistic concurrency."""

from __future__ import annotations

from typing import Any

import pytest
from _testkit import ALIAS_FIELDS, Backend

from versioned import exc

NAME = "my_app"
#: what a returned Alias says: its routing, its revision and its time
FIELDS = (*ALIAS_FIELDS, "revision", "update_datetime")


def fields(alias: Any) -> dict[str, Any]:
    return {field: getattr(alias, field) for field in FIELDS}


def three_versions(backend: Backend) -> dict[str, Any]:
    """Versions 1, 2, 3 (bytes b"v1".. b"v3") and LATEST (b"latest"); returns them by name."""
    published = {str(i): backend.put_and_publish(NAME, f"v{i}".encode()) for i in (1, 2, 3)}
    published["LATEST"] = backend.put(NAME, b"latest")
    return published


def put_alias(backend: Backend, alias: str, **kwargs: Any) -> Any:
    return backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias=alias, **kwargs)


def get_alias(backend: Backend, alias: str) -> Any:
    return backend.repo.get_alias(bsm=backend.bsm, name=NAME, alias=alias)


# ------------------------------------------------------------------ put / get
def test_put_alias_without_version_points_at_latest(backend: Backend) -> None:
    versions = three_versions(backend)
    alias = put_alias(backend, "dev")
    assert alias.name == NAME
    assert alias.alias == "dev"
    assert alias.version == "LATEST"
    assert alias.secondary_version is None
    assert alias.secondary_version_weight is None
    assert alias.secondary_version_s3uri is None
    assert alias.version_s3uri == versions["LATEST"].s3uri
    assert alias.get_version_content(bsm=backend.bsm) == b"latest"


def test_put_alias_with_version(backend: Backend) -> None:
    versions = three_versions(backend)
    alias = put_alias(backend, "prod", version=2)
    assert alias.version == "2"
    assert alias.version_s3uri == versions["2"].s3uri
    assert alias.get_version_content(bsm=backend.bsm) == b"v2"
    assert alias.random_artifact() == versions["2"].s3uri


def test_put_alias_with_split(backend: Backend) -> None:
    versions = three_versions(backend)
    alias = put_alias(backend, "prod", version=2, secondary_version=3, secondary_version_weight=10)
    assert alias.version == "2"
    assert alias.secondary_version == "3"
    assert alias.secondary_version_weight == 10
    assert alias.version_s3uri == versions["2"].s3uri
    assert alias.secondary_version_s3uri == versions["3"].s3uri
    assert alias.get_version_content(bsm=backend.bsm) == b"v2"
    assert alias.get_secondary_version_content(bsm=backend.bsm) == b"v3"


def test_alias_versions_given_as_strings(backend: Backend) -> None:
    three_versions(backend)
    alias = put_alias(
        backend, "prod", version="000001", secondary_version="2", secondary_version_weight=5
    )
    assert (alias.version, alias.secondary_version) == ("1", "2")


def test_get_alias_returns_what_put_alias_returned(backend: Backend) -> None:
    three_versions(backend)
    for alias_name, kwargs in [
        ("dev", {}),
        ("prod", {"version": 1}),
        ("canary", {"version": 2, "secondary_version": 3, "secondary_version_weight": 25}),
    ]:
        written = put_alias(backend, alias_name, **kwargs)
        read = get_alias(backend, alias_name)
        assert fields(read) == fields(written)
        assert isinstance(read.revision, str) and read.revision


def test_list_aliases(backend: Backend) -> None:
    three_versions(backend)
    assert backend.repo.list_aliases(bsm=backend.bsm, name=NAME) == []
    written = {
        "staging": put_alias(backend, "staging", version=3),
        "dev": put_alias(backend, "dev"),
        "prod": put_alias(
            backend, "prod", version=1, secondary_version=2, secondary_version_weight=50
        ),
    }
    listed = backend.repo.list_aliases(bsm=backend.bsm, name=NAME)
    assert sorted(a.alias for a in listed) == ["dev", "prod", "staging"]
    for alias in listed:
        assert fields(alias) == fields(written[alias.alias])


def test_delete_alias(backend: Backend) -> None:
    three_versions(backend)
    put_alias(backend, "prod", version=1)
    put_alias(backend, "dev")
    backend.repo.delete_alias(bsm=backend.bsm, name=NAME, alias="prod")
    with pytest.raises(exc.AliasNotFoundError):
        get_alias(backend, "prod")
    assert [a.alias for a in backend.repo.list_aliases(bsm=backend.bsm, name=NAME)] == ["dev"]
    # the versions the alias pointed at are untouched
    assert backend.versions(NAME) == ["LATEST", "3", "2", "1"]


def test_get_missing_alias_is_not_found(backend: Backend) -> None:
    three_versions(backend)
    with pytest.raises(exc.AliasNotFoundError):
        get_alias(backend, "nope")
    with pytest.raises(exc.AliasNotFoundError):
        backend.repo.get_alias(bsm=backend.bsm, name="unknown_artifact", alias="prod")


def test_delete_missing_alias_is_silent(backend: Backend) -> None:
    three_versions(backend)
    put_alias(backend, "prod", version=1)
    backend.repo.delete_alias(bsm=backend.bsm, name=NAME, alias="nope")
    backend.repo.delete_alias(bsm=backend.bsm, name="unknown_artifact", alias="prod")
    assert get_alias(backend, "prod").version == "1"


# ------------------------------------------------------------------ routing
def test_random_artifact_follows_weight(backend: Backend) -> None:
    three_versions(backend)
    alias = put_alias(backend, "prod", version=2, secondary_version=3, secondary_version_weight=10)
    draws = [alias.random_artifact() for _ in range(2000)]
    assert set(draws) <= {alias.version_s3uri, alias.secondary_version_s3uri}
    share = draws.count(alias.secondary_version_s3uri) / len(draws)
    assert 0.05 <= share <= 0.15, share


def test_random_artifact_weight_zero_is_always_primary(backend: Backend) -> None:
    three_versions(backend)
    alias = put_alias(backend, "prod", version=2, secondary_version=3, secondary_version_weight=0)
    assert alias.secondary_version == "3"
    assert {alias.random_artifact() for _ in range(500)} == {alias.version_s3uri}


def test_s3path_secondary_version_without_secondary(backend: Backend) -> None:
    three_versions(backend)
    alias = put_alias(backend, "prod", version=2)
    with pytest.raises(ValueError):
        _ = alias.s3path_secondary_version
    with pytest.raises(ValueError):
        alias.get_secondary_version_content(bsm=backend.bsm)
    split = put_alias(backend, "canary", version=2, secondary_version=3, secondary_version_weight=1)
    assert split.s3path_secondary_version.uri == split.secondary_version_s3uri


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("alias", ["LATEST", "prod-1", "1prod", "_prod", ""])
def test_bad_alias_name_refused_before_any_request(offline_backend: Backend, alias: str) -> None:
    backend = offline_backend
    backend.counter.reset()
    with pytest.raises(ValueError):
        put_alias(backend, alias, version=1)
    with pytest.raises(ValueError):
        backend.repo.get_alias(bsm=backend.bsm, name=NAME, alias=alias)
    with pytest.raises(ValueError):
        backend.repo.delete_alias(bsm=backend.bsm, name=NAME, alias=alias)
    assert backend.counter.count == 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param(
            {"version": 1, "secondary_version": 2, "secondary_version_weight": True},
            TypeError,
            id="weight-bool",
        ),
        pytest.param(
            {"version": 1, "secondary_version": 2, "secondary_version_weight": 100},
            ValueError,
            id="weight-100",
        ),
        pytest.param(
            {"version": 1, "secondary_version": 2, "secondary_version_weight": -1},
            ValueError,
            id="weight-negative",
        ),
        pytest.param(
            {"version": 1, "secondary_version": 2, "secondary_version_weight": 10.0},
            TypeError,
            id="weight-float",
        ),
        pytest.param({"version": 1, "secondary_version": 2}, ValueError, id="no-weight"),
        pytest.param({"version": 1, "secondary_version_weight": 10}, ValueError, id="no-secondary"),
        pytest.param(
            {"version": 2, "secondary_version": 2, "secondary_version_weight": 10},
            ValueError,
            id="same-versions",
        ),
    ],
)
def test_bad_alias_target_refused_before_any_request(
    offline_backend: Backend, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    backend = offline_backend
    backend.counter.reset()
    with pytest.raises(error):
        put_alias(backend, "prod", **kwargs)
    assert backend.counter.count == 0


def test_alias_to_missing_version_writes_nothing(backend: Backend) -> None:
    three_versions(backend)
    with pytest.raises(exc.ArtifactNotFoundError):
        put_alias(backend, "fresh", version=7)
    with pytest.raises(exc.AliasNotFoundError):
        get_alias(backend, "fresh")

    before = put_alias(backend, "prod", version=1)
    with pytest.raises(exc.ArtifactNotFoundError):
        put_alias(backend, "prod", version=7)
    with pytest.raises(exc.ArtifactNotFoundError):
        put_alias(backend, "prod", version=1, secondary_version=9, secondary_version_weight=10)
    assert fields(get_alias(backend, "prod")) == fields(before)


def test_alias_of_unknown_artifact_is_not_found(backend: Backend) -> None:
    with pytest.raises(exc.ArtifactNotFoundError):
        backend.repo.put_alias(bsm=backend.bsm, name="unknown_artifact", alias="dev")
    assert backend.repo.list_aliases(bsm=backend.bsm, name="unknown_artifact") == []


# ------------------------------------------------------------------ optimistic concurrency
def test_every_alias_has_a_revision_that_changes_on_write(backend: Backend) -> None:
    three_versions(backend)
    first = put_alias(backend, "prod", version=1)
    second = put_alias(backend, "prod", version=2)
    for alias in (first, second, get_alias(backend, "prod")):
        assert isinstance(alias.revision, str) and alias.revision
    assert first.revision != second.revision
    assert get_alias(backend, "prod").revision == second.revision
    listed = backend.repo.list_aliases(bsm=backend.bsm, name=NAME)
    assert [a.revision for a in listed] == [second.revision]


def test_put_alias_with_current_revision_succeeds(backend: Backend) -> None:
    three_versions(backend)
    first = put_alias(backend, "prod", version=1)
    second = put_alias(backend, "prod", version=2, expected_revision=first.revision)
    assert second.version == "2"
    assert second.revision != first.revision
    assert get_alias(backend, "prod").version == "2"


def test_put_alias_with_stale_revision_conflicts(backend: Backend) -> None:
    three_versions(backend)
    first = put_alias(backend, "prod", version=1)
    current = put_alias(backend, "prod", version=2)  # someone else moved it
    with pytest.raises(exc.ConcurrentModificationError):
        put_alias(backend, "prod", version=3, expected_revision=first.revision)
    assert fields(get_alias(backend, "prod")) == fields(current)
    assert issubclass(exc.ConcurrentModificationError, exc.ConflictError)


def test_delete_alias_with_stale_revision_conflicts(backend: Backend) -> None:
    three_versions(backend)
    first = put_alias(backend, "prod", version=1)
    current = put_alias(backend, "prod", version=2)
    with pytest.raises(exc.ConcurrentModificationError):
        backend.repo.delete_alias(
            bsm=backend.bsm, name=NAME, alias="prod", expected_revision=first.revision
        )
    assert fields(get_alias(backend, "prod")) == fields(current)

    backend.repo.delete_alias(
        bsm=backend.bsm, name=NAME, alias="prod", expected_revision=current.revision
    )
    with pytest.raises(exc.AliasNotFoundError):
        get_alias(backend, "prod")
