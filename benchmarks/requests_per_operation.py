"""HTTP requests and median latency per operation, for both backends, against moto.

Usage: python benchmarks/requests_per_operation.py [--runs 20] [--n 50] [--purge-runs 8]

Prints one table per backend with the targets (docs/design.md) beside each figure, the N-version
list/purge timings against N sequential raw HEADs, the DynamoDB backend's client overhead,
and a final "ALL TARGETS MET" or "TARGETS MISSED: ..." line. Always exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from _harness import make_repository
from _testkit import RequestCounter, design_budgets, make_session, moto_server, raw_client

BUCKET = "versioned-bench"
TABLE = "versioned-bench"


@dataclass
class Row:
    backend: str
    operation: str
    requests: int
    median_ms: float
    target: int | None
    note: str = ""

    @property
    def ok(self) -> bool | None:
        return None if self.target is None else self.requests <= self.target


@dataclass
class Ratio:
    backend: str
    what: str
    value: float
    limit: float
    unit: str

    @property
    def ok(self) -> bool:
        return self.value < self.limit


class Bench:
    def __init__(self, backend: str, repo: Any, bsm: Any, counter: RequestCounter, url: str):
        self.backend = backend
        self.repo = repo
        self.bsm = bsm
        self.counter = counter
        self.rows: list[Row] = []
        self.ratios: list[Ratio] = []
        self.s3 = raw_client(url, "s3")
        self.ddb = raw_client(url, "dynamodb")

    def timed(self, fn: Callable[[], Any]) -> tuple[Any, int, float]:
        self.counter.reset()
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
        return result, self.counter.count, elapsed * 1000

    def add(
        self, operation: str, samples: list[tuple[int, float]], target: int | None, note: str = ""
    ) -> None:
        counts = [c for c, _ in samples]
        note_parts = [note] if note else []
        if min(counts) != max(counts):
            note_parts.append(f"requests varied {min(counts)}..{max(counts)}")
        self.rows.append(
            Row(
                self.backend,
                operation,
                max(counts),
                statistics.median(ms for _, ms in samples),
                target,
                "; ".join(note_parts),
            )
        )

    def build(self, name: str, n: int) -> None:
        for j in range(1, n + 1):
            self.repo.put_artifact(bsm=self.bsm, name=name, content=f"{name} v{j}".encode())
            self.repo.publish_artifact_version(bsm=self.bsm, name=name)


def run_backend(
    bench: Bench, targets: dict[str, int], runs: int, n: int, purge_runs: int, dynamodb: bool
) -> None:
    repo, bsm = bench.repo, bench.bsm
    name = "bench"
    bench.build(name, 2)
    previous = "2"
    samples: dict[str, list[tuple[int, float]]] = {}
    anomalies: list[str] = []

    def record(op: str, fn: Callable[[], Any]) -> Any:
        result, count, ms = bench.timed(fn)
        samples.setdefault(op, []).append((count, ms))
        return result

    for i in range(runs):
        content = f"content {i} {uuid.uuid4().hex}".encode()
        record(
            "put new content", lambda c=content: repo.put_artifact(bsm=bsm, name=name, content=c)
        )
        record("put unchanged", lambda c=content: repo.put_artifact(bsm=bsm, name=name, content=c))
        new = record("publish new", lambda: repo.publish_artifact_version(bsm=bsm, name=name))
        same = record(
            "publish unchanged", lambda: repo.publish_artifact_version(bsm=bsm, name=name)
        )
        if same.version != new.version:
            anomalies.append(f"publish unchanged returned {same.version}, not {new.version}")
        record(
            "get version",
            lambda v=new.version: repo.get_artifact_version(bsm=bsm, name=name, version=v),
        )
        record(
            "put alias (simple)",
            lambda v=new.version: repo.put_alias(bsm=bsm, name=name, alias="prod", version=v),
        )
        record("get alias", lambda: repo.get_alias(bsm=bsm, name=name, alias="prod"))
        record(
            "put alias with split",
            lambda v=new.version, p=previous: repo.put_alias(
                bsm=bsm,
                name=name,
                alias="canary",
                version=v,
                secondary_version=p,
                secondary_version_weight=20,
            ),
        )
        previous = new.version

    repo.put_alias(bsm=bsm, name=name, alias="stable", version=previous)
    for _ in range(runs):
        aliases = record("list aliases", lambda: repo.list_aliases(bsm=bsm, name=name))
    k = len(aliases)
    for _ in range(runs):
        names = record("list names", lambda: repo.list_artifact_names(bsm=bsm))

    order = [
        "put new content",
        "put unchanged",
        "publish new",
        "publish unchanged",
        "get version",
        "get alias",
        "put alias (simple)",
        "put alias with split",
    ]
    for op in order:
        bench.add(op, samples[op], targets.get(op))
    list_alias_target = 1 if dynamodb else 1 + k
    bench.add(f"list aliases (k={k})", samples["list aliases"], list_alias_target)
    bench.add(f"list names ({len(names)} names)", samples["list names"], targets["list names"])

    # ---- list versions over N versions, against N sequential raw HEADs
    list_name = f"list{n}"
    bench.build(list_name, n)
    list_samples = []
    for _ in range(runs):
        versions, count, ms = bench.timed(
            lambda: repo.list_artifact_versions(bsm=bsm, name=list_name)
        )
        list_samples.append((count, ms))
    published = [a for a in versions if a.version != "LATEST"]
    note = "" if len(published) == n else f"listed {len(published)} versions, expected {n}"
    bench.add(f"list versions (N={n})", list_samples, targets.get("list versions"), note)
    keys = [a.s3uri[len(f"s3://{BUCKET}/") :] for a in published]
    head_ms = []
    for _ in range(max(5, runs // 2)):
        start = time.perf_counter()
        for key in keys:
            bench.s3.head_object(Bucket=BUCKET, Key=key)
        head_ms.append((time.perf_counter() - start) * 1000)
    heads = statistics.median(head_ms)
    bench.heads_ms = heads  # type: ignore[attr-defined]
    # The same HEADs from raw boto3 on 16 threads: what any client can gain from
    # parallelism against this endpoint (moto serves requests one at a time on the CPU).
    parallel_ms = []
    for _ in range(max(5, runs // 2)):
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda key: bench.s3.head_object(Bucket=BUCKET, Key=key), keys))
        parallel_ms.append((time.perf_counter() - start) * 1000)
    bench.endpoint_context = [  # type: ignore[attr-defined]
        f"raw boto3, {len(keys)} HEADs on 16 threads / {len(keys)} sequential HEADs: "
        f"{statistics.median(parallel_ms) / heads:.3f} (the endpoint's own parallel speed-up)"
    ]
    list_ms = statistics.median(ms for _, ms in list_samples)
    bench.ratios.append(
        Ratio(
            bench.backend,
            f"list versions N={n} / {len(keys)} seq HEADs",
            list_ms / heads,
            0.25,
            "ratio",
        )
    )

    # ---- purge N versions (fresh artifacts)
    purge_names = [f"purge{j}" for j in range(purge_runs)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda nm: bench.build(nm, n), purge_names))
    purge_samples = []
    purge_notes = set()
    for nm in purge_names:
        (_, deleted), count, ms = bench.timed(
            lambda nm=nm: repo.purge_artifact_versions(
                bsm=bsm, name=nm, keep_last_n=0, purge_older_than_secs=0
            )
        )
        purge_samples.append((count, ms))
        if len(deleted) != n:
            purge_notes.add(f"deleted {len(deleted)} of {n}")
    bench.add(
        f"purge (N={n}, keep 0)",
        purge_samples,
        targets.get("purge"),
        "; ".join(sorted(purge_notes)),
    )
    purge_ms = statistics.median(ms for _, ms in purge_samples)
    bench.ratios.append(
        Ratio(
            bench.backend, f"purge N={n} / {len(keys)} seq HEADs", purge_ms / heads, 0.25, "ratio"
        )
    )
    if dynamodb:
        raw_transaction(bench, purge_names[0], n)

    # ---- delete version
    del_name = "deleteme"
    bench.build(del_name, runs)
    del_samples = []
    for j in range(1, runs + 1):
        _, count, ms = bench.timed(
            lambda j=j: repo.delete_artifact_version(bsm=bsm, name=del_name, version=j)
        )
        del_samples.append((count, ms))
    bench.add("delete version", del_samples, targets.get("delete version"))
    remaining = [a.version for a in repo.list_artifact_versions(bsm=bsm, name=del_name)]
    if remaining != ["LATEST"]:
        anomalies.append(f"after deleting all versions, list shows {remaining}")

    if dynamodb:
        overhead(bench, name, previous)
    bench.anomalies = anomalies  # type: ignore[attr-defined]


def raw_transaction(bench: Bench, name: str, n: int) -> None:
    """Context for the purge figure: what one raw TransactWriteItems of n updates costs."""
    actions = [
        {
            "Update": {
                "TableName": TABLE,
                "Key": {"pk": {"S": name}, "sk": {"S": f"{j:06d}"}},
                "UpdateExpression": "SET bench_touch = :t",
                "ExpressionAttributeValues": {":t": {"BOOL": True}},
            }
        }
        for j in range(1, n + 1)
    ]
    times = []
    for _ in range(3):
        start = time.perf_counter()
        bench.ddb.transact_write_items(TransactItems=actions)
        times.append((time.perf_counter() - start) * 1000)
    bench.context = [  # type: ignore[attr-defined]
        f"raw boto3 transact_write_items of {n} updates (no library): "
        f"median {statistics.median(times):.1f} ms"
    ]


def overhead(bench: Bench, name: str, version: str) -> None:
    """Library client time per metadata operation above a raw ConsistentRead get_item."""
    repo, bsm, ddb = bench.repo, bench.bsm, bench.ddb
    pairs = [
        (
            "get_artifact_version",
            lambda: repo.get_artifact_version(bsm=bsm, name=name, version=version),
            {"pk": {"S": name}, "sk": {"S": f"{int(version):06d}"}},
        ),
        (
            "get_alias",
            lambda: repo.get_alias(bsm=bsm, name=name, alias="prod"),
            {"pk": {"S": f"__{name}-alias"}, "sk": {"S": "prod"}},
        ),
    ]
    for label, lib_call, key in pairs:

        def raw(key: dict[str, Any] = key) -> None:
            item = ddb.get_item(TableName=TABLE, Key=key, ConsistentRead=True)
            assert "Item" in item, key

        for _ in range(20):
            lib_call()
            raw()
        lib_ms, raw_ms = [], []
        for _ in range(300):
            start = time.perf_counter()
            lib_call()
            lib_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            raw()
            raw_ms.append((time.perf_counter() - start) * 1000)
        lib_med, raw_med = statistics.median(lib_ms), statistics.median(raw_ms)
        bench.ratios.append(
            Ratio(
                bench.backend,
                f"client overhead {label} (lib {lib_med:.2f} ms - raw get_item {raw_med:.2f} ms)",
                lib_med - raw_med,
                2.0,
                "ms",
            )
        )


#: The row of docs/design.md's request budget table that holds each measured operation's
#: target (the most requests any sample may send): one table for the docstrings, their test
#: (tests/contract/test_request_counts.py) and this benchmark.
DESIGN_ROWS = {
    "put new content": "put, new",
    "put unchanged": "put, unchanged",
    "publish new": "publish, new",
    "publish unchanged": "publish, unchanged",
    "get version": "get version / get alias",
    "get alias": "get version / get alias",
    "put alias with split": "put alias",
    "list names": "list names",
    "list versions": "list versions (N)",
    "delete version": "delete version",
    "purge": "purge (N)",
}


def design_targets(dynamodb: bool, n: int) -> dict[str, int]:
    """Each operation's budget in docs/design.md, with the table's per-unit terms for
    what this benchmark does: S3-only, an alias onto the version just published (not yet
    confirmed: + a HEAD); DynamoDB, a purge of all N versions and deletes down to the
    newest (+ N conditional updates, + LATEST's item when the newest goes)."""
    column = "S3 + DynamoDB" if dynamodb else "S3-only"
    budgets = {op: design_budgets()[row][column] for op, row in DESIGN_ROWS.items()}
    if dynamodb:
        budgets["purge"] += n + 1
        budgets["delete version"] += 1
    else:
        budgets["put alias with split"] += 1
    return budgets


def print_report(benches: list[Bench], n: int) -> list[str]:
    missed: list[str] = []
    header = (
        f"{'backend':<10} {'operation':<34} {'requests':>8} {'target':>8} "
        f"{'result':>6} {'median ms':>10}  note"
    )
    print(header)
    print("-" * len(header))
    for bench in benches:
        for row in bench.rows:
            target = "-" if row.target is None else f"<={row.target}"
            result = "-" if row.ok is None else ("PASS" if row.ok else "FAIL")
            if row.ok is False:
                missed.append(
                    f"{row.backend} {row.operation}: {row.requests} requests "
                    f"(target <={row.target})"
                )
            print(
                f"{row.backend:<10} {row.operation:<34} {row.requests:>8} {target:>8} "
                f"{result:>6} {row.median_ms:>10.2f}  {row.note}"
            )
        print()
    print(f"Timing targets (N={n}; 'seq HEADs' = {n} sequential raw boto3 head_object calls)")
    header = f"{'backend':<10} {'measure':<70} {'value':>8} {'target':>8} {'result':>6}"
    print(header)
    print("-" * len(header))
    for bench in benches:
        print(
            f"{bench.backend:<10} {f'{n} sequential raw HEADs (median ms)':<70} "
            f"{bench.heads_ms:>8.2f} {'':>8} {'':>6}"
        )  # type: ignore[attr-defined]
        for ratio in bench.ratios:
            value = f"{ratio.value:.3f}" if ratio.unit == "ratio" else f"{ratio.value:.2f}ms"
            limit = f"<{ratio.limit}" if ratio.unit == "ratio" else f"<{ratio.limit}ms"
            print(
                f"{ratio.backend:<10} {ratio.what:<70} {value:>8} {limit:>8} "
                f"{'PASS' if ratio.ok else 'FAIL':>6}"
            )
            if not ratio.ok:
                missed.append(f"{ratio.backend} {ratio.what}: {value} (target {limit})")
    print()
    for bench in benches:
        for line in getattr(bench, "endpoint_context", []) + getattr(bench, "context", []):
            print(f"CONTEXT {bench.backend}: {line}")
        for anomaly in getattr(bench, "anomalies", []):
            print(f"ANOMALY {bench.backend}: {anomaly}")
            missed.append(f"{bench.backend} anomaly: {anomaly}")
    return missed


@contextlib.contextmanager
def delayed(url: str, latency_ms: float) -> Iterator[str]:
    """``url``, or a proxy in front of it that holds every request ``latency_ms``."""
    if latency_ms <= 0:
        yield url
        return
    from _faultproxy import FaultProxy  # the chaos suite's proxy

    with FaultProxy(url) as proxy:
        proxy.add("delay", delay=latency_ms / 1000, times=None)
        print(f"# every request delayed {latency_ms:g} ms (proxy {proxy.url})", file=sys.stderr)
        yield proxy.url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--purge-runs", type=int, default=5)
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="delay every request this long (a proxy in front of the server): a real round trip",
    )
    args = parser.parse_args()
    benches = []
    with moto_server() as server, delayed(server, args.latency_ms) as url:
        for backend in ("s3-only", "s3+ddb"):
            bsm = make_session(url)
            counter = RequestCounter.attach(bsm)  # before the library first uses the session
            repo = make_repository(backend, bsm, BUCKET, TABLE)
            dynamodb = backend != "s3-only"
            bench = Bench(backend, repo, bsm, counter, url)
            started = time.perf_counter()
            try:
                targets = design_targets(dynamodb, args.n)
                run_backend(bench, targets, args.runs, args.n, args.purge_runs, dynamodb)
            except Exception as error:  # a report: keep going, say what broke
                bench.anomalies = [f"benchmark aborted: {type(error).__name__}: {error}"]  # type: ignore[attr-defined]
            print(f"# {backend}: measured in {time.perf_counter() - started:.1f}s", file=sys.stderr)
            benches.append(bench)
    missed = print_report(benches, args.n)
    print("ALL TARGETS MET" if not missed else "TARGETS MISSED: " + " | ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
