"""Each operation against the seed's library (``versioned==1.0.1``, in its own virtualenv:
tests/_seedkit.py builds and caches it), on loopback moto and at 5, 20 and 50 ms per request.

Usage: python benchmarks/versus_seed.py [--runs 10] [--rounds 2] [--latencies 0,5,20,50]
       [--layouts s3_only,s3_and_dynamodb] [--n 100] [--keep 5]

Both libraries run the same program (benchmarks/_versus_child.py), each in a process of its
own, A-B-A-B (``--rounds``), on a fresh bucket (and table) per round; per operation the
faster round's median is kept. A round's fixtures (an artifact of ``--n`` versions to list,
one to purge down to ``--keep``) are built on the server directly, then the calls are made
through a proxy (tests/_faultproxy.py) that holds every request ``latency`` ms: a round trip.
The proxy records each request's arrival time, so a call's requests are those that arrived
while it ran. At 0 ms the calls go to the server directly (requests: counted at a latency).

Columns: requests ours / seed (the most one call sent), median ms ours / seed, their ratio,
and the effective round trips (median ms / latency) ours / seed. A row is flagged SLOWER
when ours is slower than the seed's by more than 5% (and 0.5 ms). Always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any, TextIO

import _harness  # noqa: F401  (puts tests/ on sys.path)
from _faultproxy import FaultProxy
from _testkit import CREDENTIALS, REGION, moto_server

CHILD = str(Path(__file__).with_name("_versus_child.py"))
OURS = sys.executable


def seed_python() -> str | None:
    from _seedkit import IndexUnreachable, SeedVenvError, ensure_seed_venv

    try:
        return str(ensure_seed_venv())
    except (IndexUnreachable, SeedVenvError) as error:
        print(f"# the seed's library is unavailable: {error}", file=sys.stderr)
        return None


def run_child(python: str, program: dict[str, Any], src: str | None = None) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_S3": program["url"],
        "AWS_ENDPOINT_URL_DYNAMODB": program["url"],
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if src:  # another checkout's library (--before-src)
        program = {**program, "src": src}
    done = subprocess.run(
        [python, "-I", CHILD],
        input=json.dumps(program),
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{python} {program['mode']} failed:\n{done.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


class Figures:
    """Per (layout, latency, operation, library): each round's median ms, the most
    requests a call sent."""

    def __init__(self) -> None:
        self.ms: dict[tuple[str, float, str, str], list[float]] = defaultdict(list)
        self.requests: dict[tuple[str, str, str], int] = {}
        self.order: list[str] = []
        self.checks: list[str] = []

    def add(
        self,
        layout: str,
        latency: float,
        library: str,
        answer: dict[str, Any],
        proxy: FaultProxy | None,
    ) -> None:
        per_op: dict[str, list[float]] = defaultdict(list)
        arrivals = [r.at for r in proxy.seen()] if proxy else []
        for operation, start, end in answer["calls"]:
            if operation not in self.order:
                self.order.append(operation)
            per_op[operation].append((end - start) * 1000)
            if proxy is not None:
                count = sum(1 for at in arrivals if start <= at <= end)
                key = (layout, operation, library)
                self.requests[key] = max(self.requests.get(key, 0), count)
        for operation, samples in per_op.items():
            self.ms[(layout, latency, operation, library)].append(statistics.median(samples))
        self.checks += [f"{layout} {library} @{latency:g}ms: {c}" for c in answer["checks"]]

    def best(self, layout: str, latency: float, operation: str, library: str) -> float | None:
        rounds = self.ms.get((layout, latency, operation, library))
        return min(rounds) if rounds else None


def one_round(
    args: argparse.Namespace,
    pythons: dict[str, tuple[str, str | None]],
    figures: Figures,
    server: str,
    layout: str,
    latency: float,
) -> None:
    for library, (python, src) in pythons.items():
        tag = uuid.uuid4().hex[:8]
        repo: dict[str, Any] = {
            "aws_region": REGION,
            "s3_bucket": f"vs-{library}-{tag}",
            "s3_prefix": "artifacts",
        }
        if layout == "s3_and_dynamodb":
            repo["dynamodb_table_name"] = f"vs-{library}-{tag}"
        list_name, purge_name = f"list{args.n}", f"purge{args.n}"
        run_child(
            python,
            {
                "mode": "build",
                "layout": layout,
                "repo": repo,
                "url": server,
                "build": {list_name: args.n, purge_name: args.n},
            },
            src,
        )
        program = {
            "mode": "measure",
            "layout": layout,
            "repo": repo,
            "runs": args.runs,
            "list": [list_name, args.n],
            "list_runs": max(2, args.runs // 4) if latency else args.runs,
            "purge": {purge_name: args.n},
            "keep": args.keep,
        }
        if latency <= 0:
            figures.add(
                layout, latency, library, run_child(python, {**program, "url": server}, src), None
            )
            continue
        with FaultProxy(server) as proxy:
            proxy.add("delay", delay=latency / 1000, times=None)
            answer = run_child(python, {**program, "url": proxy.url}, src)
            figures.add(layout, latency, library, answer, proxy)
        print(f"#   {layout} @{latency:g} ms: {library} measured", file=sys.stderr)


def _figure(value: float | int | None, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def report(
    figures: Figures,
    layouts: list[str],
    latencies: list[float],
    libraries: list[str],
    out: TextIO = sys.stdout,
) -> list[str]:
    """One row per operation and latency; columns per library (ours first)."""
    slower: list[str] = []
    names = "/".join(libraries)
    header = (
        f"{'layout':<16} {'operation':<20} {'latency':>7}  {f'requests {names}':>22}  "
        f"{f'median ms {names}':>30}  {'ours/seed':>9}  {f'round trips {names}':>26}"
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    for layout in layouts:
        for operation in figures.order:
            requests = [figures.requests.get((layout, operation, lib)) for lib in libraries]
            for lat in latencies:
                ms = [figures.best(layout, lat, operation, lib) for lib in libraries]
                if ms[0] is None:
                    continue
                ours, seed = ms[0], ms[-1] if libraries[-1] == "seed" else None
                ratio, flag = "-", " "
                if ours is not None and seed is not None:
                    ratio = f"{ours / seed:.2f}"
                    if ours > seed * 1.05 and ours - seed > 0.5:
                        flag = "!"
                        slower.append(f"{layout} {operation} @{lat:g}ms {ratio}x")
                trips = "-" if not lat else " / ".join(_figure(m and m / lat, ".1f") for m in ms)
                print(
                    f"{layout:<16} {operation:<20} {f'{lat:g}':>7}  "
                    f"{' / '.join(_figure(r) for r in requests):>22}  "
                    f"{' / '.join(_figure(m, '.1f') for m in ms):>30}  {ratio:>8}{flag}  "
                    f"{trips:>26}",
                    file=out,
                )
    return slower


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--latencies", default="0,5,20,50")
    parser.add_argument("--layouts", default="s3_only,s3_and_dynamodb")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--keep", type=int, default=5)
    parser.add_argument("--ours-only", action="store_true")
    parser.add_argument(
        "--before-src",
        help="also measure the library in this src/ folder (e.g. a worktree of main) as 'before'",
    )
    args = parser.parse_args()
    latencies = [float(x) for x in args.latencies.split(",")]
    layouts = args.layouts.split(",")
    pythons: dict[str, tuple[str, str | None]] = {"ours": (OURS, None)}
    if args.before_src:
        pythons["before"] = (OURS, args.before_src)
    seed = None if args.ours_only else seed_python()
    if seed:
        pythons["seed"] = (seed, None)
    figures = Figures()
    with moto_server() as server:
        for layout in layouts:
            for latency in latencies:
                for rnd in range(args.rounds):
                    order = dict(reversed(pythons.items())) if rnd % 2 else pythons
                    one_round(args, order, figures, server, layout, latency)
            print(f"# {layout} done:", file=sys.stderr)  # a partial table, in case of a stop
            report(figures, [layout], latencies, list(pythons), sys.stderr)
    print(
        f"versus the seed: runs={args.runs} per round, {args.rounds} rounds A-B-A-B (the "
        f"faster round's median kept), list/purge over {args.n} versions (keep {args.keep}); "
        "! = ours slower than the seed; round trips = median ms / latency"
    )
    slower = report(figures, layouts, latencies, list(pythons))
    for check in figures.checks:
        print(f"CHECK FAILED: {check}")
    print("\nNO OPERATION SLOWER" if not slower else "\nSLOWER: " + " | ".join(slower))
    return 0


if __name__ == "__main__":
    sys.exit(main())
