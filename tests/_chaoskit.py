"""Helpers of the chaos suite: one adapter over both layouts' call conventions, raw-storage
invariant checkers (plain boto3, never the library), worker processes that can be
SIGKILLed, and a seeded scheduler of request-level interleavings.

Where requests go: one URL serving both services (a fault proxy, or one server such as
moto), or the suite's ``_testkit.Endpoints`` (S3 and DynamoDB possibly on two servers).

Shared with ``benchmarks/stress.py`` (which puts this folder on ``sys.path``) and the
worker processes (``_chaosworker.py``, beside it).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import queue
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from _faultproxy import FaultProxy, Held, Request, Rule
from _testkit import CREDENTIALS, REGION, Endpoints, sha256_hex, unique

WORKER_SCRIPT = str(Path(__file__).with_name("_chaosworker.py"))


# ====================================================================== outcomes
def is_library_error(error: BaseException) -> bool:
    """What a public call may raise: the library's errors, ValueError, TypeError."""
    from versioned.exc import VersionedError

    return isinstance(error, VersionedError | ValueError | TypeError)


def is_botocore_error(error: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(error, BotoCoreError | ClientError)


@dataclasses.dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def foreign(self) -> bool:
        """It raised something a public call must not raise (KeyError, botocore...)."""
        error = self.error
        return error is not None and (is_botocore_error(error) or not is_library_error(error))

    def describe(self) -> str:
        if self.error is None:
            return f"ok: {self.value!r}"
        return f"{type(self.error).__module__}.{type(self.error).__name__}: {self.error}"


def attempt(call: Callable[[], Any], *, strict: bool = True) -> Outcome:
    """Run ``call``; a library error is an outcome, anything else fails the test (or,
    not ``strict``, is an outcome too: check ``Outcome.foreign``)."""
    try:
        return Outcome(value=call())
    except Exception as error:
        if strict and (is_botocore_error(error) or not is_library_error(error)):
            raise AssertionError(
                f"a public call raised {type(error).__module__}.{type(error).__name__}: "
                f"{error} (only versioned.exc errors, ValueError, TypeError may escape)"
            ) from error
        return Outcome(error=error)


def clear_error(outcome: Outcome, *needles: str) -> str:
    """'' if the call raised a library error whose message holds every needle."""
    from versioned.exc import VersionedError

    if outcome.ok:
        return f"did not raise (returned {outcome.value!r:.100})"
    if outcome.foreign or not isinstance(outcome.error, VersionedError):
        return f"raised {outcome.describe()}"
    missing = [n for n in needles if n not in str(outcome.error)]
    return f"{outcome.describe()} does not name {missing}" if missing else ""


def works_or_clear(outcome: Outcome, *needles: str) -> str:
    """'' if the call returned, or raised as ``clear_error`` wants."""
    return "" if outcome.ok else clear_error(outcome, *needles)


def reported(outcome: Outcome, needle: str) -> str:
    """'' if verify() returned and some problem's location or detail holds ``needle``."""
    if not outcome.ok:
        return f"verify() raised {outcome.describe()}"
    if not any(needle in f"{p.location} {p.detail}" for p in outcome.value.problems):
        return f"verify() did not report {needle!r}: {outcome.value.problems}"
    return ""


# ====================================================================== the adapter
@dataclasses.dataclass(frozen=True)
class Place:
    """Where one repository lives, and how to build it (JSON-able for worker processes)."""

    kind: str  # "s3_only" | "s3_dynamodb"
    bucket: str
    prefix: str = "artifacts"
    suffix: str = ".bin"
    table: str | None = None
    options: tuple[tuple[str, Any], ...] = ()  # keyword-only constructor fields

    @property
    def ddb(self) -> bool:
        return self.kind == "s3_dynamodb"

    @property
    def root(self) -> str:
        stripped = self.prefix.strip("/")
        return f"{stripped}/" if stripped else ""

    def with_options(self, **options: Any) -> Place:
        return dataclasses.replace(
            self, options=tuple(sorted({**dict(self.options), **options}.items()))
        )

    def repository(self) -> Any:
        from versioned import s3_and_dynamodb_backend, s3_only_backend

        options = dict(self.options)
        if "retry_deadline_secs" in options:  # JSON-able for workers: a RetryPolicy's deadline
            from versioned.api import RetryPolicy

            options["retry_policy"] = RetryPolicy(deadline_secs=options.pop("retry_deadline_secs"))
        if self.ddb:
            assert self.table is not None
            return s3_and_dynamodb_backend.Repository(
                aws_region=REGION,
                s3_bucket=self.bucket,
                s3_prefix=self.prefix,
                dynamodb_table_name=self.table,
                suffix=self.suffix,
                **options,
            )
        return s3_only_backend.Repository(
            aws_region=REGION,
            s3_bucket=self.bucket,
            s3_prefix=self.prefix,
            suffix=self.suffix,
            **options,
        )

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "options": [list(p) for p in self.options]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Place:
        return cls(**{**data, "options": tuple(tuple(p) for p in data["options"])})


def new_place(kind: str, **options: Any) -> Place:
    table = unique("tbl") if kind == "s3_dynamodb" else None
    return Place(kind, unique("bkt"), table=table).with_options(**options)


class Ops:
    """The public operations of one repository through one session, called the way each
    layout spells them (S3-only: bsm first; S3+DynamoDB: bsm as the last keyword)."""

    def __init__(self, place: Place, bsm: Any, repo: Any = None) -> None:
        self.place = place
        self.bsm = bsm
        self.repo = repo if repo is not None else place.repository()

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        function = getattr(self.repo, method)
        if self.place.ddb:
            return function(*args, bsm=self.bsm, **kwargs)
        return function(self.bsm, *args, **kwargs)

    def bootstrap(self) -> None:
        self._call("bootstrap")

    def put(self, name: str, content: Any, **kwargs: Any) -> Any:
        return self._call("put_artifact", name=name, content=content, **kwargs)

    def publish(self, name: str) -> Any:
        return self._call("publish_artifact_version", name=name)

    def get(self, name: str, version: Any = None) -> Any:
        return self._call("get_artifact_version", name=name, version=version)

    def fetch(self, name: str, **kwargs: Any) -> Any:
        return self._call("fetch", name=name, **kwargs)

    def versions(self, name: str) -> list[Any]:
        return list(self._call("list_artifact_versions", name=name))

    def latest_number(self, name: str) -> int:
        return int(self._call("get_latest_published_artifact_version_number", name=name))

    def delete_version(self, name: str, version: Any) -> None:
        self._call("delete_artifact_version", name=name, version=version)

    def put_alias(self, name: str, alias: str, **kwargs: Any) -> Any:
        return self._call("put_alias", name=name, alias=alias, **kwargs)

    def get_alias(self, name: str, alias: str) -> Any:
        return self._call("get_alias", name=name, alias=alias)

    def aliases(self, name: str) -> list[Any]:
        return list(self._call("list_aliases", name=name))

    def delete_alias(self, name: str, alias: str, **kwargs: Any) -> None:
        self._call("delete_alias", name=name, alias=alias, **kwargs)

    def purge_versions(self, name: str, keep_last_n: int, purge_older_than_secs: float) -> Any:
        return self._call(
            "purge_artifact_versions",
            name=name,
            keep_last_n=keep_last_n,
            purge_older_than_secs=purge_older_than_secs,
        )

    def plan_purge(self, name: str, keep_last_n: int, purge_older_than_secs: float) -> Any:
        return self._call(
            "plan_purge",
            name=name,
            keep_last_n=keep_last_n,
            purge_older_than_secs=purge_older_than_secs,
        )

    def purge_artifact(self, name: str) -> None:
        self._call("purge_artifact", name=name)

    def purge_all(self) -> None:
        self._call("purge_all")

    def names(self) -> list[str]:
        return list(self._call("list_artifact_names"))

    def verify(self, name: str | None = None) -> Any:
        return self._call("verify", name=name)

    def set_retention(self, name: str | None, **policy: Any) -> None:
        from versioned.retention import RetentionPolicy

        self._call("set_retention", name=name, policy=RetentionPolicy(**policy))

    def apply_retention(self, name: str | None = None, **kwargs: Any) -> Any:
        return self._call("apply_retention", name=name, **kwargs)

    def rollout(self, name: str, alias: str, to_version: Any, **kwargs: Any) -> Any:
        return self._call("rollout", name=name, alias=alias, to_version=to_version, **kwargs)

    def rollout_status(self, name: str, alias: str) -> Any:
        return self._call("rollout_status", name=name, alias=alias)

    def resume_rollout(self, name: str, alias: str, **kwargs: Any) -> Any:
        return self._call("resume_rollout", name=name, alias=alias, **kwargs)

    def abort_rollout(self, name: str, alias: str, **kwargs: Any) -> Any:
        return self._call("abort_rollout", name=name, alias=alias, **kwargs)

    def publish_contents(self, name: str, contents: list[bytes]) -> list[Any]:
        """Put and publish each content in turn; the published artifacts."""
        published = []
        for content in contents:
            self.put(name, content)
            published.append(self.publish(name))
        return published


# ====================================================================== raw storage
@dataclasses.dataclass(frozen=True)
class Stored:
    """One version as raw storage holds it."""

    key: str
    recorded: str | None  # the sha256 the layout records for it
    actual: str | None  # sha256 of the bytes at ``key`` (None: no object)


class RawStore:
    """Reads both layouts' storage with plain boto3 (never through the library)."""

    def __init__(self, s3: Any, dynamodb: Any) -> None:
        self.s3 = s3
        self.dynamodb = dynamodb

    # ------------------------------------------------------------ plain reads
    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        found: list[str] = []
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        while True:
            response = self.s3.list_objects_v2(**kwargs)
            found.extend(item["Key"] for item in response.get("Contents", []))
            if not response.get("IsTruncated"):
                return found
            kwargs["ContinuationToken"] = response["NextContinuationToken"]

    def read(self, bucket: str, key: str) -> tuple[bytes, dict[str, str]] | None:
        try:
            response = self.s3.get_object(Bucket=bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return None
        metadata = {k.lower(): v for k, v in (response.get("Metadata") or {}).items()}
        return response["Body"].read(), metadata

    def data(self, bucket: str, key: str) -> bytes | None:
        found = self.read(bucket, key)
        return None if found is None else found[0]

    def items(self, table: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        deserialize = TypeDeserializer().deserialize
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        while True:
            response = self.dynamodb.scan(**kwargs)
            for item in response.get("Items", []):
                found.append({k: deserialize(v) for k, v in item.items()})
            if "LastEvaluatedKey" not in response:
                return found
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def partition(self, table: str, pk: str) -> list[dict[str, Any]]:
        return [item for item in self.items(table) if item.get("pk") == pk]

    def snapshot(self, bucket: str, prefix: str = "", table: str | None = None) -> dict[str, Any]:
        """Every object (key -> sha256 of its bytes) and, with a table, every item."""
        objects = {}
        for key in self.keys(bucket, prefix):
            found = self.data(bucket, key)
            objects[key] = None if found is None else sha256_hex(found)
        items = {}
        if table:
            for item in self.items(table):
                items[(item["pk"], item["sk"])] = json.dumps(item, sort_keys=True, default=str)
        return {"objects": objects, "items": items}

    # ------------------------------------------------------------ the layouts
    def version_key(self, place: Place, name: str, version: int | str) -> str:
        if place.ddb:
            stem = "LATEST" if version == "LATEST" else f"{int(version):06d}"
            return f"{place.root}{name}/{stem}{place.suffix}"
        if version == "LATEST":
            stem = "000000_LATEST"
        else:
            number = int(version)
            stem = f"{1_000_000 - number:06d}_{number:06d}"
        return f"{place.root}{name}/versions/{stem}{place.suffix}"

    def _stored(self, place: Place, key: str, recorded: str | None) -> Stored:
        found = self.read(place.bucket, key)
        if found is None:
            return Stored(key, recorded, None)
        data, metadata = found
        if not place.ddb:
            recorded = metadata.get("artifact_sha256")
        return Stored(key, recorded, sha256_hex(data))

    def versions(self, place: Place, name: str) -> dict[int, Stored]:
        """Every live published version: number -> what is stored."""
        found: dict[int, Stored] = {}
        if place.ddb:
            assert place.table is not None
            for item in self.partition(place.table, name):
                sk = str(item.get("sk", ""))
                if len(sk) == 6 and sk.isdigit() and not item.get("is_deleted"):
                    key = self.version_key(place, name, int(sk))
                    found[int(sk)] = self._stored(place, key, item.get("sha256"))
            return found
        directory = f"{place.root}{name}/versions/"
        pattern = re.compile(rf"(\d{{6}})_(\d{{6}}){re.escape(place.suffix)}")
        for key in self.keys(place.bucket, directory):
            match = pattern.fullmatch(key[len(directory) :])
            if match and int(match[1]) + int(match[2]) == 1_000_000:
                found[int(match[2])] = self._stored(place, key, None)
        return found

    def latest(self, place: Place, name: str) -> Stored | None:
        key = self.version_key(place, name, "LATEST")
        recorded = None
        if place.ddb:
            assert place.table is not None
            item = next(
                (i for i in self.partition(place.table, name) if i.get("sk") == "LATEST"), None
            )
            if item is None or item.get("is_deleted"):
                return None
            recorded = item.get("sha256")
        stored = self._stored(place, key, recorded)
        return None if stored.actual is None and not place.ddb else stored

    def aliases(self, place: Place, name: str) -> dict[str, list[str]]:
        """alias -> the versions it routes to ("1", "LATEST"), read raw; an unreadable
        document maps to ["<unreadable>"]."""
        found: dict[str, list[str]] = {}
        if place.ddb:
            assert place.table is not None
            for item in self.partition(place.table, f"__{name}-alias"):
                targets = [item.get("version"), item.get("secondary_version")]
                found[str(item["sk"])] = [_norm(t) for t in targets if t not in (None, "")]
            return found
        directory = f"{place.root}{name}/aliases/"
        for key in self.keys(place.bucket, directory):
            rest = key[len(directory) :]
            if "/" in rest or not rest.endswith(".json"):
                continue
            data = self.data(place.bucket, key)
            try:
                document = json.loads(data or b"")
                targets = [document.get("version"), document.get("secondary_version")]
            except (ValueError, AttributeError):
                found[rest[: -len(".json")]] = ["<unreadable>"]
                continue
            found[rest[: -len(".json")]] = [_norm(t) for t in targets if t not in (None, "")]
        return found

    # ------------------------------------------------------------ invariants
    def torn(self, place: Place, name: str) -> list[str]:
        """Versions (LATEST included) whose bytes are missing or do not hash to the
        recorded sha256."""
        bad = [
            f"v{number}: recorded {s.recorded}, bytes {s.actual}"
            for number, s in sorted(self.versions(place, name).items())
            if s.actual is None or s.actual != s.recorded
        ]
        latest = self.latest(place, name)
        if latest is not None and latest.actual != latest.recorded:
            bad.append(f"LATEST: recorded {latest.recorded}, bytes {latest.actual}")
        return bad

    def dangling(self, place: Place, name: str) -> list[str]:
        """Aliases that point at a version that does not exist (or is soft-deleted)."""
        live = {str(n) for n in self.versions(place, name)}
        if self.latest(place, name) is not None:
            live.add("LATEST")
        return [
            f"alias {alias} -> {target}"
            for alias, targets in sorted(self.aliases(place, name).items())
            for target in targets
            if target not in live
        ]


def _norm(version: Any) -> str:
    text = str(version)
    return text if not text.isdigit() else str(int(text))


# ====================================================================== proxies
def first_write(service: str | None = None) -> Callable[[Request], bool]:
    """A rule predicate: any writing request (of ``service`` when given)."""

    def predicate(request: Request) -> bool:
        return request.is_write and (service is None or request.service == service)

    return predicate


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


class Background:
    """Run a call in a thread; ``result(timeout)`` is its Outcome (or None if still running)."""

    def __init__(self, call: Callable[[], Any], name: str = "background") -> None:
        self.outcome: Outcome | None = None
        self.crash: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), name=name, daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self.outcome = attempt(call)
        except BaseException as error:  # re-raised by result()
            self.crash = error

    def result(self, timeout: float = 30.0) -> Outcome | None:
        self._thread.join(timeout)
        if self.crash is not None:
            raise self.crash
        return self.outcome

    @property
    def running(self) -> bool:
        return self._thread.is_alive()


def interleave_at(
    proxy_a: FaultProxy,
    run_a: Callable[[], Any],
    k: int,
    run_b: Callable[[], Any],
    *,
    b_timeout: float = 5.0,
) -> tuple[Outcome | None, Outcome | None, bool]:
    """Pause A (whose requests go through ``proxy_a``) at its k-th request, run B to
    completion (bounded), then let A continue. Returns (A's outcome, B's outcome, whether
    A reached a k-th request at all)."""
    rule = proxy_a.add("hold", skip=k - 1)
    a = Background(run_a, "A")
    held = None
    while held is None and a.running:
        held = rule.poll(0.05)
    if held is None:
        proxy_a.remove(rule)
        return a.result(), None, False
    b = Background(run_b, "B")
    b_outcome = b.result(b_timeout)
    held.release("forward")
    a_outcome = a.result(60)
    proxy_a.remove(rule)
    if b_outcome is None:  # B waited for A (a lock or lease): let it finish now
        b_outcome = b.result(60)
    return a_outcome, b_outcome, True


# ====================================================================== scheduler
class Interleaver:
    """Runs operations concurrently, each in a thread whose requests go through its own
    proxy that holds every request, and releases one held request at a time.

    The order comes first from ``script``, a list of steps ``(actor, what)``: ``what`` is a
    number of requests to release, ``"write"`` (release the actor's requests until the
    next one would write, which stays held) or ``None`` (until the actor finishes); then
    from a seeded RNG (staying with the previous actor with probability ``stickiness``).
    A step whose actor sends nothing for 0.2 s (it sleeps or waits for another actor) is
    skipped. Request-level interleavings are thereby reproducible, up to the requests an
    operation sends in parallel."""

    def __init__(
        self,
        actors: Mapping[str, tuple[FaultProxy, Callable[[], Any]]],
        rng: random.Random,
        stickiness: float = 0.6,
        script: list[tuple[str, int | str | None]] | None = None,
    ) -> None:
        self.actors = actors
        self.rng = rng
        self.stickiness = stickiness
        self.script = list(script or [])
        self.order: list[str] = []

    def run(self, timeout: float = 30.0) -> dict[str, Outcome]:
        rules: dict[str, Rule] = {
            name: proxy.add("hold", times=None) for name, (proxy, _) in self.actors.items()
        }
        pending: dict[str, list[Held]] = {name: [] for name in self.actors}
        threads = {name: Background(call, name) for name, (_, call) in self.actors.items()}
        deadline = time.monotonic() + timeout
        last: str | None = None

        def collect() -> None:
            for name, rule in rules.items():
                while True:
                    held = rule.poll(0)
                    if held is None:
                        break
                    pending[name].append(held)

        def settled() -> bool:
            collect()
            return all(pending[n] or not threads[n].running for n in self.actors)

        try:
            while any(t.running for t in threads.values()) and time.monotonic() < deadline:
                # an actor with nothing pending after 0.2 s is sleeping (a backoff) or
                # waiting for another actor: schedule the others meanwhile
                wait_until(settled, 0.2, 0.001)
                time.sleep(0.002)
                collect()
                chosen = self._scripted(pending, threads)
                if chosen == "":
                    continue  # the script moved on
                if chosen is None:
                    ready = [n for n in self.actors if pending[n]]
                    if not ready:
                        continue
                    if last in ready and self.rng.random() < self.stickiness:
                        chosen = last
                    else:
                        chosen = self.rng.choice(ready)
                held = pending[chosen].pop(0)
                self.order.append(chosen)
                held.release("forward")
                held.done.wait(10)
                last = chosen
        finally:
            for name, (proxy, _) in self.actors.items():
                proxy.remove(rules[name])
                rules[name].release_all("forward")
                for held in pending[name]:
                    held.release("forward")
        outcomes = {}
        for name, thread in threads.items():
            outcome = thread.result(60)
            assert outcome is not None, f"{name} did not finish"
            outcomes[name] = outcome
        return outcomes

    def _scripted(
        self, pending: dict[str, list[Held]], threads: dict[str, Background]
    ) -> str | None:
        """The actor the script releases next; "" when a step just ended; None when the
        script is over."""
        if not self.script:
            return None
        actor, what = self.script[0]
        if not pending[actor]:  # finished, or waiting for someone else: next step
            self.script.pop(0)
            return ""
        if what == "write":
            if pending[actor][0].request.is_write:
                self.script.pop(0)
                return ""
            return actor
        if isinstance(what, int):
            if what <= 1:
                self.script.pop(0)
            else:
                self.script[0] = (actor, what - 1)
        return actor


# ====================================================================== worker processes
class Worker:
    """A Python process running library operations (``_chaosworker.py``), which the test
    can SIGKILL at any moment. Start several at once: the interpreters warm up in
    parallel."""

    def __init__(self, clock_skew_secs: float = 0.0, zygote: Zygote | None = None) -> None:
        self.proc: subprocess.Popen[str] | _Forked
        if zygote is not None:  # forked from a process that imported everything already
            self.proc = zygote.fork()
        else:
            self.proc = subprocess.Popen(
                [sys.executable, "-u", WORKER_SCRIPT],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=worker_environment(clock_skew_secs),
            )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump_out, daemon=True).start()
        if self.proc.stderr is not None:
            threading.Thread(target=self._pump_err, daemon=True).start()
        self._ready = False

    def _pump_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            del self.stderr[:-40]

    def _line(self, timeout: float) -> dict[str, Any] | None:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is None:
            return {"eof": True}
        message: dict[str, Any] = json.loads(line)
        return message

    def ready(self, timeout: float = 60.0) -> None:
        if not self._ready:
            line = self._line(timeout)
            assert line == {"ready": True}, (line, "".join(self.stderr))
            self._ready = True

    def send(self, place: Place, endpoint: str | Endpoints, op: str, **args: Any) -> None:
        """Start one operation (see ``_chaosworker.run``) against ``endpoint`` (a proxy's
        URL, or the suite's Endpoints); read its result with result()."""
        self.ready()
        assert self.proc.stdin is not None
        target = endpoint if isinstance(endpoint, str) else dataclasses.asdict(endpoint)
        command = {"place": place.to_json(), "endpoint": target, "op": op, "args": args}
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def result(self, timeout: float = 60.0) -> dict[str, Any] | None:
        return self._line(timeout)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()  # SIGKILL
        self.proc.wait(10)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


def worker_environment(clock_skew_secs: float = 0.0) -> dict[str, str]:
    env = {**os.environ, **{k.upper(): v for k, v in CREDENTIALS.items()}}
    env["AWS_DEFAULT_REGION"] = REGION
    if clock_skew_secs:  # the worker's wall clock is off (see _chaosworker.skew_clock)
        env["VERSIONED_CHAOS_CLOCK_SKEW_SECS"] = str(clock_skew_secs)
    return env


class _Forked:
    """A worker forked by a Zygote, with the parts of Popen that Worker uses."""

    def __init__(self, pid: int, stdin: Any, stdout: Any) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = None

    def poll(self) -> int | None:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return -9
        return None

    @property
    def returncode(self) -> int | None:
        return self.poll()

    def kill(self) -> None:
        os.kill(self.pid, 9)  # SIGKILL

    def wait(self, timeout: float) -> int:
        if not wait_until(lambda: self.poll() is not None, timeout):
            raise subprocess.TimeoutExpired(str(self.pid), timeout)
        return -9


class Zygote:
    """A worker process that imported the library once and forks workers in a few
    milliseconds (``Worker(zygote=...)``; each is SIGKILLed like any process). The kernel
    reaps them. ``clock_skew_secs``: every worker's wall clock is that far off."""

    def __init__(self, clock_skew_secs: float = 0.0) -> None:
        import tempfile

        self.directory = tempfile.mkdtemp(prefix="chaos-zygote-")
        self.count = 0
        self.proc = subprocess.Popen(
            [sys.executable, "-u", WORKER_SCRIPT, "--zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=worker_environment(clock_skew_secs),
        )
        assert self.proc.stdout is not None
        ready = json.loads(self.proc.stdout.readline() or "{}")
        assert ready == {"ready": True}, ready

    def fork(self) -> _Forked:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.count += 1
        fifo_in = os.path.join(self.directory, f"in-{self.count}")
        fifo_out = os.path.join(self.directory, f"out-{self.count}")
        os.mkfifo(fifo_in)
        os.mkfifo(fifo_out)
        self.proc.stdin.write(json.dumps({"spawn": [fifo_in, fifo_out]}) + "\n")
        self.proc.stdin.flush()
        stdin = open(fifo_in, "w")  # noqa: SIM115  (the child opens in, then out)
        stdout = open(fifo_out)  # noqa: SIM115
        pid = json.loads(self.proc.stdout.readline())["pid"]
        return _Forked(pid, stdin, stdout)

    def close(self) -> None:
        import shutil

        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def workers(count: int, clock_skew_secs: float = 0.0) -> Iterator[list[Worker]]:
    started = [Worker(clock_skew_secs) for _ in range(count)]
    try:
        yield started
    finally:
        for worker in started:
            worker.kill()


def encode_content(data: bytes) -> str:
    return base64.b64encode(data).decode()


def decode_content(text: str) -> bytes:
    return base64.b64decode(text)


# ====================================================================== promises
class Promises:
    """The promises every interleaving must keep on one artifact, checked on raw storage
    (plain boto3) and through the library's reads, across the rounds of a test:

    - no version number is handed out for two contents (``note`` each publish's answer);
    - no number names other bytes than it first did, none is torn (bytes vs record);
    - every alias routes to live bytes (an alias in ``tolerated`` may dangle if verify()
      reports it: another client's unconditional write, a documented limit);
    - verify() returns, reports a dangling alias or torn version when there is one, and
      nothing else outside ``allowed``;
    - the library lists exactly the live versions and the aliases raw storage holds.
    """

    def __init__(self, raw: RawStore, place: Place, name: str) -> None:
        self.raw = raw
        self.place = place
        self.name = name
        self.numbers: dict[int, str] = {}  # number -> the sha256 it was first seen with
        self.problems: list[str] = []

    def note(self, version: Any, sha256: str, who: str) -> None:
        """A publish answered ``version`` for content ``sha256``."""
        if str(version) == "LATEST":
            return
        number = int(version)
        first = self.numbers.setdefault(number, sha256)
        if first != sha256:
            self.problems.append(
                f"{who}: version {number} handed out for {sha256[:8]}, it was {first[:8]}"
            )

    def check(
        self, ops: Ops, where: str, tolerated: tuple[str, ...] = (), allowed: tuple[str, ...] = ()
    ) -> list[str]:
        """Every broken promise now (each prefixed with ``where``), plus noted ones."""
        found, self.problems = self.problems, []
        stored = self.raw.versions(self.place, self.name)
        for number, entry in sorted(stored.items()):
            first = self.numbers.setdefault(number, entry.actual or "")
            if entry.actual != first:
                found.append(f"v{number} names {entry.actual}, it named {first}")
        latest = self.raw.latest(self.place, self.name)
        # as RawStore.torn and RawStore.dangling, on one read of the versions
        torn = [
            f"v{number}: recorded {entry.recorded}, bytes {entry.actual}"
            for number, entry in sorted(stored.items())
            if entry.actual is None or entry.actual != entry.recorded
        ]
        if latest is not None and latest.actual != latest.recorded:
            torn.append(f"LATEST: recorded {latest.recorded}, bytes {latest.actual}")
        found += [f"torn {t}" for t in torn]
        live = {str(n) for n in stored} | ({"LATEST"} if latest is not None else set())
        raw_aliases = self.raw.aliases(self.place, self.name)
        dangling = [
            f"alias {alias} -> {target}"
            for alias, targets in sorted(raw_aliases.items())
            for target in targets
            if target not in live
        ]
        found += [d for d in dangling if d.split()[1] not in tolerated]
        report = attempt(lambda: ops.verify(self.name), strict=False)
        if not report.ok:
            found.append(f"verify() raised {report.describe()}")
        else:
            kinds = report.value.kinds()
            if dangling and "dangling_alias" not in kinds:
                found.append(f"verify() missed {dangling}")
            if torn and report.value.ok:
                found.append(f"verify() missed torn {torn}")
            expected = {"dangling_alias"} if dangling else set()
            extra = [p for p in report.value.problems if p.kind not in {*expected, *allowed}]
            if extra and not torn:
                found.append(f"verify() reported {[(p.kind, p.location) for p in extra]}")
        found += self._reads(ops, stored, raw_aliases)
        return [f"{where}: {problem}" for problem in found]

    def _reads(
        self, ops: Ops, stored: dict[int, Stored], raw_aliases: dict[str, list[str]]
    ) -> list[str]:
        problems: list[str] = []
        listed = attempt(lambda: ops.versions(self.name), strict=False)
        if not listed.ok:
            if stored:
                problems.append(f"list_artifact_versions raised {listed.describe()}")
        else:
            numbers = sorted(int(a.version) for a in listed.value if a.version != "LATEST")
            if numbers != sorted(stored):
                problems.append(f"listed {numbers}, stored {sorted(stored)}")
            for artifact in listed.value:
                number = None if artifact.version == "LATEST" else int(artifact.version)
                if number in stored and artifact.sha256 != stored[number].actual:
                    problems.append(f"v{artifact.version} listed with {artifact.sha256}")
        aliases = attempt(lambda: ops.aliases(self.name), strict=False)
        if not aliases.ok:
            if raw_aliases:
                problems.append(f"list_aliases raised {aliases.describe()}")
            return problems
        routed = {
            a.alias: [_norm(v) for v in (a.version, a.secondary_version) if v is not None]
            for a in aliases.value
        }
        if routed != raw_aliases:
            problems.append(f"aliases read {routed}, stored {raw_aliases}")
        return problems
