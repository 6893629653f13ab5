"""Resume after a kill at 50% (bytes re-sent): a put of a large file in a worker process
is SIGKILLed once half its bytes are sent, then ``put_artifact(..., resume=True)`` runs
in this process; the row says how many bytes the resume sent again, next to a full put
of the same file.

Usage: python benchmarks/resume.py [--size-mib 256] [--part-mib 8] [--workers 6]

Requests go to a local moto server. The worker is the chaos suite's
(``tests/_chaosworker.py``, op ``put_file``); bytes are the Content-Length of each
UploadPart the resuming session sent (``_testkit.RequestCounter``). S3 + DynamoDB runs
with ``lease_secs=1``: the killed put still holds LATEST's write turn, which the resume
skips once the lease passed (30 s by default).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import shutil
import sys
import tempfile
import time
from typing import Any

import _harness  # noqa: F401  (puts tests/ on sys.path for the kits)
from _chaoskit import Ops, Place, workers
from _testkit import RequestCounter, make_session, moto_server, unique

MiB = 1024 * 1024
NAME = "model"
UPLOAD_PART = "s3.UploadPart"


def place_of(kind: str, part_size: int, max_workers: int) -> Place:
    options: dict[str, Any] = {
        "multipart_threshold": part_size,
        "part_size": part_size,
        "max_workers": max_workers,
    }
    if kind == "s3_dynamodb":
        options["lease_secs"] = 1
    table = unique("tbl") if kind == "s3_dynamodb" else None
    return Place(kind, unique("bkt"), table=table).with_options(**options)


def killed_then_resumed(kind: str, url: str, path: pathlib.Path, args: Any) -> dict[str, Any]:
    size = path.stat().st_size
    place = place_of(kind, args.part_mib * MiB, args.workers)
    Ops(place, make_session(url)).bootstrap()
    with workers(1) as (worker,):
        worker.send(place, url, "put_file", name=NAME, path=str(path), hang_at=size // 2)
        reached = worker.result(300)
        assert reached is not None and "reached" in reached, reached
        worker.kill()  # SIGKILL, half-way
    bsm = make_session(url)
    counter = RequestCounter.attach(bsm)
    start = time.perf_counter()
    artifact = Ops(place, bsm).put(NAME, path, resume=True)
    resume_s = time.perf_counter() - start
    assert artifact.sha256 == sha256_of(path), "the resumed put stored other bytes"
    fresh = Ops(place, make_session(url))
    start = time.perf_counter()
    fresh.put("full", path)
    return {
        "kind": kind,
        "killed_at": int(reached["reached"]),
        "parts": -(-size // (args.part_mib * MiB)),
        "resent_parts": counter.operations.count(UPLOAD_PART),
        "resent_bytes": counter.sent_bytes(UPLOAD_PART),
        "size": size,
        "resume_s": resume_s,
        "full_s": time.perf_counter() - start,
    }


def sha256_of(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(8 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def report(rows: list[dict[str, Any]], args: Any) -> None:
    print(
        f"resume after a kill at 50% (bytes re-sent): {args.size_mib} MiB file, "
        f"{args.part_mib} MiB parts, {args.workers} sending threads, local moto server"
    )
    header = (
        f"{'layout':<12} {'killed at MiB':>13} {'parts re-sent':>13} {'bytes re-sent':>13} "
        f"{'of total':>8} {'resume s':>8} {'full put s':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        share = row["resent_bytes"] / row["size"]
        print(
            f"{row['kind']:<12} {row['killed_at'] / MiB:>13.0f} "
            f"{row['resent_parts']:>6} of {row['parts']:<4} {row['resent_bytes']:>13} "
            f"{share:>8.1%} {row['resume_s']:>8.2f} {row['full_s']:>10.2f}"
        )
    print(
        "bytes re-sent = the UploadPart bodies of the resume: the parts the killed put had "
        "not finished (in flight when it died, or never started)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--part-mib", type=int, default=8)
    parser.add_argument("--workers", type=int, default=6)
    args = parser.parse_args()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="versioned-resume-"))
    os.environ["VERSIONED_STATE_DIR"] = str(workdir / "state")  # workers inherit it
    try:
        path = workdir / "model.bin"
        with path.open("wb") as stream:
            for _ in range(args.size_mib):
                stream.write(os.urandom(MiB))
        with moto_server() as url:
            rows = [
                killed_then_resumed(kind, url, path, args) for kind in ("s3_only", "s3_dynamodb")
            ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
