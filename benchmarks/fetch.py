"""Consumer figures of ``Repository.fetch`` through the local cache.

Usage: python benchmarks/fetch.py [--size-mib 1024] [--shared-mib 200] [--processes 8]

Prints, against a local moto server (S3-only layout unless --backend s3+ddb):

1. warm fetch: requests and content bytes of a fetch whose alias did not change, and of
   a cached version number (the same process, and a new repository object);
2. cold fetch of --size-mib MiB against boto3's ``download_file`` of the same object in
   the same run (target: at most 1.1x its time), and against one streamed ``get_object``
   (moto serves each ranged GET of a large object slowly, which ``download_file``'s
   parallel ranges pay for), with each one's peak RSS (target: at most 150 MiB), one
   child process per measurement;
3. --processes processes fetching one cold --shared-mib MiB artifact into one shared
   cache at once: content bytes transferred in total (target: one copy) and corrupt
   results (target: 0);
4. resume after a kill at 50%: the bytes sent again by the fetch that resumes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

import _harness  # noqa: F401  (puts tests/ on sys.path for _testkit)
from _harness import make_repository
from _testkit import RequestCounter, make_session, moto_server
from boto_session_manager import BotoSesManager

BUCKET = "versioned-fetch"
TABLE = "versioned-fetch"
CHUNK = 8 * 1024 * 1024
MiB = 1024 * 1024
RSS_TARGET_MIB = 150
RATIO_TARGET = 1.1


class ContentBytes:
    """Counts the bytes of object bodies (GET 200/206) a session receives (of the object
    ``key`` only, when given: not the repository record or alias documents)."""

    def __init__(self, bsm: BotoSesManager, key: str | None = None) -> None:
        self.bytes = 0
        self.key = key
        bsm.boto_ses.events.register("after-call.s3.GetObject", self)

    def __call__(self, http_response: Any, **_: Any) -> None:
        if http_response is None or http_response.status_code not in (200, 206):
            return
        if self.key is None or str(http_response.url).endswith(self.key):
            self.bytes += int(http_response.headers.get("content-length", 0))


def write_random(path: str, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as stream:
        left = size
        while left:
            data = os.urandom(min(CHUNK, left))
            stream.write(data)
            digest.update(data)
            left -= len(data)
    return digest.hexdigest()


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while data := stream.read(CHUNK):
            digest.update(data)
    return digest.hexdigest()


def vm_hwm_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


# ------------------------------------------------------------------ children
def child(args: argparse.Namespace) -> dict[str, Any]:
    """One measurement in a process of its own (see main for the kinds)."""
    bsm = make_session(args.url)
    counted = ContentBytes(bsm, args.key)
    result: dict[str, Any] = {"kind": args.child}
    if args.child in ("boto3", "boto3-get"):
        start = time.perf_counter()  # both sides build their clients inside the timing
        s3 = bsm.boto_ses.client("s3", endpoint_url=args.url)
        target = os.path.join(args.cache, "boto3.bin")
        if args.child == "boto3":
            s3.download_file(BUCKET, args.key, target)
        else:  # one streamed GET, no ranges: what a single-stream client does
            body = s3.get_object(Bucket=BUCKET, Key=args.key)["Body"]
            with open(target, "wb") as out:
                for chunk in body.iter_chunks(MiB):
                    out.write(chunk)
        result["seconds"] = time.perf_counter() - start
        result["sha256"] = sha256_of(target)
    else:
        repo = make_repository(args.backend, bsm, BUCKET, TABLE)
        if args.wait:
            print(json.dumps({"ready": True}), flush=True)
            sys.stdin.readline()
        progress = None
        if args.hang_at:

            def progress(done: int, total: int) -> None:
                if done >= args.hang_at:
                    print(json.dumps({"reached": done}), flush=True)
                    time.sleep(3600)  # killed here by the parent

        start = time.perf_counter()
        path = repo.fetch(
            bsm=bsm, name=args.name, version=1, cache_dir=args.cache, progress=progress
        )
        result["seconds"] = time.perf_counter() - start
        result["sha256"] = sha256_of(path)
    result["content_bytes"] = counted.bytes
    result["peak_rss_mib"] = vm_hwm_mib()
    return result


def spawn(common: list[str], kind: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), *common, "--child", kind, *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def last_json(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=1800)
    if process.returncode != 0:
        return {"error": (err.strip().splitlines() or ["?"])[-1]}
    return dict(json.loads(out.strip().splitlines()[-1]))


# ------------------------------------------------------------------ measurements
def publish(repo: Any, bsm: BotoSesManager, name: str, source: str) -> None:
    repo.put_artifact(bsm=bsm, name=name, content=pathlib.Path(source))
    repo.publish_artifact_version(bsm=bsm, name=name)
    repo.put_alias(bsm=bsm, name=name, alias="prod", version=1)


def warm(backend: str, url: str, workdir: str) -> list[str]:
    bsm = make_session(url)
    counter, counted = RequestCounter.attach(bsm), ContentBytes(bsm)
    repo = make_repository(backend, bsm, BUCKET, TABLE)
    source = os.path.join(workdir, "warm.bin")
    write_random(source, MiB)
    publish(repo, bsm, "warm", source)
    cache = os.path.join(workdir, "warm-cache")
    lines = []
    for label, selector in (("alias unchanged", {"alias": "prod"}), ("version 1", {"version": 1})):
        repo.fetch(bsm=bsm, name="warm", cache_dir=cache, **selector)
        counter.reset()
        counted.bytes = 0
        repo.fetch(bsm=bsm, name="warm", cache_dir=cache, **selector)
        lines.append(f"warm fetch, {label}: {counter.calls} request(s), {counted.bytes} bytes")
    fresh_bsm = make_session(url)
    fresh_counter = RequestCounter.attach(fresh_bsm)
    fresh = make_repository(backend, fresh_bsm, BUCKET, TABLE)
    fresh_counter.reset()
    fresh.fetch(bsm=fresh_bsm, name="warm", alias="prod", cache_dir=cache)
    lines.append(f"warm fetch, alias, new repository object: {fresh_counter.calls} request(s)")
    return lines


def cold(common: list[str], workdir: str, size: int, digest: str, key: str) -> list[str]:
    lines, missed = [], []
    results = {}
    for kind in ("boto3", "boto3-get", "fetch"):
        cache = tempfile.mkdtemp(dir=workdir)
        extra = ["--name", "big", "--cache", cache, "--key", key]
        results[kind] = last_json(spawn(common, kind, *extra))
        shutil.rmtree(cache, ignore_errors=True)
    for kind, r in results.items():
        if "error" in r:
            lines.append(f"cold {kind}: ERROR {r['error']}")
            missed.append(kind)
            continue
        ok = r["sha256"] == digest
        lines.append(
            f"cold {kind:<9} {size // MiB} MiB: {r['seconds']:.2f} s, peak RSS "
            f"{r['peak_rss_mib']:.0f} MiB, {r['content_bytes']} content bytes, "
            f"{'correct' if ok else 'CORRUPT'}"
        )
    if not missed:
        ratio = results["fetch"]["seconds"] / results["boto3"]["seconds"]
        single = results["fetch"]["seconds"] / results["boto3-get"]["seconds"]
        rss = results["fetch"]["peak_rss_mib"]
        lines.append(
            f"cold fetch / boto3 download_file: {ratio:.2f}x "
            f"({'PASS' if ratio <= RATIO_TARGET else 'FAIL'} <= {RATIO_TARGET}); "
            f"/ one streamed get_object: {single:.2f}x; peak RSS "
            f"{rss:.0f} MiB ({'PASS' if rss <= RSS_TARGET_MIB else 'FAIL'} <= {RSS_TARGET_MIB})"
        )
    return lines


def shared(
    common: list[str], workdir: str, processes: int, size: int, digest: str, key: str
) -> list[str]:
    cache = tempfile.mkdtemp(dir=workdir)
    started = [
        spawn(common, "fetch", "--name", "shared", "--cache", cache, "--wait", "--key", key)
        for _ in range(processes)
    ]
    for process in started:  # every interpreter ready before any fetch starts
        assert process.stdout is not None
        json.loads(process.stdout.readline())
    for process in started:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    results = [last_json(process) for process in started]
    errors = [r["error"] for r in results if "error" in r]
    total = sum(r.get("content_bytes", 0) for r in results)
    corrupt = sum(1 for r in results if "error" not in r and r["sha256"] != digest)
    return [
        f"{processes} processes, one cold {size // MiB} MiB artifact, one cache: "
        f"{total} content bytes in total ({total / size:.2f} copies; target 1), "
        f"{corrupt} corrupt results (target 0), {len(errors)} errors {errors[:1]}"
    ]


def resume(common: list[str], workdir: str, size: int, digest: str, key: str) -> list[str]:
    cache = tempfile.mkdtemp(dir=workdir)
    half = size // 2
    first = spawn(common, "fetch", "--name", "big", "--cache", cache, "--hang-at", str(half))
    assert first.stdout is not None
    reached = json.loads(first.stdout.readline())["reached"]
    first.kill()
    first.wait()
    partials = list(pathlib.Path(cache, "partial").glob("*.part"))
    kept = partials[0].stat().st_size if partials else 0
    second = last_json(spawn(common, "fetch", "--name", "big", "--cache", cache, "--key", key))
    if "error" in second:
        return [f"resume: ERROR {second['error']}"]
    resent = second["content_bytes"] - (size - kept)
    return [
        f"resume after a kill at {reached / size:.0%} ({kept} bytes kept on disk): the "
        f"resuming fetch received {second['content_bytes']} bytes, {resent} sent again; "
        f"{'correct' if second['sha256'] == digest else 'CORRUPT'}"
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--shared-mib", type=int, default=200)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--backend", choices=["s3-only", "s3+ddb"], default="s3-only")
    parser.add_argument("--child", choices=["fetch", "boto3", "boto3-get"])
    parser.add_argument("--url")
    parser.add_argument("--name")
    parser.add_argument("--key")
    parser.add_argument("--cache")
    parser.add_argument("--hang-at", type=int, default=0)
    parser.add_argument("--wait", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return 0
    workdir = tempfile.mkdtemp(prefix="versioned-fetch-")
    try:
        with moto_server() as url:
            bsm = make_session(url)
            repo = make_repository(args.backend, bsm, BUCKET, TABLE)
            size, shared_size = args.size_mib * MiB, args.shared_mib * MiB
            big = os.path.join(workdir, "big.bin")
            digest = write_random(big, size)
            publish(repo, bsm, "big", big)
            os.remove(big)
            shared_source = os.path.join(workdir, "shared.bin")
            shared_digest = write_random(shared_source, shared_size)
            publish(repo, bsm, "shared", shared_source)
            os.remove(shared_source)
            common = ["--url", url, "--backend", args.backend]
            print(f"fetch figures, {args.backend} layout, local moto server")
            lines = warm(args.backend, url, workdir)
            key = repo.get_artifact_version(bsm=bsm, name="big", version=1).s3path.key
            lines += cold(common, workdir, size, digest, key)
            shared_key = repo.get_artifact_version(bsm=bsm, name="shared", version=1).s3path.key
            lines += shared(common, workdir, args.processes, shared_size, shared_digest, shared_key)
            lines += resume(common, workdir, size, digest, key)
            print("\n".join(lines))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
