"""What ``resume`` accepts, and an interrupted put (Ctrl-C) in the same process: the
upload and its journal are kept, the error says how to resume, and the resume sends only
the parts the server lacks."""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Callable

import pytest
from _chaoskit import Ops, RawStore
from _testkit import RequestCounter, sha256_hex
from boto_session_manager import BotoSesManager
from click.testing import CliRunner
from test_resumable_uploads import (
    NAME,
    PART,
    PARTS,
    UPLOAD_PART,
    assert_latest_holds,
    small_parts,
    uploads,
)

from versioned.cli import cli
from versioned.exc import ValidationError


@pytest.fixture
def ops(make_bsm: Callable[..., BotoSesManager]) -> Ops:
    ops = Ops(small_parts("s3_only"), make_bsm())
    ops.bootstrap()
    return ops


def test_resume_with_bytes_is_refused_before_anything_is_sent(ops: Ops, raw_s3: object) -> None:
    with pytest.raises(ValidationError, match="file path"):
        ops.put(NAME, b"\0" * (2 * PART), resume=True)
    assert ops.versions(NAME) == []


def test_resume_must_be_a_bool(ops: Ops, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "small.bin"
    path.write_bytes(b"small")
    with pytest.raises(TypeError, match="resume must be a bool"):
        ops.put(NAME, path, resume="yes")


def test_resume_of_a_small_file_or_with_no_journal_is_a_plain_put(
    ops: Ops, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERSIONED_STATE_DIR", str(tmp_path / "state"))
    small, large = tmp_path / "small.bin", tmp_path / "large.bin"
    small.write_bytes(b"small")
    large.write_bytes(os.urandom(PART + 1))
    assert ops.put(NAME, small, resume=True).sha256 == sha256_hex(b"small")
    assert ops.put(NAME, large, resume=True).sha256 == sha256_hex(large.read_bytes())
    assert not list((tmp_path / "state" / "uploads").glob("*.json"))


def test_ctrl_c_keeps_the_upload_and_says_how_to_resume(
    make_bsm: Callable[..., BotoSesManager],
    raw_s3: object,
    raw_dynamodb: object,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VERSIONED_STATE_DIR", str(tmp_path / "state"))
    ops = Ops(small_parts("s3_only"), make_bsm())
    ops.bootstrap()
    path = tmp_path / "model.bin"
    path.write_bytes(os.urandom(PARTS * PART - 4 * 1024 * 1024))

    def interrupt(done: int, total: int) -> None:
        if done >= 2 * PART:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as caught:
        ops.put(NAME, path, progress=interrupt)
    assert any("resume=True" in note for note in getattr(caught.value, "__notes__", []))
    (journal,) = (tmp_path / "state" / "uploads").glob("*.json")
    assert len(json.loads(journal.read_text())["parts"]) == 2
    assert len(uploads(raw_s3, ops.place.bucket)) == 1

    bsm = make_bsm()
    counter = RequestCounter.attach(bsm)
    Ops(ops.place, bsm).put(NAME, path, resume=True)
    assert counter.operations.count(UPLOAD_PART) == PARTS - 2
    assert_latest_holds(RawStore(raw_s3, raw_dynamodb), ops.place, path.read_bytes())
    assert uploads(raw_s3, ops.place.bucket) == []


def test_the_command_line_refuses_resume_from_stdin() -> None:
    result = CliRunner().invoke(cli, ["put", NAME, "-", "--resume"], input=b"data")
    assert result.exit_code == 2
    assert "--resume needs a FILE path" in result.output


def test_a_journal_held_by_a_running_put_is_not_shared(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second put of the same file to the same artifact, while the first runs, gets no
    journal (it uploads unjournaled) instead of taking the first one's upload over."""
    from versioned import _journal

    monkeypatch.setenv("VERSIONED_STATE_DIR", str(tmp_path / "state"))
    spot = _journal.spot({"bucket": "b", "root": "r"}, NAME, str(tmp_path / "f.bin"), False)
    first = _journal.open_journal(spot)
    assert first is not None
    assert _journal.open_journal(spot) is None
    first.close()
    again = _journal.open_journal(spot)
    assert again is not None
    again.close()
