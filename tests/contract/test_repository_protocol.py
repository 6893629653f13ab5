"""Both facades satisfy ``versioned.repository``'s protocols: for mypy (the annotated
assignments below are type-checked by ``mypy --strict tests``) and at run time (every
member of each protocol exists on the facade, and every parameter of each protocol
method is accepted by keyword, with a default wherever the protocol has one)."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from typing import Any

import pytest
from _testkit import REGION

from versioned import api, s3_and_dynamodb_backend, s3_only_backend
from versioned.repository import Alias, Artifact, Repository

EMPTY = inspect.Parameter.empty
KEYWORD_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
VARIADIC_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _members(protocol: type) -> dict[str, object]:
    """The protocol's own public members: methods and (read-only) properties."""
    return {name: value for name, value in vars(protocol).items() if not name.startswith("_")}


def _signature_problems(name: str, wanted: Any, got: Any) -> list[str]:
    expected = list(inspect.signature(wanted).parameters.values())[1:]  # without self
    actual = inspect.signature(got).parameters
    problems: list[str] = []
    for parameter in expected:
        found = actual.get(parameter.name)
        if found is None or found.kind not in KEYWORD_KINDS:
            problems.append(f"{name}: no keyword parameter {parameter.name!r}")
        elif parameter.default is not EMPTY and found.default is EMPTY:
            problems.append(f"{name}: {parameter.name!r} has no default")
    declared = {parameter.name for parameter in expected}
    for extra in list(actual.values())[1:]:
        if extra.name in declared or extra.kind in VARIADIC_KINDS:
            continue
        if extra.default is EMPTY:
            problems.append(f"{name}: extra parameter {extra.name!r} without a default")
    return problems


def conformance_problems(protocol: type, instance: object) -> list[str]:
    """Why ``instance`` does not satisfy ``protocol`` structurally ([] when it does)."""
    problems: list[str] = []
    for name, member in _members(protocol).items():
        if name not in dir(instance):  # dir: no property is evaluated
            problems.append(f"{name}: missing")
        elif callable(member):
            problems += _signature_problems(name, member, getattr(type(instance), name))
    return problems


def s3_only_repository() -> s3_only_backend.Repository:
    return s3_only_backend.Repository(aws_region=REGION, s3_bucket="protocol-bucket")


def dynamodb_repository() -> s3_and_dynamodb_backend.Repository:
    return s3_and_dynamodb_backend.Repository(aws_region=REGION, s3_bucket="protocol-bucket")


def records(module: Any, update_at: str | datetime) -> tuple[object, object]:
    artifact = module.Artifact("model", "1", update_at, "s3://bucket/model/1", "0" * 64)
    alias = module.Alias(
        "model", "prod", update_at, "1", None, None, "s3://bucket/model/1", None, "r1"
    )
    return artifact, alias


def test_both_facades_are_repositories_for_mypy() -> None:
    """Type-checked assignments: a facade that drifts from the protocol fails mypy."""
    repositories: list[Repository] = [s3_only_repository(), dynamodb_repository()]
    now = datetime.now(UTC)
    artifacts: list[Artifact] = [
        s3_only_backend.Artifact("m", "1", now.isoformat(), "s3://b/k", "0" * 64),
        s3_and_dynamodb_backend.Artifact("m", "1", now, "s3://b/k", "0" * 64),
    ]
    aliases: list[Alias] = [
        s3_only_backend.Alias("m", "a", now.isoformat(), "1", None, None, "s3://b/k", None),
        s3_and_dynamodb_backend.Alias("m", "a", now, "1", None, None, "s3://b/k", None),
    ]
    assert [repo.soft_delete for repo in repositories] == [False, True]
    assert {a.update_datetime for a in artifacts} == {now} == {a.update_datetime for a in aliases}
    assert (api.Repository, api.Artifact, api.Alias) == (Repository, Artifact, Alias)


@pytest.mark.parametrize("make", [s3_only_repository, dynamodb_repository])
def test_each_facade_has_every_member_of_the_repository_protocol(make: Any) -> None:
    assert conformance_problems(Repository, make()) == []


@pytest.mark.parametrize(
    ("module", "update_at"),
    [(s3_only_backend, "2026-01-02T03:04:05+00:00"), (s3_and_dynamodb_backend, datetime.now(UTC))],
)
def test_each_facades_records_have_every_member_of_their_protocols(
    module: Any, update_at: str | datetime
) -> None:
    artifact, alias = records(module, update_at)
    assert conformance_problems(Artifact, artifact) == []
    assert conformance_problems(Alias, alias) == []


def test_the_check_reports_a_missing_member_and_a_parameter_that_does_not_fit() -> None:
    """The structural check is not vacuous: a near miss is reported, member by member."""

    class NearMiss:
        soft_delete = False

        def get_alias(self, name: str, alias_name: str, bsm: Any = None) -> None: ...

        def list_aliases(self, name: str, bsm: Any, /) -> None: ...

        def purge_artifact_versions(
            self, name: str, keep_last_n: int, purge_older_than_secs: int = 0, **rest: Any
        ) -> None: ...

    problems = conformance_problems(Repository, NearMiss())
    assert "put_artifact: missing" in problems
    assert "get_alias: no keyword parameter 'alias'" in problems
    assert "get_alias: extra parameter 'alias_name' without a default" in problems
    assert "list_aliases: no keyword parameter 'bsm'" in problems
    assert "purge_artifact_versions: 'keep_last_n' has no default" in problems
    assert not [p for p in problems if p.startswith("soft_delete")]
