"""Three writers interleaving publish, delete_artifact_version, purge_artifact and
put_alias on one artifact, request by request: each writer a worker process whose
requests go through its own fault proxy, the order of their requests drawn from a seeded
RNG (_chaoskit.Interleaver), for a bounded number of rounds; after each round the
promises (_chaoskit.Promises)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from _chaoskit import Interleaver, Ops, Place, Promises, RawStore, Worker
from _faultproxy import FaultProxy
from _testkit import LAYOUTS
from _testkit import sha256_hex as sha

ROUNDS = 5
SEED = 17_2026


def _contents(round_: int) -> list[bytes]:
    return [f"round {round_} content {i} ".encode() * (20 + i) for i in range(2)]


def _calls(name: str, live: list[int]) -> dict[str, dict[str, Any]]:
    """The four operations (a worker's op and arguments), aimed at what the round starts
    with: delete the oldest live version, alias prod at the newest."""
    oldest, newest = (live[0], live[-1]) if live else (1, 1)
    return {
        "publish": {"op": "publish", "name": name},
        "delete": {"op": "delete_version", "name": name, "version": oldest},
        "purge_artifact": {"op": "purge_artifact", "name": name},
        "put_alias": {"op": "put_alias", "name": name, "alias": "prod", "version": newest},
    }


def _remote(worker: Worker, place: Place, proxy: FaultProxy, command: dict[str, Any]) -> Any:
    """A call that runs ``command`` in ``worker`` through ``proxy``: the worker's answer."""
    args = dict(command)
    op = args.pop("op")

    def run() -> Any:
        worker.send(place, proxy.url, op, **args)
        return worker.result(60)

    return run


def _describe(answer: dict[str, Any]) -> str:
    if answer.get("ok"):
        return f"ok: {answer.get('value')!r:.80}"
    return f"{answer.get('module')}.{answer.get('type')}: {answer.get('message')!r:.200}"


@pytest.mark.parametrize("kind", LAYOUTS)
def test_three_writers_interleaving_on_one_artifact(
    kind: str,
    make_repo: Callable[..., Ops],
    make_proxy: Callable[[], FaultProxy],
    spawn_worker: Callable[[], Worker],
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
        commands = _calls(name, live)
        actors = {
            what: (proxy, _remote(spawn_worker(), place, proxy, commands[what]))
            for what, proxy in zip(chosen, proxies, strict=True)
        }
        interleaver = Interleaver(actors, random.Random(rng.random()), stickiness=0.5)
        answers = {what: outcome.value for what, outcome in interleaver.run(timeout=30).items()}
        order = "".join(actor[0] for actor in interleaver.order)
        where = f"round {round_} ({', '.join(chosen)}; order {order})"
        failures += [
            f"{where}: {what} {_describe(answer)}"
            for what, answer in answers.items()
            if answer is None or not (answer.get("ok") or answer.get("library"))
        ]
        published = answers.get("publish") or {}
        if published.get("ok"):
            promises.note(published["value"]["version"], published["value"]["sha256"], "publish")
            if published["value"]["sha256"] != sha(second):
                failures.append(f"{where}: publish answered {published['value']}")
        if (answers.get("purge_artifact") or {}).get("ok"):
            promises.numbers.clear()  # numbers start again after a purge of the artifact
        failures += promises.check(ops, where)
    assert failures == [], "\n".join(failures)
