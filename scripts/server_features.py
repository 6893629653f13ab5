"""Probe an S3 endpoint and a DynamoDB endpoint for the features ``versioned`` relies on.

Each feature is exercised with plain boto3 and reported as one row of a markdown table
(feature | result | detail). Results: ``supported``, ``ignored`` (the request succeeded but
the condition or option had no effect), ``partial``, ``no``, ``error <Code> (<HTTP status>)``,
or a value.

    .venv/bin/python scripts/server_features.py --server moto
    .venv/bin/python scripts/server_features.py --server seaweedfs   # S3 only
    .venv/bin/python scripts/server_features.py --server ministack   # S3 and DynamoDB
    .venv/bin/python scripts/server_features.py --server seaweedfs+ministack
    .venv/bin/python scripts/server_features.py --s3 URL --dynamodb URL
    VERSIONED_TEST_S3_ENDPOINT=URL .venv/bin/python scripts/server_features.py

``--server`` installs and starts that server (moto in process; SeaweedFS and MiniStack as
``make test-s3-compatible`` does) and stops it afterwards. NEVER point this at real AWS:
it creates and deletes buckets and tables.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.httpchecksum
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import s3_compatible

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
STALE_ETAG = '"0123456789abcdef0123456789abcdef"'


@dataclass
class Row:
    feature: str
    result: str
    detail: str = ""


# ------------------------------------------------------------------ helpers
def error_of(error: ClientError) -> str:
    code = error.response.get("Error", {}).get("Code", "?")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
    return f"error {code} ({status})"


def attempt(call: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", response) or ("error Code (status)", the ClientError)."""
    try:
        return "ok", call()
    except ClientError as error:
        return error_of(error), error


def refused_412(outcome: str) -> bool:
    return outcome.startswith("error") and "(412)" in outcome


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def session() -> boto3.session.Session:
    return boto3.session.Session(region_name=REGION, **CREDENTIALS)


def s3_client(url: str, *, botocore_defaults: bool = False) -> Any:
    """An S3 client; checksums only when required unless ``botocore_defaults``."""
    options: dict[str, Any] = {"retries": {"mode": "standard", "max_attempts": 2}}
    if not botocore_defaults:
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
    return session().client("s3", endpoint_url=url, config=Config(**options))


class S3Probe:
    """One fresh bucket; each method probes one feature and returns its rows."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.s3 = s3_client(url)
        self.bucket = f"probe-{uuid.uuid4().hex[:12]}"
        self.s3.create_bucket(Bucket=self.bucket)

    def put(self, key: str, body: bytes, **kwargs: Any) -> Any:
        return self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **kwargs)

    def body(self, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]
        except ClientError:
            return None

    def multipart(self, key: str, body: bytes, **complete: Any) -> tuple[str, Any]:
        upload = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key)
        part = self.s3.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=body
        )
        outcome = attempt(
            lambda: self.s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload["UploadId"],
                MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
                **complete,
            )
        )
        if outcome[0] != "ok":
            with contextlib.suppress(ClientError):
                self.s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload["UploadId"]
                )
        return outcome

    # -------------------------------------------------------------- conditional writes
    def put_if_none_match(self) -> list[Row]:
        first, _ = attempt(lambda: self.put("inm", b"one", IfNoneMatch="*"))
        second, _ = attempt(lambda: self.put("inm", b"two", IfNoneMatch="*"))
        kept = self.body("inm")
        detail = f"new key: {first}; existing key: {second}; body after: {kept!r}"
        if first == "ok" and refused_412(second) and kept == b"one":
            result = "supported"
        elif first == "ok" and second == "ok":
            result = "ignored"
        else:
            result = first if first != "ok" else second
        return [Row('PutObject IfNoneMatch="*"', result, detail)]

    def put_if_match(self) -> list[Row]:
        etag = self.put("im", b"one")["ETag"]
        outcomes = {
            "stale quoted": attempt(lambda: self.put("im", b"x", IfMatch=STALE_ETAG))[0],
            "stale unquoted": attempt(lambda: self.put("im", b"x", IfMatch=STALE_ETAG.strip('"')))[
                0
            ],
        }
        after_stale = self.body("im")
        current = attempt(lambda: self.put("im", b"two", IfMatch=etag))
        outcomes["current quoted"] = current[0]
        if current[0] == "ok":
            etag = current[1]["ETag"]
        outcomes["current unquoted"] = attempt(
            lambda: self.put("im", b"three", IfMatch=etag.strip('"'))
        )[0]
        outcomes["missing key"] = attempt(lambda: self.put("im-missing", b"x", IfMatch=etag))[0]
        detail = "; ".join(f"{name}: {value}" for name, value in outcomes.items())
        stale_refused = all(refused_412(outcomes[k]) for k in ("stale quoted", "stale unquoted"))
        current_ok = outcomes["current quoted"] == "ok" and outcomes["current unquoted"] == "ok"
        if stale_refused and current_ok and after_stale == b"one":
            result = "supported"
        elif outcomes["stale quoted"] == "ok":
            result = "ignored"
        else:
            result = "partial"
        return [Row("PutObject IfMatch", result, detail)]

    def complete_conditions(self) -> list[Row]:
        self.put("mpu", b"existing")
        second = self.multipart("mpu", b"multipart", IfNoneMatch="*")[0]
        kept = self.body("mpu")
        new = self.multipart("mpu-new", b"multipart", IfNoneMatch="*")[0]
        detail = f"new key: {new}; existing key: {second}; body after: {kept!r}"
        if new == "ok" and refused_412(second) and kept == b"existing":
            inm = "supported"
        elif second == "ok":
            inm = "ignored"
        else:
            inm = new if new != "ok" else second
        rows = [Row('CompleteMultipartUpload IfNoneMatch="*"', inm, detail)]
        etag = self.s3.head_object(Bucket=self.bucket, Key="mpu")["ETag"]
        stale = self.multipart("mpu", b"stale", IfMatch=STALE_ETAG)[0]
        current = self.multipart("mpu", b"current", IfMatch=etag)[0]
        detail = f"stale etag: {stale}; current etag: {current}"
        if refused_412(stale) and current == "ok":
            im = "supported"
        elif stale == "ok":
            im = "ignored"
        else:
            im = stale if stale != "ok" else current
        rows.append(Row("CompleteMultipartUpload IfMatch", im, detail))
        return rows

    def copy_conditions(self) -> list[Row]:
        source = {"Bucket": self.bucket, "Key": "copy-src"}
        self.put("copy-src", b"source")
        self.put("copy-dst", b"destination")
        outcome, _ = attempt(
            lambda: self.s3.copy_object(
                Bucket=self.bucket, Key="copy-dst", CopySource=source, IfNoneMatch="*"
            )
        )
        kept = self.body("copy-dst")
        if refused_412(outcome) and kept == b"destination":
            result = "supported"
        elif outcome == "ok" and kept == b"source":
            result = "ignored (destination overwritten)"
        else:
            result = outcome
        rows = [
            Row(
                'CopyObject IfNoneMatch="*" onto an existing key',
                result,
                f"{outcome}; destination after: {kept!r}",
            )
        ]
        outcome, _ = attempt(
            lambda: self.s3.copy_object(
                Bucket=self.bucket, Key="copy-dst2", CopySource=source, CopySourceIfMatch=STALE_ETAG
            )
        )
        created = self.body("copy-dst2")
        result = "supported" if refused_412(outcome) and created is None else outcome
        if outcome == "ok":
            result = "ignored"
        rows.append(Row("CopyObject CopySourceIfMatch (stale)", result, outcome))
        upload = self.s3.create_multipart_upload(Bucket=self.bucket, Key="upc")
        outcome, _ = attempt(
            lambda: self.s3.upload_part_copy(
                Bucket=self.bucket,
                Key="upc",
                UploadId=upload["UploadId"],
                PartNumber=1,
                CopySource=source,
                CopySourceIfMatch=STALE_ETAG,
            )
        )
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key="upc", UploadId=upload["UploadId"])
        result = (
            "supported" if refused_412(outcome) else ("ignored" if outcome == "ok" else outcome)
        )
        rows.append(Row("UploadPartCopy CopySourceIfMatch (stale)", result, outcome))
        return rows

    def delete_if_match(self) -> list[Row]:
        etag = self.put("del", b"x")["ETag"]
        stale, _ = attempt(
            lambda: self.s3.delete_object(Bucket=self.bucket, Key="del", IfMatch=STALE_ETAG)
        )
        survived = self.body("del") is not None
        current, _ = attempt(
            lambda: self.s3.delete_object(Bucket=self.bucket, Key="del", IfMatch=etag)
        )
        gone = self.body("del") is None
        detail = f"stale: {stale}, object kept: {survived}; current: {current}, deleted: {gone}"
        if refused_412(stale) and survived and current == "ok" and gone:
            result = "supported"
        elif stale == "ok" and not survived:
            result = "ignored (deleted anyway)"
        else:
            result = stale if stale != "ok" else current
        missing, _ = attempt(
            lambda: self.s3.delete_object(Bucket=self.bucket, Key="del-missing", IfMatch=etag)
        )
        return [
            Row("DeleteObject IfMatch (stale etag)", result, detail),
            Row("DeleteObject IfMatch on a missing key", missing),
        ]

    # -------------------------------------------------------------- checksums
    def put_checksums(self) -> list[Row]:
        data = b"checksummed bytes"
        rows = []
        variants = {"": {}, ' + ChecksumAlgorithm="SHA256"': {"ChecksumAlgorithm": "SHA256"}}
        for label, extra in variants.items():
            key = f"ck-wrong{len(label)}"
            wrong, _ = attempt(
                lambda key=key, extra=extra: self.put(
                    key, data, ChecksumSHA256=b64_sha256(b"other bytes"), **extra
                )
            )
            stored = self.body(key)
            result = "rejected" if wrong.startswith("error") and stored is None else "ACCEPTED"
            rows.append(
                Row(
                    f"PutObject wrong ChecksumSHA256{label}",
                    result,
                    f"{wrong}; object stored: {stored is not None}",
                )
            )
        for label, extra in variants.items():
            key = f"ck-right{len(label)}"
            right, response = attempt(
                lambda key=key, extra=extra: self.put(
                    key, data, ChecksumSHA256=b64_sha256(data), **extra
                )
            )
            echoed = response.get("ChecksumSHA256") if right == "ok" else None
            returned = None
            if right == "ok":
                head = self.s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
                returned = head.get("ChecksumSHA256")
            if right != "ok":
                result = right
            elif returned == b64_sha256(data):
                result = "supported"
            else:
                result = "stored, checksum not returned by HEAD"
            rows.append(
                Row(
                    f"PutObject right ChecksumSHA256{label}; HEAD ChecksumMode=ENABLED",
                    result,
                    f"PUT response echoes it: {echoed is not None}; HEAD ChecksumSHA256: "
                    f"{returned!r}",
                )
            )
        return rows

    def multipart_checksums(self) -> list[Row]:
        data = b"part bytes"
        key = "ck-mpu"
        upload = self.s3.create_multipart_upload(
            Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256"
        )
        upload_id = upload["UploadId"]
        wrong, _ = attempt(
            lambda: self.s3.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=1,
                Body=data,
                ChecksumSHA256=b64_sha256(b"other"),
            )
        )
        right, part = attempt(
            lambda: self.s3.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=1,
                Body=data,
                ChecksumSHA256=b64_sha256(data),
            )
        )
        complete = "not tried"
        returned = None
        if right == "ok":
            complete, _ = attempt(
                lambda: self.s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={
                        "Parts": [
                            {
                                "ETag": part["ETag"],
                                "PartNumber": 1,
                                "ChecksumSHA256": b64_sha256(data),
                            }
                        ]
                    },
                )
            )
            if complete == "ok":
                head = self.s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
                returned = head.get("ChecksumSHA256")
        detail = (
            f"wrong part checksum: {wrong}; right: {right}, part echoes "
            f"{part.get('ChecksumSHA256') if right == 'ok' else None!r}; complete: {complete}; "
            f"HEAD ChecksumSHA256: {returned!r}"
        )
        if wrong.startswith("error") and right == "ok" and complete == "ok":
            result = "supported"
        elif right == "ok" and complete == "ok":
            result = "wrong part checksum ACCEPTED"
        else:
            result = right if right != "ok" else complete
        return [Row("UploadPart ChecksumSHA256 (upload created with SHA256)", result, detail)]

    def copy_checksum(self) -> list[Row]:
        data = b"copy checksum source"
        self.put("cc-src", data)
        outcome, response = attempt(
            lambda: self.s3.copy_object(
                Bucket=self.bucket,
                Key="cc-dst",
                CopySource={"Bucket": self.bucket, "Key": "cc-src"},
                ChecksumAlgorithm="SHA256",
            )
        )
        if outcome != "ok":
            return [Row('CopyObject ChecksumAlgorithm="SHA256"', outcome)]
        value = response.get("CopyObjectResult", {}).get("ChecksumSHA256")
        head = self.s3.head_object(Bucket=self.bucket, Key="cc-dst", ChecksumMode="ENABLED")
        if value == b64_sha256(data):
            result = "supported"
        elif value is None:
            result = "no ChecksumSHA256 in CopyObjectResult"
        else:
            result = "wrong ChecksumSHA256"
        detail = f"CopyObjectResult: {value!r}; HEAD after: {head.get('ChecksumSHA256')!r}"
        return [Row('CopyObject ChecksumAlgorithm="SHA256"', result, detail)]

    def botocore_default_checksums(self) -> list[Row]:
        """botocore >= 1.36 sends CRC32 checksums by default (as a header over http, as an
        aws-chunked trailer over https)."""
        client = s3_client(self.url, botocore_defaults=True)
        sent: list[dict[str, str]] = []
        client.meta.events.register(
            "before-send", lambda request, **_: sent.append(dict(request.headers)) and None
        )
        data = b"default checksum body" * 100
        header, _ = attempt(lambda: client.put_object(Bucket=self.bucket, Key="dc", Body=data))
        sent_header = any("x-amz-checksum-crc32" in {k.lower() for k in h} for h in sent)
        intact = self.body("dc") == data
        rows = [
            Row(
                "botocore default checksums (CRC32 header) on PutObject",
                "accepted" if header == "ok" and intact else header,
                f"x-amz-checksum-crc32 sent: {sent_header}; body intact: {intact}",
            )
        ]
        upload = attempt(lambda: self._default_multipart(client, data))[0]
        rows.append(
            Row(
                "botocore default checksums on a multipart upload",
                "accepted" if upload == "ok" and self.body("dc-mpu") == data else upload,
            )
        )
        sent.clear()
        with _trailer_checksums_over_http():
            trailer, _ = attempt(
                lambda: client.put_object(Bucket=self.bucket, Key="dt", Body=io.BytesIO(data))
            )
        encodings = [h.get("Content-Encoding", "") for h in sent]
        stored = self.body("dt")
        if trailer == "ok" and stored == data:
            result = "accepted"
        elif trailer == "ok":
            result = f"CORRUPTED: stored {len(stored or b'')} bytes of {len(data)}"
        else:
            result = trailer
        rows.append(
            Row(
                "aws-chunked body with x-amz-checksum-crc32 trailer (botocore's https default)",
                result,
                f"Content-Encoding sent: {encodings}",
            )
        )
        return rows

    def _default_multipart(self, client: Any, data: bytes) -> None:
        upload = client.create_multipart_upload(Bucket=self.bucket, Key="dc-mpu")
        part = client.upload_part(
            Bucket=self.bucket, Key="dc-mpu", UploadId=upload["UploadId"], PartNumber=1, Body=data
        )
        entry = {"ETag": part["ETag"], "PartNumber": 1}
        entry.update({k: v for k, v in part.items() if k.startswith("Checksum")})
        client.complete_multipart_upload(
            Bucket=self.bucket,
            Key="dc-mpu",
            UploadId=upload["UploadId"],
            MultipartUpload={"Parts": [entry]},
        )

    # -------------------------------------------------------------- objects and listings
    def etag_and_metadata(self) -> list[Row]:
        data = b"etag body"
        etag = self.put("etag", data, Metadata={"artifact_sha256": "abc", "plain": "x"})["ETag"]
        md5 = hashlib.md5(data).hexdigest()
        metadata = self.s3.head_object(Bucket=self.bucket, Key="etag")["Metadata"]
        return [
            Row(
                "single-part PutObject ETag == hex MD5 of the body",
                "yes" if etag.strip('"') == md5 else "no",
                f"ETag {etag}",
            ),
            Row(
                "user metadata name with `_` preserved (artifact_sha256)",
                "yes" if metadata.get("artifact_sha256") == "abc" else "no",
                f"HEAD Metadata: {metadata}",
            ),
        ]

    def listings(self) -> list[Row]:
        self.put("folder/gone/x", b"x")
        self.put("folder/kept/y", b"y")
        self.s3.delete_object(Bucket=self.bucket, Key="folder/gone/x")
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix="folder/", Delimiter="/")
        prefixes = [p["Prefix"] for p in listed.get("CommonPrefixes", [])]
        rows = [
            Row(
                "ListObjectsV2 Delimiter: emptied folder still in CommonPrefixes",
                "yes (listed)" if "folder/gone/" in prefixes else "no (as AWS)",
                f"CommonPrefixes: {prefixes}",
            )
        ]
        for key in ("list/a", "list/b", "list/c", "list/d"):
            self.put(key, b"x")
        page = self.s3.list_objects_v2(
            Bucket=self.bucket, Prefix="list/", StartAfter="list/a", MaxKeys=2
        )
        keys = [item["Key"] for item in page.get("Contents", [])]
        ok = keys == ["list/b", "list/c"] and page.get("IsTruncated") is True
        rows.append(
            Row(
                "ListObjectsV2 StartAfter + MaxKeys",
                "supported" if ok else "no",
                f"keys {keys}, IsTruncated {page.get('IsTruncated')}",
            )
        )
        outcome, response = attempt(
            lambda: self.s3.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": "list/a"}, {"Key": "list/b"}, {"Key": "list/zz"}]},
            )
        )
        if outcome == "ok":
            deleted = sorted(item["Key"] for item in response.get("Deleted", []))
            left = [
                item["Key"]
                for item in self.s3.list_objects_v2(Bucket=self.bucket, Prefix="list/")["Contents"]
            ]
            ok = left == ["list/c", "list/d"] and not response.get("Errors")
            detail = f"Deleted {deleted}; Errors {response.get('Errors', [])}; left {left}"
            rows.append(Row("DeleteObjects batch", "supported" if ok else "partial", detail))
        else:
            rows.append(Row("DeleteObjects batch", outcome))
        return rows

    def bucket_and_errors(self) -> list[Row]:
        location = self.s3.get_bucket_location(Bucket=self.bucket).get("LocationConstraint")
        other = f"probe-eu-{uuid.uuid4().hex[:10]}"
        created, _ = attempt(
            lambda: self.s3.create_bucket(
                Bucket=other, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
            )
        )
        eu = (
            self.s3.get_bucket_location(Bucket=other).get("LocationConstraint")
            if created == "ok"
            else created
        )
        if created == "ok":
            self.s3.delete_bucket(Bucket=other)
        missing_bucket = f"probe-missing-{uuid.uuid4().hex[:10]}"
        head = attempt(lambda: self.s3.head_bucket(Bucket=missing_bucket))[0]
        get = attempt(lambda: self.s3.get_object(Bucket=self.bucket, Key="no/such/key"))[0]
        get_bucket = attempt(lambda: self.s3.get_object(Bucket=missing_bucket, Key="k"))[0]
        return [
            Row(
                "GetBucketLocation",
                f"{location!r} / {eu!r}",
                "bucket made without / with LocationConstraint eu-west-1 (AWS: None / 'eu-west-1')",
            ),
            Row("HeadBucket on a missing bucket", head),
            Row("GetObject on a missing key", get),
            Row("GetObject in a missing bucket", get_bucket),
        ]

    def all(self) -> list[Row]:
        rows: list[Row] = []
        for probe in (
            self.put_if_none_match,
            self.put_if_match,
            self.complete_conditions,
            self.copy_conditions,
            self.delete_if_match,
            self.put_checksums,
            self.multipart_checksums,
            self.copy_checksum,
            self.etag_and_metadata,
            self.listings,
            self.bucket_and_errors,
            self.botocore_default_checksums,
        ):
            rows += run_probe(probe)
        return rows


@contextlib.contextmanager
def _trailer_checksums_over_http() -> Iterator[None]:
    """botocore sends trailer checksums only over https; pretend the URL is https so that
    the body goes out aws-chunked with an x-amz-checksum-crc32 trailer, as it does on AWS."""
    original = botocore.httpchecksum.urlparse  # type: ignore[attr-defined]

    def as_https(url: str) -> Any:
        return urllib.parse.urlparse(url)._replace(scheme="https")

    botocore.httpchecksum.urlparse = as_https  # type: ignore[attr-defined]
    try:
        yield
    finally:
        botocore.httpchecksum.urlparse = original  # type: ignore[attr-defined]


def run_probe(probe: Callable[[], list[Row]]) -> list[Row]:
    """A probe that raised is reported as one row, not a crash of the whole table."""
    try:
        return probe()
    except ClientError as error:
        return [Row(probe.__name__, f"probe failed: {error_of(error)}", str(error)[:200])]
    except Exception as error:
        return [Row(probe.__name__, "probe failed", repr(error)[:200])]


# ------------------------------------------------------------------ DynamoDB
def dynamodb_client(url: str) -> Any:
    config = Config(retries={"mode": "standard", "max_attempts": 2})
    return session().client("dynamodb", endpoint_url=url, config=config)


def item_key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class DynamoDBProbe:
    """One fresh table (pk, sk strings); each method probes one feature."""

    def __init__(self, url: str) -> None:
        self.ddb = dynamodb_client(url)
        self.table = f"probe-{uuid.uuid4().hex[:12]}"
        started = time.monotonic()
        self.ddb.create_table(
            TableName=self.table,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        self.waited: str
        try:
            self.ddb.get_waiter("table_exists").wait(
                TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
            )
            self.waited = f"waiter ok after {time.monotonic() - started:.1f} s"
        except Exception as error:
            self.waited = f"waiter failed: {error!r}"[:150]

    def put(self, pk: str, sk: str, **attributes: Any) -> None:
        self.ddb.put_item(TableName=self.table, Item={**item_key(pk, sk), **attributes})

    def get(self, pk: str, sk: str) -> dict[str, Any]:
        response = self.ddb.get_item(
            TableName=self.table, Key=item_key(pk, sk), ConsistentRead=True
        )
        return response.get("Item", {})  # type: ignore[no-any-return]

    def describe(self) -> list[Row]:
        table = self.ddb.describe_table(TableName=self.table)["Table"]
        return [
            Row(
                "DescribeTable + table_exists waiter",
                "supported" if table.get("TableStatus") == "ACTIVE" else table.get("TableStatus"),
                self.waited,
            )
        ]

    def return_old_on_failure(self) -> list[Row]:
        self.put("rv", "1", v={"N": "1"})
        condition = {
            "ConditionExpression": "#v = :nope",
            "ExpressionAttributeNames": {"#v": "v"},
            "ExpressionAttributeValues": {":nope": {"N": "99"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        calls = {
            "UpdateItem": lambda: self.ddb.update_item(
                TableName=self.table,
                Key=item_key("rv", "1"),
                UpdateExpression="SET #v = :two",
                **{
                    **condition,
                    "ExpressionAttributeValues": {":nope": {"N": "99"}, ":two": {"N": "2"}},
                },
            ),
            "PutItem": lambda: self.ddb.put_item(
                TableName=self.table, Item={**item_key("rv", "1"), "v": {"N": "3"}}, **condition
            ),
            "DeleteItem": lambda: self.ddb.delete_item(
                TableName=self.table, Key=item_key("rv", "1"), **condition
            ),
        }
        rows = []
        for name, call in calls.items():
            outcome, error = attempt(call)
            if outcome == "ok":
                rows.append(
                    Row(f"{name} ReturnValuesOnConditionCheckFailure=ALL_OLD", "condition ignored")
                )
                continue
            item = error.response.get("Item")
            result = "supported" if item and item.get("v") == {"N": "1"} else "no Item in error"
            rows.append(
                Row(
                    f"{name} ReturnValuesOnConditionCheckFailure=ALL_OLD",
                    result,
                    f"{outcome}; Item {item}",
                )
            )
        return rows

    def transactions(self) -> list[Row]:
        both = attempt(
            lambda: self.ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {**item_key("tx", "a"), "n": {"N": "1"}},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {**item_key("tx", "b"), "n": {"N": "1"}},
                        }
                    },
                ]
            )
        )[0]
        applied = bool(self.get("tx", "a")) and bool(self.get("tx", "b"))
        rows = [
            Row(
                "TransactWriteItems",
                "supported" if both == "ok" and applied else both,
                f"{both}; both items written: {applied}",
            )
        ]
        outcome, error = attempt(
            lambda: self.ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {**item_key("tx", "c"), "n": {"N": "1"}},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": item_key("tx", "a"),
                            "UpdateExpression": "SET n = :two",
                            "ConditionExpression": "n = :nope",
                            "ExpressionAttributeValues": {":two": {"N": "2"}, ":nope": {"N": "9"}},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                ]
            )
        )
        if outcome == "ok":
            rows.append(Row("TransactWriteItems condition failure", "condition ignored"))
            return rows
        reasons = error.response.get("CancellationReasons")
        codes = [reason.get("Code") for reason in reasons or []]
        item = (reasons or [{}, {}])[-1].get("Item")
        atomic = not self.get("tx", "c")
        rows.append(
            Row(
                "TransactWriteItems condition failure: CancellationReasons",
                "supported"
                if codes == ["None", "ConditionalCheckFailed"] and atomic
                else "partial",
                f"{outcome}; codes {codes}; other write rolled back: {atomic}",
            )
        )
        rows.append(
            Row(
                "TransactWriteItems ReturnValuesOnConditionCheckFailure: Item in the reason",
                "supported" if item and item.get("n") == {"N": "1"} else "no",
                f"Item {item}",
            )
        )
        return rows

    def idempotency_token(self) -> list[Row]:
        token = uuid.uuid4().hex
        request = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": item_key("idem", "1"),
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            }
        ]

        def send(items: list[dict[str, Any]]) -> Any:
            return self.ddb.transact_write_items(TransactItems=items, ClientRequestToken=token)

        first = attempt(lambda: send(request))[0]
        second = attempt(lambda: send(request))[0]
        count = self.get("idem", "1").get("n", {}).get("N")
        other = [{"Update": {**request[0]["Update"], "Key": item_key("idem", "2")}}]
        mismatch = attempt(lambda: send(other))[0]
        replay_ok = first == "ok" and second == "ok" and count == "1"
        return [
            Row(
                "TransactWriteItems ClientRequestToken: same request twice",
                "supported (applied once)" if replay_ok else f"no (n = {count})",
                f"first {first}; second {second}; counter after both: {count}",
            ),
            Row(
                "TransactWriteItems ClientRequestToken: same token, other request",
                "supported" if "IdempotentParameterMismatch" in mismatch else mismatch,
                mismatch,
            ),
        ]

    def reads(self) -> list[Row]:
        for sk in ("1", "2", "3"):
            self.put("q", sk, v={"S": sk})
        outcome, response = attempt(
            lambda: self.ddb.batch_get_item(
                RequestItems={
                    self.table: {
                        "Keys": [item_key("q", "1"), item_key("q", "3"), item_key("q", "9")],
                        "ConsistentRead": True,
                    }
                }
            )
        )
        got = (
            sorted(i["sk"]["S"] for i in response["Responses"].get(self.table, []))
            if outcome == "ok"
            else []
        )
        rows = [Row("BatchGetItem", "supported" if got == ["1", "3"] else outcome, f"got {got}")]
        outcome, response = attempt(
            lambda: self.ddb.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": "q"}},
                ConsistentRead=True,
                ScanIndexForward=False,
                Limit=2,
            )
        )
        if outcome == "ok":
            keys = [i["sk"]["S"] for i in response["Items"]]
            ok = keys == ["3", "2"] and "LastEvaluatedKey" in response
            detail = f"items {keys}; LastEvaluatedKey {response.get('LastEvaluatedKey')}"
            rows.append(
                Row(
                    "Query ConsistentRead + ScanIndexForward=False + Limit",
                    "supported" if ok else "no",
                    detail,
                )
            )
        else:
            rows.append(Row("Query ConsistentRead + ScanIndexForward=False + Limit", outcome))
        return rows

    def update(self, sk: str, expression: str, **kwargs: Any) -> tuple[str, Any]:
        return attempt(
            lambda: self.ddb.update_item(
                TableName=self.table,
                Key=item_key("u", sk),
                UpdateExpression=expression,
                ReturnValues="ALL_NEW",
                **kwargs,
            )
        )

    def update_expressions(self) -> list[Row]:
        rows = []
        values = {":zero": {"N": "0"}, ":one": {"N": "1"}}
        expression = "SET c = if_not_exists(c, :zero) + :one"
        self.update("ine", expression, ExpressionAttributeValues=values)
        outcome, response = self.update("ine", expression, ExpressionAttributeValues=values)
        value = response["Attributes"].get("c") if outcome == "ok" else outcome
        rows.append(
            Row(
                "UpdateItem if_not_exists + arithmetic",
                "supported" if value == {"N": "2"} else "no",
                f"c = {value}",
            )
        )
        self.put("u", "rm", a={"S": "x"}, b={"S": "y"})
        outcome, response = self.update("rm", "REMOVE a")
        attributes = sorted(response["Attributes"]) if outcome == "ok" else outcome
        rows.append(
            Row(
                "UpdateItem REMOVE",
                "supported" if attributes == ["b", "pk", "sk"] else "no",
                f"{attributes}",
            )
        )
        self.put("u", "map", m={"M": {"x": {"S": "1"}}})
        names = {"#m": "m", "#k": "k"}
        outcome, response = self.update(
            "map",
            "SET #m.#k = :v",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":v": {"S": "2"}},
        )
        value = response["Attributes"].get("m") if outcome == "ok" else outcome
        expected = {"M": {"x": {"S": "1"}, "k": {"S": "2"}}}
        rows.append(
            Row(
                "UpdateItem SET #m.#k = :v (map exists)",
                "supported" if value == expected else "no",
                f"m = {value}",
            )
        )
        outcome, _ = self.update(
            "nomap",
            "SET #m.#k = :v",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":v": {"S": "2"}},
        )
        rows.append(
            Row("UpdateItem SET #m.#k = :v (map missing; AWS: ValidationException)", outcome)
        )
        absent, _ = self.update(
            "map",
            "SET #m.#j = :v",
            ConditionExpression="attribute_not_exists(#m.#j)",
            ExpressionAttributeNames={"#m": "m", "#j": "j"},
            ExpressionAttributeValues={":v": {"S": "3"}},
        )
        present, _ = self.update(
            "map",
            "SET #m.#k = :v",
            ConditionExpression="attribute_not_exists(#m.#k)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":v": {"S": "4"}},
        )
        ok = absent == "ok" and "ConditionalCheckFailed" in present
        rows.append(
            Row(
                "ConditionExpression attribute_not_exists(#m.#k) on a nested path",
                "supported" if ok else "no",
                f"key absent: {absent}; key present: {present}",
            )
        )
        outcome, _ = self.update(
            "ne",
            "SET y = :v",
            ConditionExpression="#x <> :v",
            ExpressionAttributeNames={"#x": "x"},
            ExpressionAttributeValues={":v": {"S": "1"}},
        )
        rows.append(
            Row(
                "ConditionExpression `#x <> :v` with x missing",
                "true (write applied)" if outcome == "ok" else f"false: {outcome}",
            )
        )
        self.put("u", "rv", a={"N": "1"}, b={"N": "1"})
        outcome, response = self.update(
            "rv", "SET a = :two", ExpressionAttributeValues={":two": {"N": "2"}}
        )
        all_new = response.get("Attributes") if outcome == "ok" else outcome
        outcome, response = attempt(
            lambda: self.ddb.update_item(
                TableName=self.table,
                Key=item_key("u", "rv"),
                UpdateExpression="SET a = :three",
                ExpressionAttributeValues={":three": {"N": "3"}},
                ReturnValues="UPDATED_OLD",
            )
        )
        updated_old = response.get("Attributes") if outcome == "ok" else outcome
        ok = all_new == {
            **item_key("u", "rv"),
            "a": {"N": "2"},
            "b": {"N": "1"},
        } and updated_old == {"a": {"N": "2"}}
        rows.append(
            Row(
                'UpdateItem ReturnValues="ALL_NEW" / "UPDATED_OLD"',
                "supported" if ok else "no",
                f"ALL_NEW {all_new}; UPDATED_OLD {updated_old}",
            )
        )
        return rows

    def all(self) -> list[Row]:
        rows: list[Row] = []
        for probe in (
            self.describe,
            self.return_old_on_failure,
            self.transactions,
            self.idempotency_token,
            self.reads,
            self.update_expressions,
        ):
            rows += run_probe(probe)
        return rows


# ------------------------------------------------------------------ client-side routing
ROUTING_CHECK = r"""
import json, os, sys
import botocore, botocore.session, boto_session_manager
from boto_session_manager import BotoSesManager
creds = dict(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
mode = sys.argv[1]
if mode == "session-config-file":
    core = botocore.session.Session()
    core.set_config_variable("config_file", os.environ.pop("PROBE_CONFIG_FILE"))
    bsm = BotoSesManager(botocore_session=core, **creds)
elif mode == "explicit-endpoint-beats-env":
    bsm = BotoSesManager(default_client_kwargs={"endpoint_url": "http://127.0.0.1:9"}, **creds)
else:
    bsm = BotoSesManager(**creds)
kwargs = dict(bsm.default_client_kwargs)
s3 = bsm.boto_ses.client("s3", **kwargs)
ddb = bsm.boto_ses.client("dynamodb", **kwargs)
out = {"botocore": botocore.__version__, "bsm": boto_session_manager.__version__,
       "s3": s3.meta.endpoint_url, "dynamodb": ddb.meta.endpoint_url,
       "bsm.s3_client": bsm.s3_client.meta.endpoint_url}
if mode != "explicit-endpoint-beats-env":
    s3.list_buckets(); ddb.list_tables()
    out["calls"] = "ok"
print(json.dumps(out))
"""


def routing_rows(s3_url: str, dynamodb_url: str) -> list[Row]:
    """Does one BotoSesManager (no endpoint_url in default_client_kwargs) send S3 and
    DynamoDB requests to different endpoints configured the botocore way?"""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config"
        config.write_text(
            "[default]\nservices = local\n\n[services local]\n"
            f"s3 =\n  endpoint_url = {s3_url}\ndynamodb =\n  endpoint_url = {dynamodb_url}\n"
        )
        variables = {"AWS_ENDPOINT_URL_S3": s3_url, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url}
        cases = {
            "AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_DYNAMODB variables": ("env", variables),
            "AWS_ENDPOINT_URL (global) + AWS_ENDPOINT_URL_DYNAMODB": (
                "env",
                {"AWS_ENDPOINT_URL": s3_url, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url},
            ),
            "AWS_CONFIG_FILE with a [services] section": ("env", {"AWS_CONFIG_FILE": str(config)}),
            'per session: botocore set_config_variable("config_file")': (
                "session-config-file",
                {"PROBE_CONFIG_FILE": str(config)},
            ),
            "default_client_kwargs endpoint_url with the variables set": (
                "explicit-endpoint-beats-env",
                variables,
            ),
        }
        for label, (mode, env) in cases.items():
            done = subprocess.run(
                [sys.executable, "-c", ROUTING_CHECK, mode],
                env={**base, **env},
                capture_output=True,
                text=True,
                timeout=120,
            )
            if done.returncode:
                rows.append(Row(label, "error", done.stderr.strip().splitlines()[-1][:200]))
                continue
            seen = json.loads(done.stdout)
            if mode == "explicit-endpoint-beats-env":
                overridden = seen["s3"] == seen["dynamodb"] == "http://127.0.0.1:9"
                result = "explicit endpoint wins for every service" if overridden else "env wins"
            else:
                routed = seen["s3"] == s3_url and seen["dynamodb"] == dynamodb_url
                routed = routed and seen["bsm.s3_client"] == s3_url
                result = "honoured" if routed and seen.get("calls") == "ok" else "NOT honoured"
            detail = (
                f"s3 -> {seen['s3']}, dynamodb -> {seen['dynamodb']} "
                f"(botocore {seen['botocore']}, boto_session_manager {seen['bsm']})"
            )
            rows.append(Row(label, result, detail))
    return rows


# ------------------------------------------------------------------ output and main
def table(rows: list[Row]) -> str:
    lines = ["| feature | result | detail |", "|---|---|---|"]
    for row in rows:
        cells = [
            c.replace("|", "\\|").replace("\n", " ") for c in (row.feature, row.result, row.detail)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@contextlib.contextmanager
def started(server: str) -> Iterator[tuple[str | None, str | None]]:
    """(s3_url, dynamodb_url) of a server started for the probe; stopped afterwards."""
    if server == "moto":
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request

        (port,) = s3_compatible.free_ports(1)
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        try:
            yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}"
        finally:
            moto.stop()
    elif server == "seaweedfs":
        with s3_compatible.running("seaweedfs", "moto") as env:
            yield env["VERSIONED_TEST_S3_ENDPOINT"], None
    elif server == "seaweedfs+ministack":  # S3 on one server, DynamoDB on the other
        with s3_compatible.running("seaweedfs", "ministack") as env:
            yield env["VERSIONED_TEST_S3_ENDPOINT"], env["VERSIONED_TEST_DYNAMODB_ENDPOINT"]
    else:
        with s3_compatible.running("ministack", "ministack") as env:
            yield env["VERSIONED_TEST_S3_ENDPOINT"], env["VERSIONED_TEST_DYNAMODB_ENDPOINT"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--s3", default=os.environ.get("VERSIONED_TEST_S3_ENDPOINT"))
    parser.add_argument("--dynamodb", default=os.environ.get("VERSIONED_TEST_DYNAMODB_ENDPOINT"))
    parser.add_argument(
        "--server", choices=["moto", "seaweedfs", "ministack", "seaweedfs+ministack"]
    )
    parser.add_argument("--label", help="heading of the tables (default: the endpoints)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        s3_url, dynamodb_url = args.s3, args.dynamodb
        if args.server:
            s3_url, dynamodb_url = stack.enter_context(started(args.server))
        if not (s3_url or dynamodb_url):
            parser.error("give --server, --s3 and/or --dynamodb (or VERSIONED_TEST_*_ENDPOINT)")
        label = args.label or args.server or f"S3 {s3_url}, DynamoDB {dynamodb_url}"
        report: dict[str, list[Row]] = {}
        if s3_url:
            report["S3"] = S3Probe(s3_url).all()
        if dynamodb_url:
            report["DynamoDB"] = DynamoDBProbe(dynamodb_url).all()
        if s3_url and dynamodb_url:
            report["Client routing"] = routing_rows(s3_url, dynamodb_url)
    for section, rows in report.items():
        print(f"\n### {section}: {label}\n")
        print(table(rows))
    if args.json:
        data = {s: [row.__dict__ for row in rows] for s, rows in report.items()}
        args.json.write_text(json.dumps({"label": label, **data}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
