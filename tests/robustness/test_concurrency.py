"""Concurrent writers (threads and processes) never lose, duplicate or corrupt a
version, and aliases never point at missing or deleted versions."""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from _robkit import Backend, mp_worker, new_backend, raw_bytes, sha_mismatches
from _testkit import LAYOUTS, Endpoints, sha256_hex
from boto_session_manager import BotoSesManager

from versioned.exc import (
    ArtifactNotFoundError,
    ConcurrentModificationError,
    ContentionError,
    VersionInUseError,
)

THREADS = 16
ROUNDS = 3


def check_numbering(
    backend: Backend,
    bsm: BotoSesManager,
    raw_s3: Any,
    name: str,
    returned: list[tuple[int, str]],
) -> None:
    """The invariants every stress run must leave behind."""
    by_number: dict[int, set[str]] = {}
    for number, digest in returned:
        by_number.setdefault(number, set()).add(digest)
    doubles = {n: shas for n, shas in by_number.items() if len(shas) > 1}
    assert doubles == {}, f"numbers handed to different contents: {doubles}"
    for number, digest in returned:
        artifact = backend.get(bsm, name, number)
        data = raw_bytes(raw_s3, artifact.s3uri)
        assert data is not None, f"version {number} has no bytes"
        assert sha256_hex(data) == digest, f"version {number}: bytes differ from its sha256"
        assert artifact.sha256 == digest, f"version {number}: recorded sha256 differs"
    listed = backend.list_versions(bsm, name)
    assert listed[0].version == "LATEST"
    numbers = sorted(int(a.version) for a in listed if a.version != "LATEST")
    top = max(numbers)
    assert numbers == list(range(1, top + 1)), f"gap or duplicate in {numbers}"
    assert set(by_number) <= set(range(1, top + 1))
    assert sha_mismatches(backend, bsm, raw_s3, name) == []


@pytest.mark.parametrize("kind", LAYOUTS)
def test_threads_put_and_publish_keep_every_invariant(
    kind: str, make_bsm: Callable[[], BotoSesManager], raw_s3: Any
) -> None:
    bsm = make_bsm()
    backend = new_backend(kind, bsm)
    name = "stress"
    errors: list[BaseException] = []
    returned: list[tuple[int, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def worker(index: int) -> None:
        barrier.wait()
        for round_ in range(ROUNDS):
            try:
                backend.put(bsm, name, f"thread {index} round {round_}".encode())
                published = backend.publish(bsm, name)
            except BaseException as error:  # collected, asserted below
                with lock:
                    errors.append(error)
                continue
            with lock:
                returned.append((int(published.version), published.sha256))

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))
    assert errors == []
    assert len(returned) == THREADS * ROUNDS
    check_numbering(backend, bsm, raw_s3, name, returned)
    latest = backend.get(bsm, name)
    data = raw_bytes(raw_s3, latest.s3uri)
    assert data is not None and sha256_hex(data) == latest.sha256


def _publish_versions(backend: Backend, bsm: BotoSesManager, name: str, count: int) -> None:
    for index in range(count):
        backend.put(bsm, name, f"{name} content {index}".encode())
        assert backend.publish(bsm, name).version == str(index + 1)


@pytest.mark.parametrize("kind", LAYOUTS)
def test_concurrent_put_alias_points_at_existing_versions(
    kind: str, make_bsm: Callable[[], BotoSesManager]
) -> None:
    bsm = make_bsm()
    backend = new_backend(kind, bsm)
    name = "aliased"
    _publish_versions(backend, bsm, name, 4)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(index: int) -> None:
        rng = random.Random(index)
        barrier.wait()
        for _ in range(6):
            primary, secondary = rng.sample(range(1, 5), 2)
            kwargs: dict[str, Any] = {"version": primary}
            if index % 2:
                kwargs.update(secondary_version=secondary, secondary_version_weight=30)
            try:
                backend.put_alias(bsm, name, "prod", **kwargs)
            except BaseException as error:
                errors.append(error)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(worker, range(8)))
    assert errors == []
    alias = backend.get_alias(bsm, name, "prod")
    assert alias.version in {"1", "2", "3", "4"}
    for target in (alias.version, alias.secondary_version):
        if target is not None:
            assert backend.get(bsm, name, target).version == target


@pytest.mark.parametrize("kind", LAYOUTS)
def test_concurrent_purge_never_leaves_a_dangling_alias(
    kind: str, make_bsm: Callable[[], BotoSesManager]
) -> None:
    bsm = make_bsm()
    backend = new_backend(kind, bsm)
    name = "purged"
    _publish_versions(backend, bsm, name, 10)
    errors: list[BaseException] = []
    running = threading.Event()
    running.set()
    purged: list[str] = []

    def aliaser(index: int) -> None:
        rng = random.Random(index)
        for _ in range(10):
            try:
                backend.put_alias(bsm, name, f"a{index}", version=rng.randint(1, 10))
            except ArtifactNotFoundError:
                pass  # the target was purged first: refused, as documented
            except BaseException as error:
                errors.append(error)

    def purger() -> None:
        while running.is_set():
            try:
                _, deleted = backend.purge_versions(
                    bsm, name, keep_last_n=0, purge_older_than_secs=0
                )
                purged.extend(a.version for a in deleted)
            except ContentionError:
                pass  # documented and retryable: alias writers kept winning
            except BaseException as error:
                errors.append(error)
                return

    with ThreadPoolExecutor(7) as pool:
        purge_future = pool.submit(purger)
        alias_futures = [pool.submit(aliaser, i) for i in range(6)]
        for future in alias_futures:
            future.result()
        running.clear()
        purge_future.result()
    _, deleted = backend.purge_versions(bsm, name, keep_last_n=0, purge_older_than_secs=0)
    purged.extend(a.version for a in deleted)
    assert errors == []
    assert purged, "no purge deleted anything: the test proved nothing"
    for alias in backend.list_aliases(bsm, name):
        for target in (alias.version, alias.secondary_version):
            if target is not None:
                assert backend.get(bsm, name, target).version == target, alias


@pytest.mark.parametrize("operation", ["purge", "delete"])
@pytest.mark.parametrize("kind", LAYOUTS)
def test_delete_interleaved_with_put_alias_keeps_the_alias_target(
    kind: str, operation: str, make_bsm: Callable[[], BotoSesManager]
) -> None:
    """Deterministic interleaving: an alias is pointed at version 1 after the purge (or
    delete of version 1) has read the aliases and before it deletes anything. Version 1
    must survive (the delete may refuse with VersionInUseError instead)."""
    setup = make_bsm()
    backend = new_backend(kind, setup)
    name = "interleaved"
    _publish_versions(backend, setup, name, 3)
    other = make_bsm()
    deleting = make_bsm()
    fired: list[str] = []

    def hook(**kwargs: Any) -> None:
        operation_name = str(kwargs.get("event_name", "")).split(".")[-1]
        writes = ("PutObject", "DeleteObjects", "DeleteObject", "CopyObject", "UpdateItem")
        if operation_name in writes and not fired:
            fired.append(operation_name)
            backend.put_alias(other, name, "late", version=1)

    deleting.boto_ses.events.register("before-send", hook)
    if operation == "purge":
        backend.purge_versions(deleting, name, keep_last_n=0, purge_older_than_secs=0)
    else:
        with contextlib.suppress(VersionInUseError):
            backend.delete_version(deleting, name, 1)
    assert fired, "the operation never wrote"
    alias = backend.get_alias(setup, name, "late")
    assert alias.version == "1"
    assert backend.get(setup, name, 1).version == "1"


@pytest.mark.parametrize("kind", LAYOUTS)
def test_expected_revision_lets_exactly_one_writer_win(
    kind: str, make_bsm: Callable[[], BotoSesManager]
) -> None:
    bsm = make_bsm()
    backend = new_backend(kind, bsm)
    name = "revision"
    _publish_versions(backend, bsm, name, 3)
    backend.put_alias(bsm, name, "prod", version=1)
    first = backend.get_alias(bsm, name, "prod")
    second = backend.get_alias(bsm, name, "prod")
    assert first.revision and first.revision == second.revision
    outcomes: list[Any] = []
    # Sequential on purpose: moto restores a whole-table snapshot when a transaction is
    # cancelled, so truly simultaneous DynamoDB transactions can lose each other's writes
    # on moto (never on AWS). Both writers still hold the same stale revision.
    for version in (2, 3):
        try:
            backend.put_alias(bsm, name, "prod", version=version, expected_revision=first.revision)
            outcomes.append(("ok", version))
        except BaseException as error:
            outcomes.append(("error", error))
    winners = [v for status, v in outcomes if status == "ok"]
    losers = [e for status, e in outcomes if status == "error"]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1 and isinstance(losers[0], ConcurrentModificationError), outcomes
    assert backend.get_alias(bsm, name, "prod").version == str(winners[0])


@pytest.fixture(scope="module")
def spawn_pool() -> Iterator[Any]:
    """Four spawned worker processes, shared by both backends' multi-process tests
    (starting interpreters is the expensive part)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        yield pool


@pytest.mark.parametrize("kind", LAYOUTS)
def test_processes_put_and_publish_keep_numbering(
    kind: str,
    endpoints: Endpoints,
    make_bsm: Callable[[], BotoSesManager],
    raw_s3: Any,
    spawn_pool: Any,
) -> None:
    bsm = make_bsm()
    backend = new_backend(kind, bsm)
    name = "processes"
    jobs = [(endpoints, backend.spec(), name, i, 2) for i in range(4)]
    # chunksize 1 over 4 processes: one job per process, all running at once
    results = spawn_pool.starmap(mp_worker, jobs, chunksize=1)
    returned = [pair for result in results for pair in result]
    assert len(returned) == 8
    check_numbering(backend, bsm, raw_s3, name, returned)
