"""The test kit: every helper the suites share, written once (no fixtures here; see
conftest.py). Servers (a local moto server, endpoints), sessions and raw boto3 clients,
request counting, content hashes and unique names. Also imported by the benchmarks and by
the chaos suite's worker processes (both put this folder on ``sys.path``).

The suites' own kits sit beside it, one subject each: ``_chaoskit`` (chaos operations,
raw-storage checks, workers, interleavings), ``_faultproxy`` (the fault-injecting proxy),
``_clikit`` (the CLI runner), ``_layoutkit`` (the layout conformance base class),
``_robkit`` (the robustness adapter), ``_seedkit`` / ``_seed_driver`` (the seed's library)."""

from __future__ import annotations

import atexit
import base64
import contextlib
import dataclasses
import functools
import hashlib
import http.server
import logging
import os
import re
import shutil
import socket
import socketserver
import tempfile
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import boto3
import botocore.loaders
import botocore.session
from boto_session_manager import BotoSesManager
from botocore.config import Config
from botocore.exceptions import ClientError

from versioned import s3_and_dynamodb_backend, s3_only_backend
from versioned.repository import Artifact, Repository

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
KiB = 1024
MiB = 1024 * 1024
#: The facades, by module name (versioned.{kind}_backend).
BACKENDS = ["s3_only", "s3_and_dynamodb"]
#: The same two as the chaos and robustness adapters spell them (Place / Backend kinds).
LAYOUTS = ["s3_only", "s3_dynamodb"]
#: The fields of an Artifact as the seed's library defines them.
ARTIFACT_FIELDS = ("name", "version", "update_at", "s3uri", "sha256")
#: An Alias's routing, as both libraries spell it.
ALIAS_FIELDS = (
    "name",
    "alias",
    "version",
    "secondary_version",
    "secondary_version_weight",
    "version_s3uri",
    "secondary_version_s3uri",
)
#: The repository's root folder (README, examples, Makefile).
ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------ endpoints
#: The switch of the whole suite: where S3 and DynamoDB requests go. A moto server started
#: by the test session serves whichever is not given. `make test-s3-compatible` sets both.
ENDPOINT_VARIABLES = {
    "s3": "VERSIONED_TEST_S3_ENDPOINT",
    "dynamodb": "VERSIONED_TEST_DYNAMODB_ENDPOINT",
}

#: botocore variables that would redirect or un-redirect the test sessions' requests.
#: The suite removes them at start: only VERSIONED_TEST_* choose the endpoints.
AWS_ENDPOINT_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


def configured_endpoints() -> dict[str, str]:
    """{"s3": url, "dynamodb": url} for the VERSIONED_TEST_*_ENDPOINT variables that are set.

    Only loopback URLs are accepted: the tests create and delete buckets and tables."""
    given: dict[str, str] = {}
    for service, variable in ENDPOINT_VARIABLES.items():
        url = os.environ.get(variable, "").strip().rstrip("/")
        if not url:
            continue
        host = urllib.parse.urlsplit(url).hostname or ""
        if not (host == "localhost" or host.startswith("127.") or host == "::1"):
            raise RuntimeError(f"{variable}={url!r}: only a loopback endpoint is accepted")
        given[service] = url
    return given


@dataclasses.dataclass(frozen=True)
class Endpoints:
    """Where the tests send S3 requests and DynamoDB requests (one server or two)."""

    s3: str
    dynamodb: str

    @property
    def shared(self) -> bool:
        """True when one URL serves both services (moto, MiniStack)."""
        return self.s3 == self.dynamodb

    def url(self, service: str) -> str:
        return self.dynamodb if service == "dynamodb" else self.s3

    @classmethod
    def of(cls, endpoint: str | Endpoints | dict[str, str]) -> Endpoints:
        """The Endpoints of a URL serving both services, of an Endpoints, or of its JSON
        form {"s3": url, "dynamodb": url} (what worker processes are sent)."""
        if isinstance(endpoint, str):
            return cls(s3=endpoint, dynamodb=endpoint)
        if isinstance(endpoint, dict):
            return cls(s3=endpoint["s3"], dynamodb=endpoint["dynamodb"])
        return endpoint


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (an unreachable endpoint)."""
    return f"http://127.0.0.1:{free_port()}"


#: A client configuration that sends each request once (no botocore retry) and gives up
#: connecting after 2 s: for clients aimed at an endpoint that does not answer.
ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=2)


class LoopbackServer:
    """A stand-in server on 127.0.0.1 (a free port), answering from daemon threads with
    ``handler`` (an ``http.server`` or raw ``socketserver`` request handler) until
    ``close()``. ``url`` is its http URL."""

    def __init__(self, handler: type[socketserver.BaseRequestHandler]) -> None:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server serving S3 and DynamoDB on 127.0.0.1 (a free port): its URL, until
    the block ends."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


_CONFIG_FILES: dict[Endpoints, str] = {}
_CONFIG_LOCK = threading.Lock()


def _services_config_file(endpoints: Endpoints) -> str:
    """A botocore config file whose default profile routes S3 and DynamoDB to their
    endpoints (the `services` section of the AWS shared config), one per process."""
    with _CONFIG_LOCK:
        path = _CONFIG_FILES.get(endpoints)
        if path is None:
            folder = tempfile.mkdtemp(prefix="versioned-test-endpoints-")
            atexit.register(shutil.rmtree, folder, True)
            path = str(Path(folder) / "config")
            Path(path).write_text(
                "[default]\nservices = versioned-test\n\n[services versioned-test]\n"
                f"s3 =\n  endpoint_url = {endpoints.s3}\n"
                f"dynamodb =\n  endpoint_url = {endpoints.dynamodb}\n"
            )
            _CONFIG_FILES[endpoints] = path
        return path


@functools.cache
def model_loader() -> Any:
    """The botocore data loader every test session shares: each session is new (own event
    hooks, own clients), but the service JSON models are parsed once per process rather
    than once per session."""
    return botocore.loaders.create_loader()


def make_session(
    endpoint: str | Endpoints | dict[str, str], region_name: str = REGION
) -> BotoSesManager:
    """A fresh BotoSesManager with the test credentials whose S3 and DynamoDB clients go to
    ``endpoint`` (a URL serving both, an Endpoints, or its JSON form). One endpoint:
    ``default_client_kwargs={"endpoint_url": ...}`` as before.
    Two: no endpoint_url in ``default_client_kwargs`` (it would win for every service); the
    session reads a config file with a per-service `services` section instead, the way a
    user points botocore at two endpoints. The botocore model loader is shared
    (``model_loader``)."""
    endpoints, loader = Endpoints.of(endpoint), model_loader()
    if endpoints.shared:
        bsm = BotoSesManager(
            region_name=region_name,
            default_client_kwargs={"endpoint_url": endpoints.s3},
            **CREDENTIALS,
        )
        bsm.boto_ses._session.register_component("data_loader", loader)
        return bsm
    core = botocore.session.Session()
    core.set_config_variable("config_file", _services_config_file(endpoints))
    core.set_config_variable("profile", "default")  # not AWS_PROFILE's: it is not in the file
    core.set_config_variable("ignore_configured_endpoint_urls", False)
    core.register_component("data_loader", loader)
    return BotoSesManager(region_name=region_name, botocore_session=core, **CREDENTIALS)


def raw_client(
    endpoint: str | Endpoints | dict[str, str],
    service: str,
    region_name: str = REGION,
    *,
    config: Config | None = None,
    credentials: dict[str, str] = CREDENTIALS,
) -> Any:
    """A plain boto3 client of ``service`` at its endpoint, independent of the library
    (and of any counter); ``credentials={}`` for a client that has none of its own."""
    # An explicit Session: boto3.client() would create boto3.DEFAULT_SESSION.
    session = boto3.session.Session(region_name=region_name, **credentials)
    url = Endpoints.of(endpoint).url(service)
    return session.client(service, endpoint_url=url, config=config)


#: Operation-name prefixes that only read (S3 and DynamoDB).
READ_OPERATION_PREFIXES = (
    "Get",
    "Head",
    "List",
    "Query",
    "Scan",
    "Describe",
    "BatchGet",
    "TransactGet",
)


class ServerFeatures:
    """What the servers behind ``endpoints`` do where servers differ (each probed once, on
    first use, with plain boto3; see docs/compatibility.md and scripts/server_features.py).

    A test that cannot run without one of these skips with a reason naming it; a test of
    how the library copes with a missing feature asserts on it instead."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints

    @functools.cached_property
    def _bucket(self) -> str:
        s3 = raw_client(self.endpoints, "s3")
        bucket = unique("features")
        s3.create_bucket(Bucket=bucket)
        return bucket

    def _refused(self, call: Callable[[], Any]) -> bool:
        """True when ``call`` fails with 412 Precondition Failed (or a 4xx rejection)."""
        try:
            call()
        except ClientError as error:
            return int(error.response["ResponseMetadata"]["HTTPStatusCode"]) in (400, 412)
        return False

    @functools.cached_property
    def s3_bucket_regions(self) -> bool:
        """GetBucketLocation returns the LocationConstraint a bucket was created with (AWS,
        moto, MiniStack; SeaweedFS has no regions and returns None)."""
        client = raw_client(self.endpoints, "s3", region_name="eu-west-1")
        bucket = unique_bucket()
        configuration = {"LocationConstraint": "eu-west-1"}
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration=configuration)
        try:
            location = client.get_bucket_location(Bucket=bucket).get("LocationConstraint")
        finally:
            client.delete_bucket(Bucket=bucket)
        return bool(location == "eu-west-1")

    @functools.cached_property
    def s3_copy_if_none_match(self) -> bool:
        """CopyObject with IfNoneMatch="*" refuses an existing destination (AWS, SeaweedFS;
        moto and MiniStack overwrite it)."""
        s3, bucket = raw_client(self.endpoints, "s3"), self._bucket
        s3.put_object(Bucket=bucket, Key="copy-src", Body=b"source")
        s3.put_object(Bucket=bucket, Key="copy-dst", Body=b"destination")
        source = {"Bucket": bucket, "Key": "copy-src"}
        return self._refused(
            lambda: s3.copy_object(
                Bucket=bucket, Key="copy-dst", CopySource=source, IfNoneMatch="*"
            )
        )

    @functools.cached_property
    def s3_verifies_checksums(self) -> bool:
        """PutObject with a wrong ChecksumSHA256 is rejected (AWS, SeaweedFS, MiniStack:
        400 BadDigest; moto stores the bytes)."""
        s3, bucket = raw_client(self.endpoints, "s3"), self._bucket
        wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
        return self._refused(
            lambda: s3.put_object(Bucket=bucket, Key="bad-sum", Body=b"x", ChecksumSHA256=wrong)
        )

    @functools.cached_property
    def s3_lists_emptied_folders(self) -> bool:
        """ListObjectsV2 with a Delimiter still lists a folder whose keys were all deleted
        (SeaweedFS; not AWS, moto or MiniStack)."""
        s3, bucket = raw_client(self.endpoints, "s3"), self._bucket
        s3.put_object(Bucket=bucket, Key="emptied/folder/key", Body=b"x")
        s3.delete_object(Bucket=bucket, Key="emptied/folder/key")
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="emptied/", Delimiter="/")
        return any(p["Prefix"] == "emptied/folder/" for p in listed.get("CommonPrefixes", []))

    @property
    def dynamodb_isolated_transactions(self) -> bool:
        """TransactWriteItems are isolated from each other (AWS). moto's are not: it checks
        and applies one action at a time, without a lock, and a cancelled transaction
        restores a copy of the table taken when it started, erasing what another
        transaction committed meanwhile. A race cannot be probed deterministically; the
        request-token probe tells moto (which ignores tokens too) from the others."""
        return self.dynamodb_idempotency_tokens

    @functools.cached_property
    def dynamodb_idempotency_tokens(self) -> bool:
        """TransactWriteItems with a repeated ClientRequestToken is applied once (AWS,
        MiniStack; moto applies it again)."""
        dynamodb = raw_client(self.endpoints, "dynamodb")
        table = unique_table()
        dynamodb.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        try:
            dynamodb.get_waiter("table_exists").wait(
                TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
            )
            update = {
                "TableName": table,
                "Key": {"pk": {"S": "token"}},
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
            token = uuid.uuid4().hex
            for _ in range(2):
                dynamodb.transact_write_items(
                    TransactItems=[{"Update": update}], ClientRequestToken=token
                )
            item = dynamodb.get_item(
                TableName=table, Key={"pk": {"S": "token"}}, ConsistentRead=True
            )["Item"]
            return bool(item["n"]["N"] == "1")
        finally:
            dynamodb.delete_table(TableName=table)


def sha256_hex(data: bytes) -> str:
    """The hex sha256 of ``data``: what the library records for content."""
    return hashlib.sha256(data).hexdigest()


def unique(label: str) -> str:
    """A name nobody else uses: ``label`` and 10 random hex digits (a valid bucket, table
    and artifact name when ``label`` is one)."""
    return f"{label}-{uuid.uuid4().hex[:10]}"


def unique_bucket() -> str:
    return unique("test")


def unique_table() -> str:
    return unique("test-table")


def split_s3uri(uri: str) -> tuple[str, str]:
    """("bucket", "key") of an ``s3://bucket/key`` URI."""
    assert uri.startswith("s3://"), uri
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


# ------------------------------------------------------------------ request budgets
@dataclasses.dataclass(frozen=True)
class Stated:
    """A request count as a docstring states it: ``base`` requests, + ``per`` for each
    ``unit`` ("version", "alias", ...) the call involves."""

    base: int
    per: int = 0
    unit: str = ""

    def expected(self, units: int = 0) -> int:
        return self.base + self.per * units


_REQUESTS_SENTENCE = re.compile(r"Requests:\s*((?:[^.()]|\([^)]*\))+)\.")
_REQUESTS_SEGMENT = re.compile(
    r"(?P<base>\d+)(?: together)?(?: when (?P<case>[a-z ]+?))?\s*(?:\([^)]*\))?"
    r"(?:,? \+ (?P<per>\d+) per (?P<unit>[a-z]+)\b.*)?"
)


def stated_requests(docstring: str | None) -> dict[str, Stated]:
    """The request counts a docstring states, {case: Stated} ("" when one count holds
    for every call), read from its sentence of the shape::

        Requests: 1 when unchanged (HEAD); 3 when new (HEAD, PUT, HEAD).
        Requests: 1 (LIST), + 1 per alias (the GETs together).

    Empty when it states none; ValueError when the sentence has another shape."""
    match = _REQUESTS_SENTENCE.search(" ".join((docstring or "").split()))
    if match is None:
        return {}
    counts: dict[str, Stated] = {}
    for segment in re.split(r";\s*(?![^(]*\))", match[1]):
        parsed = _REQUESTS_SEGMENT.fullmatch(segment.strip())
        if parsed is None:
            raise ValueError(f"a request count of another shape: {segment!r}")
        counts[parsed["case"] or ""] = Stated(
            int(parsed["base"]), int(parsed["per"] or 0), parsed["unit"] or ""
        )
    return counts


def design_budgets() -> dict[str, dict[str, int]]:
    """The request budget table of docs/design.md: {operation: {column: count}}, the
    count being each cell's leading number ("S3-only", "S3 + DynamoDB" columns)."""
    text = (ROOT / "docs" / "design.md").read_text()
    section = text[text.index("## Request budget per call") :]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    budgets: dict[str, dict[str, int]] = {}
    for row in rows[2:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        budgets[cells[0]] = {
            column: int(leading[0])
            for column, cell in zip(header[1:], cells[1:], strict=True)
            if (leading := re.match(r"\d+", cell))
        }
    return budgets


def design_round_trips() -> dict[str, dict[str, int]]:
    """The round trips the budget table of docs/design.md states ("6 in 4 round trips"):
    {operation: {column: round trips}}, for the cells that state them."""
    text = (ROOT / "docs" / "design.md").read_text()
    section = text[text.index("## Request budget per call") :]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    trips: dict[str, dict[str, int]] = {}
    for row in rows[2:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        trips[cells[0]] = {
            column: int(found[1])
            for column, cell in zip(header[1:], cells[1:], strict=True)
            if (found := re.match(r"[^(]*? in (\d+) round trips?", cell))
        }
    return trips


class RequestCounter:
    """Counts the HTTP requests a boto3 session sends (hooked on ``before-send``).

    Attach it to a session before the library builds its clients from that session:
    clients copy the session's event handlers when they are created.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (method, url)
        self.operations: list[str] = []  # e.g. "s3.PutObject"
        self.body_sizes: list[int] = []  # each request's Content-Length (0 when none)
        self.retries = 0  # sends that were botocore retries of an earlier attempt

    @classmethod
    def attach(cls, bsm: BotoSesManager) -> RequestCounter:
        counter = cls()
        bsm.boto_ses.events.register("before-send", counter)
        return counter

    def __call__(self, **kwargs: Any) -> None:
        # Must return None: a non-None return value from before-send replaces the response.
        request = kwargs["request"]
        event_name = str(kwargs.get("event_name", ""))
        operation = ".".join(event_name.split(".")[1:3])
        retry = "attempt=1" not in str(request.headers.get("amz-sdk-request", "attempt=1"))
        length = request.headers.get("Content-Length") or 0
        with self._lock:
            self.requests.append((request.method, request.url))
            self.operations.append(operation)
            self.body_sizes.append(int(length.decode() if isinstance(length, bytes) else length))
            self.retries += retry

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    @property
    def calls(self) -> int:
        """Requests the library asked for (first attempts; retries not counted)."""
        with self._lock:
            return len(self.requests) - self.retries

    def sent_bytes(self, operation: str) -> int:
        """The request bodies sent by ``operation`` (e.g. "s3.UploadPart"), in bytes."""
        with self._lock:
            return sum(
                size
                for op, size in zip(self.operations, self.body_sizes, strict=True)
                if op == operation
            )

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.operations.clear()
            self.body_sizes.clear()
            self.retries = 0

    def write_operations(self) -> list[str]:
        """The operations seen that are not pure reads."""
        with self._lock:
            return [
                op
                for op in self.operations
                if not op.rsplit(".", 1)[-1].startswith(READ_OPERATION_PREFIXES)
            ]


class NewRepository(Protocol):
    """``new_repo(bsm, bootstrap=True, **constructor_kwargs)``: another repository of the
    same kind (a bucket and table of its own), bootstrapped unless told otherwise."""

    def __call__(
        self, bsm: BotoSesManager, *, bootstrap: bool = True, **kwargs: Any
    ) -> Repository: ...


@dataclasses.dataclass
class Backend:
    """A bootstrapped repository of one kind, its session and that session's counter."""

    kind: str
    repo: Repository
    bsm: BotoSesManager
    counter: RequestCounter
    new_repo: NewRepository

    @property
    def bucket(self) -> str:
        return self.repo.s3_bucket

    # Thin conveniences; every call passes keywords, including bsm=.
    def put(self, name: str, content: Any, **kwargs: Any) -> Artifact:
        return self.repo.put_artifact(bsm=self.bsm, name=name, content=content, **kwargs)

    def publish(self, name: str) -> Artifact:
        return self.repo.publish_artifact_version(bsm=self.bsm, name=name)

    def put_and_publish(self, name: str, content: bytes) -> Artifact:
        self.put(name, content)
        return self.publish(name)

    def versions(self, name: str) -> list[str]:
        return [a.version for a in self.repo.list_artifact_versions(bsm=self.bsm, name=name)]


def make_backend(kind: str, bsm: BotoSesManager, *, bootstrap: bool) -> Backend:
    """A repository of ``kind`` (bootstrapped unless told otherwise) with ``bsm`` and a
    RequestCounter attached before the library builds any client."""

    def new_repo(bsm: BotoSesManager, *, bootstrap: bool = True, **kwargs: Any) -> Repository:
        bucket = unique_bucket()
        repo: Repository
        if kind == "s3_and_dynamodb":
            repo = s3_and_dynamodb_backend.Repository(
                aws_region=REGION,
                s3_bucket=bucket,
                s3_prefix="artifacts",
                dynamodb_table_name=unique_table(),
                suffix=".bin",
                **kwargs,
            )
        else:
            repo = s3_only_backend.Repository(
                aws_region=REGION, s3_bucket=bucket, s3_prefix="artifacts", suffix=".bin", **kwargs
            )
        if bootstrap:
            repo.bootstrap(bsm=bsm)
        return repo

    counter = RequestCounter.attach(bsm)  # before the library builds any client
    repo = new_repo(bsm, bootstrap=bootstrap)
    counter.reset()
    return Backend(kind=kind, repo=repo, bsm=bsm, counter=counter, new_repo=new_repo)
