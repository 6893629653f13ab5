"""What verify checks in the S3-only layout: the keys under the prefix (whose they are,
orphans), each artifact's state, version objects and alias documents."""

from __future__ import annotations

from typing import Any

from .. import _model, _s3
from .._model import VersionId
from .._session import Session
from ..exc import CorruptRecordError
from ..verify import Problem
from . import AliasRecord, Inventory, VersionRecord, owners
from .s3_only_aliases import Aliases
from .s3_only_keys import S3OnlyPlace
from .s3_only_state import DELETING, ArtifactState
from .s3_only_store import record


class Verifier:
    """Reads one place the way verify needs it, reporting problems instead of raising."""

    def __init__(self, place: S3OnlyPlace, aliases: Aliases) -> None:
        self.place = place
        self.aliases = aliases

    def names(self, session: Session) -> tuple[list[str], list[Problem]]:
        place = self.place
        listing = _s3.list_objects(session.s3, place.bucket, place.root)
        keys = [item.key for item in listing.objects]
        problems: list[Problem] = []
        names = owners(keys, place.root, place.owner, place.is_other_layout, problems)
        return sorted(names), problems

    def inventory(self, session: Session, name: str) -> Inventory:
        s3, place = session.s3, self.place
        listing = _s3.list_objects(s3, place.bucket, place.artifact_dir(name))
        problems: list[Problem] = []
        version_keys: dict[VersionId, str] = {}
        alias_names: list[str] = []
        for item in listing.objects:
            kind = place.classify(item.key)
            if kind is None:
                if not place.is_other_layout(item.key):
                    problems.append(
                        Problem("orphan_object", name, item.key, "not part of the layout")
                    )
            elif kind[0] == "version":
                version_keys[_model.parse_version(kind[2])] = item.key
            elif kind[0] == "alias":
                alias_names.append(kind[2])
            elif kind[0] == "trash":
                problems.append(
                    Problem("orphan_object", name, item.key, "left by an interrupted deletion")
                )
        deleting = self._state(s3, name, place.state_key(name), problems)
        versions = self._versions(s3, name, version_keys, problems)
        aliases = self._aliases(s3, name, alias_names, problems)
        live = {r.version for r in versions if r.version not in deleting}
        return Inventory(
            versions=versions,
            aliases=aliases,
            live=live,
            alias_locations={a: place.alias_key(name, a) for a in alias_names},
            problems=problems,
        )

    def _state(self, s3: Any, name: str, key: str, problems: list[Problem]) -> set[VersionId]:
        """Versions the state says are being deleted (and problems with the state)."""
        document = _s3.get_document(s3, self.place.bucket, key)
        if document is None:
            return set()
        try:
            state = ArtifactState.from_bytes(document.body, self.place.uri(key))
        except CorruptRecordError as error:
            problems.append(Problem("corrupt_record", name, key, str(error)))
            return set()
        return {n for n, e in state.versions.items() if e.status == DELETING}

    def _versions(
        self, s3: Any, name: str, keys: dict[VersionId, str], problems: list[Problem]
    ) -> list[VersionRecord]:
        ordered = list(keys.items())
        infos = _s3.head_many(s3, self.place.bucket, [key for _, key in ordered])
        records: list[VersionRecord] = []
        for (version, key), info in zip(ordered, infos, strict=True):
            if info is None:
                continue
            if not info.sha256:
                problems.append(
                    Problem(
                        "missing_sha256",
                        name,
                        key,
                        f"version {_model.version_str(version)} records no sha256",
                    )
                )
                continue
            records.append(record(self.place, name, version, info))
        return records

    def _aliases(
        self, s3: Any, name: str, aliases: list[str], problems: list[Problem]
    ) -> list[AliasRecord]:
        documents = self.aliases.documents(s3, name, aliases)
        records: list[AliasRecord] = []
        for alias, document in zip(aliases, documents, strict=True):
            if document is None:
                continue
            try:
                records.append(self.aliases.parse(name, alias, document))
            except CorruptRecordError as error:
                problems.append(
                    Problem("corrupt_record", name, self.place.alias_key(name, alias), str(error))
                )
        return records
