"""The DynamoDB item schema's readers, fuzzed: any stored attribute values (as the
table's codec decodes them: None, bools, ints of any size, floats including inf and NaN,
strings, bytes, lists, maps) become a valid typed record or raise CorruptRecordError
naming the item; nothing else escapes."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from versioned._layouts import dynamodb_items as items
from versioned._model import LATEST
from versioned.exc import CorruptRecordError

TABLE = "fuzzed"

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**130), max_value=10**130),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.binary(max_size=8),
    st.sampled_from(
        [
            "",
            "LATEST",
            "000001",
            "999999",
            "1000000",
            "Infinity",
            "NaN",
            "1e400",
            "2025-06-26T23:57:20.123456+0000",
            "9999-12-31T23:59:59.000000-1000",
            "0001-01-01T00:00:00.000000+1000",
            "0" * 64,
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
ARTIFACT_FIELDS = [
    items.SHA256,
    items.IS_DELETED,
    items.UPDATE_AT,
    items.CONTENT_LENGTH,
    items.CONTENT_TYPE,
    items.METADATA,
    items.ALIAS_EPOCH,
    items.DELETED_BY,
    items.ETAG,
    items.UNVERIFIED,
    items.LATEST_VERSION,
    items.PUBLISHED_SHA256,
    items.PUBLISHED_UPDATE_AT,
    items.PUT_NEXT,
    items.PUT_DONE,
    items.PUT_SINCE,
    items.ticket_attribute("abc"),
]
ALIAS_FIELDS = [
    items.VERSION,
    items.SECONDARY_VERSION,
    items.SECONDARY_VERSION_WEIGHT,
    items.UPDATE_AT,
    items.REVISION,
]


def stored(
    fields: list[str], sort_keys: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """Items holding any subset of ``fields`` with arbitrary values."""
    return st.builds(
        lambda sk, values: {items.PK: "app", items.SK: sk, **values},
        sort_keys,
        st.dictionaries(st.sampled_from(fields), VALUES, max_size=len(fields)),
    )


ARTIFACT_ITEMS = stored(ARTIFACT_FIELDS, st.sampled_from(["LATEST", "000001", "000042"]) | VALUES)
ALIAS_ITEMS = stored(ALIAS_FIELDS, st.sampled_from(["prod", "dev"]) | VALUES)


def names_the_item(error: CorruptRecordError, item: dict[str, Any]) -> bool:
    return f"pk={item.get(items.PK)!r}" in str(error) and f"in table {TABLE!r}" in str(error)


def is_utc(moment: datetime | None) -> bool:
    return moment is None or moment.utcoffset() == timedelta(0)


def is_count(value: object, limit: int = items.MAX_COUNT) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= limit


@settings(max_examples=400, deadline=None)
@given(ARTIFACT_ITEMS)
def test_artifact_items_read_valid_or_corrupt(item: dict[str, Any]) -> None:
    try:
        read = items.read_artifact("app", item, TABLE)
    except CorruptRecordError as error:
        assert names_the_item(error, item)
        return
    assert read.version == LATEST or 1 <= int(read.version) <= 999999
    assert read.sha256 is None or (isinstance(read.sha256, str) and read.sha256)
    assert read.sha256 is None or read.update_at is not None
    assert is_utc(read.update_at)
    assert read.content_length is None or is_count(read.content_length)
    assert read.alias_epoch is None or is_count(read.alias_epoch)
    assert isinstance(read.is_deleted, bool) and isinstance(read.unverified, bool)
    assert read.metadata is None or all(
        isinstance(k, str) and isinstance(v, str) for k, v in read.metadata.items()
    )
    try:
        record = read.record("key", TABLE)
    except CorruptRecordError as error:
        assert read.sha256 is None and names_the_item(error, item)
        return
    assert record.sha256 == read.sha256 and record.update_at == read.update_at


@settings(max_examples=400, deadline=None)
@given(ARTIFACT_ITEMS)
def test_latest_queue_and_counter_read_valid_or_corrupt(item: dict[str, Any]) -> None:
    latest = items.read_latest("app", item, TABLE)
    try:
        queue = latest.queue
        assert is_count(queue.next) and is_count(queue.done) and is_utc(queue.since)
        assert all(is_count(ticket) for ticket in queue.tickets.values())
    except CorruptRecordError as error:
        assert names_the_item(error, item) and "LATEST" in str(error)
    try:
        counter = latest.counter
        assert is_count(counter.latest_version, 999999)
        assert counter.published_sha256 is None or isinstance(counter.published_sha256, str)
        assert is_utc(counter.published_update_at)
    except CorruptRecordError as error:
        assert names_the_item(error, item) and "LATEST" in str(error)


@settings(max_examples=400, deadline=None)
@given(ALIAS_ITEMS)
def test_alias_items_read_valid_or_corrupt(item: dict[str, Any]) -> None:
    try:
        read = items.read_alias("app", item, TABLE)
    except CorruptRecordError as error:
        assert names_the_item(error, item)
        return
    target = read.target
    assert target.version == LATEST or 1 <= int(target.version) <= 999999
    if target.secondary_version is not None:
        assert 1 <= target.secondary_version <= 999999
        assert is_count(target.secondary_version_weight, 99)
    assert is_utc(read.update_at) and isinstance(read.alias, str)
    assert read.revision is None or isinstance(read.revision, str)
    assert read.record().targets == target.versions


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([items.BUCKET, items.PREFIX, items.SUFFIX]), VALUES))
def test_the_claim_reads_valid_or_corrupt(item: dict[str, Any]) -> None:
    try:
        claim = items.read_claim(item, TABLE)
    except CorruptRecordError as error:
        assert "'__versioned__'" in str(error)
        return
    assert all(isinstance(v, str) for v in (claim.bucket, claim.prefix, claim.suffix))


def test_numbers_out_of_range_are_corrupt() -> None:
    """The values issue 17 names: infinite, NaN and huge numbers, negative counters."""
    for field, value in [
        (items.LATEST_VERSION, math.inf),
        (items.LATEST_VERSION, 10**125),
        (items.LATEST_VERSION, 1_000_000),
        (items.PUT_DONE, math.nan),
        (items.PUT_NEXT, -1),
        (items.PUT_DONE, "Infinity"),
        (items.PUT_DONE, 2.5),
    ]:
        latest = items.read_latest("app", {field: value}, TABLE)
        part = "counter" if field == items.LATEST_VERSION else "queue"
        try:
            getattr(latest, part)
        except CorruptRecordError as error:
            assert field in str(error)
        else:
            raise AssertionError(f"{field}={value!r} was read as a valid {part}")
