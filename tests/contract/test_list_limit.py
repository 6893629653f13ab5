"""``list_artifact_versions(name, limit=N)``: the first N of the full listing (LATEST first,
then newest first; LATEST counts), in one round trip however many versions there are."""

from __future__ import annotations

from typing import Any

import pytest
from _testkit import Backend

NAME = "listed"


def listed(backend: Backend, name: str, **kwargs: Any) -> list[str]:
    found = backend.repo.list_artifact_versions(bsm=backend.bsm, name=name, **kwargs)
    return [a.version for a in found]


def test_limit_is_the_head_of_the_full_listing(backend: Backend) -> None:
    for j in range(1, 8):
        backend.put_and_publish(NAME, f"v{j}".encode())
    backend.repo.delete_artifact_version(bsm=backend.bsm, name=NAME, version=6)
    full = listed(backend, NAME)
    assert full == ["LATEST", "7", "5", "4", "3", "2", "1"]
    for limit in (1, 2, 3, 6, 7, 8, 50):
        assert listed(backend, NAME, limit=limit) == full[:limit], limit
    assert listed(backend, NAME, limit=None) == full
    # the records are the full listing's, not only their numbers
    head = backend.repo.list_artifact_versions(bsm=backend.bsm, name=NAME, limit=3)
    whole = backend.repo.list_artifact_versions(bsm=backend.bsm, name=NAME)
    assert [(a.version, a.sha256, a.s3uri) for a in head] == [
        (a.version, a.sha256, a.s3uri) for a in whole[:3]
    ]


def test_limit_without_latest_and_without_versions(backend: Backend) -> None:
    assert listed(backend, "nothing", limit=5) == []
    backend.put(NAME, b"only latest")
    assert listed(backend, NAME, limit=1) == ["LATEST"]
    assert listed(backend, NAME, limit=5) == ["LATEST"]


@pytest.mark.parametrize("limit", [0, -1, True, 2.5, "3"])
def test_limit_must_be_a_positive_integer(backend: Backend, limit: Any) -> None:
    with pytest.raises(ValueError, match="limit"):
        backend.repo.list_artifact_versions(bsm=backend.bsm, name=NAME, limit=limit)


def test_limited_listing_reads_one_page(backend: Backend) -> None:
    """A limited listing costs the requests of a full one over a handful of versions
    (S3-only: 3 together, the LIST of one page; DynamoDB: 1 Query), and the LIST / Query
    asks for about ``limit`` entries, not for all of them."""
    for j in range(1, 13):
        backend.put_and_publish(NAME, f"v{j}".encode())
    listed(backend, NAME)  # the index knows every version from here on
    backend.counter.reset()
    assert listed(backend, NAME, limit=4) == ["LATEST", "12", "11", "10"]
    expected = 3 if backend.kind == "s3_only" else 1
    assert backend.counter.calls == expected, backend.counter.operations
    sizes = [url for method, url in backend.counter.requests if "max-keys" in url.lower()]
    if backend.kind == "s3_only":
        assert sizes and all("max-keys=4" in url.lower() for url in sizes), sizes
