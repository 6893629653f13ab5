"""Runs inside the seed's virtualenv (``versioned==1.0.1``), never in ours.

Reads one JSON program from stdin, drives the seed's library with it, prints one JSON
answer on stdout. Started with ``python -I`` so that neither this repository nor
PYTHONPATH is importable: ``versioned`` here is the seed's library.

Program::

    {"layout": "s3_only" | "s3_and_dynamodb",
     "repo": {Repository keyword arguments},
     "bootstrap": true,
     "ops": [{"call": "list_artifact_versions", "args": {"name": "app"}, "read": true}, ...]}

``call`` is a Repository method, called the seed's way (S3-only: ``bsm`` first; S3 +
DynamoDB: ``bsm=`` keyword), or "route" (``random_artifact()`` of an alias, counted).
Argument ``content_b64`` is passed as ``content`` bytes. With ``read``, each returned
Artifact also carries its bytes (``get_content``) and each Alias those of its versions.
Each result is the returned value as JSON (dataclasses as dicts, datetimes in ISO form)
or {"error": exception class name, "message": ...}. Endpoints and credentials come from
the environment (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_DYNAMODB).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import os
import random
import sys
import traceback
from typing import Any

from boto_session_manager import BotoSesManager

import versioned
from versioned import api


def encode(value: Any) -> Any:
    """``value`` as JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {str(key): encode(item) for key, item in value.items()}
    return value


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def with_bytes(value: Any, bsm: BotoSesManager) -> Any:
    """The encoded value, plus the bytes its Artifact / Alias objects lead to."""
    if isinstance(value, list | tuple):
        return [with_bytes(item, bsm) for item in value]
    data = encode(value)
    if hasattr(value, "get_content"):
        data["content_b64"] = b64(value.get_content(bsm))
    elif hasattr(value, "get_version_content"):
        data["version_content_b64"] = b64(value.get_version_content(bsm))
        if value.secondary_version_s3uri is not None:
            data["secondary_version_content_b64"] = b64(value.get_secondary_version_content(bsm))
    return data


class Driver:
    def __init__(self, layout: str, repo_kwargs: dict[str, Any]) -> None:
        self.layout = layout
        module = getattr(api, f"{layout}_backend")
        self.repo = module.Repository(**repo_kwargs)
        self.bsm = BotoSesManager(
            region_name=os.environ["AWS_DEFAULT_REGION"],
            aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        )

    def call(self, method: str, args: dict[str, Any]) -> Any:
        """One Repository method, with the session where the seed's signature wants it."""
        args = dict(args)
        if "content_b64" in args:
            args["content"] = base64.b64decode(args.pop("content_b64"))
        function = getattr(self.repo, method)
        if self.layout == "s3_only":
            return function(self.bsm, **args)
        return function(bsm=self.bsm, **args)

    def route(self, name: str, alias: str, n: int) -> dict[str, int]:
        """How ``random_artifact()`` of the alias spreads ``n`` requests over its URIs."""
        found = self.call("get_alias", {"name": name, "alias": alias})
        random.seed(0)
        counts: dict[str, int] = {}
        for _ in range(n):
            uri = found.random_artifact()
            counts[uri] = counts.get(uri, 0) + 1
        return counts

    def run(self, op: dict[str, Any]) -> Any:
        try:
            if op["call"] == "route":
                return self.route(**op["args"])
            value = self.call(op["call"], op.get("args", {}))
            return with_bytes(value, self.bsm) if op.get("read") else encode(value)
        except Exception as error:
            return {
                "error": type(error).__name__,
                "message": str(error),
                "traceback": traceback.format_exc(limit=6),
            }


def serve() -> None:
    """``--serve``: one program per stdin line, one answer per stdout line, imports and
    repositories kept warm between programs (each repository bootstrapped once)."""
    drivers: dict[str, Driver] = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        program = json.loads(line)
        key = json.dumps([program["layout"], program["repo"]], sort_keys=True)
        if key not in drivers:
            drivers[key] = Driver(program["layout"], program["repo"])
            if program.get("bootstrap", True):
                drivers[key].call("bootstrap", {})
        answer = {
            "seed": {"version": versioned.__version__, "file": versioned.__file__},
            "results": [drivers[key].run(op) for op in program["ops"]],
        }
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def main() -> None:
    if "--serve" in sys.argv:
        serve()
        return
    program = json.load(sys.stdin)
    driver = Driver(program["layout"], program["repo"])
    if program.get("bootstrap", True):
        driver.call("bootstrap", {})
    answer = {
        "seed": {"version": versioned.__version__, "file": versioned.__file__},
        "results": [driver.run(op) for op in program["ops"]],
    }
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
