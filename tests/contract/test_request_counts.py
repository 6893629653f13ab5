"""The request counts the facades' docstrings state, measured.

Each public method that costs a known number of requests says so in its docstring, in
one shape (``_testkit.stated_requests`` reads it)::

    Requests: 1 when unchanged (HEAD); 3 when new (HEAD, PUT, HEAD).
    Requests: 1 (LIST), + 1 per alias (the GETs together).

The same counts stand in the request budget table of docs/design.md
(``_testkit.design_budgets``). Every stated count is measured here in the steady state,
through a real server, with the kit's RequestCounter (first attempts; botocore's retries
not counted), and each docstring is compared with the table: none of the three can drift
from the others.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import tempfile
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from _testkit import Backend, design_budgets, stated_requests

from versioned import s3_and_dynamodb_backend, s3_only_backend

NAME = "counted"
FACADES: dict[str, type[Any]] = {
    "s3_only": s3_only_backend.Repository,
    "s3_and_dynamodb": s3_and_dynamodb_backend.Repository,
}
#: the column of each facade in docs/design.md's request budget table
DESIGN_COLUMNS = {"s3_only": "S3-only", "s3_and_dynamodb": "S3 + DynamoDB"}


# ---------------------------------------------------------------- what is measured
@dataclasses.dataclass(frozen=True)
class Case:
    """One stated count and how to measure it: ``prepare`` (not counted) brings an
    artifact of its own to the steady state, then ``method`` is called on it with
    ``arguments`` (counted; ``named``: with the artifact's name); ``units`` of the stated
    unit are involved."""

    method: str
    case: str
    design_row: str
    prepare: Callable[[Backend, str], None]
    arguments: dict[str, Any]
    units: int = 0
    label: str = ""
    named: bool = True

    @property
    def id(self) -> str:
        return self.label or "-".join(filter(None, (self.method, self.case)))

    def call(self, backend: Backend, name: str) -> Any:
        arguments = {"name": name, **self.arguments} if self.named else self.arguments
        return getattr(backend.repo, self.method)(bsm=backend.bsm, **arguments)


def published(
    *contents: bytes, latest: bytes | None = None, aliases: tuple[tuple[str, int], ...] = ()
) -> Callable[[Backend, str], None]:
    """Publish each of ``contents`` in turn, list the versions once (an index that lacked
    a version has it from then on), put ``latest`` unpublished, write ``aliases`` (alias,
    version) in order."""

    def prepare(backend: Backend, name: str) -> None:
        repo, bsm = backend.repo, backend.bsm
        for content in contents:
            repo.put_artifact(bsm=bsm, name=name, content=content)
            repo.publish_artifact_version(bsm=bsm, name=name)
        repo.list_artifact_versions(bsm=bsm, name=name)
        if latest is not None:
            repo.put_artifact(bsm=bsm, name=name, content=latest)
        for alias, version in aliases:
            repo.put_alias(bsm=bsm, name=name, alias=alias, version=version)

    return prepare


def fetched(**selector: Any) -> Callable[[Backend, str], None]:
    """Publish b"a" as version 1 with alias prod, then fetch ``selector`` into the cache."""

    def prepare(backend: Backend, name: str) -> None:
        published(b"a", aliases=(("prod", 1),))(backend, name)
        backend.repo.fetch(bsm=backend.bsm, name=name, cache_dir=FETCH_CACHE, **selector)

    return prepare


#: the local cache of the fetch cases (each case's artifact has its own refs)
FETCH_CACHE = os.path.join(tempfile.gettempdir(), f"versioned-request-counts-{uuid.uuid4().hex}")
ONE, TWO = published(b"a"), published(b"a", b"b")
CASES = [
    Case("put_artifact", "unchanged", "put, unchanged", ONE, dict(content=b"a")),
    Case("put_artifact", "new", "put, new", ONE, dict(content=b"b")),
    Case("publish_artifact_version", "unchanged", "publish, unchanged", ONE, dict()),
    Case("publish_artifact_version", "new", "publish, new", published(b"a", latest=b"b"), dict()),
    Case("get_artifact_version", "", "get version / get alias", ONE, dict(version=1)),
    Case("get_latest_published_artifact_version_number", "", "newest version number", TWO, dict()),
    Case("list_artifact_versions", "", "list versions (N)", TWO, dict()),
    Case("list_artifact_names", "", "list names", ONE, {}, named=False),
    # the second write confirms version 2 (its first alias): steady from then on
    Case("put_alias", "", "put alias", published(b"a", b"b", aliases=(("prod", 1), ("prod", 2))),
         dict(alias="prod", version=1)),
    Case("get_alias", "", "get version / get alias", published(b"a", aliases=(("prod", 1),)),
         dict(alias="prod")),
    Case("list_aliases", "", "list aliases (k)",
         published(b"a", aliases=(("prod", 1), ("dev", 1))), dict(), units=2),
    Case("delete_alias", "", "delete alias", published(b"a", aliases=(("prod", 1),)),
         dict(alias="prod")),
    Case("list_alias_history", "", "alias history (newest 20)",
         published(b"a", b"b", aliases=(("prod", 1), ("prod", 2))), dict(alias="prod", limit=20)),
    Case("delete_artifact_version", "", "delete version", TWO, dict(version=1)),
    Case("delete_artifact_version", "", "delete version", TWO, dict(version=2), units=1,
         label="delete_artifact_version-newest"),
    Case("purge_artifact_versions", "", "purge (N)", published(b"a", b"b", b"c"),
         dict(keep_last_n=1, purge_older_than_secs=0), units=2),
    Case("fetch", "cached version", "fetch, cached version", fetched(version=1),
         dict(version=1, cache_dir=FETCH_CACHE)),
    Case("fetch", "warm alias", "fetch, warm alias", fetched(alias="prod"),
         dict(alias="prod", cache_dir=FETCH_CACHE)),
]  # fmt: skip


# ---------------------------------------------------------------- the checks
@pytest.mark.parametrize("kind", FACADES)
def test_every_stated_count_has_a_measurement(kind: str) -> None:
    """A docstring that states a count names a case measured below (a new statement
    cannot go unchecked)."""
    measured = {(case.method, case.case) for case in CASES}
    for method_name, method in inspect.getmembers(FACADES[kind], inspect.isfunction):
        for case in stated_requests(method.__doc__):
            assert (method_name, case) in measured, f"{kind}.{method_name}: {case!r} unmeasured"


@pytest.mark.parametrize("kind", FACADES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_docstring_states_the_design_budget(kind: str, case: Case) -> None:
    stated = stated_requests(getattr(FACADES[kind], case.method).__doc__)
    assert case.case in stated, f"{kind}.{case.method} states no count for {case.case!r}"
    budget = design_budgets()[case.design_row][DESIGN_COLUMNS[kind]]
    assert stated[case.case].base == budget, (
        f"{kind}.{case.method} ({case.case or 'any call'}): the docstring says "
        f"{stated[case.case].base}, docs/design.md ({case.design_row!r}) says {budget}"
    )


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_stated_count_is_what_the_call_sends(module_backend: Backend, case: Case) -> None:
    backend = module_backend
    stated = stated_requests(getattr(FACADES[backend.kind], case.method).__doc__)[case.case]
    name = f"{NAME}-{CASES.index(case)}"
    case.prepare(backend, name)
    backend.counter.reset()
    case.call(backend, name)
    assert backend.counter.calls == stated.expected(case.units), (
        f"{backend.kind}.{case.method} ({case.case or 'any call'}) sent "
        f"{backend.counter.calls} requests, its docstring says {stated.expected(case.units)}: "
        f"{backend.counter.operations}"
    )
