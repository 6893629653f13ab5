"""A version number, once handed out, names the same bytes for as
long as the artifact exists; stray keys never hide, fake or reuse a version."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from _chaoskit import Background, Ops, Place, RawStore, attempt
from _faultproxy import FaultProxy, Request, s3_error
from _testkit import LAYOUTS, MiB, sha256_hex

BIG = {"multipart_threshold": 5 * MiB, "part_size": 5 * MiB, "single_copy_limit": 5 * MiB}


def check_returned(
    raw: RawStore, place: Place, name: str, returned: list[tuple[int, str]]
) -> list[str]:
    """Every (number, sha256) a publish returned still names those bytes."""
    problems = []
    by_number: dict[int, set[str]] = {}
    for number, digest in returned:
        by_number.setdefault(number, set()).add(digest)
    for number, digests in sorted(by_number.items()):
        if len(digests) > 1:
            problems.append(f"version {number} was handed out for {len(digests)} contents")
    stored = raw.versions(place, name)
    for number, digest in returned:
        found = stored.get(number)
        if found is None:
            problems.append(f"version {number} (returned) no longer exists")
        elif found.actual != digest or found.recorded != digest:
            problems.append(
                f"version {number} was returned for {digest[:12]}; it now holds "
                f"{(found.actual or '')[:12]} recorded as {(found.recorded or '')[:12]}"
            )
    return problems


# ----------------------------------------------------------- a large publish and handed-out numbers
def test_s3_only_large_publish_never_replaces_a_handed_out_version(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    """P1 publishes X (above multipart_threshold) and is paused once its copy exists; P2
    publishes and gets n; prod -> n; Y is put; P1 resumes."""
    ops = make_repo("s3_only", **BIG)
    place = ops.place
    a = b"small first version " * 10
    x = bytes(range(256)) * (6 * MiB // 256)
    y = bytes(reversed(range(256))) * (6 * MiB // 256)
    returned = [(int(ops.publish_contents("app", [a])[0].version), sha256_hex(a))]
    ops.put("app", x)
    proxy = make_proxy()
    p1 = via(place, proxy)
    version_key = re.compile(rf"/versions/\d{{6}}_\d{{6}}{re.escape(place.suffix)}$")

    def creates_a_version(request: Request) -> bool:
        return request.operation in (
            "s3.CompleteMultipartUpload",
            "s3.CopyObject",
            "s3.PutObject",
        ) and bool(version_key.search(request.key))

    rule = proxy.add("hold_response", when=creates_a_version)
    first = Background(lambda: p1.publish("app"), "P1")
    held = rule.wait(60)
    p2 = Background(lambda: ops.publish("app"), "P2")
    second = p2.result(10)
    if second is None:  # P2 waits for P1 (a lock or lease): that is a valid design too
        held.release("forward")
        outcomes = [first.result(120), p2.result(120)]
        for outcome in outcomes:
            assert outcome is not None and outcome.ok, outcome
            returned.append((int(outcome.value.version), outcome.value.sha256))
        assert check_returned(raw, place, "app", returned) == []
        return
    assert second.ok, second.describe()
    returned.append((int(second.value.version), second.value.sha256))
    assert second.value.sha256 == sha256_hex(x)
    ops.put_alias("app", "prod", version=second.value.version)
    ops.put("app", y)
    held.release("forward")
    resumed = first.result(120)
    assert resumed is not None
    if resumed.ok:
        returned.append((int(resumed.value.version), resumed.value.sha256))
    problems = check_returned(raw, place, "app", returned)
    prod = raw.aliases(place, "app").get("prod")
    assert prod == [second.value.version]
    served = raw.versions(place, "app").get(int(second.value.version))
    if served is None or served.actual != sha256_hex(x):
        problems.append(f"prod -> {prod} no longer serves X")
    assert problems == [], f"returned {returned}; P1: {resumed.describe()}; {problems}"


# -------------------------------------------------------- numbers after deleting the newest version
@pytest.mark.parametrize("kind", LAYOUTS)
def test_numbers_are_not_reused_after_deleting_the_newest_version(
    kind: str, make_repo: Callable[..., Ops], raw: RawStore
) -> None:
    ops = make_repo(kind)
    x, y = b"content X " * 10, b"content Y " * 10
    first = ops.publish_contents("app", [x])[0]
    assert first.version == "1"
    ops.put("app", y)
    ops.delete_version("app", 1)
    again = ops.publish("app")
    assert again.version == "2", f"version {again.version} handed out again, now for Y"
    assert check_returned(raw, ops.place, "app", [(2, sha256_hex(y))]) == []
    if kind == "s3_only":  # the DynamoDB layout has no such method in the seed
        assert ops.latest_number("app") == 2


@pytest.mark.parametrize("kind", LAYOUTS)
def test_numbers_are_not_reused_after_purging_every_version(
    kind: str, make_repo: Callable[..., Ops]
) -> None:
    ops = make_repo(kind)
    published = ops.publish_contents("app", [b"one " * 10, b"two " * 10])
    assert [a.version for a in published] == ["1", "2"]
    _, deleted = ops.purge_versions("app", keep_last_n=0, purge_older_than_secs=0)
    assert sorted(a.version for a in deleted) == ["1", "2"]
    ops.put("app", b"three " * 10)
    assert ops.publish("app").version == "3"


@pytest.mark.parametrize("operation", ["purge_artifact", "purge_all"])
@pytest.mark.parametrize("kind", LAYOUTS)
def test_numbering_restarts_after_the_artifact_is_removed(
    kind: str, operation: str, make_repo: Callable[..., Ops]
) -> None:
    """As in the seed's library: purge_artifact / purge_all remove the artifact entirely,
    and its numbering starts again at 1. (Guard; passes today.)"""
    ops = make_repo(kind)
    ops.publish_contents("app", [b"one " * 10, b"two " * 10])
    if operation == "purge_artifact":
        ops.purge_artifact("app")
    else:
        ops.purge_all()
    assert ops.publish_contents("app", [b"fresh " * 10])[0].version == "1"


# ---------------------------------------------------------------- stray keys
STRAYS = {
    ".DS_Store": b"finder junk",
    "000000_LATEST.bin.tmp": b"an interrupted upload",
    "999998_000002-copy.bin": b"somebody's copy of a version",
}


def test_s3_only_stray_keys_in_versions_hide_and_fake_nothing(
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
    raw_s3: object,
) -> None:
    ops = make_repo("s3_only")
    place = ops.place
    assert place.suffix == ".bin"
    x, y = b"content X " * 10, b"content Y " * 10
    ops.publish_contents("app", [x])
    ops.put("app", y)
    directory = f"{place.root}app/versions/"
    for stem, data in STRAYS.items():
        raw_s3.put_object(Bucket=place.bucket, Key=directory + stem, Body=data)  # type: ignore[attr-defined]

    problems: list[str] = []
    if ops.latest_number("app") != 1:
        problems.append(f"latest number before publish: {ops.latest_number('app')}, not 1")
    listed = [a.version for a in ops.versions("app")]
    if listed != ["LATEST", "1"]:
        problems.append(f"listed before publish: {listed}")

    proxy = make_proxy()
    counted = via(place, proxy)
    # a budget: beyond 25 requests every answer is AccessDenied, so a publish that keeps
    # retrying fails fast instead of spending its whole retry budget
    proxy.add("respond", skip=25, times=None, response=s3_error())
    published = attempt(lambda: counted.publish("app"))
    sent = len(proxy.seen())
    if not (published.ok and published.value.version == "2"):
        problems.append(f"publish: {published.describe()[:200]} after {sent} requests")
    elif sent >= 20:
        problems.append(f"publish sent {sent} requests")
    else:
        problems += check_returned(raw, place, "app", [(1, sha256_hex(x)), (2, sha256_hex(y))])
        if ops.latest_number("app") != 2:
            problems.append(f"latest number after publish: {ops.latest_number('app')}")
        listed = [a.version for a in ops.versions("app")]
        if listed != ["LATEST", "2", "1"]:
            problems.append(f"listed after publish: {listed}")

    report = ops.verify()
    for stem in STRAYS:
        if not any(stem in p.location for p in report.problems):
            problems.append(f"verify() did not report {stem}")
    assert problems == [], problems
