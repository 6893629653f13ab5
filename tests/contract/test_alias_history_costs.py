"""What alias history costs: requests per alias write and per page of 20 entries.

Before alias history (commit 812f4bd): a put_alias over an existing alias was 4 requests on
S3-only (the state and its registration, the alias object, the landing) and 1 transaction
on S3 + DynamoDB; a delete_alias 5 and 1. History adds no request to either but one page
write per 20 changes on S3-only, and reads its newest 20 entries in at most 3 requests
(S3-only: the state, a HEAD while a write's landing is unrecorded, a page) or 1 Query.
"""

from __future__ import annotations

import pytest
from _testkit import Backend

NAME = "costly"
#: requests of one put_alias over an existing alias, and of one delete_alias, before
#: alias history (measured on commit 812f4bd with this file's calls)
BEFORE = {"s3_only": (4, 5), "s3_and_dynamodb": (1, 1)}
#: what the retention guard (protected aliases) adds to a write without force=True: the
#: artifact's and the repository's retention documents (S3-only: 2 GETs together;
#: DynamoDB: 1 BatchGetItem). History's own cost is measured with force=True.
GUARD = {"s3_only": 2, "s3_and_dynamodb": 1}


@pytest.fixture(autouse=True)
def actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERSIONED_ACTOR", "cost-meter")


def counted(backend: Backend, call: object) -> list[str]:
    before = len(backend.counter.operations)
    assert callable(call)
    call()
    return backend.counter.operations[before:]


def test_requests_per_alias_write(backend: Backend) -> None:
    for content in (b"a", b"b"):
        backend.put_and_publish(NAME, content)
    repo, bsm = backend.repo, backend.bsm
    for version in (1, 2):  # each version's first alias confirms it in the index
        repo.put_alias(bsm=bsm, name=NAME, alias="prod", version=version)
    guarded = counted(backend, lambda: repo.put_alias(bsm=bsm, name=NAME, alias="prod", version=2))
    puts = [
        counted(
            backend,
            lambda v=v: repo.put_alias(bsm=bsm, name=NAME, alias="prod", version=v, force=True),
        )
        for v in (1, 2, 1)
    ]
    deleted = counted(
        backend, lambda: repo.delete_alias(bsm=bsm, name=NAME, alias="prod", force=True)
    )
    put_before, delete_before = BEFORE[backend.kind]
    print(f"{backend.kind}: put_alias {[len(p) for p in puts]}, delete_alias {len(deleted)}")
    assert all(len(p) == put_before for p in puts), puts
    assert len(deleted) == delete_before, deleted
    assert len(guarded) == put_before + GUARD[backend.kind], guarded
    if backend.kind == "s3_and_dynamodb":
        assert puts[0] == ["dynamodb.TransactWriteItems"]
        assert deleted == ["dynamodb.TransactWriteItems"]


def test_one_page_write_per_20_changes_on_s3_only(backend: Backend) -> None:
    backend.put_and_publish(NAME, b"a")
    repo, bsm = backend.repo, backend.bsm
    writes: list[list[str]] = []
    for i in range(60):
        writes.append(
            counted(
                backend,
                lambda i=i: repo.put_alias(
                    bsm=bsm, name=NAME, alias="prod", reason=f"{i}", force=True
                ),
            )
        )
    extra = [len(w) - len(writes[-1]) for w in writes[1:]]
    if backend.kind == "s3_only":
        assert sorted(set(extra)) == [0, 1] and extra.count(1) == 2  # pages at 30 and 50
    else:
        assert set(extra) == {0}


@pytest.mark.parametrize("changes", [5, 25, 31, 61])
def test_requests_per_history_page(backend: Backend, changes: int) -> None:
    backend.put_and_publish(NAME, b"a")
    repo, bsm = backend.repo, backend.bsm
    for i in range(changes):
        repo.put_alias(bsm=bsm, name=NAME, alias="prod", reason=f"change {i}")
    read = counted(
        backend, lambda: repo.list_alias_history(bsm=bsm, name=NAME, alias="prod", limit=20)
    )
    print(f"{backend.kind}: newest 20 of {changes} changes in {len(read)} request(s)")
    assert len(read) <= (3 if backend.kind == "s3_only" else 1), read
    found = repo.list_alias_history(bsm=bsm, name=NAME, alias="prod", limit=20)
    newest = [f"change {i}" for i in reversed(range(changes))][:20]
    assert [c.reason for c in found] == newest
