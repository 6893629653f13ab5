"""Listing and purging at size: ``list_artifact_versions(limit=20)`` and the full listing of
an artifact of ``--n`` versions (10,000), and a purge of ``--purge`` versions (1,000), on
both layouts, through a proxy that holds every request ``--latency-ms`` (20).

Usage: python benchmarks/list_and_purge.py [--n 10000] [--purge 1000] [--latency-ms 20]

Fixtures are built fast, on the server directly: two versions published by the library,
then the others written raw in the layout's own format (S3-only: server-side copies of a
published version's object, then the state index rebuilt by the library from the listing,
as for an artifact the seed's library wrote; S3 + DynamoDB: version items like the
library's, and LATEST's item recording the newest number). Requests are counted by the
proxy; round trips = wall time / latency. Targets (issue 19): limit=20 within 2 round
trips; the full listing within 3 + N/1000; the purge within 10. Always exits 0.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from _harness import make_repository
from _testkit import make_session, moto_server, raw_client

if TYPE_CHECKING:
    from _faultproxy import FaultProxy

BUCKET = "versioned-scale"
TABLE = "versioned-scale"


def build(backend: str, repo: Any, bsm: Any, url: str, name: str, n: int) -> None:
    """``name`` with versions 1..n (1 and 2 published by the library)."""
    for j in (1, 2):
        repo.put_artifact(bsm=bsm, name=name, content=f"{name} {j}".encode())
        repo.publish_artifact_version(bsm=bsm, name=name)
    layout = repo._engine.layout  # the benchmark writes the layout's own keys
    s3 = raw_client(url, "s3")
    if backend == "s3-only":
        source = layout.version_key(name, 2)

        def copy(number: int) -> None:
            target = layout.version_key(name, number)
            s3.copy_object(Bucket=BUCKET, Key=target, CopySource={"Bucket": BUCKET, "Key": source})

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(copy, range(3, n + 1)))
        # no index: the library rebuilds it from the listing (HEADs) and stores it
        s3.delete_object(Bucket=BUCKET, Key=layout.place.state_key(name))
        repo.put_alias(bsm=bsm, name=name, alias="built", version=n)
        repo.delete_alias(bsm=bsm, name=name, alias="built")
        return
    ddb = raw_client(url, "dynamodb")
    template = ddb.get_item(TableName=TABLE, Key={"pk": {"S": name}, "sk": {"S": "000002"}})
    item = template["Item"]

    def write(numbers: list[int]) -> None:
        requests = [
            {"PutRequest": {"Item": {**item, "sk": {"S": f"{number:06d}"}}}} for number in numbers
        ]
        while requests:
            left = ddb.batch_write_item(RequestItems={TABLE: requests})
            requests = left.get("UnprocessedItems", {}).get(TABLE, [])

    numbers = list(range(3, n + 1))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, [numbers[i : i + 25] for i in range(0, len(numbers), 25)]))
    ddb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": name}, "sk": {"S": "LATEST"}},
        UpdateExpression="SET latest_version = :n",
        ExpressionAttributeValues={":n": {"N": str(n)}},
    )


def waves(arrivals: list[float], latency_ms: float) -> int:
    """Requests on the critical path: arrivals grouped into waves (a request that arrives
    within half a latency of its wave's first one was sent beside it, not after it)."""
    count, start = 0, None
    for at in sorted(arrivals):
        if start is None or (at - start) * 1000 > latency_ms / 2:
            count, start = count + 1, at
    return count


def measure(label: str, proxy: FaultProxy, latency_ms: float, call: Any) -> tuple[Any, str]:
    proxy.reset_log()
    start = time.perf_counter()
    result = call()
    ms = (time.perf_counter() - start) * 1000
    seen = proxy.seen()
    critical = waves([r.at for r in seen], latency_ms)
    return result, (
        f"{label:<34} {len(seen):>8} {critical:>9} {ms:>10.0f} {ms / latency_ms:>12.1f}"
    )


def run(backend: str, url: str, args: argparse.Namespace) -> list[str]:
    bsm = make_session(url)
    repo = make_repository(backend, bsm, BUCKET, TABLE)
    listed, purged = f"list{uuid.uuid4().hex[:6]}", f"purge{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    build(backend, repo, bsm, url, listed, args.n)
    build(backend, repo, bsm, url, purged, args.purge + 10)
    print(f"# {backend}: built in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    from _faultproxy import FaultProxy  # after _harness: tests/ importable

    lines, checks = [], []
    with FaultProxy(url) as proxy:
        proxy.add("delay", delay=args.latency_ms / 1000, times=None)
        far = make_session(proxy.url)
        repo_far = make_repository(backend, far, BUCKET, TABLE)
        repo_far.list_artifact_versions(bsm=far, name="warm-up", limit=1)
        for limit, label in ((20, "list limit=20"), (None, "list all")):
            found, line = measure(
                f"{label} of {args.n}",
                proxy,
                args.latency_ms,
                lambda limit=limit: repo_far.list_artifact_versions(
                    bsm=far, name=listed, limit=limit
                ),
            )
            lines.append(f"{backend:<8} {line}")
            expected = (limit or args.n + 1) if backend == "s3-only" else (limit or args.n)
            if len(found) < min(expected, args.n):
                checks.append(f"{label}: {len(found)} listed")
        (_, deleted), line = measure(
            f"purge {args.purge} of {args.purge + 10}",
            proxy,
            args.latency_ms,
            lambda: repo_far.purge_artifact_versions(
                bsm=far, name=purged, keep_last_n=10, purge_older_than_secs=0
            ),
        )
        lines.append(f"{backend:<8} {line}")
        if len(deleted) != args.purge:
            checks.append(f"purged {len(deleted)} of {args.purge}")
    return lines + [f"CHECK FAILED {backend}: {c}" for c in checks]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--purge", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--layouts", default="s3-only,s3+ddb")
    args = parser.parse_args()
    lines: list[str] = []
    with moto_server() as url:
        for backend in args.layouts.split(","):
            lines += run(backend, url, args)
    print(
        f"list and purge at size, {args.latency_ms:g} ms per request (round trips = ms / latency)"
    )
    print(
        f"{'layout':<8} {'operation':<34} {'requests':>8} {'critical':>9} {'ms':>10} "
        f"{'ms/latency':>12}"
    )
    print(
        "critical = requests on the critical path (waves of arrivals at the proxy); "
        "ms/latency includes the server's own time (moto answers a LIST of 1000 keys in "
        "~100 ms+, a Query of 1 MB likewise)"
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
