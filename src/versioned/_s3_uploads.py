"""Multipart uploads in progress under a prefix: listed (ListMultipartUploads, whose
``Initiated`` is the server's clock) and aborted. Speaks boto3 through :mod:`._s3`'s
error table, like the other storage modules."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ._s3 import backend_error, error_code, is_not_found, translate


@dataclasses.dataclass(frozen=True)
class Upload:
    """One multipart upload not completed nor aborted."""

    key: str
    upload_id: str
    initiated: datetime


def list_uploads(s3: Any, bucket: str, prefix: str) -> list[Upload]:
    """Every upload in progress under ``prefix``. 1 request per 1000 uploads."""
    found: list[Upload] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    with translate("LIST multipart uploads", bucket, prefix):
        while True:
            response = s3.list_multipart_uploads(**kwargs)
            found += [
                Upload(item["Key"], item["UploadId"], item["Initiated"])
                for item in response.get("Uploads", [])
            ]
            if not response.get("IsTruncated"):
                return found
            kwargs["KeyMarker"] = response.get("NextKeyMarker", "")
            kwargs["UploadIdMarker"] = response.get("NextUploadIdMarker", "")


def abort_upload(s3: Any, bucket: str, upload: Upload) -> bool:
    """Abort one upload; False when it was gone already (completed or aborted). 1 request."""
    try:
        s3.abort_multipart_upload(Bucket=bucket, Key=upload.key, UploadId=upload.upload_id)
    except ClientError as error:
        if error_code(error) == "NoSuchUpload" or is_not_found(error):
            return False
        raise backend_error(error, "ABORT multipart upload", bucket, upload.key) from error
    except BotoCoreError as error:
        raise backend_error(error, "ABORT multipart upload", bucket, upload.key) from error
    return True
