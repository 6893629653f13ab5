"""Helpers of the robustness suite: one adapter over both backends' call conventions,
raw-storage readers, and the worker of the multi-process stress test."""

from __future__ import annotations

import uuid
from typing import Any

from _testkit import REGION, Endpoints, make_session, sha256_hex, unique
from boto_session_manager import BotoSesManager

from versioned import s3_and_dynamodb_backend, s3_only_backend

PREFIX = "artifacts"
SUFFIX = ".bin"


class Backend:
    """The same operations for both layouts (S3-only takes bsm first, the DynamoDB
    layout takes it as the last keyword)."""

    def __init__(self, kind: str, bucket: str, table: str | None = None, **kwargs: Any) -> None:
        self.kind = kind
        self.bucket = bucket
        self.table = table
        if kind == "s3_only":
            self.repo: Any = s3_only_backend.Repository(
                aws_region=REGION, s3_bucket=bucket, s3_prefix=PREFIX, suffix=SUFFIX, **kwargs
            )
        else:
            assert table is not None
            self.repo = s3_and_dynamodb_backend.Repository(
                aws_region=REGION,
                s3_bucket=bucket,
                s3_prefix=PREFIX,
                dynamodb_table_name=table,
                suffix=SUFFIX,
                **kwargs,
            )

    @property
    def ddb(self) -> bool:
        return self.kind == "s3_dynamodb"

    def spec(self) -> tuple[str, str, str | None]:
        return (self.kind, self.bucket, self.table)

    def bootstrap(self, bsm: BotoSesManager) -> None:
        if self.ddb:
            self.repo.bootstrap(bsm=bsm)
        else:
            self.repo.bootstrap(bsm)

    def put(self, bsm: BotoSesManager, name: str, content: bytes) -> Any:
        if self.ddb:
            return self.repo.put_artifact(name=name, content=content, bsm=bsm)
        return self.repo.put_artifact(bsm, name=name, content=content)

    def publish(self, bsm: BotoSesManager, name: str) -> Any:
        if self.ddb:
            return self.repo.publish_artifact_version(name=name, bsm=bsm)
        return self.repo.publish_artifact_version(bsm, name=name)

    def get(self, bsm: BotoSesManager, name: str, version: Any = None) -> Any:
        if self.ddb:
            return self.repo.get_artifact_version(name=name, version=version, bsm=bsm)
        return self.repo.get_artifact_version(bsm, name=name, version=version)

    def list_versions(self, bsm: BotoSesManager, name: str) -> list[Any]:
        if self.ddb:
            return list(self.repo.list_artifact_versions(name=name, bsm=bsm))
        return list(self.repo.list_artifact_versions(bsm, name=name))

    def delete_version(self, bsm: BotoSesManager, name: str, version: Any) -> None:
        if self.ddb:
            self.repo.delete_artifact_version(name=name, version=version, bsm=bsm)
        else:
            self.repo.delete_artifact_version(bsm, name=name, version=version)

    def put_alias(self, bsm: BotoSesManager, name: str, alias: str, **kwargs: Any) -> Any:
        if self.ddb:
            return self.repo.put_alias(name=name, alias=alias, bsm=bsm, **kwargs)
        return self.repo.put_alias(bsm, name=name, alias=alias, **kwargs)

    def get_alias(self, bsm: BotoSesManager, name: str, alias: str) -> Any:
        if self.ddb:
            return self.repo.get_alias(name=name, alias=alias, bsm=bsm)
        return self.repo.get_alias(bsm, name=name, alias=alias)

    def list_aliases(self, bsm: BotoSesManager, name: str) -> list[Any]:
        if self.ddb:
            return list(self.repo.list_aliases(name=name, bsm=bsm))
        return list(self.repo.list_aliases(bsm, name=name))

    def purge_versions(
        self, bsm: BotoSesManager, name: str, keep_last_n: int, purge_older_than_secs: int
    ) -> Any:
        kwargs = {"keep_last_n": keep_last_n, "purge_older_than_secs": purge_older_than_secs}
        if self.ddb:
            return self.repo.purge_artifact_versions(name=name, bsm=bsm, **kwargs)
        return self.repo.purge_artifact_versions(bsm, name=name, **kwargs)

    def verify(self, bsm: BotoSesManager) -> Any:
        if self.ddb:
            return self.repo.verify(name=None, bsm=bsm)
        return self.repo.verify(bsm=bsm, name=None)


def new_backend(kind: str, bsm: BotoSesManager, **kwargs: Any) -> Backend:
    backend = Backend(
        kind,
        unique("bkt"),
        unique("tbl") if kind == "s3_dynamodb" else None,
        **kwargs,
    )
    backend.bootstrap(bsm)
    return backend


def raw_bytes(raw_s3: Any, uri: str) -> bytes | None:
    """The bytes at an s3:// URI read with plain boto3, None when absent."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    try:
        return raw_s3.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]
    except raw_s3.exceptions.NoSuchKey:
        return None


def sha_mismatches(backend: Backend, bsm: BotoSesManager, raw_s3: Any, name: str) -> list[str]:
    """Listed versions (LATEST included) whose recorded sha256 differs from their bytes."""
    bad = []
    for artifact in backend.list_versions(bsm, name):
        data = raw_bytes(raw_s3, artifact.s3uri)
        if data is None or sha256_hex(data) != artifact.sha256:
            bad.append(artifact.version)
    return bad


def mp_worker(
    endpoints: Endpoints, spec: tuple[str, str, str | None], name: str, worker: int, rounds: int
) -> list[tuple[int, str]]:
    """One process of the multi-process stress: its own session, put then publish."""
    kind, bucket, table = spec
    backend = Backend(kind, bucket, table)
    bsm = make_session(endpoints)
    results = []
    for round_ in range(rounds):
        content = f"process {worker} round {round_} {uuid.uuid4().hex}".encode()
        backend.put(bsm, name, content)
        published = backend.publish(bsm, name)
        results.append((int(published.version), published.sha256))
    return results
