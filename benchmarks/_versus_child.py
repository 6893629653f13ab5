"""One side of benchmarks/versus_seed.py: runs in the seed's virtualenv (``versioned==1.0.1``)
or in ours, started with ``python -I`` (nothing of this repository importable: ``versioned``
is whichever library the interpreter has).

Reads one JSON program on stdin, prints one JSON answer on stdout. Modes:

- ``build``: bootstrap the repository, then give each of ``build`` ({name: n}) n published
  versions (a put and a publish each).
- ``measure``: the benchmark's calls, each timed on ``time.monotonic()`` (one clock for every
  process of the machine: the parent attributes the proxy's requests to calls by time).
  Answer: {"calls": [[operation, start, end], ...], "checks": [...]}.

Every call is made the same way in both libraries (keyword arguments, ``bsm=``).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from boto_session_manager import BotoSesManager


def library() -> Any:
    import versioned

    return versioned


def repository(program: dict[str, Any]) -> Any:
    from versioned import api

    module = getattr(api, f"{program['layout']}_backend")
    return module.Repository(**program["repo"])


def session(url: str) -> BotoSesManager:
    return BotoSesManager(
        region_name=os.environ["AWS_DEFAULT_REGION"],
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        default_client_kwargs={"endpoint_url": url},
    )


def build(program: dict[str, Any]) -> dict[str, Any]:
    repo, bsm = repository(program), session(program["url"])
    repo.bootstrap(bsm=bsm)

    def one(name: str, n: int) -> None:
        for j in range(1, n + 1):
            repo.put_artifact(bsm=bsm, name=name, content=f"{name} v{j}".encode())
            repo.publish_artifact_version(bsm=bsm, name=name)

    # the seed's DynamoDB layout sets its session on the ORM class: one name at a time
    workers = 1 if library().__version__ == "1.0.1" else 4
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda item: one(*item), program["build"].items()))
    return {"built": program["build"]}


class Timer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float]] = []

    def __call__(self, operation: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        start = time.monotonic()
        result = fn(**kwargs)
        self.calls.append((operation, start, time.monotonic()))
        return result


def measure(program: dict[str, Any]) -> dict[str, Any]:
    repo, bsm, runs = repository(program), session(program["url"]), program["runs"]
    timed, checks = Timer(), []
    name = "bench"
    for j in (1, 2):  # warm: the repository object's first calls, a previous version
        repo.put_artifact(bsm=bsm, name=name, content=f"warm {j}".encode())
        previous = repo.publish_artifact_version(bsm=bsm, name=name).version
    for i in range(runs):
        content = f"content {i} {uuid.uuid4().hex}".encode()
        timed("put new", repo.put_artifact, bsm=bsm, name=name, content=content)
        timed("put unchanged", repo.put_artifact, bsm=bsm, name=name, content=content)
        new = timed("publish new", repo.publish_artifact_version, bsm=bsm, name=name)
        same = timed("publish unchanged", repo.publish_artifact_version, bsm=bsm, name=name)
        if str(same.version) != str(new.version) and library().__version__ != "1.0.1":
            # (the seed's S3 + DynamoDB layout publishes unchanged bytes as a new version)
            checks.append(f"publish unchanged gave {same.version}, not {new.version}")
        timed("get version", repo.get_artifact_version, bsm=bsm, name=name, version=new.version)
        split = {"secondary_version": previous, "secondary_version_weight": 20}
        timed(
            "put alias (split)",
            repo.put_alias,
            bsm=bsm,
            name=name,
            alias="canary",
            version=new.version,
            **split,
        )
        timed("get alias", repo.get_alias, bsm=bsm, name=name, alias="canary")
        previous = new.version
    for _ in range(runs):
        timed("list names", repo.list_artifact_names, bsm=bsm)
    list_name, list_n = program["list"]
    for _ in range(program["list_runs"]):
        found = timed(
            f"list versions ({list_n})", repo.list_artifact_versions, bsm=bsm, name=list_name
        )
        if len([a for a in found if str(a.version) != "LATEST"]) != list_n:
            checks.append(f"listed {len(found)} of {list_name}, expected {list_n} + LATEST")
    keep = program["keep"]
    for purge_name, purge_n in program["purge"].items():
        _, deleted = timed(
            f"purge {purge_n - keep} of {purge_n}",
            repo.purge_artifact_versions,
            bsm=bsm,
            name=purge_name,
            keep_last_n=keep,
            purge_older_than_secs=0,
        )
        if len(deleted) != purge_n - keep:
            checks.append(f"purged {len(deleted)} of {purge_name}, expected {purge_n - keep}")
    return {"calls": timed.calls, "checks": checks}


def main() -> None:
    program = json.load(sys.stdin)
    if program.get("src"):  # another checkout's library (a "before" measurement)
        sys.path.insert(0, program["src"])
    versioned = library()
    answer = build(program) if program["mode"] == "build" else measure(program)
    answer["library"] = {"version": versioned.__version__, "file": versioned.__file__}
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
