"""A damaged S3-only record (issue 17, defects 5 and 6), edited with plain boto3 the way a
hand edit or another client would:

- a number out of range (``Infinity``, ``1e400``) in ``state.json`` (``hwm``, ``seq``, a
  version's ``size``, an alias entry's ``seq``) or in an alias object makes the calls that
  read it raise CorruptRecordError naming the record, and verify() report it, never raise;
- a version index entry edited in ``state.json`` (its sha256 or size; the object and its
  ETag unchanged) never makes list_artifact_versions disagree with get_artifact_version,
  and verify() reports the index entry that disagrees with the object's own metadata.

The decoders themselves are fuzzed with hypothesis over arbitrary JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _testkit import sha256_hex, unique
from boto_session_manager import BotoSesManager
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from versioned import _s3
from versioned._layouts.s3_only import S3OnlyLayout
from versioned._layouts.s3_only_state import PURGE_LEASE_SECS, ArtifactState
from versioned._transfer import TransferSettings
from versioned.exc import CorruptRecordError
from versioned.s3_only_backend import Repository

NAME = "app"
ONE, TWO = b"version one " * 10, b"version two " * 10


def new_repo(bsm: BotoSesManager) -> Repository:
    """Versions 1 and 2, LATEST = 2, prod -> 1 (90%) / 2 (10%)."""
    repo = Repository(aws_region="us-east-1", s3_bucket=unique("bkt"), suffix=".bin")
    repo.bootstrap(bsm)
    for content in (ONE, TWO):
        repo.put_artifact(bsm, NAME, content)
        repo.publish_artifact_version(bsm, NAME)
    repo.put_alias(bsm, NAME, "prod", version=1, secondary_version=2, secondary_version_weight=10)
    return repo


def state_key(repo: Repository) -> str:
    return f"{repo.s3_prefix}/{NAME}/state.json"


def alias_key(repo: Repository, alias: str) -> str:
    return f"{repo.s3_prefix}/{NAME}/aliases/{alias}.json"


def read_json(raw_s3: Any, repo: Repository, key: str) -> Any:
    return json.loads(raw_s3.get_object(Bucket=repo.s3_bucket, Key=key)["Body"].read())


def write_raw(raw_s3: Any, repo: Repository, key: str, body: str) -> None:
    raw_s3.put_object(Bucket=repo.s3_bucket, Key=key, Body=body.encode())


#: the spelling of each out-of-range number in the stored JSON text
SPELLINGS = {"Infinity": "Infinity", "1e400": "1e400", "-Infinity": "-Infinity", "NaN": "NaN"}
MARK = "__OUT_OF_RANGE__"


def edited(document: Any, path: list[str], spelling: str) -> str:
    """``document`` with the value at ``path`` replaced by ``spelling`` (raw JSON text)."""
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = MARK
    return json.dumps(document).replace(f'"{MARK}"', spelling)


STATE_FIELDS = {
    "hwm": ["hwm"],
    "seq": ["seq"],
    "version size": ["versions", "1", "size"],
    "alias seq": ["aliases", "prod", "seq"],
}


def _writes(repo: Repository, bsm: BotoSesManager) -> list[Callable[[], Any]]:
    return [
        lambda: repo.publish_artifact_version(bsm, NAME),
        lambda: repo.put_alias(bsm, NAME, "dev", version=2),
        lambda: repo.delete_artifact_version(bsm, NAME, 1),
        lambda: repo.purge_artifact_versions(bsm, NAME, keep_last_n=1, purge_older_than_secs=0),
    ]


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
@pytest.mark.parametrize("field", sorted(STATE_FIELDS))
def test_out_of_range_number_in_the_state_is_named_and_reported(
    field: str, spelling: str, make_bsm: Callable[[], BotoSesManager], raw_s3: Any
) -> None:
    bsm = make_bsm()
    repo = new_repo(bsm)
    document = read_json(raw_s3, repo, state_key(repo))
    write_raw(raw_s3, repo, state_key(repo), edited(document, STATE_FIELDS[field], spelling))

    for call in _writes(repo, bsm):
        with pytest.raises(CorruptRecordError) as raised:
            call()
        assert "state.json" in str(raised.value)
    # reads do not depend on the index: they still answer, from the objects
    listed = repo.list_artifact_versions(bsm, NAME)
    assert [a.version for a in listed] == ["LATEST", "2", "1"]
    assert listed[2].sha256 == sha256_hex(ONE)
    for report in (repo.verify(bsm), repo.verify(bsm, name=NAME)):
        corrupt = [p for p in report.problems if p.kind == "corrupt_record"]
        assert any(p.location.endswith("state.json") for p in corrupt), report.problems


ALIAS_FIELDS = {
    "secondary weight": ["secondary_version_weight"],
    "version": ["version"],
    "secondary version": ["secondary_version"],
}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
@pytest.mark.parametrize("field", sorted(ALIAS_FIELDS))
def test_out_of_range_number_in_an_alias_object_is_named_and_reported(
    field: str, spelling: str, make_bsm: Callable[[], BotoSesManager], raw_s3: Any
) -> None:
    bsm = make_bsm()
    repo = new_repo(bsm)
    document = read_json(raw_s3, repo, alias_key(repo, "prod"))
    body = edited(document, ALIAS_FIELDS[field], spelling)
    write_raw(raw_s3, repo, alias_key(repo, "prod"), body)

    for call in (
        lambda: repo.get_alias(bsm, NAME, "prod"),
        lambda: repo.list_aliases(bsm, NAME),
    ):
        with pytest.raises(CorruptRecordError) as raised:
            call()
        assert "prod" in str(raised.value)
    for report in (repo.verify(bsm), repo.verify(bsm, name=NAME)):
        corrupt = [p for p in report.problems if p.kind == "corrupt_record"]
        assert any(p.location.endswith("prod.json") for p in corrupt), report.problems


# ---------------------------------------------------------------- defect 6: the index
INDEX_EDITS: dict[str, tuple[str, Any]] = {
    "sha256": ("sha256", "0" * 64),
    "size": ("size", 7),
}


@pytest.mark.parametrize("edit", sorted(INDEX_EDITS))
def test_an_edited_index_entry_never_outvotes_the_object(
    edit: str, make_bsm: Callable[[], BotoSesManager], raw_s3: Any
) -> None:
    """state.json's versions["1"] edited, the object (and its ETag) unchanged: list and
    get agree on what version 1 holds (the object's own metadata), and verify() reports
    the index entry."""
    field, value = INDEX_EDITS[edit]
    bsm = make_bsm()
    repo = new_repo(bsm)
    document = read_json(raw_s3, repo, state_key(repo))
    document["versions"]["1"][field] = value
    write_raw(raw_s3, repo, state_key(repo), json.dumps(document))

    got = repo.get_artifact_version(bsm, NAME, 1)
    listed = {a.version: a for a in repo.list_artifact_versions(bsm, NAME)}
    assert got.sha256 == sha256_hex(ONE)
    assert (listed["1"].sha256, listed["1"].size) == (got.sha256, got.size)
    for report in (repo.verify(bsm), repo.verify(bsm, name=NAME)):
        assert any(
            p.location.endswith("state.json") and "version 1" in p.detail for p in report.problems
        ), report.problems


def test_an_index_entry_of_another_object_is_not_used(
    make_bsm: Callable[[], BotoSesManager], raw_s3: Any
) -> None:
    """Version 1's object replaced behind the layout's back (its ETag changes): list reads
    the object, as get does."""
    bsm = make_bsm()
    repo = new_repo(bsm)
    key = f"{repo.s3_prefix}/{NAME}/versions/999999_000001.bin"
    other = b"replaced bytes"
    raw_s3.put_object(
        Bucket=repo.s3_bucket,
        Key=key,
        Body=other,
        Metadata={"artifact_name": NAME, "artifact_sha256": sha256_hex(other)},
    )
    listed = {a.version: a for a in repo.list_artifact_versions(bsm, NAME)}
    assert listed["1"].sha256 == sha256_hex(other) == repo.get_artifact_version(bsm, NAME, 1).sha256


# ---------------------------------------------------------------- the decoders, fuzzed
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", "1", "000001", "LATEST", "live", "pending", "deleting", "0" * 64]),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
VALID_STATE: dict[str, Any] = {
    "format": 1,
    "hwm": 2,
    "seq": 3,
    "purging": None,
    "versions": {
        "1": {
            "status": "live",
            "sha256": "a" * 64,
            "size": 5,
            "etag": '"e"',
            "update_at": "2026-01-01T00:00:00+00:00",
            "content_type": None,
            "token": "t",
        }
    },
    "aliases": {
        "prod": {
            "seq": 3,
            "token": "u",
            "deleted": False,
            "version": "1",
            "secondary_version": None,
            "secondary_version_weight": None,
            "update_at": "2026-01-01T00:00:00+00:00",
            "etag": '"f"',
            "landed": True,
        }
    },
    "ops": ["t", "u"],
}
STATE_PATHS = [
    ["format"],
    ["hwm"],
    ["seq"],
    ["purging"],
    ["versions"],
    ["versions", "1"],
    *(
        ["versions", "1", f]
        for f in ("status", "sha256", "size", "etag", "update_at", "content_type", "token")
    ),
    ["aliases"],
    ["aliases", "prod"],
    *(
        ["aliases", "prod", f]
        for f in (
            "seq",
            "token",
            "deleted",
            "version",
            "secondary_version",
            "secondary_version_weight",
            "update_at",
            "etag",
            "landed",
        )
    ),
    ["ops"],
]


def _replaced(path: list[str], value: Any) -> Any:
    document = json.loads(json.dumps(VALID_STATE))
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return document


def _check_state(body: bytes) -> None:
    try:
        state = ArtifactState.from_bytes(body, "s3://fuzzed/app/state.json")
    except CorruptRecordError as error:
        assert "s3://fuzzed/app/state.json" in str(error)
        return
    # a decoded state is valid: whole numbers in range, and it encodes again as it reads
    for number in (state.hwm, state.seq):
        assert type(number) is int and number >= 0
    for n, entry in state.versions.items():
        assert type(n) is int and 1 <= n <= 999_999
        assert type(entry.size) is int and entry.size >= 0
    for alias in state.aliases.values():
        assert type(alias.seq) is int and alias.seq >= 0
    again = ArtifactState.from_bytes(state.to_bytes(), "again")
    assert again.to_bytes() == state.to_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(STATE_PATHS), value=VALUES)
@example(path=["hwm"], value=math.inf)
def test_state_decoder_on_a_valid_document_with_one_value_replaced(
    path: list[str], value: Any
) -> None:
    _check_state(json.dumps(_replaced(path, value)).encode())


@settings(max_examples=200, deadline=None)
@given(document=VALUES)
def test_state_decoder_on_arbitrary_json(document: Any) -> None:
    _check_state(json.dumps(document).encode())


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=40) | st.sampled_from([b"1e400", b"[Infinity]", b"NaN"]))
def test_state_decoder_on_arbitrary_bytes(body: bytes) -> None:
    _check_state(body)


VALID_ALIAS: dict[str, Any] = {
    "name": NAME,
    "alias": "prod",
    "update_at": "2026-01-01T00:00:00+00:00",
    "version": "1",
    "secondary_version": "2",
    "secondary_version_weight": 10,
    "version_s3uri": "s3://b/app/versions/999999_000001.bin",
    "secondary_version_s3uri": "s3://b/app/versions/999998_000002.bin",
}
LAYOUT = S3OnlyLayout("fuzzed", "artifacts", ".bin", TransferSettings(16, 8, 1, 16))


def _check_alias(body: bytes) -> None:
    document = _s3.Document(body, '"etag"', {}, datetime(2026, 1, 1, tzinfo=UTC))
    try:
        record = LAYOUT.aliases.parse(NAME, "prod", document)
    except CorruptRecordError as error:
        assert "prod" in str(error)
        return
    for number in (record.version, record.secondary_version, record.secondary_version_weight):
        assert number is None or number == "LATEST" or type(number) is int
    assert record.update_at.year >= 1 and not math.isnan(record.update_at.timestamp())


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(VALID_ALIAS)), value=VALUES)
def test_alias_decoder_on_a_valid_document_with_one_value_replaced(field: str, value: Any) -> None:
    _check_alias(json.dumps({**VALID_ALIAS, field: value}).encode())


@settings(max_examples=200, deadline=None)
@given(document=VALUES)
def test_alias_decoder_on_arbitrary_json(document: Any) -> None:
    _check_alias(json.dumps(document).encode())


# ---------------------------------------------------------------- older releases' documents
def test_a_state_written_by_an_older_release_decodes_and_its_purge_mark_expires() -> None:
    """Older releases wrote no ``check`` on entries and a bare ``purging`` token: their
    entries are used as before, and their mark's deadline is the state's LastModified plus
    the lease (their purges are settled once that has passed)."""
    document = json.loads(json.dumps(VALID_STATE))
    document["purging"] = "an-old-token"
    state = ArtifactState.from_bytes(json.dumps(document).encode(), "old")
    assert state.versions[1].check is None and state.versions[1].trusted
    stored_at = datetime(2026, 1, 1, tzinfo=UTC)
    assert state.purge_deadline(stored_at) == stored_at + timedelta(seconds=PURGE_LEASE_SECS)
    again = json.loads(state.to_bytes())
    assert again["purging"] == "an-old-token" and again["versions"]["1"]["check"]


def test_an_edited_entry_stays_untrusted_when_the_document_is_stored_again() -> None:
    state = ArtifactState.from_bytes(json.dumps(VALID_STATE).encode(), "fresh")
    state = ArtifactState.from_bytes(state.to_bytes(), "stored")  # now with a check
    assert state.versions[1].trusted
    document = json.loads(state.to_bytes())
    document["versions"]["1"]["sha256"] = "b" * 64
    edited = ArtifactState.from_bytes(json.dumps(document).encode(), "edited")
    assert not edited.versions[1].trusted
    assert not ArtifactState.from_bytes(edited.to_bytes(), "again").versions[1].trusted
