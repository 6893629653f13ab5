"""The seed's library (``versioned==1.0.1`` from the package index) in a virtualenv of its
own, and a way to drive it from the tests (see _seed_driver.py).

The virtualenv lives in ``.servers/seed-venv/`` (git-ignored) and is built once: it is
rebuilt only when :data:`SEED_REQUIREMENTS` or the Python version change. It never shares
a package with the project's own virtualenv: the seed's import name is ``versioned`` too.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _testkit import CREDENTIALS, REGION, ROOT, Endpoints, unique_bucket, unique_table
from boto_session_manager import BotoSesManager

VENV = ROOT / ".servers" / "seed-venv"
DRIVER = Path(__file__).with_name("_seed_driver.py")

SEED = "versioned==1.0.1"
#: The seed and its dependencies (its Requires-Dist: boto3>=1.37, boto_session_manager
#: >=1.8.1,<2, s3pathlib>=2.3.3, pynamodb>=6,<7, pynamodb_session_manager>=0.1.2,
#: func_args>=1.0.1; and theirs), pinned to releases that import and work against a moto
#: server. Changing this list rebuilds the virtualenv.
SEED_REQUIREMENTS = (
    SEED,
    "boto3==1.44.5",
    "botocore==1.44.5",
    "s3transfer==0.19.3",
    "boto_session_manager==1.8.1",
    "s3pathlib==2.3.6",
    "pynamodb==6.1.0",
    "pynamodb_session_manager==0.1.2",
    "func_args==1.0.2",
    "iterproxy==0.3.1",
    "pathlib_mate==1.3.2",
    "smart_open==7.7.1",
    "wrapt==2.5.2",
    "jmespath==1.1.0",
    "python-dateutil==2.9.0.post0",
    "six==1.17.0",
    "urllib3==2.8.0",
)
STAMP = "versioned-seed.json"

#: Our repositories' settings beyond the seed's arguments. S3 + DynamoDB: a write turn
#: held longer than this is presumed dead (default 30 s); a short lease bounds what a turn
#: abandoned by a fault costs a test run (the tests assert that no call waits one out).
LEASE_SECS = 3.0
OUR_SETTINGS: dict[str, dict[str, Any]] = {"s3_and_dynamodb": {"lease_secs": LEASE_SECS}}


class IndexUnreachable(Exception):
    """The package index cannot be reached, so the seed cannot be installed."""


class SeedVenvError(Exception):
    """The seed's virtualenv could not be built although the package index answers."""


def _stamp() -> dict[str, Any]:
    return {
        "requirements": list(SEED_REQUIREMENTS),
        "python": list(sys.version_info[:3]),
        "base": os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
    }


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, env=_pip_env()
    )


def _pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def _usable(venv: Path) -> bool:
    """The virtualenv exists, was built from the current pins and imports the seed."""
    try:
        stamp = json.loads((venv / STAMP).read_text())
    except (OSError, ValueError):
        return False
    if stamp != _stamp() or not _python(venv).exists():
        return False
    check = _run([str(_python(venv)), "-I", "-c", "import versioned.api"], timeout=120)
    return check.returncode == 0


def _index_reachable(scratch: Path) -> bool:
    """Whether pip, as configured, can fetch the seed from the package index."""
    probe = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-cache-dir",
            "--timeout",
            "15",
            "--retries",
            "1",
            "--dest",
            str(scratch),
            SEED,
        ],
        timeout=180,
    )
    return probe.returncode == 0


def _build(venv: Path) -> None:
    if venv.exists():
        shutil.rmtree(venv)
    made = _run([sys.executable, "-m", "venv", str(venv)], timeout=300)
    if made.returncode != 0:
        raise SeedVenvError(f"python -m venv {venv} failed:\n{made.stderr[-3000:]}")
    python = str(_python(venv))
    install = _run([python, "-m", "pip", "install", "--quiet", *SEED_REQUIREMENTS], timeout=900)
    if install.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        with tempfile.TemporaryDirectory() as scratch:
            if not _index_reachable(Path(scratch)):
                last = (install.stderr.strip().splitlines() or ["no output"])[-1]
                raise IndexUnreachable(
                    f"cannot install {SEED} into {venv}: the package index is unreachable "
                    f"(pip: {last})"
                )
        raise SeedVenvError(f"installing {SEED} failed:\n{install.stderr[-5000:]}")
    check = _run([python, "-m", "pip", "check"], timeout=300)
    imported = _run([python, "-I", "-c", "import versioned.api"], timeout=120)
    if check.returncode != 0 or imported.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        raise SeedVenvError(
            f"the seed's virtualenv is inconsistent:\n{check.stdout}\n{imported.stderr[-3000:]}"
        )
    (venv / STAMP).write_text(json.dumps(_stamp()))  # last: marks the build complete


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_seed_venv(venv: Path = VENV) -> Path:
    """The seed's virtualenv, built on first use (raises IndexUnreachable or
    SeedVenvError); returns its Python."""
    with _locked(venv.with_name(venv.name + ".lock")):
        if not _usable(venv):
            _build(venv)
    return _python(venv)


def seed_library_or_skip(endpoints: Endpoints) -> SeedLibrary:
    """The seed's library against ``endpoints`` (its virtualenv built on first use); the
    test skips when the package index cannot be reached, fails when the build fails."""
    import pytest

    try:
        python = ensure_seed_venv()
    except IndexUnreachable as error:
        pytest.skip(f"the seed's library cannot be installed: {error}")
    except SeedVenvError as error:
        pytest.fail(str(error), pytrace=False)
    return SeedLibrary(python, endpoints)


# ------------------------------------------------------------------ driving the seed
class SeedError(AssertionError):
    """The seed's library could not be driven at all (not: a call of it raised)."""


class SeedLibrary:
    """Runs programs of the seed's library in its virtualenv against the test endpoints.

    Each :meth:`run` is one process: it bootstraps a seed Repository (``layout``,
    ``repo_kwargs``), makes the calls in order and returns one result per call.
    """

    def __init__(self, python: Path, endpoints: Endpoints) -> None:
        self.python = python
        self.endpoints = endpoints

    def environment(self) -> dict[str, str]:
        """Only what the seed needs: test credentials, the region, the endpoints; no
        configuration file, no PYTHON* variable of ours."""
        return {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": os.environ.get("HOME", tempfile.gettempdir()),
            "LANG": "C.UTF-8",
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_S3": self.endpoints.s3,
            "AWS_ENDPOINT_URL_DYNAMODB": self.endpoints.dynamodb,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def run(self, layout: str, repo_kwargs: dict[str, Any], ops: list[dict[str, Any]]) -> list[Any]:
        program = {"layout": layout, "repo": repo_kwargs, "bootstrap": True, "ops": ops}
        completed = subprocess.run(
            [str(self.python), "-I", str(DRIVER)],
            input=json.dumps(program),
            capture_output=True,
            text=True,
            timeout=120,
            env=self.environment(),
            check=False,
        )
        if completed.returncode != 0:
            raise SeedError(
                f"the seed's driver failed ({completed.returncode}):\n{completed.stderr[-5000:]}"
            )
        answer = json.loads(completed.stdout)
        seed = answer["seed"]
        if seed["version"] != "1.0.1" or not seed["file"].startswith(str(self.python.parents[1])):
            raise SeedError(f"the driver imported the wrong library: {seed}")
        results: list[Any] = answer["results"]
        return results


class SeedServer:
    """The seed's library in one long-lived process (``_seed_driver.py --serve``): a
    program costs its requests, not an interpreter start (for tests that run the seed
    between two requests of ours, many times). Same answers as :meth:`SeedLibrary.run`."""

    def __init__(self, library: SeedLibrary) -> None:
        self.library = library
        self.proc = subprocess.Popen(
            [str(library.python), "-I", str(DRIVER), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=library.environment(),
        )

    def run(self, layout: str, repo_kwargs: dict[str, Any], ops: list[dict[str, Any]]) -> list[Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        program = {"layout": layout, "repo": repo_kwargs, "bootstrap": True, "ops": ops}
        self.proc.stdin.write(json.dumps(program) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SeedError(f"the seed's server died ({self.proc.poll()})")
        answer = json.loads(line)
        seed = answer["seed"]
        if seed["version"] != "1.0.1" or not seed["file"].startswith(
            str(self.library.python.parents[1])
        ):
            raise SeedError(f"the server imported the wrong library: {seed}")
        results: list[Any] = answer["results"]
        return results

    def close(self) -> None:
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


class _SkippedTurns(logging.Handler):
    """Collects the library's "skipping turn" lines (a turn waited out as dead)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "skipping turn" in message:
            self.lines.append(message)


class Pair:
    """One repository (bucket, prefix, suffix and, for S3 + DynamoDB, table) opened by
    this repository's library (``ours``) and by the seed's (``seed``)."""

    def __init__(self, layout: str, seed: SeedLibrary, bsm: BotoSesManager) -> None:
        self.layout = layout
        self.bsm = bsm
        self.repo_kwargs: dict[str, Any] = {
            "aws_region": REGION,
            "s3_bucket": unique_bucket(),
            "s3_prefix": "artifacts",
            "suffix": ".bin",
        }
        if layout == "s3_and_dynamodb":
            self.repo_kwargs["dynamodb_table_name"] = unique_table()
        module = importlib.import_module(f"versioned.{layout}_backend")
        self.ours = module.Repository(**self.repo_kwargs, **OUR_SETTINGS.get(layout, {}))
        self._seed = seed
        self.slow_calls: list[str] = []

    @property
    def bucket(self) -> str:
        return str(self.repo_kwargs["s3_bucket"])

    def bootstrap(self) -> None:
        self.ours.bootstrap(bsm=self.bsm)

    def our(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A call of our library (the session passed as ``bsm=``, valid for both). Calls
        that waited out a write turn's lease (the library logs each turn it skips as
        presumed dead) are noted in ``slow_calls``: decided on what the library did, not
        on how long a loaded machine took."""
        skipped = _SkippedTurns()
        logger = logging.getLogger("versioned")
        level = logger.level
        logger.addHandler(skipped)
        logger.setLevel(logging.DEBUG)
        try:
            return getattr(self.ours, method)(*args, bsm=self.bsm, **kwargs)
        finally:
            logger.removeHandler(skipped)
            logger.setLevel(level)
            if skipped.lines:
                self.slow_calls.append(f"{method}({kwargs}): {skipped.lines}")

    def seed(self, *ops: dict[str, Any]) -> list[Any]:
        """Run the seed's library on this repository (one process for all ``ops``)."""
        return self._seed.run(self.layout, self.repo_kwargs, list(ops))

    def uri(self, name: str, version: int | str | None) -> str:
        """Where a version's bytes are, computed from the seed's key layout."""
        label = "LATEST" if version in (None, "LATEST") else f"{int(version):06d}"
        if self.layout == "s3_only":
            label = (
                "000000_LATEST" if label == "LATEST" else f"{1_000_000 - int(label):06d}_{label}"
            )
            return f"s3://{self.bucket}/artifacts/{name}/versions/{label}.bin"
        return f"s3://{self.bucket}/artifacts/{name}/{label}.bin"


def call(method: str, *, read: bool = False, **args: Any) -> dict[str, Any]:
    """One operation of a seed program; ``content=bytes`` is sent base64-encoded."""
    if "content" in args:
        args["content_b64"] = base64.b64encode(args.pop("content")).decode()
    return {"call": method, "args": args, "read": read}


def route(name: str, alias: str, n: int = 1000) -> dict[str, Any]:
    """The seed's ``random_artifact()`` of an alias, ``n`` times: {uri: count}."""
    return {"call": "route", "args": {"name": name, "alias": alias, "n": n}}


def content_of(result: dict[str, Any], field: str = "content_b64") -> bytes:
    return base64.b64decode(result[field])


def failed(result: Any) -> str | None:
    """The exception class name when a seed call raised, else None."""
    return result.get("error") if isinstance(result, dict) else None
