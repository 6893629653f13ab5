"""A worker process of the chaos suite: reads JSON commands on stdin (one per line), runs
each against the repository it names, writes one JSON result per line on stdout. Tests
SIGKILL it at chosen moments (see ``_chaoskit.Worker``)."""

from __future__ import annotations

import functools
import json
import random
import sys
import threading
import traceback
import uuid
from typing import Any

from _chaoskit import Ops, Place, decode_content
from _testkit import make_session, sha256_hex

_SESSIONS: dict[str, Any] = {}


def _ops(command: dict[str, Any]) -> Ops:
    """``endpoint``: a URL serving both services (a proxy), or {"s3": url, "dynamodb": url}."""
    endpoint = command["endpoint"]
    key = json.dumps(endpoint, sort_keys=True)
    if key not in _SESSIONS:
        _SESSIONS[key] = make_session(endpoint)
    return Ops(Place.from_json(command["place"]), _SESSIONS[key])


def _artifact(artifact: Any) -> dict[str, Any]:
    return {"version": artifact.version, "sha256": artifact.sha256}


def run(command: dict[str, Any]) -> Any:
    ops = _ops(command)
    op, args = command["op"], dict(command.get("args") or {})
    if op == "put":
        content = decode_content(args.pop("content"))
        return _artifact(ops.put(args.pop("name"), content, **args))
    if op == "publish":
        return _artifact(ops.publish(args["name"]))
    if op == "put_alias":
        alias = ops.put_alias(args.pop("name"), args.pop("alias"), **args)
        return {"version": alias.version, "revision": alias.revision}
    if op == "delete_alias":
        ops.delete_alias(args.pop("name"), args.pop("alias"), **args)
        return None
    if op == "delete_version":
        ops.delete_version(args["name"], args["version"])
        return None
    if op == "purge_versions":
        _, deleted = ops.purge_versions(**args)
        return [a.version for a in deleted]
    if op == "purge_artifact":
        ops.purge_artifact(args["name"])
        return None
    if op == "apply_retention":
        reports = ops.apply_retention(**args)
        return [
            {"name": r.name, "deleted": list(r.deleted), "errors": list(r.errors)} for r in reports
        ]
    if op == "purge_all":
        ops.purge_all()
        return None
    if op == "utc_now":  # the library's wall clock in this process
        from versioned import _model

        return _model.utc_now().isoformat()
    if op == "rollout":  # announces {"step": n} once each step is recorded
        alias = ops.rollout(
            args.pop("name"),
            args.pop("alias"),
            args.pop("to_version"),
            on_progress=lambda p: _emit({"step": p.status.step, "left": p.remaining_bake_secs}),
            **args,
        )
        return {"version": alias.version, "secondary_version": alias.secondary_version}
    if op == "stress":
        return stress(ops, **args)
    if op == "fetch":
        return fetch(ops, **args)
    if op == "put_file":
        return put_file(ops, **args)
    raise ValueError(f"unknown op {op!r}")


def fetch(ops: Ops, name: str, hang_at: int | None = None, **args: Any) -> dict[str, str]:
    """Fetch through the local cache; with ``hang_at``, announce {"reached": bytes} once
    that many bytes are written, then block (for the test to SIGKILL the worker)."""

    def progress(done: int, total: int) -> None:
        if hang_at is not None and done >= hang_at:
            _emit({"reached": done, "total": total})
            threading.Event().wait()

    return {"path": str(ops.fetch(name, progress=progress, **args))}


def put_file(
    ops: Ops, name: str, path: str, hang_at: int | None = None, **args: Any
) -> dict[str, Any]:
    """Put the file at ``path``; with ``hang_at``, announce {"reached": bytes} once that
    many bytes are sent, then block (for the test to SIGKILL the worker)."""
    from pathlib import Path

    def progress(done: int, total: int) -> None:
        if hang_at is not None and done >= hang_at:
            _emit({"reached": done, "total": total})
            threading.Event().wait()

    return _artifact(ops.put(name, Path(path), progress=progress, **args))


def _emit(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def stress(ops: Ops, name: str, worker: int, seed: int, rounds: int) -> int:
    """Put, publish, sometimes alias, delete or purge; one event line per call, written as
    soon as the call returns (a killed worker's completed calls are all reported).

    Contents come from a small pool shared by all workers (so unchanged puts and
    publishes, and puts of an earlier content, happen); aliases and deletes aim at the
    same few recent versions (so they collide)."""
    rng = random.Random(seed)
    pool = [f"shared content {i} ".encode() * (40 + 7 * i) for i in range(5)]
    for _ in range(rounds):
        content = rng.choice(pool) if rng.random() < 0.7 else uuid.uuid4().bytes * 20
        digest = sha256_hex(content)
        _event(ops, "put", lambda c=content: _artifact(ops.put(name, c)), sha256=digest)
        published = _event(ops, "publish", lambda: _artifact(ops.publish(name)))
        if not published:
            continue
        newest = int(published["version"])
        target = rng.randint(max(1, newest - 4), newest)
        roll = rng.random()
        if roll < 0.35:
            alias = f"a{rng.randint(0, 3)}"
            _event(
                ops,
                "put_alias",
                lambda a=alias, t=target: {
                    "alias": a,
                    "version": ops.put_alias(name, a, version=t).version,
                },
            )
        elif roll < 0.6:
            _event(ops, "delete", functools.partial(_delete, ops, name, target))
        elif roll < 0.7:
            _event(
                ops,
                "purge",
                lambda: [a.version for a in ops.purge_versions(name, 5, 0)[1]],
            )
    return rounds


def _delete(ops: Ops, name: str, version: int) -> dict[str, str]:
    ops.delete_version(name, version)
    return {"version": str(version)}


def _event(ops: Ops, kind: str, call: Any, **extra: Any) -> Any:
    _emit({"event": "start", "kind": kind, **extra})
    try:
        value = call()
    except Exception as error:
        _emit({"event": "error", "kind": kind, **_error(error)})
        return None
    _emit({"event": "done", "kind": kind, "value": value, **extra})
    return value


def _error(error: BaseException) -> dict[str, Any]:
    from _chaoskit import is_botocore_error, is_library_error

    return {
        "type": type(error).__name__,
        "module": type(error).__module__,
        "library": is_library_error(error) and not is_botocore_error(error),
        "message": str(error)[:500],
    }


#: seconds this worker's clock is off (a machine whose clock is wrong): see skew_clock
CLOCK_SKEW_VARIABLE = "VERSIONED_CHAOS_CLOCK_SKEW_SECS"


def skew_clock(seconds: float) -> None:
    """Make the library's wall clock ``seconds`` off, as on a machine whose clock is wrong.

    The library reads wall time only through ``datetime.now`` (its modules import the
    class: ``from datetime import datetime``; ``time`` is read for ``monotonic`` only,
    which a wrong wall clock does not move). Only the library's modules see the skewed
    subclass; the datetime module keeps its true class: botocore keeps signing
    with the true time (AWS refuses requests signed 15 minutes off; a skewed machine's
    SDK corrects for it from the server's Date). Every library module is imported and its
    module-level ``datetime`` replaced, whatever imported the library before."""
    import datetime as module

    true_class = module.datetime
    shift = module.timedelta(seconds=seconds)

    class SkewedDatetime(true_class):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz: module.tzinfo | None = None) -> Any:
            return true_class.now(tz) + shift

        @classmethod
        def utcnow(cls) -> Any:
            return true_class.now(module.UTC).replace(tzinfo=None) + shift

    import importlib
    import pkgutil

    import boto3  # noqa: F401  (botocore binds the true class first)

    import versioned

    # every module of the library, imported now (the kits may have imported some already),
    # reads the skewed class through its module-level name ``datetime``
    for info in pkgutil.walk_packages(versioned.__path__, "versioned."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    for name, loaded in list(sys.modules.items()):
        if name.startswith("versioned") and getattr(loaded, "datetime", None) is true_class:
            setattr(loaded, "datetime", SkewedDatetime)  # noqa: B010  (any module)
    import versioned._model

    off = versioned._model.utc_now() - true_class.now(module.UTC)
    assert abs((off - shift).total_seconds()) < 5, off


def _load() -> None:
    """Import the library (its clock skewed when the environment says so)."""
    import os

    skew = os.environ.get(CLOCK_SKEW_VARIABLE)
    if skew:
        skew_clock(float(skew))
    import versioned.s3_and_dynamodb_backend
    import versioned.s3_only_backend  # noqa: F401


def serve() -> None:
    _emit({"ready": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        try:
            _emit({"ok": True, "value": run(command)})
        except Exception as error:
            _emit({"ok": False, **_error(error), "traceback": traceback.format_exc()[-2000:]})


def zygote() -> None:
    """``--zygote``: import once, then fork one worker per request line ``{"spawn": [in
    fifo, out fifo]}``, answering ``{"pid": n}``; each worker serves commands on its two
    FIFOs (see ``_chaoskit.Zygote``). Children are reaped by the kernel (SIGCHLD ignored)."""
    import os
    import signal

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    _emit({"ready": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        fifo_in, fifo_out = json.loads(line)["spawn"]
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            sys.stdin = open(fifo_in)  # noqa: SIM115
            sys.stdout = open(fifo_out, "w")  # noqa: SIM115
            try:
                serve()
            finally:
                sys.stdout.flush()
                os._exit(0)
        _emit({"pid": pid})


def main() -> None:
    # Import the library and build a session before announcing readiness: the test's
    # clock (holds, kills) should not include interpreter start-up.
    _load()
    if "--zygote" in sys.argv:
        zygote()
    else:
        serve()


if __name__ == "__main__":
    main()
