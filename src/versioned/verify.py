"""The report returned by ``Repository.verify``."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Problem:
    """One inconsistency. ``kind`` is one of: orphan_object, item_without_object,
    object_without_item, sha256_mismatch, missing_sha256, dangling_alias, stale_item,
    shared_prefix (another repository's keys in an artifact's folder), corrupt_record
    (a stored record that does not decode, or an index entry that disagrees with its
    object), purge_in_progress (an S3-only purge running, or abandoned by its owner)."""

    kind: str
    name: str
    location: str
    detail: str


@dataclasses.dataclass
class VerifyReport:
    problems: list[Problem] = dataclasses.field(default_factory=list)

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    @property
    def ok(self) -> bool:
        return not self.problems

    def kinds(self) -> set[str]:
        return {problem.kind for problem in self.problems}
