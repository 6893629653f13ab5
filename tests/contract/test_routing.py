"""Sticky canaries: ``Alias.route(key)`` on aliases both layouts return. The share of
keys on the canary matches the weight, raising the weight moves keys one way only, a new
canary draws a fresh sample, and the answer is the same in another process (another
PYTHONHASHSEED)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from _testkit import Backend

NAME = "routing"
KEYS = [f"user-{i}" for i in range(100_000)]


@pytest.fixture
def canary(module_backend: Backend) -> Backend:
    """Versions 1, 2, 3 of NAME (published once per module's backend)."""
    if not module_backend.versions(NAME)[1:]:
        for i in (1, 2, 3):
            module_backend.put_and_publish(NAME, f"v{i}".encode())
    return module_backend


def split(backend: Backend, secondary: int, weight: int) -> Any:
    return backend.repo.put_alias(
        bsm=backend.bsm, name=NAME, alias="prod", version=1,
        secondary_version=secondary, secondary_version_weight=weight,
    )  # fmt: skip


def on_canary(alias: Any, keys: list[str]) -> set[str]:
    canary = str(alias.secondary_version)
    return {key for key in keys if alias.route(key) == canary}


@pytest.mark.parametrize("weight", [1, 5, 25, 50, 99])
def test_the_canary_share_is_the_weight(canary: Backend, weight: int) -> None:
    alias = split(canary, 2, weight)
    share = 100 * len(on_canary(alias, KEYS)) / len(KEYS)
    assert abs(share - weight) <= 0.5, (weight, share)
    assert {alias.route(key) for key in KEYS[:2000]} == {"1", "2"}


def test_raising_the_weight_moves_no_key_back(canary: Backend) -> None:
    keys = KEYS[:20_000]
    previous: set[str] = set()
    for weight in (5, 25, 50, 99):
        current = on_canary(split(canary, 2, weight), keys)
        assert previous <= current, f"{len(previous - current)} keys moved back at {weight}%"
        assert len(current) > len(previous)
        previous = current


def test_a_new_canary_draws_a_fresh_sample(canary: Backend) -> None:
    keys = KEYS[:20_000]
    first = on_canary(split(canary, 2, 25), keys)
    second = on_canary(split(canary, 3, 25), keys)
    assert abs(len(second) - len(first)) < 0.02 * len(keys)
    overlap = len(first & second) / len(first)
    assert 0.15 < overlap < 0.35  # independent samples share about a quarter


def test_another_alias_or_artifact_draws_another_sample(canary: Backend) -> None:
    alias = split(canary, 2, 25)
    other = canary.repo.put_alias(
        bsm=canary.bsm, name=NAME, alias="beta", version=1,
        secondary_version=2, secondary_version_weight=25,
    )  # fmt: skip
    keys = KEYS[:20_000]
    overlap = len(on_canary(alias, keys) & on_canary(other, keys)) / len(on_canary(alias, keys))
    assert overlap < 0.35


def test_no_key_draws_at_random_by_the_weight(canary: Backend) -> None:
    alias = split(canary, 2, 25)
    draws = [alias.route() for _ in range(4000)]
    assert set(draws) == {"1", "2"}
    assert 0.18 < draws.count("2") / len(draws) < 0.32
    unsplit = canary.repo.put_alias(bsm=canary.bsm, name=NAME, alias="solo", version=3)
    assert {unsplit.route(), unsplit.route("user-1")} == {"3"}


ROUTE_IN_CHILD = """
import json, sys
from versioned.s3_only_backend import Alias
alias = Alias(**json.loads(sys.argv[1]))
print(json.dumps([alias.route(key) for key in json.loads(sys.argv[2])]))
"""


@pytest.mark.parametrize("hash_seed", ["0", "12345"])
def test_the_same_key_routes_the_same_in_another_process(canary: Backend, hash_seed: str) -> None:
    alias = split(canary, 2, 30)
    keys = KEYS[:3000]
    fields = {
        "name": alias.name, "alias": alias.alias, "update_at": "2026-01-01T00:00:00+00:00",
        "version": alias.version, "secondary_version": alias.secondary_version,
        "secondary_version_weight": alias.secondary_version_weight,
        "version_s3uri": alias.version_s3uri,
        "secondary_version_s3uri": alias.secondary_version_s3uri,
    }  # fmt: skip
    child = subprocess.run(
        [sys.executable, "-c", ROUTE_IN_CHILD, json.dumps(fields), json.dumps(keys)],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
    )  # fmt: skip
    assert json.loads(child.stdout) == [alias.route(key) for key in keys]
