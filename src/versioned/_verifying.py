"""What ``verify`` checks above the layouts: each artifact's inventory against its bytes
and its aliases, and objects of another repository reported once as a shared folder."""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING

from . import _model, _retention_orphans
from ._layouts import check_bytes, marker
from ._session import Session
from .exc import CorruptRecordError
from .verify import Problem, VerifyReport

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

    from ._engine import Engine


def verify(engine: Engine, bsm: BotoSesManager, name: object, workers: int) -> VerifyReport:
    """Report every inconsistency of the repository (or of one artifact). Keys of
    another repository on the prefix are reported once per artifact (shared_prefix)."""
    report = VerifyReport()
    try:
        session = engine.reading(bsm)
    except CorruptRecordError as error:  # which repository the prefix serves is unknown
        report.add(Problem("corrupt_record", "", engine.record.key, str(error)))
        return report
    if name is not None:
        names = [_model.validate_artifact_name(name)]
    else:
        names, problems = engine.layout.verify_names(session)
        for problem in problems:
            report.add(problem)
    for artifact in names:
        _verify_artifact(engine, session, artifact, report, workers)
    root = engine.layout.root if name is None else f"{engine.layout.root}{name}/"
    for problem in _retention_orphans.upload_problems(session, engine.layout.bucket, root):
        report.add(problem)
    return shared_once(engine, report)


def shared_once(engine: Engine, report: VerifyReport) -> VerifyReport:
    """Objects another repository (another suffix) wrote are reported as the folder
    they share with it, once, instead of one orphan each."""
    kept = VerifyReport()
    seen: set[object] = set()
    for problem in report.problems:
        shape = marker.key_shape(engine.layout.root, problem.location)
        identity = engine.record.identity
        if problem.kind == "orphan_object" and shape and marker.is_foreign(identity, shape):
            other_layout = shape.layout != identity.layout
            problem = marker.shared_problem(engine.layout.root, shape, other_layout=other_layout)
        # a stray is found by the listing of names and by its artifact's inventory
        key = problem if problem.kind != "orphan_object" else (problem.kind, problem.location)
        if problem.kind not in ("shared_prefix", "orphan_object") or key not in seen:
            kept.add(problem)
            seen.add(key)
    return kept


def _verify_artifact(
    engine: Engine, session: Session, name: str, report: VerifyReport, workers: int
) -> None:
    inventory = engine.layout.inventory(session, name)
    for problem in inventory.problems:
        report.add(problem)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        checks = list(
            pool.map(lambda r: check_bytes(session, engine.layout.bucket, r), inventory.versions)
        )
    live = set(inventory.live)
    for record, check in zip(inventory.versions, checks, strict=True):
        label = f"version {_model.version_str(record.version)}"
        if check is None:
            live.discard(record.version)
            report.add(Problem("item_without_object", name, record.key, f"{label}: bytes missing"))
        elif check.actual != record.sha256 or (
            check.object_sha256 is not None and check.object_sha256 != check.actual
        ):
            report.add(
                Problem(
                    "sha256_mismatch",
                    name,
                    record.key,
                    f"{label} records {record.sha256[:12]}..., its bytes hash to "
                    f"{check.actual[:12]}...",
                )
            )
    for alias in inventory.aliases:
        for target in alias.targets:
            if target not in live:
                report.add(
                    Problem(
                        "dangling_alias",
                        name,
                        inventory.alias_locations.get(alias.alias, alias.alias),
                        f"alias {alias.alias!r} points at missing version "
                        f"{_model.version_str(target)}",
                    )
                )
