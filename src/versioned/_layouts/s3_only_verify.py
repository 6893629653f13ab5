"""What verify checks in the S3-only layout: the keys under the prefix (whose they are,
orphans), each artifact's state (readable; no purge in progress or abandoned), version
objects (against the state's index: the index is a cache of each object's own metadata)
and alias documents."""

from __future__ import annotations

from typing import Any

from .. import _model, _s3
from .._model import LATEST, VersionId
from .._session import Session
from ..exc import CorruptRecordError
from ..verify import Problem
from . import AliasRecord, Inventory, VersionRecord, owners
from .s3_only_aliases import Aliases
from .s3_only_keys import S3OnlyPlace
from .s3_only_state import DELETING, LIVE, ArtifactState, VersionEntry
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
            elif kind[0] == "history":
                pass  # alias history pages: read by list_alias_history, kept until purged
            elif kind[0] == "trash":
                problems.append(
                    Problem("orphan_object", name, item.key, "left by an interrupted deletion")
                )
        state = self._state(s3, name, place.state_key(name), problems)
        index = {} if state is None else state.versions
        versions = self._versions(s3, name, version_keys, index, problems)
        deleting = {n for n, e in index.items() if e.status == DELETING}
        aliases = self._aliases(s3, name, alias_names, problems)
        live = {r.version for r in versions if r.version not in deleting}
        return Inventory(
            versions=versions,
            aliases=aliases,
            live=live,
            alias_locations={a: place.alias_key(name, a) for a in alias_names},
            problems=problems,
        )

    def _state(self, s3: Any, name: str, key: str, problems: list[Problem]) -> ArtifactState | None:
        """The artifact's state (None: none, or unreadable), and problems with it."""
        document = _s3.get_document(s3, self.place.bucket, key)
        if document is None:
            return None
        try:
            state = ArtifactState.from_bytes(document.body, self.place.uri(key))
        except CorruptRecordError as error:
            problems.append(Problem("corrupt_record", name, key, str(error)))
            return None
        if state.purging:
            deadline = state.purge_deadline(document.last_modified)
            holder = state.purging_owner or "an older release"
            if (document.served_at or _model.utc_now()) < deadline:  # the server's clock
                detail = f"a purge by {holder} is in progress (due by {deadline.isoformat()})"
            else:
                detail = (
                    f"a purge by {holder} was abandoned (due by {deadline.isoformat()}); the "
                    "next write finishes it, or undoes it if it deleted nothing"
                )
            problems.append(Problem("purge_in_progress", name, key, detail))
        return state

    def _versions(
        self,
        s3: Any,
        name: str,
        keys: dict[VersionId, str],
        index: dict[int, VersionEntry],
        problems: list[Problem],
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
            entry = None if version == LATEST else index.get(int(version))
            if entry is not None and entry.status == LIVE:
                problems += self._index_problems(name, int(version), entry, info)
            records.append(record(self.place, name, version, info))
        return records

    def _index_problems(
        self, name: str, number: int, entry: VersionEntry, info: _s3.ObjectInfo
    ) -> list[Problem]:
        """The index entry of a live version against its object's own metadata (reads
        trust an entry only while the listed ETag and size match it and its fingerprint
        holds: an entry that fails this check misleads nothing but is reported)."""
        wrong = [
            f"{what} {said!r} (the object: {real!r})"
            for what, said, real in (
                ("sha256", entry.sha256, info.sha256),
                ("size", entry.size, info.size),
                ("content type", entry.content_type, info.content_type),
            )
            if said != real
        ]
        if not wrong and not entry.trusted:
            wrong = ["a fingerprint that does not match its fields (edited by hand?)"]
        if not wrong:
            return []
        detail = (
            f"version {number}: the index in state.json records {'; '.join(wrong)}. Reads "
            "use the object; the next deletion of a version rewrites the entry."
        )
        return [Problem("corrupt_record", name, self.place.state_key(name), detail)]

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
