"""Retention as code on both layouts: policies, holds, protected aliases, plan and apply."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _testkit import Backend

from versioned import exc
from versioned.retention import RetentionPlan, RetentionPolicy, RetentionReport

NAME = "svc"


def publish_n(backend: Backend, n: int, name: str = NAME) -> None:
    for i in range(1, n + 1):
        backend.put_and_publish(name, f"content {i}".encode() * i)


def size_of(version: int) -> int:
    return len(f"content {version}".encode() * version)


def call(backend: Backend, method: str, **kwargs: Any) -> Any:
    return getattr(backend.repo, method)(bsm=backend.bsm, **kwargs)


def plan_of(backend: Backend, name: str = NAME) -> RetentionPlan:
    plans: list[RetentionPlan] = call(backend, "plan_retention", name=name)
    assert [p.name for p in plans] == [name]
    return plans[0]


def apply(backend: Backend, name: str | None = NAME, **kwargs: Any) -> list[RetentionReport]:
    reports: list[RetentionReport] = call(backend, "apply_retention", name=name, **kwargs)
    return reports


def reasons(plan: RetentionPlan | RetentionReport) -> dict[int | str, tuple[str, ...]]:
    kept = plan.keep if isinstance(plan, RetentionPlan) else plan.kept
    return {k.version: k.reasons for k in kept}


def numbers(backend: Backend, name: str = NAME) -> list[str]:
    return [v for v in backend.versions(name) if v != "LATEST"]


def engine_of(backend: Backend) -> Any:
    """The engine behind a facade, to run a plan and its deletion apart."""
    repo: Any = backend.repo
    return repo._engine


def set_policy(backend: Backend, name: str | None = NAME, **fields: Any) -> None:
    call(backend, "set_retention", name=name, policy=RetentionPolicy(**fields))


def raw_write_document(backend: Backend, raw: Any, body: str, name: str = NAME) -> None:
    """Hand-edit the stored retention document, as an operator with an editor would."""
    repo: Any = backend.repo
    if backend.kind == "s3_and_dynamodb":
        raw.dynamodb.put_item(
            TableName=repo.dynamodb_table_name,
            Item={
                "pk": {"S": f"__{name}-retention"},
                "sk": {"S": "retention"},
                "document": {"S": body},
                "revision": {"S": "hand-edited"},
            },
        )
    else:
        key = f"{repo.s3_prefix}/{name}/retention.json"
        raw.s3.put_object(Bucket=backend.bucket, Key=key, Body=body.encode())


class Raw:
    def __init__(self, s3: Any, dynamodb: Any) -> None:
        self.s3, self.dynamodb = s3, dynamodb


@pytest.fixture
def raw(raw_s3: Any, raw_dynamodb: Any) -> Raw:
    return Raw(raw_s3, raw_dynamodb)


# ------------------------------------------------------------------ policies
def test_policy_round_trip_per_artifact_and_default(backend: Backend) -> None:
    assert call(backend, "get_retention", name=NAME) is None
    set_policy(backend, keep_last=3, protected_aliases=("prod", "prod", "beta"))
    set_policy(backend, None, delete_older_than_secs=90 * 86400)
    assert call(backend, "get_retention", name=NAME) == RetentionPolicy(
        keep_last=3, protected_aliases=("beta", "prod")
    )
    assert call(backend, "get_retention", name=None) == RetentionPolicy(
        delete_older_than_secs=90 * 86400
    )
    call(backend, "set_retention", name=NAME, policy=None)
    assert call(backend, "get_retention", name=NAME) is None


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"keep_last": -1}, "keep_last"),
        ({"keep_last": True}, "keep_last"),
        ({"keep_younger_than_secs": float("nan")}, "keep_younger_than_secs"),
        ({"delete_older_than_secs": float("inf")}, "delete_older_than_secs"),
        ({"delete_older_than_secs": -5}, "delete_older_than_secs"),
        ({"keep_rollback_targets": -2}, "keep_rollback_targets"),
        ({"protected_aliases": "prod"}, "protected_aliases"),
        ({"protected_aliases": ("bad-name",)}, "protected_aliases"),
    ],
)
def test_nonsense_policy_refused_before_any_request(
    backend: Backend, fields: dict[str, Any], needle: str
) -> None:
    backend.counter.reset()
    with pytest.raises(exc.ValidationError, match=needle):
        set_policy(backend, **fields)
    assert backend.counter.count == 0


def test_a_policy_that_is_not_a_policy_is_refused(backend: Backend) -> None:
    with pytest.raises(exc.ArgumentTypeError):
        call(backend, "set_retention", name=NAME, policy={"keep_last": 3})


# ------------------------------------------------------------------ plans
def test_keep_last_plans_the_rest_with_reasons_and_bytes(backend: Backend) -> None:
    publish_n(backend, 5)
    set_policy(backend, keep_last=2)
    plan = plan_of(backend)
    assert plan.delete == (3, 2, 1)
    assert reasons(plan) == {"LATEST": ("LATEST",), 5: ("newest 2",), 4: ("newest 2",)}
    assert plan.bytes_deleted == sum(size_of(v) for v in (1, 2, 3))
    expected_freed = 0 if backend.repo.soft_delete else plan.bytes_deleted
    assert plan.bytes_freed == expected_freed
    assert numbers(backend) == ["5", "4", "3", "2", "1"]  # a plan changes nothing


def test_no_policy_deletes_nothing(backend: Backend) -> None:
    publish_n(backend, 2)
    plan = plan_of(backend)
    assert plan.policy is None and plan.delete == ()
    assert reasons(plan)[1] == ("no retention policy",)
    set_policy(backend, protected_aliases=("prod",))
    assert plan_of(backend).delete == ()


def test_default_policy_applies_where_an_artifact_has_none(backend: Backend) -> None:
    publish_n(backend, 3)
    publish_n(backend, 3, name="other")
    set_policy(backend, None, keep_last=1)
    set_policy(backend, "other", keep_last=2)
    plans = {p.name: p for p in call(backend, "plan_retention")}
    assert plans[NAME].delete == (2, 1)
    assert plans["other"].delete == (1,)


def test_ages_keep_younger_and_delete_older(backend: Backend) -> None:
    publish_n(backend, 3)
    set_policy(backend, keep_younger_than_secs=86400)
    assert plan_of(backend).delete == ()
    assert reasons(plan_of(backend))[1] == ("younger than 1 day",)
    set_policy(backend, delete_older_than_secs=86400)
    assert reasons(plan_of(backend))[2] == ("not older than 1 day",)
    set_policy(backend, keep_younger_than_secs=0)
    assert plan_of(backend).delete == (3, 2, 1)


def test_keep_wins_alias_hold_and_newest(backend: Backend, monkeypatch: Any) -> None:
    monkeypatch.setenv("VERSIONED_ACTOR", "alice")
    publish_n(backend, 6)
    call(
        backend,
        "put_alias",
        name=NAME,
        alias="prod",
        version=1,
        secondary_version=2,
        secondary_version_weight=10,
    )
    call(backend, "hold_version", name=NAME, version=3, reason="incident 7")
    set_policy(backend, keep_last=1, delete_older_than_secs=0, protected_aliases=("prod",))
    plan = plan_of(backend)
    assert plan.delete == (5, 4)
    kept = reasons(plan)
    assert kept[6] == ("newest 1",)
    assert kept[1] == ("alias prod (protected)",)
    assert kept[2] == ("alias prod (protected)",)
    assert kept[3] == ("hold by alice: incident 7",)


# ------------------------------------------------------------------ apply
def test_apply_deletes_exactly_the_plan(backend: Backend) -> None:
    publish_n(backend, 4)
    call(backend, "put_alias", name=NAME, alias="prod", version=1)
    set_policy(backend, keep_last=1)
    planned = plan_of(backend)
    (report,) = apply(backend)
    assert report.deleted == planned.delete == (3, 2)
    assert numbers(backend) == ["4", "1"]
    assert report.bytes_freed == (0 if backend.repo.soft_delete else size_of(3) + size_of(2))
    assert report.errors == ()
    (again,) = apply(backend)
    assert again.deleted == ()


def test_dry_run_changes_nothing(backend: Backend) -> None:
    publish_n(backend, 3)
    set_policy(backend, keep_last=1)
    (report,) = apply(backend, dry_run=True)
    assert report.dry_run and report.deleted == (2, 1)
    assert numbers(backend) == ["3", "2", "1"]


def test_a_version_aliased_between_plan_and_delete_is_kept(backend: Backend) -> None:
    publish_n(backend, 3)
    set_policy(backend, keep_last=1)
    engine = engine_of(backend)
    session = engine.writing(backend.bsm)
    plan = engine.retention.plan_one(session, NAME, None)
    assert plan.delete == (2, 1)
    call(backend, "put_alias", name=NAME, alias="canary", version=2)
    report = engine.retention.apply_one(session, plan, False)
    assert report.deleted == (1,)
    assert reasons(report)[2] == ("in use: canary",)
    assert numbers(backend) == ["3", "2"]


def test_a_version_held_between_plan_and_delete_is_kept(backend: Backend) -> None:
    publish_n(backend, 3)
    set_policy(backend, keep_last=1)
    engine = engine_of(backend)
    session = engine.writing(backend.bsm)
    plan = engine.retention.plan_one(session, NAME, None)
    call(backend, "hold_version", name=NAME, version=1, reason="legal")
    report = engine.retention.apply_one(session, plan, False)
    assert report.deleted == (2,)
    assert numbers(backend) == ["3", "1"]


def test_apply_over_every_artifact(backend: Backend) -> None:
    publish_n(backend, 2)
    publish_n(backend, 2, name="other")
    set_policy(backend, None, keep_last=1)
    reports = {r.name: r for r in apply(backend, None)}
    assert reports[NAME].deleted == (1,) and reports["other"].deleted == (1,)


# ------------------------------------------------------------------ protected aliases
def test_protected_alias_cannot_move_or_go_without_force(backend: Backend) -> None:
    publish_n(backend, 2)
    call(backend, "put_alias", name=NAME, alias="prod", version=1)
    set_policy(backend, protected_aliases=("prod",))
    with pytest.raises(exc.ProtectedAliasError, match="force"):
        call(backend, "put_alias", name=NAME, alias="prod", version=2)
    with pytest.raises(exc.ProtectedAliasError):
        call(backend, "delete_alias", name=NAME, alias="prod")
    assert call(backend, "get_alias", name=NAME, alias="prod").version == "1"
    call(backend, "put_alias", name=NAME, alias="beta", version=2)  # not protected
    call(backend, "put_alias", name=NAME, alias="prod", version=2, force=True)
    assert call(backend, "get_alias", name=NAME, alias="prod").version == "2"
    call(backend, "delete_alias", name=NAME, alias="prod", force=True)
    with pytest.raises(exc.AliasNotFoundError):
        call(backend, "get_alias", name=NAME, alias="prod")


def test_default_protects_aliases_of_artifacts_without_a_policy(backend: Backend) -> None:
    publish_n(backend, 1)
    set_policy(backend, None, protected_aliases=("prod",))
    with pytest.raises(exc.ProtectedAliasError):
        call(backend, "put_alias", name=NAME, alias="prod", version=1)


def test_the_protection_check_costs_one_round_trip(backend: Backend) -> None:
    publish_n(backend, 1)
    call(backend, "put_alias", name=NAME, alias="prod", version=1)
    backend.counter.reset()
    call(backend, "put_alias", name=NAME, alias="prod", version=1, force=True)
    forced = backend.counter.count
    backend.counter.reset()
    call(backend, "put_alias", name=NAME, alias="prod", version=1)
    extra = backend.counter.count - forced
    assert extra == (1 if backend.kind == "s3_and_dynamodb" else 2)


# ------------------------------------------------------------------ holds
def test_hold_blocks_delete_and_purge_until_released(backend: Backend, monkeypatch: Any) -> None:
    monkeypatch.setenv("VERSIONED_ACTOR", "bob")
    publish_n(backend, 3)
    hold = call(backend, "hold_version", name=NAME, version=1, reason="audit")
    assert (hold.version, hold.held_by, hold.reason) == (1, "bob", "audit")
    assert [h.version for h in call(backend, "list_holds", name=NAME)] == [1]
    with pytest.raises(exc.VersionHeldError, match="bob"):
        call(backend, "delete_artifact_version", name=NAME, version=1)
    plan = call(backend, "plan_purge", name=NAME, keep_last_n=0, purge_older_than_secs=0)
    assert sorted(a.version for a in plan.delete) == ["2", "3"]
    assert [k.reason for k in plan.keep if k.artifact.version == "1"] == ["hold by bob: audit"]
    _, deleted = call(
        backend, "purge_artifact_versions", name=NAME, keep_last_n=0, purge_older_than_secs=0
    )
    assert sorted(a.version for a in deleted) == ["2", "3"]
    assert numbers(backend) == ["1"]
    with pytest.raises(exc.VersionHeldError):
        call(backend, "purge_artifact", name=NAME)
    assert call(backend, "release_version", name=NAME, version=1) is True
    assert call(backend, "release_version", name=NAME, version=1) is False
    call(backend, "delete_artifact_version", name=NAME, version=1)
    assert numbers(backend) == []


def test_hold_needs_an_existing_version_and_a_reason(backend: Backend) -> None:
    publish_n(backend, 1)
    with pytest.raises(exc.ArtifactNotFoundError):
        call(backend, "hold_version", name=NAME, version=9, reason="x")
    with pytest.raises(exc.ValidationError):
        call(backend, "hold_version", name=NAME, version=1, reason=" ")
    with pytest.raises(exc.ValidationError):
        call(backend, "hold_version", name=NAME, version="LATEST", reason="x")


def test_holds_and_policy_share_one_document(backend: Backend) -> None:
    publish_n(backend, 2)
    call(backend, "hold_version", name=NAME, version=1, reason="keep")
    set_policy(backend, keep_last=0)
    assert [h.version for h in call(backend, "list_holds", name=NAME)] == [1]
    assert plan_of(backend).delete == (2,)


# ------------------------------------------------------------------ hand-edited documents
@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ({"format": 1, "policy": {"keep_last": -1}}, "keep_last"),
        ({"format": 1, "policy": {"keep_last": 1, "keep_forever": True}}, "keep_forever"),
        ('{"format": 1, "policy": {"delete_older_than_secs": NaN}}', "NaN"),
        ({"format": 2, "policy": None}, "format"),
        ({"format": 1, "holds": {"x": {}}}, "holds"),
        ("not json", "retention document"),
    ],
)
def test_hand_edited_nonsense_is_a_clear_error_and_deletes_nothing(
    backend: Backend, raw: Raw, document: Any, needle: str
) -> None:
    publish_n(backend, 3)
    body = document if isinstance(document, str) else json.dumps(document)
    raw_write_document(backend, raw, body)
    with pytest.raises(exc.CorruptRecordError, match=needle):
        plan_of(backend)
    (report,) = apply(backend)
    assert report.deleted == () and needle in report.errors[0]
    with pytest.raises(exc.CorruptRecordError):
        call(backend, "delete_artifact_version", name=NAME, version=1)
    assert numbers(backend) == ["3", "2", "1"]
    if needle in ("holds", "retention document"):  # holds unreadable: never dropped
        with pytest.raises(exc.CorruptRecordError):
            set_policy(backend, keep_last=1)
        return
    set_policy(backend, keep_last=1)  # setting the policy again repairs it
    assert plan_of(backend).delete == (2, 1)


# ------------------------------------------------------------------ storage
def test_documents_are_stored_where_the_seed_never_lists(backend: Backend, raw: Raw) -> None:
    publish_n(backend, 2)
    set_policy(backend, keep_last=5)
    set_policy(backend, None, keep_last=9)
    call(backend, "hold_version", name=NAME, version=1, reason="audit")
    repo: Any = backend.repo
    if backend.kind == "s3_and_dynamodb":
        table = repo.dynamodb_table_name
        item = raw.dynamodb.get_item(
            TableName=table, Key={"pk": {"S": f"__{NAME}-retention"}, "sk": {"S": "retention"}}
        )["Item"]
        stored = json.loads(item["document"]["S"])
        default = raw.dynamodb.get_item(
            TableName=table, Key={"pk": {"S": "__versioned__"}, "sk": {"S": "retention"}}
        )["Item"]
        assert json.loads(default["document"]["S"])["policy"]["keep_last"] == 9
    else:
        prefix = repo.s3_prefix
        body = raw.s3.get_object(Bucket=backend.bucket, Key=f"{prefix}/{NAME}/retention.json")
        stored = json.loads(body["Body"].read())
        default = raw.s3.get_object(
            Bucket=backend.bucket, Key=f"{prefix}/.versioned-retention.json"
        )
        assert json.loads(default["Body"].read())["policy"]["keep_last"] == 9
    assert stored["format"] == 1 and stored["policy"]["keep_last"] == 5
    assert stored["holds"]["1"]["reason"] == "audit"
    assert call(backend, "list_artifact_names") == [NAME]
    assert numbers(backend) == ["2", "1"]
    assert call(backend, "verify").ok


def test_orphans_reported_with_bytes_and_deleted_only_when_asked(
    backend: Backend, raw: Raw
) -> None:
    publish_n(backend, 1)
    prefix: str = backend.repo.s3_prefix
    stray = f"{prefix}/{NAME}/left-over.tmp"
    raw.s3.put_object(Bucket=backend.bucket, Key=stray, Body=b"x" * 123)
    (report,) = [r for r in apply(backend, None) if r.name == NAME]
    assert [(o.key, o.size, o.deleted) for o in report.orphans] == [(stray, 123, False)]
    (dry,) = [r for r in apply(backend, None, dry_run=True, delete_orphans=True) if r.name == NAME]
    assert not dry.orphans[0].deleted
    assert raw.s3.head_object(Bucket=backend.bucket, Key=stray)["ContentLength"] == 123
    (done,) = [r for r in apply(backend, None, delete_orphans=True) if r.name == NAME]
    assert done.orphans[0].deleted
    listed = raw.s3.list_objects_v2(Bucket=backend.bucket, Prefix=stray).get("Contents", [])
    assert listed == []
    assert numbers(backend) == ["1"]


def test_abandoned_uploads_are_aborted_past_the_bound(backend: Backend, raw: Raw) -> None:
    publish_n(backend, 1)
    prefix: str = backend.repo.s3_prefix
    inside = raw.s3.create_multipart_upload(Bucket=backend.bucket, Key=f"{prefix}/{NAME}/x.bin")
    outside = raw.s3.create_multipart_upload(Bucket=backend.bucket, Key="elsewhere/x.bin")
    uploads = raw.s3.list_multipart_uploads(Bucket=backend.bucket)["Uploads"]
    (initiated,) = [u["Initiated"] for u in uploads if u["UploadId"] == inside["UploadId"]]
    if datetime.now(UTC) - initiated < timedelta(days=1):  # what S3 answers
        (kept,) = apply(backend)  # the default bound: 7 days
        assert kept.aborted_uploads == ()
    else:  # moto answers a fixed Initiated (2010): the upload is long abandoned
        problems = call(backend, "verify").problems
        assert [p.location for p in problems if p.kind == "abandoned_upload"] == [
            f"{prefix}/{NAME}/x.bin"
        ]
    (report,) = apply(backend, upload_age_secs=0)
    assert [u.upload_id for u in report.aborted_uploads] == [inside["UploadId"]]
    left = raw.s3.list_multipart_uploads(Bucket=backend.bucket).get("Uploads", [])
    assert [u["UploadId"] for u in left] == [outside["UploadId"]]
    with pytest.raises(exc.ValidationError):
        apply(backend, upload_age_secs=-1)


def test_purge_artifact_takes_its_policy_with_it(backend: Backend) -> None:
    """An artifact published again after purge_artifact starts without the old one's
    policy, on both layouts (the repository default stays)."""
    publish_n(backend, 2)
    set_policy(backend, keep_last=1)
    call(backend, "set_retention", name=None, policy=RetentionPolicy(keep_last=5))
    call(backend, "purge_artifact", name=NAME)
    assert call(backend, "get_retention", name=NAME) is None
    publish_n(backend, 1)
    assert call(backend, "get_retention", name=NAME) is None
    assert call(backend, "get_retention", name=None) == RetentionPolicy(keep_last=5)
