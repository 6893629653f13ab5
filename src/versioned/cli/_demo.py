"""``versioned demo``: the seed's quick-start story, run through the library API against a
moto server, once per storage layout, checking every step."""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from .. import exc, s3_and_dynamodb_backend, s3_only_backend
from ..repository import Alias, Artifact, Repository
from ._sandbox import SANDBOX_REGION, moto_endpoint, sandbox_session

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

ARTIFACT = "my_application"
DRAWS = 1000


class CheckFailed(Exception):
    """A step's result differs from what the story expects."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def content_for(version_tag: str) -> bytes:
    """The seed's sample bytes."""
    return f"Binary content for {version_tag} - timestamp: 2024-01-01".encode()


V1 = content_for("version 1.0")
V2 = content_for("version 2.0 - enhanced features")
V3 = content_for("version 3.0 - performance optimizations")


@dataclasses.dataclass(frozen=True)
class Backend:
    label: str
    make: Callable[[str], Repository]  # bucket name -> Repository


def available_backends(which: str) -> list[Backend]:
    backends: list[Backend] = []
    if which in ("all", "s3"):
        backends.append(
            Backend(
                "S3-only backend",
                lambda bucket: s3_only_backend.Repository(
                    aws_region=SANDBOX_REGION,
                    s3_bucket=bucket,
                    s3_prefix="artifacts",
                    suffix=".bin",
                ),
            )
        )
    if which in ("all", "dynamodb"):
        backends.append(
            Backend(
                "S3 + DynamoDB backend",
                lambda bucket: s3_and_dynamodb_backend.Repository(
                    aws_region=SANDBOX_REGION,
                    s3_bucket=bucket,
                    s3_prefix="artifacts",
                    dynamodb_table_name=f"{bucket}-table",
                    suffix=".bin",
                ),
            )
        )
    return backends


def measure_split(alias: Alias, draws: int = DRAWS) -> tuple[int, int]:
    """(primary, secondary) counts over ``draws`` calls of ``alias.random_artifact()``."""
    secondary = sum(
        1 for _ in range(draws) if alias.random_artifact() == alias.secondary_version_s3uri
    )
    return draws - secondary, secondary


class Story:
    """The quick-start story against one repository; each step returns a result line and
    raises CheckFailed when the library's answer is not what the story expects."""

    def __init__(self, repo: Repository, bsm: BotoSesManager) -> None:
        self.repo = repo
        self.bsm = bsm

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("bootstrap the repository", self.bootstrap),
            ("put version 1.0 content as LATEST", self.put_first),
            ("list artifact names", self.names),
            ("publish LATEST as version 1", lambda: self.publish(V1, "1")),
            ("put version 2.0 content and publish it", self.put_second),
            ("create aliases development, production, staging", self.aliases),
            ("blue/green switch: production 1 -> 2", self.blue_green),
            ("put version 3.0 content and publish it", self.put_third),
            ("canary 10%: production 2 + 3, measured split", lambda: self.canary(10)),
            ("canary 50%: increase the canary's weight", lambda: self.canary(50)),
            ("complete the rollout: production -> 3", self.complete),
            ("emergency rollback: production -> 2", self.rollback),
            *self.rollout_steps(),
            ("purge: keep_last_n=2, purge_older_than_secs=0", self.purge),
            ("read production content", self.read_production),
            ("verify the repository", self.verify),
        ]

    # -------------------------------------------------------------- steps
    def bootstrap(self) -> str:
        self.repo.bootstrap(bsm=self.bsm)
        return f"ready at {self.repo.s3dir_artifact_store.uri}"

    def put(self, content: bytes, description: str) -> Artifact:
        artifact = self.repo.put_artifact(
            name=ARTIFACT,
            content=content,
            content_type="application/octet-stream",
            metadata={"description": description},
            bsm=self.bsm,
        )
        expect(artifact.version == "LATEST", f"put returned version {artifact.version}")
        read_back = artifact.get_content(bsm=self.bsm)
        expect(read_back == content, "LATEST's content differs from what was put")
        return artifact

    def put_first(self) -> str:
        artifact = self.put(V1, "Application binary with core functionality")
        return f"LATEST sha256 {artifact.sha256[:8]}..., {len(V1)} bytes read back equal"

    def names(self) -> str:
        names = self.repo.list_artifact_names(bsm=self.bsm)
        expect(names == [ARTIFACT], f"names are {names}")
        return f"{names}"

    def publish(self, content: bytes, number: str) -> str:
        artifact = self.repo.publish_artifact_version(name=ARTIFACT, bsm=self.bsm)
        expect(artifact.version == number, f"published version {artifact.version}, not {number}")
        expect(artifact.get_content(bsm=self.bsm) == content, f"version {number} content differs")
        return f"version {artifact.version} at {artifact.s3uri}"

    def put_second(self) -> str:
        self.put(V2, "Enhanced application binary with new features")
        return self.publish(V2, "2")

    def put_third(self) -> str:
        self.put(V3, "Optimized application binary")
        return self.publish(V3, "3")

    def aliases(self) -> str:
        wanted = {"development": None, "production": 1, "staging": 2}
        for alias, version in wanted.items():
            self.repo.put_alias(name=ARTIFACT, alias=alias, version=version, bsm=self.bsm)
        listed = {a.alias: a.version for a in self.repo.list_aliases(name=ARTIFACT, bsm=self.bsm)}
        expected = {"development": "LATEST", "production": "1", "staging": "2"}
        expect(listed == expected, f"aliases are {listed}")
        return ", ".join(f"{alias} -> {version}" for alias, version in listed.items())

    def production(self) -> Alias:
        return self.repo.get_alias(name=ARTIFACT, alias="production", bsm=self.bsm)

    def point_production(self, version: int, content: bytes) -> Alias:
        self.repo.put_alias(name=ARTIFACT, alias="production", version=version, bsm=self.bsm)
        alias = self.production()
        expect(alias.version == str(version), f"production points at {alias.version}")
        expect(alias.secondary_version is None, "production still has a canary")
        served = alias.get_version_content(bsm=self.bsm)
        expect(served == content, f"production serves other bytes than version {version}")
        return alias

    def blue_green(self) -> str:
        before = self.production().version
        self.point_production(2, V2)
        return f"production {before} -> 2, serving {len(V2)} bytes of version 2"

    def canary(self, weight: int) -> str:
        alias = self.repo.put_alias(
            name=ARTIFACT,
            alias="production",
            version=2,
            secondary_version=3,
            secondary_version_weight=weight,
            bsm=self.bsm,
        )
        expect(
            (alias.version, alias.secondary_version, alias.secondary_version_weight)
            == ("2", "3", weight),
            f"alias is {alias.version}/{alias.secondary_version}/{alias.secondary_version_weight}",
        )
        stable, canary = measure_split(alias)
        expected = DRAWS * weight / 100
        # Five standard deviations of a binomial draw: a false alarm is a one-in-a-million.
        tolerance = 5 * (DRAWS * weight / 100 * (1 - weight / 100)) ** 0.5
        expect(
            abs(canary - expected) <= tolerance,
            f"canary got {canary} of {DRAWS} draws, expected about {expected:.0f}",
        )
        return (
            f"canary split over {DRAWS} draws: version 2 {stable} ({stable / DRAWS:.1%}), "
            f"version 3 {canary} ({canary / DRAWS:.1%})"
        )

    def complete(self) -> str:
        self.point_production(3, V3)
        return "production -> 3 (100% of traffic)"

    def rollback(self) -> str:
        alias = self.point_production(2, V2)
        return f"rollback done: production -> {alias.version}, content verified"

    # -------------------------------------------------------------- rollouts
    def rollout_steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("sticky canary: 1000 users on production 2 + 3 (30%)", self.sticky),
            ("progressive rollout: staging 2 -> 3, steps 25/50/100", self.rollout_staging),
            ("a failing health check aborts a rollout of production", self.rollout_aborted),
            ("alias history: a bad release of production rolled back", self.history),
        ]

    def sticky(self) -> str:
        alias = self.repo.put_alias(
            name=ARTIFACT, alias="production", version=2, secondary_version=3,
            secondary_version_weight=30, bsm=self.bsm,
        )  # fmt: skip
        users = [f"user-{i}" for i in range(DRAWS)]
        first = [alias.route(user) for user in users]
        expect(first == [alias.route(user) for user in users], "a user changed version")
        on_canary = first.count("3")
        expect(abs(on_canary - 300) <= 75, f"{on_canary} of {DRAWS} users on the canary")
        self.point_production(2, V2)
        return f"{on_canary} users on version 3, each always the same; production -> 2 again"

    def rollout_staging(self) -> str:
        shares: list[int] = []
        final = self.repo.rollout(
            name=ARTIFACT, alias="staging", to_version=3, steps=(25, 50, 100), bake_secs=0.05,
            check=lambda: True, reason="demo",
            on_progress=lambda p: shares.append(p.status.share), bsm=self.bsm,
        )  # fmt: skip
        seen = sorted(set(shares))
        expect(seen == [25, 50, 100], f"the rollout went through {seen}")
        expect((final.version, final.secondary_version) == ("3", None), "staging is not at 3")
        return "staging 2 -> 25% -> 50% -> 100% of version 3, health checked between steps"

    def rollout_aborted(self) -> str:
        checks: list[int] = []

        def check() -> bool:  # healthy twice, then failing (during the first bake)
            checks.append(1)
            return len(checks) < 3

        try:
            self.repo.rollout(
                name=ARTIFACT, alias="production", to_version=3, bake_secs=0.05, check=check,
                bsm=self.bsm,
            )  # fmt: skip
        except exc.RolloutAbortedError as error:
            alias = self.production()
            expect(alias.version == "2" and alias.secondary_version is None, "not restored")
            return f"aborted at step {error.step} ({error.reason}); production restored to 2"
        raise CheckFailed("the rollout did not stop at the failing check")

    def history(self) -> str:
        self.repo.put_alias(
            name=ARTIFACT, alias="production", version=3, reason="release 3", bsm=self.bsm
        )
        back = self.repo.rollback_alias(
            name=ARTIFACT, alias="production", reason="3 fails in production", bsm=self.bsm
        )
        expect(back.version == "2" and back.secondary_version is None, "not rolled back to 2")
        changes = self.repo.list_alias_history(name=ARTIFACT, alias="production", bsm=self.bsm)
        newest = [(c.action, str(c.version), c.reason) for c in changes[:2]]
        expected = [("rollback", "2", "3 fails in production"), ("put", "3", "release 3")]
        expect(newest == expected, f"history starts with {newest}")
        now = self.repo.alias_at(
            name=ARTIFACT, alias="production", when=datetime.now(UTC), bsm=self.bsm
        )
        expect(now is not None and str(now.version) == "2", "alias_at(now) is not version 2")
        actions = ", ".join(sorted({c.action for c in changes}))
        return (
            f"{len(changes)} changes recorded ({actions}); rolled back 3 -> 2, alias_at(now) agrees"
        )

    def purge(self) -> str:
        before = [a.version for a in self.repo.list_artifact_versions(name=ARTIFACT, bsm=self.bsm)]
        expect(before == ["LATEST", "3", "2", "1"], f"versions before purge are {before}")
        time.sleep(0.01)  # "older than 0 seconds" must hold for version 1
        _, deleted = self.repo.purge_artifact_versions(
            name=ARTIFACT, keep_last_n=2, purge_older_than_secs=0, bsm=self.bsm
        )
        deleted_versions = [a.version for a in deleted]
        expect(deleted_versions == ["1"], f"purge deleted {deleted_versions}, expected ['1']")
        after = [a.version for a in self.repo.list_artifact_versions(name=ARTIFACT, bsm=self.bsm)]
        expect(after == ["LATEST", "3", "2"], f"versions after purge are {after}")
        return f"deleted versions {deleted_versions}; remaining {after}"

    def read_production(self) -> str:
        alias = self.production()
        content = alias.get_version_content(bsm=self.bsm)
        expect(alias.version == "2", f"production points at {alias.version}")
        expect(content == V2, "production content differs from version 2")
        return f"version {alias.version}: {content.decode()!r}"

    def verify(self) -> str:
        report = self.repo.verify(bsm=self.bsm)
        expect(report.ok, f"verify found {report.problems}")
        return "no problems"


def failed(what: str, detail: str) -> Text:
    return Text.assemble((f"    ✗ {what}: ", "red"), " ".join(detail.split()))


def run_story(console: Console, backend: Backend, bsm: BotoSesManager) -> bool:
    """Run every step against a fresh bucket; stop at the first failed step."""
    bucket = f"versioned-demo-{secrets.token_hex(4)}"
    repo = backend.make(bucket)
    console.rule(f"[bold]{backend.label}[/]: s3://{bucket}/artifacts/")
    for number, (title, step) in enumerate(Story(repo, bsm).steps(), start=1):
        console.print(f"[bold]{number:>2}.[/] {title}", soft_wrap=True)
        try:
            result = step()
        except CheckFailed as failure:
            console.print(failed("check failed", str(failure)), soft_wrap=True)
            return False
        except Exception as error:
            console.print(failed(type(error).__name__, str(error)), soft_wrap=True)
            return False
        console.print(Text.assemble(("    ✓ ", "green"), result), soft_wrap=True)
    return True


def run_demo(console: Console, which: str = "all") -> bool:
    """Start a moto server, run the story for each available backend, stop the server.
    True when every step of every story passed."""
    backends = available_backends(which)
    if not backends:
        console.print("[red]No backend to run.[/]")
        return False
    with moto_endpoint() as endpoint_url:
        console.print(f"Local S3 + DynamoDB endpoint (moto) at {endpoint_url}", soft_wrap=True)
        bsm = sandbox_session(endpoint_url)
        results = {backend.label: run_story(console, backend, bsm) for backend in backends}
    console.rule("[bold]Summary[/]")
    for label, passed in results.items():
        mark = "[green]✓ passed[/]" if passed else "[red]✗ failed[/]"
        console.print(f"{label}: {mark}")
    console.print("moto server stopped.")
    return all(results.values())
