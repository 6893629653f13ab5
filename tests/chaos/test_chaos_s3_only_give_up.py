"""Every retrying loop of the S3-only layout gives up loudly: forced to exhaustion (a
repository with ``RetryPolicy(max_attempts=2, base_secs=0)`` behind the fault proxy, whose
rule makes every compare-and-swap of the loop lose with 412 PreconditionFailed), each
raises ContentionError naming its operation, its record and the attempts made, and a CAS
conflict is logged at DEBUG on the ``versioned`` logger. The loops: the one
``update_state`` loop on ``state.json`` (publish's reservation, a deletion's marks, an
alias registration and its landing, a purge's mark), publish's copy, and the conditional
write and delete of an alias object."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Background, Ops, Place, RawStore, attempt
from _faultproxy import FaultProxy, Request, s3_error
from _testkit import sha256_hex

from versioned.api import RetryPolicy
from versioned.exc import ContentionError

POLICY = RetryPolicy(max_attempts=2, base_secs=0)
V1, V2 = b"version one", b"version two"
REFUSED = s3_error("PreconditionFailed", 412)

MakeRepo = Callable[..., Ops]
Via = Callable[[Place, FaultProxy], Ops]


def gave_up(call: Callable[[], Any], operation: str, record: str) -> ContentionError:
    """Run ``call``; it must raise ContentionError for ``operation`` on ``record``, after
    the policy's two attempts."""
    outcome = attempt(call)
    assert isinstance(outcome.error, ContentionError), outcome.describe()
    error = outcome.error
    assert error.operation == operation, error
    assert error.record == record, error
    assert error.attempts == 2, error
    return error


def state_key(place: Place, name: str) -> str:
    return f"{place.root}{name}/state.json"


def alias_key(place: Place, name: str, alias: str) -> str:
    return f"{place.root}{name}/aliases/{alias}.json"


def writes(method: str, key: str) -> Callable[[Request], bool]:
    return lambda request: request.method == method and request.key == key


@pytest.fixture
def through_proxy(
    make_repo: MakeRepo, make_proxy: Callable[[], FaultProxy], via: Via
) -> tuple[Ops, FaultProxy, Ops]:
    """(the repository direct, a fault proxy, the same repository through it), both with
    a policy of two attempts and no pause."""
    ops = make_repo("s3_only", retry_policy=POLICY)
    proxy = make_proxy()
    return ops, proxy, via(ops.place, proxy)


def refuse_state_writes(proxy: FaultProxy, place: Place, name: str, skip: int = 0) -> None:
    """Every compare-and-swap of ``name``'s state.json (after the first ``skip``) loses."""
    when = writes("PUT", state_key(place, name))
    proxy.add("respond", when=when, response=REFUSED, skip=skip, times=None)


# ---------------------------------------------------------------- update_state
def test_publish_gives_up_when_its_reservation_keeps_losing(
    through_proxy: tuple[Ops, FaultProxy, Ops], caplog: pytest.LogCaptureFixture
) -> None:
    ops, proxy, client = through_proxy
    ops.publish_contents("app", [V1])
    ops.put("app", V2)
    refuse_state_writes(proxy, ops.place, "app")

    with caplog.at_level(logging.DEBUG, logger="versioned"):
        gave_up(lambda: client.publish("app"), "publishing 'app'", state_key(ops.place, "app"))

    assert any(
        "publishing 'app'" in r.getMessage() and "state.json changed" in r.getMessage()
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]
    assert [v.version for v in ops.versions("app")] == ["LATEST", "1"]
    proxy.clear_rules()
    assert client.publish("app").version == "2"


def test_delete_version_gives_up_when_its_marks_keep_losing(
    through_proxy: tuple[Ops, FaultProxy, Ops],
) -> None:
    ops, proxy, client = through_proxy
    ops.publish_contents("app", [V1, V2])
    refuse_state_writes(proxy, ops.place, "app")

    gave_up(
        lambda: client.delete_version("app", 1),
        "deleting versions of 'app'",
        state_key(ops.place, "app"),
    )

    assert [v.version for v in ops.versions("app")] == ["LATEST", "2", "1"]


def test_put_alias_gives_up_when_its_registration_keeps_losing(
    through_proxy: tuple[Ops, FaultProxy, Ops], raw: RawStore
) -> None:
    ops, proxy, client = through_proxy
    ops.publish_contents("app", [V1])
    refuse_state_writes(proxy, ops.place, "app")

    gave_up(
        lambda: client.put_alias("app", "prod", version=1),
        "pointing alias 'prod' of 'app'",
        state_key(ops.place, "app"),
    )

    assert raw.read(ops.place.bucket, alias_key(ops.place, "app", "prod")) is None


def test_put_alias_gives_up_when_recording_that_it_landed_keeps_losing(
    through_proxy: tuple[Ops, FaultProxy, Ops],
) -> None:
    """The registration is stored and the alias object written; the CAS that records
    the write landed then keeps losing: ContentionError, never a silent return."""
    ops, proxy, client = through_proxy
    ops.publish_contents("app", [V1])
    ops.put_alias("app", "qa", version=1)  # state.json exists from here on
    refuse_state_writes(proxy, ops.place, "app", skip=1)

    gave_up(
        lambda: client.put_alias("app", "prod", version=1),
        "pointing alias 'prod' of 'app'",
        state_key(ops.place, "app"),
    )

    proxy.clear_rules()
    assert client.put_alias("app", "prod", version=1).version == "1"
    assert ops.get_alias("app", "prod").version == "1"


def test_delete_alias_gives_up_when_its_registration_keeps_losing(
    through_proxy: tuple[Ops, FaultProxy, Ops],
) -> None:
    ops, proxy, client = through_proxy
    ops.publish_contents("app", [V1])
    ops.put_alias("app", "prod", version=1)
    refuse_state_writes(proxy, ops.place, "app")

    gave_up(
        lambda: client.delete_alias("app", "prod"),
        "deleting alias 'prod' of 'app'",
        state_key(ops.place, "app"),
    )

    assert ops.get_alias("app", "prod").version == "1"


def test_purge_artifact_gives_up_when_its_mark_keeps_losing(
    through_proxy: tuple[Ops, FaultProxy, Ops],
) -> None:
    ops, proxy, client = through_proxy
    ops.publish_contents("app", [V1])
    refuse_state_writes(proxy, ops.place, "app")

    gave_up(lambda: client.purge_artifact("app"), "purging 'app'", state_key(ops.place, "app"))

    assert [v.version for v in ops.versions("app")] == ["LATEST", "1"]
    proxy.clear_rules()
    client.purge_artifact("app")
    assert ops.versions("app") == []


# ---------------------------------------------------------------- object loops
def test_publish_gives_up_when_its_copy_never_lands(
    through_proxy: tuple[Ops, FaultProxy, Ops], raw: RawStore
) -> None:
    ops, proxy, client = through_proxy
    ops.put("app", V1)
    key = raw.version_key(ops.place, "app", 1)
    proxy.add("respond", when=writes("PUT", key), response=REFUSED, times=None)

    gave_up(lambda: client.publish("app"), "publishing 'app' as version 1", key)

    assert raw.read(ops.place.bucket, key) is None
    proxy.clear_rules()
    published = client.publish("app")
    assert published.sha256 == sha256_hex(V1)
    assert [v.version for v in ops.versions("app")] == ["LATEST", published.version]


def test_put_alias_gives_up_when_the_alias_object_keeps_changing(
    through_proxy: tuple[Ops, FaultProxy, Ops], caplog: pytest.LogCaptureFixture
) -> None:
    ops, proxy, client = through_proxy
    ops.publish_contents("app", [V1])
    key = alias_key(ops.place, "app", "prod")
    proxy.add("respond", when=writes("PUT", key), response=REFUSED, times=None)

    with caplog.at_level(logging.DEBUG, logger="versioned"):
        gave_up(
            lambda: client.put_alias("app", "prod", version=1),
            "pointing alias 'prod' of 'app'",
            key,
        )

    assert any("alias object changed" in r.getMessage() for r in caplog.records)
    proxy.clear_rules()
    assert client.put_alias("app", "prod", version=1).version == "1"


def test_delete_alias_gives_up_when_the_alias_object_keeps_changing(
    through_proxy: tuple[Ops, FaultProxy, Ops],
) -> None:
    ops, proxy, client = through_proxy
    ops.publish_contents("app", [V1])
    ops.put_alias("app", "prod", version=1)
    key = alias_key(ops.place, "app", "prod")
    proxy.add("respond", when=writes("DELETE", key), response=REFUSED, times=None)

    gave_up(lambda: client.delete_alias("app", "prod"), "deleting alias 'prod' of 'app'", key)

    assert ops.get_alias("app", "prod").version == "1"
    proxy.clear_rules()
    client.delete_alias("app", "prod")
    assert ops.aliases("app") == []


# ---------------------------------------------------------------- what is logged
def test_a_create_taken_back_after_a_later_deletion_is_logged(
    make_repo: MakeRepo,
    make_proxy: Callable[[], FaultProxy],
    via: Via,
    raw: RawStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """put_alias(qa) registers and is held before its create; delete_alias(qa)
    registers the deletion meanwhile and returns. The create then lands: put_alias takes
    it back, and says so on the ``versioned`` logger."""
    ops = make_repo("s3_only")
    ops.publish_contents("app", [V1])
    proxy = make_proxy()
    writer = via(ops.place, proxy)
    rule = proxy.add("hold", method="PUT", path=r"/aliases/qa\.json$")
    with caplog.at_level(logging.DEBUG, logger="versioned"):
        put = Background(lambda: writer.put_alias("app", "qa", version=1), "W")
        held = rule.wait(30)
        ops.delete_alias("app", "qa")
        held.release("forward")
        outcome = put.result(60)

    assert outcome is not None and outcome.ok, outcome
    assert "qa" not in raw.aliases(ops.place, "app")
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("pointing alias 'qa' of 'app': took back") for m in messages), messages


def test_a_state_rebuilt_from_the_listing_is_logged(
    make_repo: MakeRepo, raw_s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An artifact without state.json (the seed's library wrote it) gets one rebuilt
    from its version keys at its first alias write, and the log says so."""
    ops = make_repo("s3_only")
    ops.publish_contents("app", [V1, V2])
    raw_s3.delete_object(Bucket=ops.place.bucket, Key=state_key(ops.place, "app"))

    with caplog.at_level(logging.DEBUG, logger="versioned"):
        ops.put_alias("app", "prod", version=2)

    messages = [r.getMessage() for r in caplog.records]
    assert any(
        "pointing alias 'prod' of 'app': 'app' has no state.json; rebuilt its index from 2" in m
        for m in messages
    ), messages
    assert ops.get_alias("app", "prod").version == "2"
