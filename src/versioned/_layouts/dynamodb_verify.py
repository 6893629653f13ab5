"""What ``verify`` checks, as this layout finds it: items, aliases and objects. Reports,
never raises for a damaged record."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .. import _dynamodb, _model, _pool, _s3
from .._model import LATEST, VersionId
from .._session import Session
from ..exc import CorruptRecordError
from ..verify import Problem
from . import AliasRecord, Inventory, VersionRecord, owners
from .dynamodb_items import (
    SK,
    Stored,
    alias_pk,
    read_alias,
    read_artifact,
    read_latest,
    sort_key_version,
)
from .dynamodb_keys import DynamoDBPlace
from .dynamodb_retire import Retirer


@dataclasses.dataclass
class _Items:
    """The version items of one artifact, sorted for verify."""

    records: list[VersionRecord] = dataclasses.field(default_factory=list)
    known: set[VersionId] = dataclasses.field(default_factory=set)
    live: set[VersionId] = dataclasses.field(default_factory=set)


class Verifier:
    def __init__(self, place: DynamoDBPlace, retirer: Retirer) -> None:
        self.place = place
        self.retirer = retirer

    def names(self, session: Session) -> tuple[list[str], list[Problem]]:
        """Every artifact the table or the bucket knows, and the keys under the prefix
        that belong to neither layout. Requests: a Scan per MB, a LIST per 1000 keys."""
        names = set(self.retirer.names_in_table(session))
        listing = _s3.list_objects(session.s3, self.place.bucket, self.place.root)
        keys = [item.key for item in listing.objects]
        problems: list[Problem] = []
        place = self.place
        names |= owners(keys, place.root, place.owner, place.is_other_layout, problems)
        return sorted(names), problems

    def inventory(self, session: Session, name: str) -> Inventory:
        """Everything verify checks for ``name``; damaged items and aliases, objects
        without items and stale items are problems. Requests: 2 Queries and a LIST,
        together."""
        dynamodb, table = session.dynamodb, self.place.table
        items, alias_items, listing = _pool.parallel(
            lambda: _dynamodb.query(dynamodb, table, name),
            lambda: _dynamodb.query(dynamodb, table, alias_pk(name), descending=False),
            lambda: _s3.list_objects(
                session.s3, self.place.bucket, self.place.artifact_folder(name)
            ),
        )
        problems: list[Problem] = []
        objects: dict[VersionId, str] = {}
        for obj in listing.objects:
            kind = self.place.classify(obj.key)
            if kind is not None:
                objects[kind[1]] = obj.key
            elif not self.place.is_other_layout(obj.key):
                problems.append(Problem("orphan_object", name, obj.key, "not part of the layout"))
        found = self._items(name, items, problems)
        for version, key in objects.items():
            if version not in found.known:
                label = f"version {_model.version_str(version)}"
                problems.append(
                    Problem("object_without_item", name, key, f"{label} has bytes but no item")
                )
        aliases = self._aliases(name, alias_items, problems)
        return Inventory(
            versions=found.records,
            aliases=aliases,
            live=found.live,
            alias_locations={a.alias: f"{alias_pk(name)}/{a.alias}" for a in aliases},
            problems=problems,
        )

    def _items(self, name: str, items: Sequence[Stored], problems: list[Problem]) -> _Items:
        """Records whose bytes verify checks, every version with an item, and versions an
        alias may point at; unreadable or stale items go to ``problems``."""
        found = _Items()
        for stored in items:
            where = f"{name}/{stored.get(SK)}"
            version = sort_key_version(stored)
            if version is None:
                problems.append(Problem("corrupt_record", name, where, "not a version item"))
                continue
            found.known.add(version)
            try:
                item = read_artifact(name, stored, self.place.table)
                record = item.record(self.place.version_key(name, version), self.place.table)
            except CorruptRecordError as error:
                problems.append(Problem("corrupt_record", name, where, str(error)))
                continue
            if version == LATEST:
                _check_latest(name, stored, self.place.table, where, problems)
            if item.is_deleted:
                continue
            found.live.add(version)
            if version == LATEST and item.unverified:
                detail = "LATEST's item is unverified (a writer died)"
                problems.append(Problem("stale_item", name, where, detail))
                continue
            found.records.append(record)
        return found

    def _aliases(
        self, name: str, items: Sequence[Stored], problems: list[Problem]
    ) -> list[AliasRecord]:
        aliases: list[AliasRecord] = []
        for stored in items:
            try:
                aliases.append(read_alias(name, stored, self.place.table).record())
            except CorruptRecordError as error:
                where = f"{alias_pk(name)}/{stored.get(SK)}"
                problems.append(Problem("corrupt_record", name, where, str(error)))
        return aliases


def _check_latest(
    name: str, stored: Stored, table: str, where: str, problems: list[Problem]
) -> None:
    """LATEST's write queue and publish counter must read too (puts or publishes of the
    artifact fail on them otherwise)."""
    latest = read_latest(name, stored, table)
    for part in ("queue", "counter"):
        try:
            getattr(latest, part)
        except CorruptRecordError as error:
            problems.append(Problem("corrupt_record", name, where, str(error)))
