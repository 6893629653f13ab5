"""Helpers of the command-line tests (fixtures are in conftest.py)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pty
import queue
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from versioned.cli import cli
from versioned.cli._settings import Sessions


@dataclasses.dataclass(frozen=True)
class CliEnv:
    endpoint_url: str
    bucket: str
    workdir: Path


class Cli:
    """Invokes the ``versioned`` entry point in-process and checks the exit code."""

    def __init__(self, sessions: Sessions | None = None) -> None:
        self.runner = CliRunner()
        self.sessions = sessions

    def __call__(self, *args: str, input: bytes | str | None = None, code: int = 0) -> Result:
        result = self.runner.invoke(cli, list(args), input=input, obj=self.sessions)
        assert result.exit_code == code, (
            f"versioned {' '.join(args)} exited {result.exit_code}, expected {code}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}\nexception: {result.exception!r}"
        )
        return result

    def json(self, *args: str, input: bytes | str | None = None, code: int = 0) -> Any:
        """Run with --json and parse stdout (which must be exactly one JSON document)."""
        return json.loads(self(*args, "--json", input=input, code=code).stdout)


def assert_one_error_line(stderr: str) -> str:
    """The single ``Error: ...`` line of ``stderr`` (and no traceback, no usage block)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# ------------------------------------------------------------------ real processes
def versioned_command() -> list[str]:
    """The installed ``versioned`` script, as a user runs it (else ``python -m``)."""
    script = Path(sys.executable).with_name("versioned")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "versioned"]


def script_directory() -> str:
    """The directory holding the ``versioned`` script, for PATH."""
    found = shutil.which("versioned", path=str(Path(sys.executable).parent))
    assert found, f"no versioned script beside {sys.executable}; pip install -e ."
    return str(Path(found).parent)


def process_env(**overrides: str | None) -> dict[str, str]:
    """The current environment the way the CLI tests set it (os.environ is already the
    cli_env fixture's), with ``overrides`` applied (None removes a variable)."""
    env = dict(os.environ)
    env["PYTHONIOENCODING"] = "utf-8"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def default_sigint() -> None:
    """preexec_fn: SIGINT as a terminal gives it, even if this run ignores it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclasses.dataclass
class PtyRun:
    returncode: int
    terminal: str  # everything written to the pseudo-terminal on stderr


def run_with_stderr_on_a_terminal(
    args: list[str], env: Mapping[str, str], stdout_path: Path | None, timeout: float = 60
) -> PtyRun:
    """Run ``args`` with stdout redirected to a file and stderr on a pseudo-terminal (as
    ``versioned put ... > log`` in a terminal); return what the terminal showed. Without
    ``stdout_path``, stdout is on the terminal too."""
    leader, follower = pty.openpty()
    with contextlib.ExitStack() as stack:
        stdout: Any = follower
        if stdout_path is not None:
            stdout = stack.enter_context(stdout_path.open("wb"))
        process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=stdout, stderr=follower, env=dict(env)
        )
    os.close(follower)
    shown = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        elif process.poll() is not None:
            break
    os.close(leader)
    returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    return PtyRun(returncode, shown.decode("utf-8", "replace"))


class LineReader:
    """Reads a process's stdout on a thread, so waiting for a line can time out."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self._lines: queue.Queue[str] = queue.Queue()
        stream = process.stdout
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))

    def until(self, marker: str, timeout: float) -> list[str]:
        """The lines up to and including the first one containing ``marker``."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {marker!r} within {timeout}s; got {seen}") from None
            seen.append(line)
            if marker in line:
                return seen


def parse_exports(lines: list[str]) -> dict[str, str]:
    """{NAME: value} of the ``export NAME=value`` lines (at the start of a line)."""
    return dict(
        line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export ")
    )


# ------------------------------------------------------------------ a listener on loopback
class RecordingListener:
    """A TCP listener on 127.0.0.1 that records every connection and whatever the client
    sends, and never answers (a client waits until it gives up or is interrupted)."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self.received = bytearray()
        self.request_seen = threading.Event()
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._socket.settimeout(0.1)
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._open.append(connection)
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while not self._stop.is_set():
                data = connection.recv(65536)
                if not data:
                    return
                self.received += data
                if b"HTTP/1." in self.received:
                    self.request_seen.set()

    def close(self) -> None:
        self._stop.set()
        for connection in self._open:
            with contextlib.suppress(OSError):
                connection.close()
        self._socket.close()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def recording_listener() -> Iterator[RecordingListener]:
    listener = RecordingListener()
    try:
        yield listener
    finally:
        listener.close()
