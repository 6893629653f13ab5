"""A download killed mid-way leaves no blob, and the next fetch resumes it with a ranged
GET from the partial file; a partial file that does not check out is started over."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Ops, new_place, workers
from _testkit import Endpoints, sha256_hex
from boto_session_manager import BotoSesManager

MiB = 1024 * 1024
NAME = "weights"
KINDS = ["s3_only", "s3_dynamodb"]


def _ranges(bsm: BotoSesManager) -> list[str | None]:
    """The Range header of each content GET the session sends from now on."""
    seen: list[str | None] = []

    def record(request: Any, **_: Any) -> None:
        if not request.url.endswith(".bin"):
            return  # the repository record or an alias, not content
        value = request.headers.get("Range")
        seen.append(value.decode() if isinstance(value, bytes) else value)

    bsm.boto_ses.events.register("before-send.s3.GetObject", record)
    return seen


def _published(kind: str, bsm: BotoSesManager, data: bytes) -> Ops:
    ops = Ops(new_place(kind), bsm)
    ops.bootstrap()
    ops.put(NAME, data)
    ops.publish(NAME)
    return ops


@pytest.mark.parametrize("kind", KINDS)
def test_a_killed_download_leaves_no_blob_and_the_next_fetch_resumes_it(
    kind: str,
    endpoints: Endpoints,
    make_bsm: Callable[..., BotoSesManager],
    cache_dir: pathlib.Path,
) -> None:
    data = os.urandom(8 * MiB)
    ops = _published(kind, make_bsm(), data)
    with workers(1) as (worker,):
        worker.send(
            ops.place,
            endpoints,
            "fetch",
            name=NAME,
            version=1,
            cache_dir=str(cache_dir),
            hang_at=4 * MiB,
        )
        reached = worker.result(60)
        assert reached is not None and reached.get("reached", 0) >= 4 * MiB, reached
        worker.kill()  # SIGKILL, mid-download
    assert not (cache_dir / "blobs").exists() or not any((cache_dir / "blobs").rglob("*"))
    (partial,) = (cache_dir / "partial").glob("*.part")
    kept = partial.stat().st_size
    assert 4 * MiB <= kept < len(data)

    bsm = make_bsm()
    ranges = _ranges(bsm)
    path = Ops(ops.place, bsm).fetch(NAME, version=1, cache_dir=cache_dir)
    assert path.read_bytes() == data and path.name == sha256_hex(data)
    assert ranges == [f"bytes={kept}-"]  # only the missing bytes were sent again
    assert not list((cache_dir / "partial").glob("*.part"))


@pytest.mark.parametrize("kind", KINDS)
def test_a_partial_file_that_does_not_check_out_is_started_over(
    kind: str, make_bsm: Callable[..., BotoSesManager], cache_dir: pathlib.Path
) -> None:
    data = os.urandom(2 * MiB)
    ops = _published(kind, make_bsm(), data)
    (cache_dir / "partial").mkdir(parents=True)
    (cache_dir / "partial" / f"{sha256_hex(data)}.left-over.part").write_bytes(b"\xff" * 1000)
    bsm = make_bsm()
    ranges = _ranges(bsm)
    path = Ops(ops.place, bsm).fetch(NAME, version=1, cache_dir=cache_dir)
    assert path.read_bytes() == data
    assert ranges == ["bytes=1000-", None]  # resumed, failed the check, downloaded whole
    assert not list((cache_dir / "partial").glob("*.part"))
