"""Concurrency stress of issue 4: many writers putting and publishing one artifact.

Usage: python benchmarks/stress.py [--writers 64] [--rounds 3]

Per backend: every writer thread puts its own content and publishes, for --rounds rounds;
every 4th writer also points a shared alias (a0..a3) at the version it got back; one thread
runs purge_artifact_versions(keep_last_n=5, purge_older_than_secs=0) meanwhile. Afterwards
every invariant is checked with raw boto3 reads and one table row per backend is printed.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import sys
import threading
import time
import traceback
from typing import Any

from _harness import make_bsm, make_repository, moto_server, raw_client

BUCKET = "versioned-stress"
TABLE = "versioned-stress"
NAME = "shared"


class Stress:
    def __init__(self, repo: Any, bsm: Any, writers: int, rounds: int) -> None:
        self.repo, self.bsm = repo, bsm
        self.writers, self.rounds = writers, rounds
        self.lock = threading.Lock()
        self.published: list[tuple[int, str]] = []  # (number, sha256 reported)
        self.attempted = 0
        self.errors: collections.Counter[str] = collections.Counter()
        self.alias_errors: collections.Counter[str] = collections.Counter()
        self.purged: set[int] = set()
        self.purge_runs = 0
        self.first_tracebacks: list[str] = []
        self.done = threading.Event()

    def _error(self, where: str, error: Exception, counter: collections.Counter[str]) -> None:
        with self.lock:
            counter[f"{where}:{type(error).__name__}"] += 1
            if len(self.first_tracebacks) < 3:
                self.first_tracebacks.append(
                    "".join(traceback.format_exception(error)).strip().splitlines()[-1]
                )

    def writer(self, i: int, barrier: threading.Barrier) -> None:
        repo, bsm = self.repo, self.bsm
        barrier.wait()
        for r in range(self.rounds):
            content = f"writer {i} round {r}".encode()
            try:
                repo.put_artifact(bsm=bsm, name=NAME, content=content)
            except Exception as error:
                self._error("put", error, self.errors)
                continue
            with self.lock:
                self.attempted += 1
            try:
                artifact = repo.publish_artifact_version(bsm=bsm, name=NAME)
            except Exception as error:
                self._error("publish", error, self.errors)
                continue
            with self.lock:
                self.published.append((int(artifact.version), artifact.sha256))
            if i % 4 == 0:
                try:
                    repo.put_alias(
                        bsm=bsm, name=NAME, alias=f"a{i % 16 // 4}", version=artifact.version
                    )
                except Exception as error:  # the target may be purged already: legitimate
                    self._error("put_alias", error, self.alias_errors)

    def purger(self, barrier: threading.Barrier) -> None:
        barrier.wait()
        while not self.done.is_set():
            try:
                _, deleted = self.repo.purge_artifact_versions(
                    bsm=self.bsm, name=NAME, keep_last_n=5, purge_older_than_secs=0
                )
                with self.lock:
                    self.purged.update(int(a.version) for a in deleted)
                    self.purge_runs += 1
            except Exception as error:
                self._error("purge", error, self.errors)
            time.sleep(0.05)

    def run(self) -> float:
        # LATEST and version 1 exist before the writers start, so the purger has work.
        self.repo.put_artifact(bsm=self.bsm, name=NAME, content=b"seed")
        seed = self.repo.publish_artifact_version(bsm=self.bsm, name=NAME)
        self.published.append((int(seed.version), seed.sha256))
        barrier = threading.Barrier(self.writers + 2)
        threads = [
            threading.Thread(target=self.writer, args=(i, barrier)) for i in range(self.writers)
        ]
        purge_thread = threading.Thread(target=self.purger, args=(barrier,))
        for thread in [*threads, purge_thread]:
            thread.start()
        barrier.wait()
        start = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        self.done.set()
        purge_thread.join()
        return elapsed


def check(stress: Stress, url: str, verify_kwargs: dict[str, Any]) -> dict[str, Any]:
    repo, bsm = stress.repo, stress.bsm
    s3 = raw_client(url, "s3")
    details: list[str] = []

    by_number: dict[int, set[str]] = collections.defaultdict(set)
    for number, sha in stress.published:
        by_number[number].add(sha)
    duplicates = sum(1 for shas in by_number.values() if len(shas) > 1)

    returned = set(by_number)
    top = max(returned) if returned else 0
    gaps = sorted(set(range(1, top + 1)) - returned)
    if gaps:
        details.append(f"numbers never handed out: {gaps[:20]}")

    listed = repo.list_artifact_versions(bsm=bsm, name=NAME)
    listed_numbers = {int(a.version) for a in listed if a.version != "LATEST"}
    lost = sorted(returned - stress.purged - listed_numbers)
    if lost:
        details.append(f"returned, never purged, but not listed: {lost[:20]}")
    unknown = sorted(listed_numbers - returned)
    if unknown:
        details.append(f"listed but never returned by a publish: {unknown[:20]}")

    mismatches = 0
    listed_sha = {a.version: a.sha256 for a in listed}
    for number, shas in by_number.items():
        if str(number) in listed_sha and listed_sha[str(number)] not in shas:
            mismatches += 1
            details.append(
                f"v{number}: publish reported {shas}, list says {listed_sha[str(number)]}"
            )
    for artifact in listed:
        bucket, _, key = artifact.s3uri[len("s3://") :].partition("/")
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as error:
            mismatches += 1
            details.append(f"{artifact.version}: bytes unreadable ({type(error).__name__})")
            continue
        if hashlib.sha256(body).hexdigest() != artifact.sha256:
            mismatches += 1
            details.append(f"{artifact.version}: stored bytes do not hash to recorded sha256")

    dangling = 0
    aliases = repo.list_aliases(bsm=bsm, name=NAME)
    for alias in aliases:
        for version in (alias.version, alias.secondary_version):
            if version is None:
                continue
            try:
                repo.get_artifact_version(bsm=bsm, name=NAME, version=version)
            except Exception as error:
                dangling += 1
                details.append(f"alias {alias.alias} -> {version}: {type(error).__name__}")

    verify = getattr(repo, "verify", None)
    verify_problems: int | str = "n/a"
    if verify is not None:
        report = verify(**verify_kwargs)
        verify_problems = len(report.problems)
        for problem in report.problems[:10]:
            details.append(f"verify: {problem}")
    return {
        "duplicates": duplicates,
        "gaps": len(gaps),
        "lost": len(lost),
        "mismatches": mismatches,
        "dangling": dangling,
        "aliases": len(aliases),
        "verify": verify_problems,
        "listed": len(listed_numbers),
        "details": details,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writers", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with moto_server() as url:
        for backend in ("s3-only", "s3+ddb"):
            bsm = make_bsm(url)
            repo = make_repository(backend, bsm, BUCKET, TABLE)
            stress = Stress(repo, bsm, args.writers, args.rounds)
            elapsed = stress.run()
            result = check(stress, url, {"name": NAME, "bsm": bsm})
            rows.append((backend, stress, elapsed, result))

    header = (
        f"{'backend':<8} {'writers':>7} {'publishes':>9} {'errors':>6} {'dup nums':>8} "
        f"{'sha mism':>8} {'gaps':>4} {'lost':>4} {'dangling':>8} {'verify':>6} "
        f"{'pub/s':>7} {'secs':>6}"
    )
    print(
        f"stress: {args.writers} writers x {args.rounds} rounds on one artifact, "
        "1 purge thread (keep_last_n=5), every 4th writer moves an alias"
    )
    print(header)
    print("-" * len(header))
    failed = []
    for backend, stress, elapsed, result in rows:
        errors = sum(stress.errors.values())
        print(
            f"{backend:<8} {args.writers:>7} {stress.attempted:>9} {errors:>6} "
            f"{result['duplicates']:>8} {result['mismatches']:>8} {result['gaps']:>4} "
            f"{result['lost']:>4} {result['dangling']:>8} {result['verify']!s:>6} "
            f"{len(stress.published) / elapsed:>7.1f} {elapsed:>6.1f}"
        )
        bad = [k for k in ("duplicates", "mismatches", "gaps", "lost", "dangling") if result[k]]
        if errors or bad or result["verify"] not in (0, "n/a"):
            failed.append(backend)
    print()
    print(
        "publishes = publish_artifact_version calls attempted (after a successful put); "
        "gaps = numbers in 1..max never handed out;"
    )
    print("lost = numbers handed out, not purged, yet not listed afterwards")
    for backend, stress, _, result in rows:
        print(
            f"{backend}: published ok {len(stress.published) - 1}, purge runs "
            f"{stress.purge_runs}, purged {len(stress.purged)}, listed afterwards "
            f"{result['listed']}, aliases {result['aliases']}"
        )
        if stress.errors:
            print(f"{backend}: errors by type: {dict(stress.errors)}")
        if stress.alias_errors:
            print(
                f"{backend}: put_alias errors (target purged meanwhile is legitimate): "
                f"{dict(stress.alias_errors)}"
            )
        for line in stress.first_tracebacks:
            print(f"{backend}: example error: {line}")
        for line in result["details"][:15]:
            print(f"{backend}: {line}")
    print("ALL INVARIANTS HELD" if not failed else "INVARIANTS BROKEN: " + ", ".join(failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
