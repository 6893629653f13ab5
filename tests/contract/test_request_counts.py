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
    """One stated count and how to measure it: ``prepare`` (not counted) brings the
    artifact to the steady state, then ``call`` is counted; ``units`` of the stated unit
    are involved."""

    method: str
    case: str
    design_row: str
    prepare: Callable[[Backend], None]
    call: Callable[[Backend], Any]
    units: int = 0
    label: str = ""

    @property
    def id(self) -> str:
        return self.label or "-".join(filter(None, (self.method, self.case)))


def put(backend: Backend, content: bytes) -> Any:
    return backend.repo.put_artifact(bsm=backend.bsm, name=NAME, content=content)


def publish(backend: Backend) -> Any:
    return backend.repo.publish_artifact_version(bsm=backend.bsm, name=NAME)


def versions(*contents: bytes) -> Callable[[Backend], None]:
    """Publish each of ``contents`` in turn, then list the versions once (an index that
    lacked a version has it from then on)."""

    def prepare(backend: Backend) -> None:
        for content in contents:
            put(backend, content)
            publish(backend)
        backend.repo.list_artifact_versions(bsm=backend.bsm, name=NAME)

    return prepare


def then(*steps: Callable[[Backend], Any]) -> Callable[[Backend], None]:
    def prepare(backend: Backend) -> None:
        for step in steps:
            step(backend)

    return prepare


def alias(name: str, version: int) -> Callable[[Backend], Any]:
    def call(backend: Backend) -> Any:
        return backend.repo.put_alias(bsm=backend.bsm, name=NAME, alias=name, version=version)

    return call


CASES = [
    Case("put_artifact", "unchanged", "put, unchanged", versions(b"a"), lambda b: put(b, b"a")),
    Case("put_artifact", "new", "put, new", versions(b"a"), lambda b: put(b, b"b")),
    Case("publish_artifact_version", "unchanged", "publish, unchanged", versions(b"a"), publish),
    Case(
        "publish_artifact_version",
        "new",
        "publish, new",
        then(versions(b"a"), lambda b: put(b, b"b")),
        publish,
    ),
    Case(
        "get_artifact_version",
        "",
        "get version / get alias",
        versions(b"a"),
        lambda b: b.repo.get_artifact_version(bsm=b.bsm, name=NAME, version=1),
    ),
    Case(
        "get_latest_published_artifact_version_number",
        "",
        "newest version number",
        versions(b"a", b"b"),
        lambda b: b.repo.get_latest_published_artifact_version_number(bsm=b.bsm, name=NAME),
    ),
    Case(
        "list_artifact_versions",
        "",
        "list versions (N)",
        versions(b"a", b"b"),
        lambda b: b.repo.list_artifact_versions(bsm=b.bsm, name=NAME),
    ),
    Case(
        "list_artifact_names",
        "",
        "list names",
        versions(b"a"),
        lambda b: b.repo.list_artifact_names(bsm=b.bsm),
    ),
    Case(
        "put_alias",
        "",
        "put alias",
        then(versions(b"a", b"b"), alias("prod", 1), alias("prod", 2)),
        alias("prod", 1),
    ),
    Case(
        "get_alias",
        "",
        "get version / get alias",
        then(versions(b"a"), alias("prod", 1)),
        lambda b: b.repo.get_alias(bsm=b.bsm, name=NAME, alias="prod"),
    ),
    Case(
        "list_aliases",
        "",
        "list aliases (k)",
        then(versions(b"a"), alias("prod", 1), alias("dev", 1)),
        lambda b: b.repo.list_aliases(bsm=b.bsm, name=NAME),
        units=2,
    ),
    Case(
        "delete_alias",
        "",
        "delete alias",
        then(versions(b"a"), alias("prod", 1)),
        lambda b: b.repo.delete_alias(bsm=b.bsm, name=NAME, alias="prod"),
    ),
    Case(
        "delete_artifact_version",
        "",
        "delete version",
        versions(b"a", b"b"),
        lambda b: b.repo.delete_artifact_version(bsm=b.bsm, name=NAME, version=1),
    ),
    Case(
        "delete_artifact_version",
        "",
        "delete version",
        versions(b"a", b"b"),
        lambda b: b.repo.delete_artifact_version(bsm=b.bsm, name=NAME, version=2),
        units=1,  # the newest version
        label="delete_artifact_version-newest",
    ),
    Case(
        "purge_artifact_versions",
        "",
        "purge (N)",
        versions(b"a", b"b", b"c"),
        lambda b: b.repo.purge_artifact_versions(
            bsm=b.bsm, name=NAME, keep_last_n=1, purge_older_than_secs=0
        ),
        units=2,
    ),
]


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
def test_stated_count_is_what_the_call_sends(backend: Backend, case: Case) -> None:
    stated = stated_requests(getattr(FACADES[backend.kind], case.method).__doc__)[case.case]
    case.prepare(backend)
    backend.counter.reset()
    case.call(backend)
    assert backend.counter.calls == stated.expected(case.units), (
        f"{backend.kind}.{case.method} ({case.case or 'any call'}) sent "
        f"{backend.counter.calls} requests, its docstring says {stated.expected(case.units)}: "
        f"{backend.counter.operations}"
    )

