"""A scheduled retention run as an AWS Lambda function (docs/retention.md).

``handler(event, context)`` applies the retention policies of the repository its
environment names, the way the command line reads it: ``VERSIONED_BUCKET`` (required),
``VERSIONED_PREFIX``, ``VERSIONED_SUFFIX``, ``VERSIONED_TABLE`` (the S3 + DynamoDB
layout), ``VERSIONED_REGION`` or the Lambda's ``AWS_REGION``. The event may narrow the run:
``{"name": "model", "dry_run": true, "delete_orphans": false, "upload_age_secs": 604800}``.
Returns a JSON-ready summary; an artifact that failed is in its report's ``errors`` and
makes the function raise after every other artifact was done (so the run shows as failed).
"""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from .cli._settings import make_repository, make_session, resolve, session_region
from .retention import RetentionReport


class RetentionRunError(RuntimeError):
    """Some artifacts could not be processed (the others were)."""


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def handler(event: dict[str, Any] | None, context: object = None) -> dict[str, Any]:
    """Apply retention; returns {"reports": [...], "deleted": n, "bytes_freed": n}."""
    request = dict(event or {})
    settings = resolve({}, os.environ, Path.cwd())
    bsm = make_session(settings)
    repo = make_repository(settings, session_region(settings, bsm))
    options: dict[str, Any] = {
        key: request[key]
        for key in ("dry_run", "delete_orphans", "upload_age_secs")
        if key in request
    }
    reports: list[RetentionReport] = repo.apply_retention(
        name=request.get("name"), bsm=bsm, **options
    )
    summary = {
        "reports": _plain(reports),
        "deleted": sum(len(report.deleted) for report in reports),
        "bytes_freed": sum(report.bytes_freed for report in reports),
    }
    failed = [report for report in reports if report.errors]
    if failed:
        raise RetentionRunError(
            "; ".join(f"{report.name}: {' / '.join(report.errors)}" for report in failed)
        )
    return summary
