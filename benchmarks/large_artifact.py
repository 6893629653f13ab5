"""The large-artifact target: put from a path, publish, download; peak RSS and time.

Usage: python benchmarks/large_artifact.py [--size-mib 1024]

The parent writes a file of random data (in chunks), runs the moto server, and starts one
child process per measurement so each peak RSS (ru_maxrss) is that measurement's own:
the library's S3-only backend, its S3 + DynamoDB backend, and boto3's own
upload_file + download_file of the same file to the same endpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

import _harness  # noqa: F401  (puts tests/ on sys.path for _testkit)
from _testkit import make_session, moto_server

BUCKET = "versioned-large"
TABLE = "versioned-large"
NAME = "big"
CHUNK = 8 * 1024 * 1024
RSS_TARGET_MIB = 150
RATIO_TARGET = 1.0  # issue 19: no slower than boto3 upload_file + download_file


def make_repo(kind: str) -> Any:
    from versioned import s3_and_dynamodb_backend, s3_only_backend

    if kind == "s3-only":
        return s3_only_backend.Repository(
            aws_region="us-east-1", s3_bucket=BUCKET, s3_prefix="s3only"
        )
    return s3_and_dynamodb_backend.Repository(
        aws_region="us-east-1", s3_bucket=BUCKET, s3_prefix="ddb", dynamodb_table_name=TABLE
    )


def add_latency(bsm: Any, latency_ms: float) -> None:
    """Every request of the session's clients waits ``latency_ms`` before it is sent: a
    round trip's latency on loopback, the same for boto3 and the library (each thread that
    sends waits its own). Bandwidth is not limited."""
    if latency_ms <= 0:
        return

    def wait(**_: Any) -> None:
        time.sleep(latency_ms / 1000)  # returns None: the request is sent as built

    bsm.boto_ses.events.register("before-send", wait)


def child(kind: str, url: str, source: str, target: str, latency_ms: float) -> dict[str, Any]:
    bsm = make_session(url)
    add_latency(bsm, latency_ms)
    result: dict[str, Any] = {"kind": kind}
    if kind == "boto3":
        s3 = bsm.boto_ses.client("s3", endpoint_url=url)
        start = time.perf_counter()
        s3.upload_file(source, BUCKET, "boto3/big.bin")
        result["put_s"] = time.perf_counter() - start
        result["put_peak_rss_mib"] = vm_hwm_mib()
        result["publish_s"] = 0.0
        start = time.perf_counter()
        s3.download_file(BUCKET, "boto3/big.bin", target)
        result["download_s"] = time.perf_counter() - start
    else:
        repo = make_repo(kind)
        start = time.perf_counter()
        repo.put_artifact(bsm=bsm, name=NAME, content=pathlib.Path(source))
        result["put_s"] = time.perf_counter() - start
        result["put_peak_rss_mib"] = vm_hwm_mib()
        start = time.perf_counter()
        artifact = repo.publish_artifact_version(bsm=bsm, name=NAME)
        result["publish_s"] = time.perf_counter() - start
        start = time.perf_counter()
        artifact.download(bsm=bsm, path=target)
        result["download_s"] = time.perf_counter() - start
        result["version"] = artifact.version
    result["downloaded_bytes"] = os.path.getsize(target)
    # ru_maxrss survives exec on Linux (it can report the parent's RSS at fork time), so
    # the process's own high-water mark VmHWM is the peak RSS used; both are reported.
    result["ru_maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["peak_rss_mib"] = vm_hwm_mib()
    return result


def vm_hwm_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_random(path: str, size: int) -> None:
    with open(path, "wb") as stream:
        left = size
        while left:
            n = min(CHUNK, left)
            stream.write(os.urandom(n))
            left -= n


def run_child(kind: str, url: str, source: str, target: str, latency_ms: float) -> dict[str, Any]:
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        kind,
        "--url",
        url,
        "--source",
        source,
        "--target",
        target,
        "--latency-ms",
        str(latency_ms),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"kind": kind, "error": done.stderr.strip().splitlines()[-1:] or ["?"]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--child", choices=["s3-only", "s3+ddb", "boto3"])
    parser.add_argument("--url")
    parser.add_argument("--source")
    parser.add_argument("--target")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="every request waits this long before it is sent (a round trip's latency)",
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.url, args.source, args.target, args.latency_ms)))
        return 0

    size = args.size_mib * 1024 * 1024
    workdir = tempfile.mkdtemp(prefix="versioned-large-")
    results: list[dict[str, Any]] = []
    try:
        source = os.path.join(workdir, "source.bin")
        write_random(source, size)
        with moto_server() as url:
            bsm = make_session(url)
            for kind in ("s3-only", "s3+ddb"):
                make_repo(kind).bootstrap(bsm=bsm)
            for kind in ("boto3", "s3-only", "s3+ddb"):
                target = os.path.join(workdir, f"download-{kind}.bin")
                results.append(run_child(kind, url, source, target, args.latency_ms))
                if os.path.exists(target):
                    os.remove(target)
                # free the server's copies before the next measurement
                if kind == "boto3":
                    bsm.s3_client.delete_object(Bucket=BUCKET, Key="boto3/big.bin")
                else:
                    make_repo(kind).purge_artifact(bsm=bsm, name=NAME)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        f"large artifact: {args.size_mib} MiB ({size} bytes) of random data, local moto "
        f"server in the parent, one child process per row, {args.latency_ms:g} ms per request"
    )
    header = (
        f"{'client':<8} {'size MiB':>8} {'peak RSS MiB':>12} {'put s':>7} "
        f"{'publish s':>9} {'download s':>10} {'put+dl s':>8} {'ratio':>6} "
        f"{'ru_maxrss':>9} {'put peak':>8}  checks"
    )
    print(header)
    print("-" * len(header))
    baseline = next((r for r in results if r["kind"] == "boto3" and "error" not in r), None)
    base_time = baseline["put_s"] + baseline["download_s"] if baseline else None
    missed = []
    for r in results:
        if "error" in r:
            print(f"{r['kind']:<8} ERROR: {r['error']}")
            missed.append(f"{r['kind']} failed: {r['error']}")
            continue
        total = r["put_s"] + r["download_s"]
        ratio = total / base_time if base_time else float("nan")
        checks = []
        if r["downloaded_bytes"] != size:
            checks.append(f"downloaded {r['downloaded_bytes']} bytes")
            missed.append(f"{r['kind']} downloaded {r['downloaded_bytes']} of {size} bytes")
        if r["kind"] != "boto3":
            rss_ok = r["peak_rss_mib"] <= RSS_TARGET_MIB
            ratio_ok = ratio <= RATIO_TARGET
            checks.append(f"RSS<={RSS_TARGET_MIB} {'PASS' if rss_ok else 'FAIL'}")
            checks.append(f"ratio<={RATIO_TARGET} {'PASS' if ratio_ok else 'FAIL'}")
            if not rss_ok:
                missed.append(f"{r['kind']} peak RSS {r['peak_rss_mib']:.0f} MiB")
            if not ratio_ok:
                missed.append(f"{r['kind']} ratio {ratio:.2f}")
        print(
            f"{r['kind']:<8} {args.size_mib:>8} {r['peak_rss_mib']:>12.1f} "
            f"{r['put_s']:>7.2f} {r['publish_s']:>9.2f} {r['download_s']:>10.2f} "
            f"{total:>8.2f} {ratio:>6.2f} {r['ru_maxrss_mib']:>9.1f} "
            f"{r['put_peak_rss_mib']:>8.1f}  {', '.join(checks)}"
        )
    print(
        "ratio = (put + download) / (boto3 upload_file + download_file); peak RSS = the "
        "child's VmHWM; ru_maxrss = getrusage(RUSAGE_SELF) in the child (includes what the "
        "parent held at fork)"
    )
    print("ALL TARGETS MET" if not missed else "TARGETS MISSED: " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
