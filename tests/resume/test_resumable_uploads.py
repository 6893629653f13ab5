"""A put of a large file killed half-way (SIGKILL of a worker process) is resumed with
``resume=True``: only the parts the server lacks are sent again, never a part whose bytes
changed, and the result keeps every guarantee of a put (recorded sha256 = the bytes).

Parts are 5 MiB (the S3 minimum), one sending thread, so the worker's progress callback
stops it after exactly ``KILLED_AFTER`` parts were sent and journaled."""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Ops, Place, RawStore, new_place, workers
from _testkit import Endpoints, RequestCounter, sha256_hex
from boto_session_manager import BotoSesManager

MiB = 1024 * 1024
PART = 5 * MiB
PARTS = 7  # six whole parts and a last one of 1 MiB
SIZE = 6 * PART + MiB
KILLED_AFTER = 3
NAME = "weights"
KINDS = ["s3_only", "s3_dynamodb"]
UPLOAD_PART = "s3.UploadPart"


@pytest.fixture
def state_dir(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """The journals' directory of this test (workers started after it inherit it)."""
    monkeypatch.setenv("VERSIONED_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state" / "uploads"


@pytest.fixture
def big_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "model.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


def small_parts(kind: str) -> Place:
    """A repository with 5 MiB parts sent by one thread (a DynamoDB turn whose holder
    died is skipped after 1 s)."""
    extra: dict[str, Any] = {"lease_secs": 1} if kind == "s3_dynamodb" else {}
    return new_place(kind, multipart_threshold=PART, part_size=PART, max_workers=1, **extra)


def killed_half_way(
    place: Place, endpoints: Endpoints, bsm: BotoSesManager, path: pathlib.Path
) -> None:
    """Bootstrap, then put ``path`` in a worker SIGKILLed once KILLED_AFTER parts are sent."""
    Ops(place, bsm).bootstrap()
    with workers(1) as (worker,):
        worker.send(
            place, endpoints, "put_file", name=NAME, path=str(path), hang_at=KILLED_AFTER * PART
        )
        reached = worker.result(60)
        assert reached is not None and reached.get("reached") == KILLED_AFTER * PART, reached
        worker.kill()


def journal_of(state_dir: pathlib.Path) -> dict[str, Any]:
    (journal,) = state_dir.glob("*.json")
    data: dict[str, Any] = json.loads(journal.read_text())
    return data


def flip_byte(path: pathlib.Path, offset: int) -> None:
    """Invert every bit of the byte at ``offset`` of ``path``, in place."""
    with path.open("r+b") as handle:
        handle.seek(offset)
        value = handle.read(1)[0]
        handle.seek(offset)  # read(1) moved past it: write over the byte read
        handle.write(bytes([value ^ 0xFF]))


def uploads(raw_s3: Any, bucket: str) -> list[str]:
    """The ids of the multipart uploads in progress in ``bucket``."""
    return [u["UploadId"] for u in raw_s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def upload_exists(raw_s3: Any, bucket: str, key: str, upload_id: str) -> bool:
    try:
        raw_s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    except raw_s3.exceptions.NoSuchUpload:
        return False
    return True


def counted(make_bsm: Callable[..., BotoSesManager]) -> tuple[BotoSesManager, RequestCounter]:
    bsm = make_bsm()
    return bsm, RequestCounter.attach(bsm)


def assert_latest_holds(raw: RawStore, place: Place, data: bytes) -> None:
    latest = raw.latest(place, NAME)
    assert latest is not None
    assert latest.actual == sha256_hex(data) == latest.recorded


@pytest.mark.parametrize("kind", KINDS)
def test_a_put_killed_half_way_resumes_sending_only_the_missing_parts(
    kind: str,
    endpoints: Endpoints,
    make_bsm: Callable[..., BotoSesManager],
    raw_s3: Any,
    raw_dynamodb: Any,
    state_dir: pathlib.Path,
    big_file: pathlib.Path,
) -> None:
    place = small_parts(kind)
    killed_half_way(place, endpoints, make_bsm(), big_file)
    journal = journal_of(state_dir)
    assert [p["number"] for p in journal["parts"]] == list(range(1, KILLED_AFTER + 1))
    assert uploads(raw_s3, place.bucket) == [journal["upload_id"]]
    raw = RawStore(raw_s3, raw_dynamodb)
    before = raw.latest(place, NAME)
    assert before is None or before.actual is None  # no bytes became LATEST

    bsm, counter = counted(make_bsm)
    artifact = Ops(place, bsm).put(NAME, big_file, resume=True)

    data = big_file.read_bytes()
    resent = counter.sent_bytes(UPLOAD_PART)
    assert counter.operations.count(UPLOAD_PART) == PARTS - KILLED_AFTER
    assert resent == SIZE - KILLED_AFTER * PART < SIZE
    assert artifact.sha256 == sha256_hex(data)
    assert_latest_holds(raw, place, data)
    assert uploads(raw_s3, place.bucket) == []
    assert not list(state_dir.glob("*.json"))  # the journal is gone with the upload


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_changed_before_the_resume_is_uploaded_whole_as_its_new_content(
    kind: str,
    endpoints: Endpoints,
    make_bsm: Callable[..., BotoSesManager],
    raw_s3: Any,
    raw_dynamodb: Any,
    state_dir: pathlib.Path,
    big_file: pathlib.Path,
) -> None:
    """The upload's object records the content's sha256 from its creation on: another
    content cannot complete it. The stale upload is aborted and the new bytes sent."""
    place = small_parts(kind)
    killed_half_way(place, endpoints, make_bsm(), big_file)
    stale = journal_of(state_dir)
    before = big_file.read_bytes()
    flip_byte(big_file, PART + 10)  # in part 2, which the server holds
    assert big_file.read_bytes() != before

    bsm, counter = counted(make_bsm)
    artifact = Ops(place, bsm).put(NAME, big_file, resume=True)

    data = big_file.read_bytes()
    assert counter.operations.count(UPLOAD_PART) == PARTS
    assert counter.sent_bytes(UPLOAD_PART) == SIZE
    assert artifact.sha256 == sha256_hex(data)
    assert_latest_holds(RawStore(raw_s3, raw_dynamodb), place, data)
    assert not upload_exists(raw_s3, place.bucket, stale["key"], stale["upload_id"])
    assert uploads(raw_s3, place.bucket) == []


@pytest.mark.parametrize("kind", KINDS)
def test_an_upload_aborted_on_the_server_meanwhile_is_started_over(
    kind: str,
    endpoints: Endpoints,
    make_bsm: Callable[..., BotoSesManager],
    raw_s3: Any,
    raw_dynamodb: Any,
    state_dir: pathlib.Path,
    big_file: pathlib.Path,
) -> None:
    place = small_parts(kind)
    killed_half_way(place, endpoints, make_bsm(), big_file)
    stale = journal_of(state_dir)
    raw_s3.abort_multipart_upload(
        Bucket=place.bucket, Key=stale["key"], UploadId=stale["upload_id"]
    )

    bsm, counter = counted(make_bsm)
    artifact = Ops(place, bsm).put(NAME, big_file, resume=True)

    data = big_file.read_bytes()
    assert counter.operations.count(UPLOAD_PART) == PARTS
    assert artifact.sha256 == sha256_hex(data)
    assert_latest_holds(RawStore(raw_s3, raw_dynamodb), place, data)
    assert uploads(raw_s3, place.bucket) == []
    assert not list(state_dir.glob("*.json"))


def test_a_part_the_server_holds_with_other_bytes_is_sent_again(
    endpoints: Endpoints,
    make_bsm: Callable[..., BotoSesManager],
    raw_s3: Any,
    raw_dynamodb: Any,
    state_dir: pathlib.Path,
    big_file: pathlib.Path,
) -> None:
    """Part 2 was replaced on the server (same size, other bytes): its ETag is not the
    one the journal recorded, so the resume sends it again with the file's bytes."""
    place = small_parts("s3_only")
    killed_half_way(place, endpoints, make_bsm(), big_file)
    stale = journal_of(state_dir)
    raw_s3.upload_part(
        Bucket=place.bucket,
        Key=stale["key"],
        UploadId=stale["upload_id"],
        PartNumber=2,
        Body=b"\0" * PART,
        ChecksumAlgorithm="SHA256",  # the upload was created with it: S3 requires it per part
    )

    bsm, counter = counted(make_bsm)
    Ops(place, bsm).put(NAME, big_file, resume=True)

    assert counter.operations.count(UPLOAD_PART) == PARTS - KILLED_AFTER + 1
    assert_latest_holds(RawStore(raw_s3, raw_dynamodb), place, big_file.read_bytes())


def test_a_part_whose_journaled_sha256_is_not_the_file_s_is_sent_again(
    endpoints: Endpoints,
    make_bsm: Callable[..., BotoSesManager],
    raw_s3: Any,
    raw_dynamodb: Any,
    state_dir: pathlib.Path,
    big_file: pathlib.Path,
) -> None:
    place = small_parts("s3_only")
    killed_half_way(place, endpoints, make_bsm(), big_file)
    (path,) = state_dir.glob("*.json")
    journal = json.loads(path.read_text())
    journal["parts"][0]["sha256"] = "0" * 64
    path.write_text(json.dumps(journal))

    bsm, counter = counted(make_bsm)
    Ops(place, bsm).put(NAME, big_file, resume=True)

    assert counter.operations.count(UPLOAD_PART) == PARTS - KILLED_AFTER + 1
    assert_latest_holds(RawStore(raw_s3, raw_dynamodb), place, big_file.read_bytes())


@pytest.mark.parametrize("kind", KINDS)
def test_a_put_without_resume_aborts_the_stale_upload_and_replaces_it(
    kind: str,
    endpoints: Endpoints,
    make_bsm: Callable[..., BotoSesManager],
    raw_s3: Any,
    raw_dynamodb: Any,
    state_dir: pathlib.Path,
    big_file: pathlib.Path,
) -> None:
    place = small_parts(kind)
    killed_half_way(place, endpoints, make_bsm(), big_file)
    stale = journal_of(state_dir)

    bsm, counter = counted(make_bsm)
    Ops(place, bsm).put(NAME, big_file)

    assert counter.operations.count(UPLOAD_PART) == PARTS
    assert "s3.AbortMultipartUpload" in counter.operations
    assert not upload_exists(raw_s3, place.bucket, stale["key"], stale["upload_id"])
    assert uploads(raw_s3, place.bucket) == []
    assert_latest_holds(RawStore(raw_s3, raw_dynamodb), place, big_file.read_bytes())
    assert not list(state_dir.glob("*.json"))
