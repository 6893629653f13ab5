"""Client CPU per metadata operation, over the raw boto3 calls it makes (issue 19: at most
1 ms).

Usage: python benchmarks/client_cpu.py [--calls 200] [--profile OPERATION]

A moto server runs in a process of its own, so this process's CPU time (every thread:
the library's pools included) is the client's alone. Per operation: the requests one
call makes are recorded (their API parameters, through botocore's
``before-parameter-build`` event); then ``--calls`` library calls are timed, and the
same number of replays of the recorded requests through the same boto3 clients (an
answer that is now an error, e.g. a condition that no longer holds, costs what an
answer costs and is ignored). The figure is (library CPU - raw CPU) / calls, in ms.
``--profile OPERATION`` prints the cProfile of that operation's library calls (their
parallel requests then sent in turn, in the profiled thread).
Exits 1 when an operation is above the target.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import cProfile
import io
import pstats
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from _harness import make_repository
from _testkit import free_port, make_session, raw_client
from botocore import xform_name
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

TARGET_MS = 1.0
SORT, RESTRICT = "tottime", [400]
BUCKET = "versioned-cpu"
TABLE = "versioned-cpu"


@contextlib.contextmanager
def moto_process() -> Iterator[str]:
    """A moto server in its own process (its CPU is not ours); its URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


class InBoto:
    """CPU time (of the thread making it) spent inside botocore's API calls, summed over
    threads: what a library call's requests cost the client on their own."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds = 0.0
        self.original = BaseClient._make_api_call

    def __enter__(self) -> InBoto:
        original, meter = self.original, self

        def timed(client: Any, operation: str, params: dict[str, Any]) -> Any:
            start = time.thread_time()
            try:
                return original(client, operation, params)
            finally:
                spent = time.thread_time() - start
                with meter.lock:
                    meter.seconds += spent

        BaseClient._make_api_call = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        BaseClient._make_api_call = self.original  # type: ignore[method-assign]


class Recorder:
    """The API calls a session's clients make: (service, operation, parameters)."""

    def __init__(self) -> None:
        self.on = False
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.on:
            service = model.service_model.service_name
            self.calls.append((service, model.name, copy.deepcopy(params)))


def replay(clients: dict[str, Any], calls: list[tuple[str, str, dict[str, Any]]]) -> None:
    for service, operation, params in calls:
        method = getattr(clients[service], xform_name(operation))
        with contextlib.suppress(ClientError, BotoCoreError):
            answer = method(**params)
            if "Body" in answer:  # read and closed, as the library does
                with contextlib.closing(answer["Body"]) as body:
                    body.read()


def measure(
    label: str,
    call: Callable[[], Any],
    recorder: Recorder,
    clients: dict[str, Any],
    calls: int,
    profile: bool,
) -> float:
    for _ in range(3):
        call()  # warm: caches, connections, the repository record
    recorder.calls.clear()
    recorder.on = True
    call()
    recorder.on = False
    recorded = list(recorder.calls)
    profiler = cProfile.Profile(time.process_time) if profile else None
    with InBoto() as inside:
        start = time.process_time()
        if profiler is not None:
            profiler.enable()
        for _ in range(calls):
            call()
        if profiler is not None:
            profiler.disable()
        ours = time.process_time() - start
    replay(clients, recorded)
    start = time.process_time()
    for _ in range(calls):
        replay(clients, recorded)
    raw = time.process_time() - start
    over = (ours - inside.seconds) / calls * 1000
    names = ", ".join(f"{s}.{o}" for s, o, _ in recorded)
    flag = "" if over <= TARGET_MS else "  ABOVE TARGET"
    print(
        f"{label:26} {len(recorded):2} req  library {ours / calls * 1000:6.2f} ms  "
        f"in boto3 {inside.seconds / calls * 1000:6.2f} ms  over {over:5.2f} ms{flag}  "
        f"(replayed raw: {raw / calls * 1000:6.2f} ms, "
        f"over that {(ours - raw) / calls * 1000:5.2f})"
        f"  [{names}]"
    )
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(SORT).print_stats(*RESTRICT)
        print(text.getvalue())
    return over


def operations(repo: Any, bsm: Any, ddb: bool) -> dict[str, Callable[[], Any]]:
    name = f"cpu{uuid.uuid4().hex[:8]}"

    def call(method: str, *args: Any, **kwargs: Any) -> Any:
        function = getattr(repo, method)
        return function(*args, bsm=bsm, **kwargs) if ddb else function(bsm, *args, **kwargs)

    call("put_artifact", name=name, content=b"one")
    call("publish_artifact_version", name=name)
    call("put_artifact", name=name, content=b"two")
    call("publish_artifact_version", name=name)
    call("put_alias", name=name, alias="prod", version=1)
    for other in range(2):  # a listing of three artifacts, as benchmarks/versus_seed.py's
        call("put_artifact", name=f"{name}x{other}", content=b"other")
        call("publish_artifact_version", name=f"{name}x{other}")
    flip = [1]

    def put_alias() -> Any:
        flip[0] = 3 - flip[0]
        return call("put_alias", name=name, alias="prod", version=flip[0])

    return {
        "put unchanged": lambda: call("put_artifact", name=name, content=b"two"),
        "get version": lambda: call("get_artifact_version", name=name, version=1),
        "get alias": lambda: call("get_alias", name=name, alias="prod"),
        "list names": lambda: call("list_artifact_names"),
        "put alias": put_alias,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--profile", help="e.g. 'S3 + DynamoDB put unchanged'")
    parser.add_argument("--serial", action="store_true", help="parallel requests in turn")
    args = parser.parse_args()
    if args.profile or args.serial:
        # profile every request in this thread (cProfile sees one thread): the pools'
        # calls run in turn, so their CPU shows, but not the threads' own cost
        from versioned import _pool

        _pool.fan_out = lambda function, items: [function(item) for item in items]
    worst = 0.0
    with moto_process() as url:
        raw_client(url, "s3").create_bucket(Bucket=BUCKET)
        for backend, label, ddb in (
            ("s3-only", "S3-only", False),
            ("s3+ddb", "S3 + DynamoDB", True),
        ):
            bsm = make_session(url)
            recorder = Recorder()
            bsm.boto_ses.events.register("before-parameter-build", recorder)
            repo = make_repository(backend, bsm, BUCKET, TABLE)
            ops = operations(repo, bsm, ddb)
            clients = {
                "s3": repo._engine.session(bsm).s3,
                "dynamodb": repo._engine.session(bsm).dynamodb,
            }
            for operation, call in ops.items():
                row = f"{label} {operation}"
                over = measure(row, call, recorder, clients, args.calls, args.profile == row)
                worst = max(worst, over)
    print(f"\nworst: {worst:.2f} ms over the raw calls (target {TARGET_MS} ms)")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
