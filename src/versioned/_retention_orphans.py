"""What a retention run cleans besides versions: multipart uploads abandoned under the
repository (aborted once older than a bound, judged on the server's clock), and the
objects ``verify()`` calls orphans (reported with their bytes, deleted only when asked).

Requests: 1 ListMultipartUploads per 1000 uploads + 1 abort per abandoned upload; for
orphans (a whole-repository run only), verify's listing and inventories without hashing
any bytes, + 1 LIST of the root for sizes, + 1 batch DELETE per 1000 deleted."""

from __future__ import annotations

import dataclasses
import logging
import math
from datetime import timedelta
from typing import TYPE_CHECKING

from . import _s3, _s3_uploads
from ._session import Session
from .exc import ArgumentTypeError, ValidationError
from .retention import AbortedUpload, OrphanObject, RetentionReport
from .verify import Problem, VerifyReport

if TYPE_CHECKING:
    from ._engine import Engine

logger = logging.getLogger(__name__)

#: how old an unfinished multipart upload must be before a retention run aborts it
DEFAULT_UPLOAD_AGE_SECS = 7 * 86400


def check_upload_age(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArgumentTypeError(f"upload_age_secs must be a number, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValidationError(f"upload_age_secs must be a finite number >= 0, not {value}")
    return float(value)


def abandoned_uploads(
    session: Session, bucket: str, prefix: str, older_than_secs: float
) -> list[_s3_uploads.Upload]:
    """Uploads under ``prefix`` initiated more than ``older_than_secs`` ago (server time:
    ``Initiated`` against the Date of the listing's own answer)."""
    uploads = _s3_uploads.list_uploads(session.s3, bucket, prefix)
    threshold = session.clock.now() - timedelta(seconds=older_than_secs)
    return [upload for upload in uploads if upload.initiated < threshold]


def abort_uploads(
    session: Session, bucket: str, prefix: str, older_than_secs: float, dry_run: bool
) -> list[AbortedUpload]:
    """Abort (or with ``dry_run`` only list) the abandoned uploads under ``prefix``."""
    found = abandoned_uploads(session, bucket, prefix, older_than_secs)
    aborted: list[AbortedUpload] = []
    for upload in found:
        if dry_run or _s3_uploads.abort_upload(session.s3, bucket, upload):
            logger.debug("aborting multipart upload %s of %s", upload.upload_id, upload.key)
            aborted.append(AbortedUpload(upload.key, upload.upload_id, upload.initiated))
    return aborted


def upload_problems(session: Session, bucket: str, root: str) -> list[Problem]:
    """verify()'s report of uploads abandoned for longer than the default bound."""
    return [
        Problem(
            "abandoned_upload",
            upload.key[len(root) :].partition("/")[0],
            upload.key,
            f"multipart upload {upload.upload_id} initiated {upload.initiated.isoformat()} "
            "was never completed; a retention run aborts it",
        )
        for upload in abandoned_uploads(session, bucket, root, DEFAULT_UPLOAD_AGE_SECS)
    ]


def orphan_objects(engine: Engine, session: Session, delete: bool) -> list[OrphanObject]:
    """verify()'s orphan objects of the repository (keys of another repository on the
    prefix excluded), with their sizes; deleted when ``delete``."""
    layout = engine.layout
    report = VerifyReport()
    names, problems = layout.verify_names(session)
    for problem in problems:
        report.add(problem)
    for name in names:
        for problem in layout.inventory(session, name).problems:
            report.add(problem)
    keys = {p.location for p in engine.shared_once(report).problems if p.kind == "orphan_object"}
    if not keys:
        return []
    listing = _s3.list_objects(session.s3, layout.bucket, layout.root)
    sizes = {item.key: item.size for item in listing.objects if item.key in keys}
    if delete and sizes:
        _s3.delete_many(session.s3, layout.bucket, sorted(sizes))
    return [OrphanObject(key, size, delete) for key, size in sorted(sizes.items())]


def attach(
    reports: list[RetentionReport],
    uploads: list[AbortedUpload],
    orphans: list[OrphanObject],
    root: str,
    dry_run: bool,
) -> list[RetentionReport]:
    """Each upload and orphan goes to the report of the artifact whose folder holds it;
    the rest to a repository report (name None), added only when it has something."""
    by_name = {report.name: report for report in reports}
    extra: dict[str | None, tuple[list[AbortedUpload], list[OrphanObject]]] = {}

    def owner(key: str) -> str | None:
        name = key[len(root) :].partition("/")[0] if "/" in key[len(root) :] else None
        return name if name in by_name else None

    for upload in uploads:
        extra.setdefault(owner(upload.key), ([], []))[0].append(upload)
    for orphan in orphans:
        extra.setdefault(owner(orphan.key), ([], []))[1].append(orphan)
    result = list(reports)
    for name, (found_uploads, found_orphans) in extra.items():
        base = by_name.get(name) or RetentionReport(None, dry_run, (), (), 0)
        merged = dataclasses.replace(
            base,
            aborted_uploads=base.aborted_uploads + tuple(found_uploads),
            orphans=base.orphans + tuple(found_orphans),
        )
        if name in by_name:
            result[result.index(by_name[name])] = merged
        else:
            result.append(merged)
    return result
