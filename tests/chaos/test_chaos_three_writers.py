"""Three writers interleaving publish, delete_artifact_version, purge_artifact and
put_alias on one artifact, request by request (each writer its own session and fault
proxy; the order of their requests drawn from a seeded RNG, _chaoskit.Interleaver), for
a bounded number of rounds; after each round the promises (_chaoskit.Promises)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Interleaver, Ops, Place, Promises, RawStore
from _faultproxy import FaultProxy
from _testkit import LAYOUTS
from _testkit import sha256_hex as sha

ROUNDS = 5
SEED = 17_2026


def _contents(round_: int) -> list[bytes]:
    return [f"round {round_} content {i} ".encode() * (20 + i) for i in range(2)]


def _calls(client: Ops, name: str, live: list[int]) -> dict[str, Callable[[], Any]]:
    """The four operations, aimed at what the round starts with: delete the oldest live
    version, alias prod at the newest."""
    oldest, newest = (live[0], live[-1]) if live else (1, 1)
    return {
        "publish": lambda: client.publish(name),
        "delete": lambda: client.delete_version(name, oldest),
        "purge_artifact": lambda: client.purge_artifact(name),
        "put_alias": lambda: client.put_alias(name, "prod", version=newest),
    }


@pytest.mark.parametrize("kind", LAYOUTS)
def test_three_writers_interleaving_on_one_artifact(
    kind: str,
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    via: Callable[[Place, FaultProxy], Ops],
    raw: RawStore,
) -> None:
    ops = make_repo(kind, **({"lease_secs": 1} if kind == "s3_dynamodb" else {}))
    place, name = ops.place, "app"
    proxies = [make_proxy() for _ in range(3)]
    rng = random.Random(SEED)
    promises = Promises(raw, place, name)
    failures: list[str] = []
    for round_ in range(ROUNDS):
        first, second = _contents(round_)
        if not raw.versions(place, name):  # (again) an artifact with two versions
            for published in ops.publish_contents(name, [first]):
                promises.note(published.version, published.sha256, "setup")
        ops.put(name, second)
        live = sorted(raw.versions(place, name))
        chosen = rng.sample(["publish", "delete", "purge_artifact", "put_alias"], 3)
        actors = {
            what: (proxy, _calls(via(place, proxy), name, live)[what])
            for what, proxy in zip(chosen, proxies, strict=True)
        }
        interleaver = Interleaver(actors, random.Random(rng.random()), stickiness=0.5)
        outcomes = interleaver.run(timeout=30)
        order = "".join(actor[0] for actor in interleaver.order)
        where = f"round {round_} ({', '.join(chosen)}; order {order})"
        failures += [
            f"{where}: {w} raised {o.describe()}" for w, o in outcomes.items() if o.foreign
        ]
        published = outcomes.get("publish")
        if published is not None and published.ok:
            promises.note(published.value.version, published.value.sha256, "publish")
            if published.value.sha256 != sha(second):
                failures.append(f"{where}: publish answered {published.value.sha256}")
        if "purge_artifact" in outcomes and outcomes["purge_artifact"].ok:
            promises.numbers.clear()  # numbers start again after a purge of the artifact
        failures += promises.check(ops, where)
    assert failures == [], "\n".join(failures)
