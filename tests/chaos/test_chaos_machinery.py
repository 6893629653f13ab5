"""The chaos suite's own machinery works (these pass on any library): the proxy forwards
faithfully, its faults do what they say, and a held worker process can be killed."""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any

from _chaoskit import Ops, RawStore, encode_content, raw_clients, sha, unique, workers
from _faultproxy import FaultProxy

SIGNED = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=0"
}


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
        headers={"Transfer-Encoding": "chunked", **SIGNED},
        encode_chunked=True,
    )
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    connection.request("GET", f"/{bucket}/chunked", headers=SIGNED)  # same connection
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
    s3, _ = raw_clients(proxy.url)
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
    assert latest is not None and latest.actual == sha(b"before")


def test_a_worker_reports_results(
    make_repo: Callable[..., Ops], make_proxy: Callable[[], FaultProxy]
) -> None:
    ops = make_repo("s3_dynamodb")
    proxy = make_proxy()
    with workers(1) as (worker,):
        worker.send(ops.place, proxy.url, "put", name="app", content=encode_content(b"x"))
        assert worker.result(60) == {
            "ok": True,
            "value": {"version": "LATEST", "sha256": sha(b"x")},
        }
        worker.send(ops.place, proxy.url, "publish", name="app")
        assert worker.result(60) == {"ok": True, "value": {"version": "1", "sha256": sha(b"x")}}
    assert proxy.count(service="dynamodb") >= 2
