"""Retention: plan and apply over an artifact of N versions (requests and time), for both
backends, against moto; then the bytes-freed report of the demo's artifact.

Usage: python benchmarks/retention.py [--versions 1000] [--latency-ms 20]

The versions are published without delay; the plan and the apply are measured through a
proxy that holds every request ``--latency-ms`` (a real round trip). The policy keeps the
newest 10 and version 1 (alias prod), so the apply deletes N - 11 versions. Always exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

from _harness import make_repository
from _testkit import RequestCounter, make_session, moto_server

from versioned.cli._demo import ARTIFACT, content_for
from versioned.retention import RetentionPolicy

NAME = "bench"
KEEP = 10


@contextlib.contextmanager
def delayed(url: str, latency_ms: float) -> Iterator[str]:
    """``url``, or a proxy in front of it that holds every request ``latency_ms``."""
    if latency_ms <= 0:
        yield url
        return
    from _faultproxy import FaultProxy

    with FaultProxy(url) as proxy:
        proxy.add("delay", delay=latency_ms / 1000, times=None)
        yield proxy.url


def populate(backend: str, url: str, versions: int, bucket: str) -> None:
    bsm = make_session(url)
    repo = make_repository(backend, bsm, bucket, bucket)
    started = time.perf_counter()
    for number in range(1, versions + 1):
        repo.put_artifact(bsm=bsm, name=NAME, content=f"version {number} ".encode() * 50)
        repo.publish_artifact_version(bsm=bsm, name=NAME)
    repo.put_alias(bsm=bsm, name=NAME, alias="prod", version=1)
    repo.set_retention(bsm=bsm, name=NAME, policy=RetentionPolicy(keep_last=KEEP))
    took = time.perf_counter() - started
    print(f"# {backend}: published {versions} versions in {took:.0f} s", file=sys.stderr)


def measure(backend: str, url: str, bucket: str) -> list[tuple[str, int, float, str]]:
    bsm = make_session(url)
    counter = RequestCounter.attach(bsm)
    repo = make_repository(backend, bsm, bucket, bucket)
    rows = []
    for label, call in (
        ("plan_retention", lambda: repo.plan_retention(bsm=bsm, name=NAME)),
        ("apply_retention", lambda: repo.apply_retention(bsm=bsm, name=NAME)),
        ("apply_retention (again)", lambda: repo.apply_retention(bsm=bsm, name=NAME)),
    ):
        counter.reset()
        started = time.perf_counter()
        (result,) = call()
        took = time.perf_counter() - started
        gone = result.delete if hasattr(result, "delete") else result.deleted
        note = f"{len(gone)} versions, {result.bytes_freed} bytes freed"
        rows.append((label, counter.count, took, note))
    return rows


def demo_report(url: str) -> None:
    """The demo's artifact (the seed's quick-start story): three versions, prod on 2."""
    print("\nbytes-freed report for the demo's artifact (policy: keep the newest 1):")
    for backend in ("s3-only", "s3+ddb"):
        bsm = make_session(url)
        repo: Any = make_repository(backend, bsm, f"demo-{backend.replace('+', '-')}", "demo")
        for tag in ("version 1.0", "version 2.0", "version 3.0"):
            repo.put_artifact(bsm=bsm, name=ARTIFACT, content=content_for(tag))
            repo.publish_artifact_version(bsm=bsm, name=ARTIFACT)
        repo.put_alias(bsm=bsm, name=ARTIFACT, alias="prod", version=2)
        repo.set_retention(bsm=bsm, name=ARTIFACT, policy=RetentionPolicy(keep_last=1))
        (plan,) = repo.plan_retention(bsm=bsm, name=ARTIFACT)
        kept = "; ".join(f"{k.version}: {', '.join(k.reasons)}" for k in plan.keep)
        print(
            f"  {backend:8} delete {list(plan.delete)} ({plan.bytes_deleted} bytes in them, "
            f"{plan.bytes_freed} bytes freed); keep {kept}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    with moto_server() as server:
        print(
            f"retention of {args.versions} versions, every request delayed {args.latency_ms:g} ms"
        )
        print(f"{'backend':8} {'operation':24} {'requests':>8} {'seconds':>8}  result")
        for backend in ("s3-only", "s3+ddb"):
            bucket = f"retention-{backend.replace('+', '-')}"
            populate(backend, server, args.versions, bucket)
            with delayed(server, args.latency_ms) as url:
                for label, requests, took, note in measure(backend, url, bucket):
                    print(f"{backend:8} {label:24} {requests:>8} {took:>8.2f}  {note}")
        demo_report(server)


if __name__ == "__main__":
    main()
