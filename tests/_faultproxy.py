"""A fault-injecting HTTP/1.1 reverse proxy on 127.0.0.1 (stdlib only, one thread per
client connection), put in front of the S3 and DynamoDB servers: boto3 clients use
``proxy.url`` as their endpoint for both services. ``FaultProxy(s3_url, dynamodb=url)``
forwards each DynamoDB request (``X-Amz-Target: DynamoDB_20120810.<Operation>``) to the
DynamoDB server and every other request to the S3 server (one upstream URL: both go
there), over keep-alive connections of its own per client connection and upstream.

Request bodies are forwarded byte for byte as they were framed (Content-Length, or the raw
chunked stream of an ``aws-chunked`` upload), client connections are kept alive, and every
request is recorded (``proxy.requests``). Rules, checked in the order they were added,
match a request on its method, path (regex), query parameter, headers (regex) and body
(substring) and, once ``skip`` matches have passed, fire ``times`` times (None: always):

- ``reset``: close the client connection (RST) before forwarding; the server never sees it.
- ``drop_response``: forward, let the server apply it, then close the client connection
  without answering (botocore sees a connection error and retries).
- ``delay``: wait ``delay`` seconds (or ``delay()``), then forward.
- ``hold``: block the request before forwarding until the test releases it; the test is
  told when it arrives (``rule.wait()``). ``hold_response``: forward first, then hold the
  answer. ``Held.release(how)`` with how = "forward" (answer normally), "drop" (forwarded,
  then the connection closes unanswered) or "discard" (never forwarded).
- ``rewrite_response``: forward, then pass (status, headers, body) through ``rewrite``
  (an ``x-amz-crc32`` header is recomputed for the new body).
- ``respond``: answer with ``response`` = (status, headers, body) without forwarding.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import http.server
import queue
import re
import socket
import socketserver
import struct
import threading
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterable
from typing import Any

#: DynamoDB operations that do not write.
DYNAMODB_READS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "DescribeTable",
        "ListTables",
        "DescribeTimeToLive",
        "DescribeContinuousBackups",
        "ListTagsOfResource",
    }
)
#: The X-Amz-Target prefix of DynamoDB requests (S3 requests carry no X-Amz-Target).
DYNAMODB_TARGET_PREFIX = "DynamoDB_"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "expect", "upgrade", "te"}

#: (status, headers, body) of an HTTP response
Response = tuple[int, list[tuple[str, str]], bytes]
Rewrite = Callable[[int, list[tuple[str, str]], bytes], Response]


@dataclasses.dataclass
class Request:
    """One request as the proxy received it."""

    seq: int
    method: str
    path: str  # raw path, no query
    query: str  # raw query string
    headers: list[tuple[str, str]]
    body: bytes  # raw, as framed by the client
    action: str = "forward"
    status: int | None = None
    #: when the proxy received it (time.monotonic(): one clock for every process here)
    at: float = dataclasses.field(default_factory=time.monotonic)

    def header(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None

    @property
    def params(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(self.query, keep_blank_values=True)

    @property
    def target(self) -> str | None:
        """The DynamoDB operation (``UpdateItem``), None for S3."""
        value = self.header("X-Amz-Target")
        if not value or not value.startswith(DYNAMODB_TARGET_PREFIX):
            return None
        return value.rsplit(".", 1)[-1]

    @property
    def service(self) -> str:
        return "dynamodb" if self.target else "s3"

    @property
    def bucket(self) -> str:
        return urllib.parse.unquote(self.path.lstrip("/").split("/", 1)[0])

    @property
    def key(self) -> str:
        """The S3 object key (path-style addressing), "" for bucket-level requests."""
        parts = self.path.lstrip("/").split("/", 1)
        return urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""

    @property
    def operation(self) -> str:
        """A best-effort operation name: ``dynamodb.UpdateItem``, ``s3.PutObject``..."""
        if self.target:
            return f"dynamodb.{self.target}"
        params = self.params
        copy = self.header("x-amz-copy-source") is not None
        name = {
            "GET": "ListObjects" if not self.key else "GetObject",
            "HEAD": "HeadObject" if self.key else "HeadBucket",
            "DELETE": "AbortMultipartUpload" if "uploadId" in params else "DeleteObject",
        }.get(self.method)
        if self.method == "PUT":
            if "partNumber" in params:
                name = "UploadPartCopy" if copy else "UploadPart"
            elif not self.key:
                name = "CreateBucket"
            else:
                name = "CopyObject" if copy else "PutObject"
        elif self.method == "POST":
            if "uploads" in params:
                name = "CreateMultipartUpload"
            elif "uploadId" in params:
                name = "CompleteMultipartUpload"
            elif "delete" in params:
                name = "DeleteObjects"
            else:
                name = "Post"
        return f"s3.{name}"

    @property
    def is_write(self) -> bool:
        if self.target:
            return self.target not in DYNAMODB_READS
        return self.method in ("PUT", "POST", "DELETE")


class Held:
    """A request paused by a ``hold`` / ``hold_response`` rule."""

    def __init__(self, request: Request, after_forward: bool) -> None:
        self.request = request
        self.after_forward = after_forward
        self._decision: queue.Queue[str] = queue.Queue()
        self.done = threading.Event()  # the proxy finished with it (answered or closed)
        self.outcome: str | None = None

    def release(self, how: str = "forward") -> None:
        """ "forward" (answer normally), "drop" (apply, close unanswered), "discard"
        (never forwarded; only before forwarding)."""
        assert how in ("forward", "drop", "discard"), how
        self._decision.put(how)

    def _wait(self) -> str:
        return self._decision.get()


@dataclasses.dataclass(eq=False)
class Rule:
    action: str
    method: str | None = None
    path: str | None = None
    query: str | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    body: bytes | str | None = None
    when: Callable[[Request], bool] | None = None
    skip: int = 0
    times: int | None = 1
    delay: float | Callable[[], float] = 0.0  # seconds, or a function drawing them
    rewrite: Rewrite | None = None
    response: Response | None = None
    matched: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        assert self.action in (
            "reset",
            "drop_response",
            "delay",
            "hold",
            "hold_response",
            "rewrite_response",
            "respond",
        ), self.action
        self._arrivals: queue.Queue[Held] = queue.Queue()
        self.held: list[Held] = []

    def matches(self, request: Request) -> bool:
        if self.method and request.method != self.method:
            return False
        if self.path and not re.search(self.path, urllib.parse.unquote(request.path)):
            return False
        if self.query and self.query not in request.params:
            return False
        for name, pattern in self.headers.items():
            value = request.header(name)
            if value is None or not re.search(pattern, value):
                return False
        if self.body is not None:
            needle = self.body.encode() if isinstance(self.body, str) else self.body
            if needle not in request.body:
                return False
        return self.when is None or self.when(request)

    def wait(self, timeout: float = 15.0) -> Held:
        """The next request this rule held (blocks until one arrives)."""
        try:
            return self._arrivals.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no request matched {self} within {timeout}s") from None

    def poll(self, timeout: float) -> Held | None:
        try:
            return self._arrivals.get(timeout=timeout)
        except queue.Empty:
            return None

    def release_all(self, how: str = "forward") -> None:
        for held in self.held:
            if not held.done.is_set():
                held.release(how)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Answers go out as several writes: without TCP_NODELAY, Nagle's algorithm meets
        # the client's delayed ACK and every answer waits ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.proxy._track(self.connection, add=True)
        # one keep-alive connection per upstream server, opened on first use
        self._upstreams: dict[tuple[str, int], http.client.HTTPConnection] = {}

    def finish(self) -> None:
        with contextlib.suppress(Exception):
            super().finish()
        self.server.proxy._track(self.connection, add=False)
        for connection in self._upstreams.values():
            connection.close()

    # every method goes through one handler
    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raw = bytearray()
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("client closed mid-body")
                raw += line
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers (aws-chunked checksums), then the blank line
                        trailer = self.rfile.readline(65537)
                        raw += trailer
                        if trailer in (b"\r\n", b"\n", b""):
                            return bytes(raw)
                raw += self.rfile.read(size + 2)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        proxy = self.server.proxy
        body = self._read_body()
        path, _, query = self.path.partition("?")
        request = proxy._record(self.command, path, query, list(self.headers.items()), body)
        rule = proxy._match(request)
        action = rule.action if rule else "forward"
        request.action = action
        if action == "reset":
            self._abort(reset=True)
            return
        if action == "respond":
            assert rule is not None and rule.response is not None
            self._answer(request, *rule.response)
            return
        if action == "delay":
            assert rule is not None
            time.sleep(rule.delay() if callable(rule.delay) else rule.delay)
        held: Held | None = None
        if action == "hold":
            assert rule is not None
            held = Held(request, after_forward=False)
            rule.held.append(held)
            rule._arrivals.put(held)
            how = held._wait()
            held.outcome = how
            if how == "discard":
                request.action = "hold:discard"
                self._abort(reset=True)
                held.done.set()
                return
            request.action = f"hold:{how}"
        try:
            status, reason, headers, data = self._forward(request)
        except Exception:
            request.action += ":upstream-error"
            self._abort(reset=True)
            if held:
                held.done.set()
            return
        request.status = status
        if action == "hold_response":
            assert rule is not None
            held = Held(request, after_forward=True)
            rule.held.append(held)
            rule._arrivals.put(held)
            how = held._wait()
            held.outcome = how
            request.action = f"hold_response:{how}"
            if how in ("drop", "discard"):
                self._abort(reset=False)
                held.done.set()
                return
        if action == "drop_response" or (held is not None and held.outcome == "drop"):
            self._abort(reset=False)
            if held:
                held.done.set()
            return
        if action == "rewrite_response":
            assert rule is not None and rule.rewrite is not None
            status, headers, data = rule.rewrite(status, headers, data)
            # DynamoDB answers carry the CRC32 of their body; botocore retries on mismatch
            headers = [
                (k, str(zlib.crc32(data) & 0xFFFFFFFF)) if k.lower() == "x-amz-crc32" else (k, v)
                for k, v in headers
            ]
        try:
            self._answer(request, status, headers, data, reason)
        finally:
            if held:
                held.done.set()

    def _forward(self, request: Request) -> tuple[int, str, list[tuple[str, str]], bytes]:
        headers = [(k, v) for k, v in request.headers if k.lower() not in HOP_BY_HOP]
        upstream = self.server.proxy.upstream_for(request)
        for attempt in range(2):
            connection = self._upstreams.get(upstream)
            if connection is None:
                connection = http.client.HTTPConnection(*upstream, timeout=120)
                connection.connect()
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._upstreams[upstream] = connection
            try:
                target = request.path + (f"?{request.query}" if request.query else "")
                connection.putrequest(
                    request.method, target, skip_host=True, skip_accept_encoding=True
                )
                for key, value in headers:
                    connection.putheader(key, value)
                connection.endheaders(request.body or None)
                response = connection.getresponse()
                data = response.read()
                result = (response.status, response.reason, response.getheaders(), data)
                if response.will_close:
                    connection.close()
                    del self._upstreams[upstream]
                return result
            except (ConnectionError, http.client.HTTPException, OSError):
                connection.close()
                self._upstreams.pop(upstream, None)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _answer(
        self,
        request: Request,
        status: int,
        headers: Iterable[tuple[str, str]],
        data: bytes,
        reason: str | None = None,
    ) -> None:
        request.status = status
        try:
            self.send_response_only(status, reason)
            length_sent = False
            for key, value in headers:
                lower = key.lower()
                if lower in HOP_BY_HOP or lower == "transfer-encoding":
                    continue
                if lower == "content-length":
                    if request.method == "HEAD" or status in (204, 304):
                        self.send_header(key, value)
                        length_sent = True
                    continue
                self.send_header(key, value)
            if not length_sent and request.method != "HEAD" and status not in (204, 304):
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if request.method != "HEAD" and status not in (204, 304):
                self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _abort(self, *, reset: bool) -> None:
        """Close the client connection without an answer (RST when ``reset``)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            if reset:
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            else:
                self.connection.shutdown(socket.SHUT_RDWR)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    proxy: FaultProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed, reset) is part of the game: stay quiet."""


class FaultProxy:
    """The proxy in front of ``upstream`` (the S3 server, and the DynamoDB server too unless
    ``dynamodb`` names another). Use as a context manager, or call ``close()``."""

    def __init__(self, upstream: str, dynamodb: str | None = None) -> None:
        self.upstreams = {
            "s3": _host_and_port(upstream),
            "dynamodb": _host_and_port(dynamodb or upstream),
        }
        self.rules: list[Rule] = []
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def upstream_for(self, request: Request) -> tuple[str, int]:
        """(host, port) of the server that serves ``request``: routed by its service."""
        return self.upstreams[request.service]

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- rules
    def add(self, action: str, **match: Any) -> Rule:
        rule = Rule(action, **match)
        with self._lock:
            self.rules.append(rule)
        return rule

    def remove(self, rule: Rule) -> None:
        with self._lock:
            if rule in self.rules:
                self.rules.remove(rule)

    def clear_rules(self) -> None:
        with self._lock:
            rules, self.rules = self.rules, []
        for rule in rules:
            rule.release_all("forward")

    def _match(self, request: Request) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if not rule.matches(request):
                    continue
                rule.matched += 1
                if rule.matched <= rule.skip:
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                rule.fired += 1
                return rule
        return None

    # ---------------------------------------------------------------- log
    def _record(
        self, method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes
    ) -> Request:
        with self._lock:
            request = Request(len(self.requests) + 1, method, path, query, headers, body)
            self.requests.append(request)
        return request

    def seen(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def count(self, service: str | None = None, writes: bool = False) -> int:
        return len(
            [
                r
                for r in self.seen()
                if (service is None or r.service == service) and (not writes or r.is_write)
            ]
        )

    def operations(self) -> list[str]:
        return [r.operation for r in self.seen()]

    def reset_log(self) -> None:
        with self._lock:
            self.requests = []

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close(self) -> None:
        """Stop serving: pending holds are discarded, client connections closed."""
        with self._lock:
            rules = list(self.rules)
        for rule in rules:
            for held in rule.held:
                if not held.done.is_set():
                    held.release("discard" if not held.after_forward else "drop")
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)


def _host_and_port(url: str) -> tuple[str, int]:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "http":
        raise ValueError(f"the fault proxy forwards plain http only, not {url!r}")
    return parsed.hostname or "127.0.0.1", parsed.port or 80


# -------------------------------------------------------------------- canned responses
def s3_error(code: str = "AccessDenied", status: int = 403) -> Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>injected by the fault proxy</Message></Error>"
    ).encode()
    return status, [("Content-Type", "application/xml")], body


def dynamodb_error(code: str = "AccessDeniedException", status: int = 400) -> Response:
    body = (
        f'{{"__type":"com.amazonaws.dynamodb.v20120810#{code}",'
        f'"message":"injected by the fault proxy"}}'
    ).encode()
    return status, [("Content-Type", "application/x-amz-json-1.0")], body
