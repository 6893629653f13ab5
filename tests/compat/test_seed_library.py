"""Compatibility with the seed's own library, ``versioned==1.0.1`` from the package index.

The seed's library runs in a virtualenv of its own (``.servers/seed-venv/``, built once;
see _seedkit.py) and is driven in a subprocess (_seed_driver.py) against the same S3 and
DynamoDB endpoints as this library. For both layouts:

- the seed reads what we write (names, versions, sha256, bytes, aliases, deletions, purges);
- we read what the seed writes, continue it, and the seed reads the result again;
- a history mixed by the two libraries keeps numbers, bytes and aliases coherent.

Skipped only when the package index cannot be reached to build the seed's virtualenv.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from _seedkit import Pair, call, content_of, failed, route
from _testkit import ALIAS_FIELDS, ARTIFACT_FIELDS, ServerFeatures, sha256_hex

from versioned import exc

#: S3-only: our alias's time is the one its document records (what put_alias returned);
#: the seed's library reports the alias object's LastModified, written just after.
ALIAS_TIME_SLACK_SECS = 5.0


# ------------------------------------------------------------------ comparisons
def _value(item: Any, field: str) -> Any:
    value = item[field] if isinstance(item, dict) else getattr(item, field)
    if field == "update_at":
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        return moment.isoformat()
    return value


def artifact_view(item: Any) -> dict[str, Any]:
    """The seed's Artifact fields of one of ours (a dataclass) or of the seed's (a dict)."""
    return {field: _value(item, field) for field in ARTIFACT_FIELDS}


def alias_view(item: Any) -> dict[str, Any]:
    """The seed's Alias fields but its time (compared with :func:`assert_alias_times`)."""
    return {field: _value(item, field) for field in ALIAS_FIELDS}


def assert_same_artifacts(seed: list[dict[str, Any]], ours: list[Any]) -> None:
    assert [artifact_view(a) for a in seed] == [artifact_view(a) for a in ours]


def assert_alias_times(seed: list[dict[str, Any]], ours: list[Any]) -> None:
    for theirs, mine in zip(seed, ours, strict=True):
        gap = datetime.fromisoformat(theirs["update_at"]) - _as_datetime(mine.update_at)
        assert abs(gap.total_seconds()) <= ALIAS_TIME_SLACK_SECS, (theirs, mine)


def assert_same_aliases(seed: list[dict[str, Any]], ours: list[Any]) -> None:
    assert [alias_view(a) for a in seed] == [alias_view(a) for a in ours]
    assert_alias_times(seed, ours)


def _as_datetime(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def ok(result: Any) -> Any:
    """A seed call's result, failing the test with the seed's traceback if it raised."""
    if failed(result):
        pytest.fail(
            f"the seed's library raised {result['error']}: {result['message']}\n"
            f"{result.get('traceback', '')}"
        )
    return result


def seed_names(names: list[str], purged: list[str], features: ServerFeatures) -> list[str]:
    """The seed's list_artifact_names as expected: it lists folders, so on a server that
    still lists a folder whose keys were all deleted (SeaweedFS) purged names remain."""
    return sorted(names + (purged if features.s3_lists_emptied_folders else []))


def assert_verified(pair: Pair) -> None:
    """Our verify() finds nothing wrong with the repository both libraries wrote."""
    assert pair.our("verify").problems == []


def versions_of(listed: list[Any]) -> list[str]:
    return [_value(item, "version") for item in listed]


def publish(pair: Pair, name: str, content: bytes) -> Any:
    pair.our("put_artifact", name=name, content=content)
    return pair.our("publish_artifact_version", name=name)


def seed_publish(name: str, content: bytes) -> list[dict[str, Any]]:
    return [
        call("put_artifact", name=name, content=content),
        call("publish_artifact_version", name=name),
    ]


def seed_reads(name: str, versions: list[str], aliases: list[str]) -> list[dict[str, Any]]:
    """Everything the seed's library can tell about one artifact, bytes included."""
    return [
        call("list_artifact_versions", name=name, read=True),
        *[call("get_artifact_version", name=name, version=v, read=True) for v in versions],
        call("list_aliases", name=name, read=True),
        *[call("get_alias", name=name, alias=a, read=True) for a in aliases],
    ]


A, B, C, D, E, F = (f"content {letter} ".encode() * (i + 3) for i, letter in enumerate("ABCDEF"))


# ------------------------------------------------------------------ the seed reads ours
def test_seed_reads_what_we_write(pair: Pair, raw_s3: Any, server_features: ServerFeatures) -> None:
    pair.bootstrap()
    for content in (A, B, C, D, E):  # versions 1..5
        publish(pair, "app", content)
    pair.our("put_artifact", name="app", content=F)  # LATEST, not published
    pair.our("put_alias", name="app", alias="prod", version=3)
    pair.our(
        "put_alias",
        name="app",
        alias="canary",
        version=3,
        secondary_version=4,
        secondary_version_weight=20,
    )
    pair.our("put_alias", name="app", alias="dev")  # LATEST
    pair.our("delete_artifact_version", name="app", version=1)
    _, purged = pair.our(
        "purge_artifact_versions", name="app", keep_last_n=1, purge_older_than_secs=0
    )
    assert versions_of(purged) == ["2"]  # 3 and 4 are aliased, 5 is the newest kept
    publish(pair, "tool", A)
    pair.our("put_alias", name="tool", alias="prod", version=1)
    pair.our("purge_artifact", name="tool")
    if pair.layout == "s3_only":  # our layout's one extra object is there for the seed
        raw_s3.head_object(Bucket=pair.bucket, Key="artifacts/app/state.json")
    # and the repository's record, which the seed must not take for an artifact
    raw_s3.head_object(Bucket=pair.bucket, Key="artifacts/.versioned-repository.json")

    aliases = ["canary", "dev", "prod"]
    results = pair.seed(
        call("list_artifact_names"),
        *seed_reads("app", ["LATEST", "5", "4", "3"], aliases),
        call("get_artifact_version", name="app", version=1),
        call("get_artifact_version", name="app", version=2),
        route("app", "canary"),
        call("list_artifact_versions", name="tool"),
        call("get_alias", name="tool", alias="prod"),
        *(
            [call("get_latest_published_artifact_version_number", name="app")]
            if pair.layout == "s3_only"
            else []
        ),
    )
    names, listed, *got = (ok(r) for r in results[:6])
    seed_aliases, *seed_alias_gets = (ok(r) for r in results[6:10])
    missing_1, missing_2, routed, tool_versions, tool_alias = results[10:15]

    assert pair.our("list_artifact_names") == ["app"]
    assert names == seed_names(["app"], ["tool"], server_features)
    ours = pair.our("list_artifact_versions", name="app")
    assert versions_of(ours) == ["LATEST", "5", "4", "3"]
    assert_same_artifacts(listed, ours)
    assert_same_artifacts(got, ours)
    expected = {"LATEST": F, "5": E, "4": D, "3": C}
    for item in [*listed, *got]:
        assert content_of(item) == expected[item["version"]], item["version"]
        assert item["sha256"] == sha256_hex(expected[item["version"]])
    assert failed(missing_1) == failed(missing_2) == "ArtifactNotFoundError"

    our_aliases = pair.our("list_aliases", name="app")
    assert [a.alias for a in our_aliases] == aliases
    assert_same_aliases(sorted(seed_aliases, key=lambda a: a["alias"]), our_aliases)
    assert_same_aliases(seed_alias_gets, our_aliases)
    canary, dev, prod = seed_alias_gets
    assert (
        prod["version"],
        prod["secondary_version"],
        content_of(prod, "version_content_b64"),
    ) == (
        "3",
        None,
        C,
    )
    assert (canary["version"], canary["secondary_version"], canary["secondary_version_weight"]) == (
        "3",
        "4",
        20,
    )
    assert content_of(canary, "version_content_b64") == C
    assert content_of(canary, "secondary_version_content_b64") == D
    assert (dev["version"], dev["version_s3uri"]) == ("LATEST", pair.uri("app", "LATEST"))
    assert content_of(dev, "version_content_b64") == F
    assert set(routed) == {pair.uri("app", 3), pair.uri("app", 4)}
    assert 120 <= routed[pair.uri("app", 4)] <= 280  # 20% of 1000

    assert tool_versions == [] and failed(tool_alias) == "AliasNotFoundError"
    if pair.layout == "s3_only":
        assert results[15] == pair.our("get_latest_published_artifact_version_number", name="app")
        assert results[15] == 5


# ------------------------------------------------------------------ we read the seed's
def test_we_read_and_continue_what_the_seed_writes(
    pair: Pair, server_features: ServerFeatures
) -> None:
    written = pair.seed(
        *seed_publish("app", A),
        *seed_publish("app", B),
        *seed_publish("app", C),
        call("put_artifact", name="app", content=D),  # LATEST, not published
        call("put_alias", name="app", alias="prod", version=2),
        call(
            "put_alias",
            name="app",
            alias="canary",
            version=2,
            secondary_version=3,
            secondary_version_weight=30,
        ),
        call("put_alias", name="app", alias="dev"),
        call("delete_artifact_version", name="app", version=1),
        *seed_publish("tool", E),
        call("list_artifact_versions", name="app"),
        call("list_aliases", name="app"),
    )
    for result in written:
        ok(result)
    assert [r["version"] for r in written[:6:2]] == ["LATEST"] * 3
    assert [r["version"] for r in written[1:6:2]] == ["1", "2", "3"]
    seed_versions, seed_aliases = written[-2:]
    pair.bootstrap()

    assert pair.our("list_artifact_names") == ["app", "tool"]
    ours = pair.our("list_artifact_versions", name="app")
    assert versions_of(ours) == ["LATEST", "3", "2"]
    assert_same_artifacts(seed_versions, ours)
    expected = {"LATEST": D, "3": C, "2": B}
    for artifact in ours:
        assert artifact.get_content(pair.bsm) == expected[artifact.version]
        got = pair.our("get_artifact_version", name="app", version=artifact.version)
        assert artifact_view(got) == artifact_view(artifact)
    with pytest.raises(exc.ArtifactNotFoundError):
        pair.our("get_artifact_version", name="app", version=1)
    assert pair.our("get_latest_published_artifact_version_number", name="app") == 3

    our_aliases = pair.our("list_aliases", name="app")
    assert_same_aliases(sorted(seed_aliases, key=lambda a: a["alias"]), our_aliases)
    canary = pair.our("get_alias", name="app", alias="canary")
    assert (canary.version, canary.secondary_version, canary.secondary_version_weight) == (
        "2",
        "3",
        30,
    )
    assert canary.get_version_content(pair.bsm) == B
    assert canary.get_secondary_version_content(pair.bsm) == C
    assert pair.our("get_alias", name="app", alias="dev").get_version_content(pair.bsm) == D
    with pytest.raises(exc.VersionInUseError):  # the seed's aliases protect their versions
        pair.our("delete_artifact_version", name="app", version=2)

    # ...and we carry on: the next numbers, moved aliases, a purge
    assert pair.our("publish_artifact_version", name="app").version == "4"  # D
    assert publish(pair, "app", E).version == "5"
    pair.our("put_alias", name="app", alias="prod", version=4)
    pair.our(
        "put_alias",
        name="app",
        alias="canary",
        version=4,
        secondary_version=5,
        secondary_version_weight=10,
    )
    _, purged = pair.our(
        "purge_artifact_versions", name="app", keep_last_n=1, purge_older_than_secs=0
    )
    assert sorted(versions_of(purged)) == ["2", "3"]
    pair.our("purge_artifact", name="tool")

    if pair.layout == "s3_only":  # the seed's unchanged publish recognises our version 5
        assert ok(pair.seed(call("publish_artifact_version", name="app"))[0])["version"] == "5"
    aliases = ["canary", "dev", "prod"]
    ours, our_aliases = (
        pair.our(m, name="app") for m in ("list_artifact_versions", "list_aliases")
    )
    again = pair.seed(
        call("list_artifact_names"),
        *seed_reads("app", ["LATEST", "5", "4"], aliases),
        call("get_artifact_version", name="app", version=3),
        *seed_publish("app", F),  # the seed numbers after ours
    )
    names, listed, *got = (ok(r) for r in again[:5])
    seed_aliases, *seed_alias_gets = (ok(r) for r in again[5:9])
    missing_3, _, seed_published = again[9:]
    assert pair.our("list_artifact_names") == ["app"]
    assert names == seed_names(["app"], ["tool"], server_features)
    assert_same_artifacts(listed, ours)
    assert_same_artifacts(got, ours)
    expected = {"LATEST": E, "5": E, "4": D}
    assert [content_of(item) for item in listed] == [expected[v] for v in versions_of(listed)]
    assert_same_aliases(sorted(seed_aliases, key=lambda a: a["alias"]), our_aliases)
    canary, dev, prod = seed_alias_gets
    assert (canary["version"], canary["secondary_version"], canary["secondary_version_weight"]) == (
        "4",
        "5",
        10,
    )
    assert content_of(canary, "secondary_version_content_b64") == E
    assert prod["version"] == "4" and content_of(prod, "version_content_b64") == D
    assert dev["version"] == "LATEST" and content_of(dev, "version_content_b64") == E
    assert failed(missing_3) == "ArtifactNotFoundError"
    assert ok(seed_published)["version"] == "6"
    six = pair.our("get_artifact_version", name="app", version=6)
    assert six.sha256 == sha256_hex(F) and six.get_content(pair.bsm) == F
    assert_verified(pair)


# ------------------------------------------------------------------ mixed histories
def test_history_started_by_the_seed_and_continued_by_us(pair: Pair) -> None:
    """Numbers alternate between the two libraries, each version keeps its bytes and the
    alias's latest write wins, whoever made it."""
    first = pair.seed(
        *seed_publish("app", A),
        *seed_publish("app", B),
        call("put_alias", name="app", alias="prod", version=1),
    )
    for result in first:
        ok(result)
    pair.bootstrap()
    assert publish(pair, "app", C).version == "3"
    pair.our("put_alias", name="app", alias="prod", version=3)

    second = pair.seed(
        call("get_alias", name="app", alias="prod", read=True),
        *seed_publish("app", D),
        call("put_alias", name="app", alias="prod", version=4),
    )
    prod, _, published, _ = (ok(r) for r in second)
    assert prod["version"] == "3" and content_of(prod, "version_content_b64") == C
    assert published["version"] == "4"

    assert pair.our("get_alias", name="app", alias="prod").version == "4"
    fifth = publish(pair, "app", E)
    fourth = pair.our("get_artifact_version", name="app", version=4)
    assert fourth.get_content(pair.bsm) == D, "the seed's version 4 lost its bytes"
    assert fourth.sha256 == sha256_hex(D)
    assert fifth.version == "5"
    # prod was moved to 4 by the seed: nothing points at 3 any more
    pair.our("delete_artifact_version", name="app", version=3)
    ours = pair.our("list_artifact_versions", name="app")
    assert versions_of(ours) == ["LATEST", "5", "4", "2", "1"]

    final = pair.seed(*seed_reads("app", ["1", "2", "4", "5"], ["prod"]))
    listed, *got = (ok(r) for r in final[:5])
    _, prod = (ok(r) for r in final[5:])
    assert_same_artifacts(listed, ours)
    expected = {"LATEST": E, "5": E, "4": D, "2": B, "1": A}
    for item in [*listed, *got]:
        assert content_of(item) == expected[item["version"]], item["version"]
    assert prod["version"] == "4" and content_of(prod, "version_content_b64") == D
    assert_verified(pair)


def test_history_started_by_us_and_continued_by_the_seed(pair: Pair) -> None:
    """The seed deletes our newest version and publishes (S3-only: it reuses that number,
    as it always did); our next publish still gets a number no version holds."""
    pair.bootstrap()
    for content in (A, B, C):
        publish(pair, "app", content)
    pair.our("put_alias", name="app", alias="prod", version=2)

    middle = pair.seed(
        call("delete_artifact_version", name="app", version=3),
        *seed_publish("app", D),
        call("put_alias", name="app", alias="prod", version=1),
    )
    _, _, seed_published, _ = (ok(r) for r in middle)
    taken = int(seed_published["version"])
    assert taken == (3 if pair.layout == "s3_only" else 4)

    ours = pair.our("list_artifact_versions", name="app")
    assert versions_of(ours) == ["LATEST", str(taken), "2", "1"]
    assert ours[1].get_content(pair.bsm) == D
    assert pair.our("get_alias", name="app", alias="prod").version == "1"
    published = publish(pair, "app", E)
    assert int(published.version) > taken
    assert published.get_content(pair.bsm) == E

    final = pair.seed(
        call("list_artifact_versions", name="app", read=True),
        call("get_alias", name="app", alias="prod", read=True),
    )
    listed, prod = (ok(r) for r in final)
    assert_same_artifacts(listed, pair.our("list_artifact_versions", name="app"))
    assert [(a["version"], content_of(a)) for a in listed] == [
        ("LATEST", E),
        (published.version, E),
        (str(taken), D),
        ("2", B),
        ("1", A),
    ]
    assert prod["version"] == "1" and content_of(prod, "version_content_b64") == A
    assert_verified(pair)
    # the seed moved prod from 2 to 1: nothing points at 2 any more
    pair.our("delete_artifact_version", name="app", version=2)


def test_version_deleted_by_the_seed_is_gone_for_us(pair: Pair) -> None:
    """After the seed deleted our newest version: no alias can be pointed at it, and an
    unchanged publish answers with a version that exists."""
    pair.bootstrap()
    publish(pair, "app", A)
    publish(pair, "app", B)  # LATEST = version 2 = B
    ok(pair.seed(call("delete_artifact_version", name="app", version=2))[0])

    with pytest.raises(exc.ArtifactNotFoundError):
        pair.our("get_artifact_version", name="app", version=2)
    assert versions_of(pair.our("list_artifact_versions", name="app")) == ["LATEST", "1"]
    with pytest.raises(exc.ArtifactNotFoundError):
        pair.our("put_alias", name="app", alias="prod", version=2)
    republished = pair.our("publish_artifact_version", name="app")
    found = pair.our("get_artifact_version", name="app", version=republished.version)
    assert found.get_content(pair.bsm) == B
    [seed_view] = pair.seed(
        call("get_artifact_version", name="app", version=republished.version, read=True)
    )
    assert content_of(ok(seed_view)) == B


def test_alias_deleted_by_the_seed_stays_deleted(pair: Pair) -> None:
    pair.bootstrap()
    publish(pair, "app", A)
    publish(pair, "app", B)
    pair.our("put_alias", name="app", alias="beta", version=1)
    ok(pair.seed(call("delete_alias", name="app", alias="beta"))[0])

    assert pair.our("list_aliases", name="app") == []
    try:  # no alias points at 1 now
        pair.our("delete_artifact_version", name="app", version=1)
        refused = None
    except exc.VersionedError as error:
        refused = error
    publish(pair, "app", C)
    after = pair.seed(call("list_aliases", name="app"), call("get_alias", name="app", alias="beta"))
    assert ok(after[0]) == [], "the alias the seed deleted was written again"
    assert failed(after[1]) == "AliasNotFoundError"
    assert pair.our("list_aliases", name="app") == []
    assert refused is None, f"deleting version 1 was refused: {refused}"
    assert versions_of(pair.our("list_artifact_versions", name="app")) == ["LATEST", "3", "2"]


def test_seed_purges_restart_our_numbering(pair: Pair) -> None:
    """An artifact the seed purged starts again at version 1 (as in the seed's library);
    a repository the seed purged whole is usable again."""
    pair.bootstrap()
    publish(pair, "app", A)
    publish(pair, "app", B)
    pair.our("put_alias", name="app", alias="prod", version=2)
    publish(pair, "other", C)
    ok(pair.seed(call("purge_artifact", name="app"))[0])

    assert pair.our("list_artifact_names") == ["other"]
    assert pair.our("list_artifact_versions", name="app") == []
    assert pair.our("list_aliases", name="app") == []
    assert publish(pair, "app", D).version == "1"
    assert pair.our("get_artifact_version", name="app", version=1).get_content(pair.bsm) == D

    after = pair.seed(
        call("get_artifact_version", name="app", version=1, read=True),
        call("purge_all"),
    )
    assert content_of(ok(after[0])) == D
    ok(after[1])
    assert pair.our("list_artifact_names") == []
    assert publish(pair, "app", E).version == "1"
    assert versions_of(pair.our("list_artifact_versions", name="app")) == ["LATEST", "1"]
    assert_verified(pair)


def test_seed_reads_every_alias_we_write_with_history(pair: Pair) -> None:
    """Alias history lives beside the aliases: after puts, a split, a deletion and two
    rollbacks (more than a history page of changes), the seed's library reads each alias
    state we wrote, lists the aliases and purges everything; and we record the seed's own
    alias write in our history as another client's."""
    pair.bootstrap()
    for content in (A, B, C):
        publish(pair, "app", content)
    for round_ in range(24):
        pair.our("put_alias", name="app", alias="prod", version=1 + round_ % 3, reason="r")
    split = pair.our(
        "put_alias",
        name="app",
        alias="prod",
        version=2,
        secondary_version=3,
        secondary_version_weight=20,
    )
    pair.our("delete_alias", name="app", alias="prod", reason="gone")
    pair.our("put_alias", name="app", alias="prod", version=1)
    pair.our("put_alias", name="app", alias="prod", version=3)
    assert pair.our("rollback_alias", name="app", alias="prod").version == "1"
    [prod] = (ok(r) for r in pair.seed(call("get_alias", name="app", alias="prod", read=True)))
    assert prod["version"] == "1" and content_of(prod, "version_content_b64") == A
    back = pair.our("rollback_alias", name="app", alias="prod", to_revision=split.revision)
    assert (back.version, back.secondary_version, back.secondary_version_weight) == ("2", "3", 20)
    pair.our("put_alias", name="app", alias="beta", version="LATEST")
    seen = pair.seed(
        call("get_alias", name="app", alias="prod", read=True),
        call("list_aliases", name="app"),
    )
    prod, listed = (ok(r) for r in seen)
    assert (prod["version"], prod["secondary_version"], prod["secondary_version_weight"]) == (
        "2",
        "3",
        20,
    )
    assert content_of(prod, "version_content_b64") == B
    assert sorted(a["alias"] for a in listed) == ["beta", "prod"]
    assert_same_aliases(listed, pair.our("list_aliases", name="app"))
    ok(pair.seed(call("put_alias", name="app", alias="beta", version=1))[0])
    pair.our("put_alias", name="app", alias="beta", version=2)
    beta = pair.our("list_alias_history", name="app", alias="beta")
    assert [(c.version, c.actor) for c in beta][1] == (1, "unknown (another client)")
    assert len(pair.our("list_alias_history", name="app", alias="prod")) == 30
    assert_verified(pair)


def test_retention_documents_are_invisible_to_the_seed(pair: Pair) -> None:
    """Policies (an artifact's and the default) and holds stored beside the artifact:
    the seed's names, versions and aliases are exactly what they were."""
    from versioned.retention import RetentionPolicy

    pair.bootstrap()
    publish(pair, "app", A)
    publish(pair, "app", B)
    pair.our("put_alias", name="app", alias="prod", version=1)
    before = pair.seed(call("list_artifact_names"), *seed_reads("app", ["1", "2"], ["prod"]))
    pair.our("set_retention", name="app", policy=RetentionPolicy(keep_last=1))
    pair.our("set_retention", name=None, policy=RetentionPolicy(keep_last=5))
    pair.our("hold_version", name="app", version=2, reason="audit")
    after = pair.seed(call("list_artifact_names"), *seed_reads("app", ["1", "2"], ["prod"]))
    assert [ok(result) for result in after] == [ok(result) for result in before]
    assert_verified(pair)
