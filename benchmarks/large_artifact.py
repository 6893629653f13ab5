"""The large-artifact target (issue 19): a put from a path and a download to a path, ours
against raw boto3 ``upload_file`` / ``download_file`` (default TransferConfig), with the
peak RSS of each.

Usage: python benchmarks/large_artifact.py [--size-mib 1024] [--latencies 0,20]
       [--clients boto3,s3-only,s3+ddb] [--ops put,download] [--rounds 1] [--publish]

The parent writes a file of random data, runs a moto server in a process of its own, and
for each latency above 0 puts a delaying proxy in front of it (tests/_faultproxy.py, a
``delay`` rule on every request: a round trip, as versus_seed.py does). Each operation of
each client runs in a child process of its own, so its peak RSS (the child's VmHWM:
``ru_maxrss`` can carry the parent's RSS at fork) is that operation's alone: first
the put (boto3: upload_file), then the download of what it stored (boto3:
download_file; ours: ``Artifact.download`` of LATEST, or of the published version with
``--publish``). The clients of one latency run A-B-C in the order given, ``--rounds``
times; the fastest round of each is kept (the machine is shared: the slower rounds are
the ones other processes disturbed), with the highest peak RSS of all rounds.
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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import _harness  # noqa: F401  (puts tests/ on sys.path for _testkit)
from _faultproxy import FaultProxy
from _testkit import free_port, make_session

BUCKET = "versioned-large"
TABLE = "versioned-large"
NAME = "big"
BOTO3_KEY = "boto3/big.bin"
CHUNK = 8 * 1024 * 1024
RSS_TARGET_MIB = 150
RATIO_TARGET = 1.0  # issue 19: no slower than boto3 upload_file / download_file
CLIENTS = ("boto3", "s3-only", "s3+ddb")


def make_repo(kind: str) -> Any:
    """The library's repository of either layout; ``VERSIONED_BENCH_WORKERS`` in the
    environment overrides ``max_workers`` (to compare settings)."""
    from versioned import s3_and_dynamodb_backend, s3_only_backend

    settings: dict[str, Any] = {}
    if os.environ.get("VERSIONED_BENCH_WORKERS"):
        settings["max_workers"] = int(os.environ["VERSIONED_BENCH_WORKERS"])
    if kind == "s3-only":
        return s3_only_backend.Repository(
            aws_region="us-east-1", s3_bucket=BUCKET, s3_prefix="s3only", **settings
        )
    return s3_and_dynamodb_backend.Repository(
        aws_region="us-east-1",
        s3_bucket=BUCKET,
        s3_prefix="ddb",
        dynamodb_table_name=TABLE,
        **settings,
    )


def vm_hwm_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, op: str, url: str, source: str, target: str, publish: bool) -> dict[str, Any]:
    """One operation of one client; its time, and the process's peak RSS afterwards."""
    bsm = make_session(url)
    result: dict[str, Any] = {"kind": kind, "op": op}
    cpu_before = cpu_seconds()
    if kind == "boto3":
        s3 = bsm.boto_ses.client("s3", endpoint_url=url)
        start = time.perf_counter()
        if op == "put":
            s3.upload_file(source, BUCKET, BOTO3_KEY)
        else:
            s3.download_file(BUCKET, BOTO3_KEY, target)
        result["s"] = time.perf_counter() - start
    else:
        repo = make_repo(kind)
        if op == "put":
            start = time.perf_counter()
            repo.put_artifact(bsm=bsm, name=NAME, content=pathlib.Path(source))
            result["s"] = time.perf_counter() - start
            if publish:
                start = time.perf_counter()
                repo.publish_artifact_version(bsm=bsm, name=NAME)
                result["publish_s"] = time.perf_counter() - start
        else:
            artifact = repo.get_artifact_version(bsm=bsm, name=NAME, version=None)
            if publish:
                artifact = repo.get_artifact_version(bsm=bsm, name=NAME, version=1)
            start = time.perf_counter()
            artifact.download(bsm=bsm, path=target)
            result["s"] = time.perf_counter() - start
    result["cpu_s"] = cpu_seconds() - cpu_before
    if op == "download":
        result["bytes"] = os.path.getsize(target)
    result["peak_rss_mib"] = vm_hwm_mib()
    return result


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of a process (every thread), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_random(path: str, size: int) -> None:
    with open(path, "wb") as stream:
        left = size
        while left:
            n = min(CHUNK, left)
            stream.write(os.urandom(n))
            left -= n


def run_child(
    kind: str, op: str, url: str, source: str, target: str, publish: bool
) -> dict[str, Any]:
    command = [sys.executable, os.path.abspath(__file__), "--child", kind, "--op", op]
    command += ["--url", url, "--source", source, "--target", target]
    command += ["--publish"] if publish else []
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"kind": kind, "op": op, "error": done.stderr.strip().splitlines()[-1:] or ["?"]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@contextmanager
def moto_process() -> Iterator[tuple[str, int]]:
    """A moto server (S3 and DynamoDB) in a process of its own: the proxy in this process
    and the server do not share an interpreter lock."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        bsm = make_session(url)
        for _ in range(300):
            try:
                bsm.s3_client.list_buckets()
                break
            except Exception:  # not up yet
                time.sleep(0.1)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(30)


SERVE = """
import logging, sys, threading
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)
ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False).start()
threading.Event().wait()
"""


@contextmanager
def endpoint(server: str, latency_ms: float) -> Iterator[tuple[str, FaultProxy | None]]:
    if latency_ms <= 0:
        yield server, None
        return
    with FaultProxy(server) as proxy:
        proxy.add("delay", delay=latency_ms / 1000, times=None)
        yield proxy.url, proxy


def measure(
    server: str, server_pid: int, workdir: str, source: str, latency_ms: float, args: Any
) -> list[dict[str, Any]]:
    """Every client's operations at one latency, ``--rounds`` times A-B-C; per client and
    operation the fastest round is kept (with the highest peak RSS of all rounds)."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    bsm = make_session(server)
    with endpoint(server, latency_ms) as (url, proxy):
        for _ in range(args.rounds):
            for kind in args.clients.split(","):
                target = os.path.join(workdir, f"download-{kind}.bin")
                for op in args.ops.split(","):
                    server_cpu = cpu_seconds(server_pid)
                    row = run_child(kind, op, url, source, target, args.publish)
                    row["server_cpu_s"] = cpu_seconds(server_pid) - server_cpu
                    row["latency_ms"] = latency_ms
                    row["requests"] = len(proxy.seen()) if proxy else None
                    print(f"# {json.dumps(row)}", file=sys.stderr, flush=True)
                    if proxy:
                        proxy.reset_log()  # it keeps every request's body
                    kept = best.get((kind, op))
                    if kept is None or "error" in kept or row.get("s", 1e9) < kept["s"]:
                        peak = max(row.get("peak_rss_mib", 0), (kept or {}).get("peak_rss_mib", 0))
                        best[(kind, op)] = {**row, "peak_rss_mib": peak}
                    else:
                        kept["peak_rss_mib"] = max(kept["peak_rss_mib"], row["peak_rss_mib"])
                if os.path.exists(target):
                    os.remove(target)
                # free the server's copies before the next measurement
                if kind == "boto3":
                    bsm.s3_client.delete_object(Bucket=BUCKET, Key=BOTO3_KEY)
                else:
                    make_repo(kind).purge_artifact(bsm=bsm, name=NAME)
    return list(best.values())


def report(rows: list[dict[str, Any]], size: int, args: Any) -> None:
    print(
        f"large artifact: {args.size_mib} MiB of random data, moto server in its own "
        "process, delaying proxy per latency, one child process per operation"
    )
    header = (
        f"{'latency':>7} {'op':<8} {'client':<8} {'s':>7} {'vs boto3':>8} "
        f"{'MiB/s':>7} {'peak RSS MiB':>12} {'requests':>8} {'cpu s':>6} {'server cpu':>10}  checks"
    )
    print(header)
    print("-" * len(header))
    missed = []
    for row in rows:
        where = f"{row['latency_ms']:>7g} {row['op']:<8} {row['kind']:<8}"
        if "error" in row:
            print(f"{where} ERROR: {row['error']}")
            missed.append(f"{row['kind']} {row['op']} @{row['latency_ms']:g} ms failed")
            continue
        base = next(
            (
                r
                for r in rows
                if r["kind"] == "boto3"
                and r["op"] == row["op"]
                and r["latency_ms"] == row["latency_ms"]
                and "error" not in r
            ),
            None,
        )
        ratio = row["s"] / base["s"] if base else float("nan")
        checks = []
        if row["op"] == "download" and row.get("bytes") != size:
            checks.append(f"downloaded {row.get('bytes')} bytes")
            missed.append(f"{row['kind']} downloaded {row.get('bytes')} of {size} bytes")
        if row["kind"] != "boto3":
            rss_ok = row["peak_rss_mib"] <= RSS_TARGET_MIB
            ratio_ok = ratio <= RATIO_TARGET
            checks.append(f"RSS {'PASS' if rss_ok else 'FAIL'}")
            checks.append(f"time {'PASS' if ratio_ok else 'FAIL'}")
            label = f"{row['kind']} {row['op']} @{row['latency_ms']:g} ms"
            if not rss_ok:
                missed.append(f"{label} peak RSS {row['peak_rss_mib']:.0f} MiB")
            if not ratio_ok:
                missed.append(f"{label} {ratio:.2f}x boto3")
        requests = "-" if row["requests"] is None else str(row["requests"])
        print(
            f"{where} {row['s']:>7.2f} {ratio:>8.2f} {args.size_mib / row['s']:>7.1f} "
            f"{row['peak_rss_mib']:>12.1f} {requests:>8} {row.get('cpu_s', 0):>6.2f} "
            f"{row.get('server_cpu_s', 0):>10.2f}  {', '.join(checks)}"
        )
    print(
        f"vs boto3 = time / boto3's time for the same operation and latency (target <= "
        f"{RATIO_TARGET}); peak RSS = the child's VmHWM (target <= {RSS_TARGET_MIB} MiB); "
        "requests = requests the proxy saw; cpu s = the child's CPU time for the operation "
        "(user + system, every thread: what a loaded machine charges), server cpu = the moto "
        "server's meanwhile"
    )
    print("ALL TARGETS MET" if not missed else "TARGETS MISSED: " + "; ".join(missed))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--latencies", default="0,20", help="ms per request, comma-separated")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--ops", default="put,download", help="put,download or put")
    parser.add_argument("--rounds", type=int, default=1, help="A-B-C rounds; fastest kept")
    parser.add_argument("--publish", action="store_true", help="publish, download version 1")
    parser.add_argument("--child", choices=CLIENTS)
    parser.add_argument("--op", choices=["put", "download"])
    parser.add_argument("--url")
    parser.add_argument("--source")
    parser.add_argument("--target")
    args = parser.parse_args()
    if args.child:
        result = child(args.child, args.op, args.url, args.source, args.target, args.publish)
        print(json.dumps(result))
        return 0

    size = args.size_mib * 1024 * 1024
    workdir = tempfile.mkdtemp(prefix="versioned-large-")
    rows: list[dict[str, Any]] = []
    try:
        source = os.path.join(workdir, "source.bin")
        write_random(source, size)
        with moto_process() as (server, server_pid):
            bsm = make_session(server)
            for kind in ("s3-only", "s3+ddb"):
                make_repo(kind).bootstrap(bsm=bsm)
            for latency in (float(x) for x in args.latencies.split(",")):
                rows += measure(server, server_pid, workdir, source, latency, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(rows, size, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
