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
    if op == "delete_version":
        ops.delete_version(args["name"], args["version"])
        return None
    if op == "purge_versions":
        _, deleted = ops.purge_versions(**args)
        return [a.version for a in deleted]
    if op == "purge_artifact":
        ops.purge_artifact(args["name"])
        return None
    if op == "stress":
        return stress(ops, **args)
    if op == "fetch":
        return fetch(ops, **args)
    raise ValueError(f"unknown op {op!r}")


def fetch(ops: Ops, name: str, hang_at: int | None = None, **args: Any) -> dict[str, str]:
    """Fetch through the local cache; with ``hang_at``, announce {"reached": bytes} once
    that many bytes are written, then block (for the test to SIGKILL the worker)."""

    def progress(done: int, total: int) -> None:
        if hang_at is not None and done >= hang_at:
            _emit({"reached": done, "total": total})
            threading.Event().wait()

    return {"path": str(ops.fetch(name, progress=progress, **args))}


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


def main() -> None:
    # Import the library and build a session before announcing readiness: the test's
    # clock (holds, kills) should not include interpreter start-up.
    import versioned.s3_and_dynamodb_backend
    import versioned.s3_only_backend  # noqa: F401

    _emit({"ready": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        try:
            _emit({"ok": True, "value": run(command)})
        except Exception as error:
            _emit({"ok": False, **_error(error), "traceback": traceback.format_exc()[-2000:]})


if __name__ == "__main__":
    main()
