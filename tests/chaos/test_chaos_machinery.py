"""The chaos suite's own machinery works (these pass on any library): the proxy forwards
faithfully, its faults do what they say, and a held worker process can be killed."""

from __future__ import annotations

import http.client
import http.server
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _chaoskit import Ops, RawStore, encode_content, workers
from _faultproxy import FaultProxy
from _testkit import CREDENTIALS, REGION, LoopbackServer, raw_client, sha256_hex, unique
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def signed(proxy: FaultProxy, method: str, path: str) -> dict[str, str]:
    """SigV4 headers of an S3 request through ``proxy`` (the payload unsigned, as it is
    streamed): a server that checks signatures accepts it."""
    request = AWSRequest(
        method=method,
        url=f"{proxy.url}{path}",
        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
    )
    access_key, secret_key = CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"]
    SigV4Auth(Credentials(access_key, secret_key), "s3", REGION).add_auth(request)
    return dict(request.headers.items())


class Recorder(LoopbackServer):
    """A stand-in upstream on loopback: answers 200 with its name, records each request
    as (client port, method, path, X-Amz-Target)."""

    def __init__(self, name: str) -> None:
        self.seen: list[tuple[int, str, str, str | None]] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                target = self.headers.get("X-Amz-Target")
                recorder.seen.append((self.client_address[1], self.command, self.path, target))
                body = name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_PUT = do_GET

        super().__init__(Handler)


@pytest.fixture
def recorders() -> Iterator[tuple[Recorder, Recorder]]:
    pair = Recorder("s3"), Recorder("dynamodb")
    yield pair
    for recorder in pair:
        recorder.close()


def test_proxy_routes_dynamodb_requests_to_their_own_upstream(
    recorders: tuple[Recorder, Recorder],
) -> None:
    """One proxy URL serves both services when they are on two servers: X-Amz-Target
    DynamoDB_20120810.* goes to the DynamoDB upstream, the rest to the S3 one, each over
    its own keep-alive connection; rules still match either service."""
    s3, dynamodb = recorders
    with FaultProxy(s3.url, dynamodb=dynamodb.url) as proxy:
        dropped = proxy.add("drop_response", headers={"X-Amz-Target": r"\.PutItem$"})
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
        target = {"X-Amz-Target": "DynamoDB_20120810.GetItem"}
        answers = []
        for method, path, headers in [
            ("GET", "/bucket/key", {}),
            ("POST", "/", target),
            ("PUT", "/bucket/other", {}),
            ("POST", "/", target),
        ]:
            connection.request(method, path, body=b"{}", headers=headers)
            answers.append(connection.getresponse().read())
        connection.request("POST", "/", b"{}", {"X-Amz-Target": "DynamoDB_20120810.PutItem"})
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            connection.getresponse().read()
        connection.close()
        assert answers == [b"s3", b"dynamodb", b"s3", b"dynamodb"]
        assert [(m, p, t) for _, m, p, t in s3.seen] == [
            ("GET", "/bucket/key", None),
            ("PUT", "/bucket/other", None),
        ]
        assert [t for _, _, _, t in dynamodb.seen] == [
            "DynamoDB_20120810.GetItem",
            "DynamoDB_20120810.GetItem",
            "DynamoDB_20120810.PutItem",  # applied, then its answer dropped
        ]
        assert len({port for port, *_ in s3.seen}) == 1  # kept alive across the others
        assert len({port for port, *_ in dynamodb.seen}) == 1
        assert dropped.fired == 1
        assert [r.service for r in proxy.seen()] == ["s3", "dynamodb"] * 2 + ["dynamodb"]


def test_proxy_forwards_chunked_bodies_and_keeps_connections_alive(
    make_proxy: Callable[[], FaultProxy], raw_s3: Any
) -> None:
    proxy = make_proxy()
    bucket = unique("bkt")
    raw_s3.create_bucket(Bucket=bucket)
    data = bytes(range(256)) * 300
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    chunks = (data[i : i + 10_000] for i in range(0, len(data), 10_000))
    connection.request(
        "PUT",
        f"/{bucket}/chunked",
        body=chunks,
        headers={"Transfer-Encoding": "chunked", **signed(proxy, "PUT", f"/{bucket}/chunked")},
        encode_chunked=True,
    )
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    get = signed(proxy, "GET", f"/{bucket}/chunked")
    connection.request("GET", f"/{bucket}/chunked", headers=get)  # same connection
    response = connection.getresponse()
    assert response.status == 200 and response.read() == data
    connection.close()
    assert raw_s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == data
    assert [r.operation for r in proxy.seen()] == ["s3.PutObject", "s3.GetObject"]
    assert proxy.seen()[0].header("Transfer-Encoding") == "chunked"


def test_drop_response_is_applied_once_then_retried_and_reset_is_never_applied(
    make_proxy: Callable[[], FaultProxy], raw_s3: Any
) -> None:
    proxy = make_proxy()
    s3 = raw_client(proxy.url, "s3")
    bucket = unique("bkt")
    raw_s3.create_bucket(Bucket=bucket)
    dropped = proxy.add("drop_response", method="PUT", path=r"/dropped$")
    s3.put_object(Bucket=bucket, Key="dropped", Body=b"applied")
    assert dropped.fired == 1
    assert [r.action for r in proxy.seen() if r.path.endswith("/dropped")] == [
        "drop_response",
        "forward",
    ]
    reset = proxy.add("reset", method="PUT", path=r"/reset$", times=1)
    s3.put_object(Bucket=bucket, Key="reset", Body=b"second attempt")
    assert reset.fired == 1
    assert raw_s3.get_object(Bucket=bucket, Key="reset")["Body"].read() == b"second attempt"


def test_a_held_worker_is_killed_and_its_request_discarded(
    make_repo: Callable[..., Ops], make_proxy: Callable[[], FaultProxy], raw: RawStore
) -> None:
    ops = make_repo("s3_only")
    ops.put("app", b"before")
    proxy = make_proxy()
    rule = proxy.add("hold", method="PUT")
    with workers(1) as (worker,):
        worker.send(ops.place, proxy.url, "put", name="app", content=encode_content(b"after"))
        held = rule.wait(60)
        worker.kill()
        assert worker.proc.returncode == -9
        held.release("discard")
        held.done.wait(10)
    latest = raw.latest(ops.place, "app")
    assert latest is not None and latest.actual == sha256_hex(b"before")


def test_a_worker_reports_results(
    make_repo: Callable[..., Ops], make_proxy: Callable[[], FaultProxy]
) -> None:
    ops = make_repo("s3_dynamodb")
    proxy = make_proxy()
    with workers(1) as (worker,):
        worker.send(ops.place, proxy.url, "put", name="app", content=encode_content(b"x"))
        assert worker.result(60) == {
            "ok": True,
            "value": {"version": "LATEST", "sha256": sha256_hex(b"x")},
        }
        worker.send(ops.place, proxy.url, "publish", name="app")
        published = {"version": "1", "sha256": sha256_hex(b"x")}
        assert worker.result(60) == {"ok": True, "value": published}
    assert proxy.count(service="dynamodb") >= 2
