"""Concurrency stress of issues 4 and 9: many writers putting and publishing one artifact.

Usage: python benchmarks/stress.py [--mode threads|chaos|both] [--writers 64] [--rounds 3]
       [--processes 4] [--chaos-rounds 12] [--kills 8] [--drop-rate 0.08] [--seed 9]

threads, per backend: every writer thread puts its own content and publishes, for
--rounds rounds; every 4th writer also points a shared alias (a0..a3) at the version it got
back; one thread runs purge_artifact_versions(keep_last_n=5, purge_older_than_secs=0)
meanwhile. Afterwards every invariant is checked with raw boto3 reads and one table row per
backend is printed.

chaos, per backend: --processes worker processes put, publish, move aliases,
delete and purge one artifact, each through its own fault proxy (tests/chaos/_faultproxy.py)
that loses the response of a write (applied by the server, retried by botocore) with
probability --drop-rate and resets a connection before forwarding with half that
probability. --kills times, a worker is paused at a random request and SIGKILLed there (the
paused request is then forwarded or discarded at random) and a fresh worker takes its place.
Then one clean put and publish (which repair what a killed put may legitimately leave), and
raw reads count: errors (calls that raised something other than an expected refusal), lost
(versions a publish returned that vanished without a delete or purge), torn (stored bytes
that do not hash to the recorded sha256), reused numbers (a number handed out for two
contents, or now naming other bytes) and dangling aliases. All must be 0.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import random
import sys
import threading
import time
import traceback
from typing import Any

from _harness import make_repository
from _testkit import make_session, moto_server, raw_client, unique

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


# ====================================================================== chaos
#: refusals a call may legitimately answer with while others delete, purge and move aliases
EXPECTED_REFUSALS = {
    "put_alias": {"ArtifactNotFoundError", "ConcurrentModificationError"},
    "delete": {"VersionInUseError", "ArtifactNotFoundError"},
    "purge": set(),
    "put": set(),
    "publish": set(),
}


class ChaosRun:
    """Worker processes through fault proxies, some SIGKILLed mid-request (see the module
    docstring). Collects what every call reported, for ``chaos_check``."""

    def __init__(self, url: str, backend: str, args: argparse.Namespace) -> None:
        from _chaoskit import Place

        self.url = url
        self.args = args
        self.rng = random.Random(f"{args.seed}-{backend}")
        kind = "s3_only" if backend == "s3-only" else "s3_dynamodb"
        self.place = Place(
            kind, unique("stress"), table=unique("stress") if kind != "s3_only" else None
        )
        if kind == "s3_dynamodb":  # a killed writer's turn is skipped after 2 s, not 30 s
            self.place = self.place.with_options(lease_secs=2)
        self.lock = threading.Lock()
        self.returned: list[tuple[int, str]] = []
        self.deleted: set[int] = set()
        self.maybe_deleted: set[int] = set()  # targets of deletes/purges cut short by a kill
        self.errors: collections.Counter[str] = collections.Counter()
        self.refusals: collections.Counter[str] = collections.Counter()
        self.calls = 0
        self.kills = 0
        self.dropped = 0
        self.resets = 0
        self.examples: list[str] = []

    # ------------------------------------------------------------ faults
    def _lossy(self, request: Any) -> bool:
        with self.lock:
            hit = request.is_write and self.rng.random() < self.args.drop_rate
            self.dropped += hit
        return hit

    def _reset(self, request: Any) -> bool:
        with self.lock:
            hit = self.rng.random() < self.args.drop_rate / 2
            self.resets += hit
        return hit

    def _proxy(self) -> Any:
        from _faultproxy import FaultProxy

        proxy = FaultProxy(self.url)
        proxy.add("drop_response", when=self._lossy, times=None)
        proxy.add("reset", when=self._reset, times=None)
        return proxy

    # ------------------------------------------------------------ events
    def _record(self, worker: Any, event: dict[str, Any], inflight: dict[Any, Any]) -> None:
        kind = event.get("kind")
        if event.get("event") == "start":
            inflight[worker] = (kind, self._top())
            return
        inflight.pop(worker, None)
        if event.get("event") == "error":
            label = f"{kind}:{event['type']}"
            if event.get("library") and event["type"] in EXPECTED_REFUSALS.get(kind, set()):
                self.refusals[label] += 1
            else:
                self.errors[label] += 1
                if len(self.examples) < 5:
                    self.examples.append(f"{label}: {event.get('message', '')[:160]}")
            return
        self.calls += 1
        value = event.get("value")
        if kind == "publish":
            self.returned.append((int(value["version"]), value["sha256"]))
        elif kind == "delete":
            self.deleted.add(int(value["version"]))
        elif kind == "purge":
            self.deleted.update(int(v) for v in value)

    def _top(self) -> int:
        return max((n for n, _ in self.returned), default=0)

    def _interrupted(self, call: tuple[str, int] | None) -> None:
        """A worker was killed inside ``call``: what it may have deleted is not lost."""
        if call is None:
            return
        kind, top = call
        if kind in ("delete", "purge"):  # a purge keeps the newest 5: older ones may go
            self.maybe_deleted.update(range(1, top + 1))

    # ------------------------------------------------------------ the run
    def run(self) -> float:
        from _chaoskit import Ops, Worker

        ops = Ops(self.place, make_session(self.url))
        ops.bootstrap()
        ops.put(NAME, b"seed")
        seed = ops.publish(NAME)
        self.returned.append((int(seed.version), seed.sha256))
        started = time.perf_counter()
        spare = [Worker() for _ in range(self.args.processes)]
        active: list[tuple[Any, Any]] = []
        inflight: dict[Any, Any] = {}
        launched = 0

        def launch() -> None:
            nonlocal launched
            worker = spare.pop(0) if spare else Worker()
            proxy = self._proxy()
            worker.send(
                self.place,
                proxy.url,
                "stress",
                name=NAME,
                worker=launched,
                seed=self.rng.randrange(1 << 30),
                rounds=self.args.chaos_rounds,
            )
            launched += 1
            active.append((worker, proxy))

        for _ in range(self.args.processes):
            launch()
        kills_left = self.args.kills
        next_kill = time.monotonic() + self.rng.uniform(0.5, 2.0)
        hold = None
        while active:
            for worker, proxy in list(active):
                while (line := worker.result(0.01)) is not None:
                    if "event" in line:
                        self._record(worker, line, inflight)
                        continue
                    active.remove((worker, proxy))  # its final line, or it died
                    proxy.close()
                    worker.close()
                    break
            if kills_left and hold is None and time.monotonic() > next_kill and active:
                victim = self.rng.choice(active)
                hold = (victim, victim[1].add("hold", skip=self.rng.randint(0, 25)))
            if hold is not None:
                (worker, proxy), rule = hold
                held = rule.poll(0.01)
                if held is not None or (worker, proxy) not in active:
                    if held is not None:
                        worker.kill()
                        held.release("discard" if self.rng.random() < 0.5 else "forward")
                        held.done.wait(10)
                        self.kills += 1
                        kills_left -= 1
                        self._drain(worker, inflight)
                        self._interrupted(inflight.pop(worker, None))
                        active.remove((worker, proxy))
                        proxy.close()
                        launch()
                    hold = None
                    next_kill = time.monotonic() + self.rng.uniform(0.3, 1.5)
        for worker in spare:
            worker.kill()
        elapsed = time.perf_counter() - started
        # one clean round: repairs what a killed put may legitimately leave in LATEST
        ops.put(NAME, b"final clean put " + str(time.time()).encode())
        final = ops.publish(NAME)
        self.returned.append((int(final.version), final.sha256))
        return elapsed

    def _drain(self, worker: Any, inflight: dict[Any, Any]) -> None:
        """Events a killed worker wrote before it died."""
        while (line := worker.result(0.05)) is not None and "event" in line:
            self._record(worker, line, inflight)


def chaos_check(run: ChaosRun) -> dict[str, Any]:
    from _chaoskit import RawStore

    raw = RawStore(raw_client(run.url, "s3"), raw_client(run.url, "dynamodb"))
    place = run.place
    stored = raw.versions(place, NAME)
    by_number: dict[int, set[str]] = collections.defaultdict(set)
    for number, digest in run.returned:
        by_number[number].add(digest)
    reused = {n for n, digests in by_number.items() if len(digests) > 1}
    reused |= {
        n
        for n, digests in by_number.items()
        if n in stored and stored[n].recorded not in digests and stored[n].actual not in digests
    }
    lost = sorted(
        n for n in by_number if n not in stored and n not in run.deleted | run.maybe_deleted
    )
    torn = raw.torn(place, NAME)
    dangling = raw.dangling(place, NAME)
    details = [f"reused: version {n} -> {sorted(by_number[n])}" for n in sorted(reused)][:5]
    details += [f"lost: version {n}" for n in lost[:5]]
    details += [f"torn: {t}" for t in torn[:5]]
    details += [f"dangling: {d}" for d in dangling[:5]]
    return {
        "errors": sum(run.errors.values()),
        "lost": len(lost),
        "torn": len(torn),
        "reused": len(reused),
        "dangling": len(dangling),
        "versions": len(stored),
        "details": details,
    }


def run_chaos(args: argparse.Namespace) -> list[str]:
    rows = []
    with moto_server() as url:
        for backend in ("s3-only", "s3+ddb"):
            run = ChaosRun(url, backend, args)
            elapsed = run.run()
            rows.append((backend, run, elapsed, chaos_check(run)))
    print(
        f"chaos: {args.processes} worker processes x {args.chaos_rounds} rounds (put, publish, "
        f"alias/delete/purge), each through a fault proxy: write responses lost with p="
        f"{args.drop_rate}, connections reset with p={args.drop_rate / 2}; "
        f"{args.kills} SIGKILLs mid-request; seed {args.seed}"
    )
    header = (
        f"{'backend':<8} {'calls':>5} {'kills':>5} {'dropped':>7} {'resets':>6} {'errors':>6} "
        f"{'lost':>4} {'torn':>4} {'reused numbers':>14} {'dangling aliases':>16} {'secs':>6}"
    )
    print(header)
    print("-" * len(header))
    failed = []
    for backend, run, elapsed, result in rows:
        print(
            f"{backend:<8} {run.calls:>5} {run.kills:>5} {run.dropped:>7} {run.resets:>6} "
            f"{result['errors']:>6} {result['lost']:>4} {result['torn']:>4} "
            f"{result['reused']:>14} {result['dangling']:>16} {elapsed:>6.1f}"
        )
        if any(result[k] for k in ("errors", "lost", "torn", "reused", "dangling")):
            failed.append(backend)
    print()
    for backend, run, _, result in rows:
        print(f"{backend}: versions listed afterwards {result['versions']}")
        if run.errors:
            print(f"{backend}: errors by call and type: {dict(run.errors)}")
        if run.refusals:
            print(f"{backend}: expected refusals (not errors): {dict(run.refusals)}")
        for line in run.examples:
            print(f"{backend}: example error: {line}")
        for line in result["details"]:
            print(f"{backend}: {line}")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=("threads", "chaos", "both"), default="both")
    parser.add_argument("--writers", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--chaos-rounds", type=int, default=12)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--drop-rate", type=float, default=0.08)
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args()
    failed: list[str] = []
    if args.mode in ("threads", "both"):
        failed += run_threads(args)
    if args.mode in ("chaos", "both"):
        if args.mode == "both":
            print()
        failed += [f"chaos {backend}" for backend in run_chaos(args)]
    print("ALL INVARIANTS HELD" if not failed else "INVARIANTS BROKEN: " + ", ".join(failed))
    return 0


def run_threads(args: argparse.Namespace) -> list[str]:
    rows = []
    with moto_server() as url:
        for backend in ("s3-only", "s3+ddb"):
            bsm = make_session(url)
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
    return failed


if __name__ == "__main__":
    sys.exit(main())
