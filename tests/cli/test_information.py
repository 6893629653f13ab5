"""The command line tells the truth and shows what a user looks for."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from _clikit import Cli, CliEnv, assert_one_error_line

from versioned import s3_only_backend

V1 = b"Binary content for version 1.0 - timestamp: 2024-01-01"
V2 = b"Binary content for version 2.0 - enhanced features - timestamp: 2024-01-01"
V3 = b"Binary content for version 3.0 - performance optimizations - timestamp: 2024-01-01"
V4 = b"Binary content for version 4.0"

#: the library's Artifact has size / content_type / metadata (the lead's rewrite)
ARTIFACT_FIELDS = {field.name for field in dataclasses.fields(s3_only_backend.Artifact)}
HAS_SIZE = "size" in ARTIFACT_FIELDS
HAS_METADATA = {"content_type", "metadata"} <= ARTIFACT_FIELDS

TABLE_TIME = re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\b")
JSON_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


def publish(cli_run: Cli, name: str, *contents: bytes) -> None:
    for content in contents:
        cli_run("put", name, "-", input=content)
        cli_run("publish", name)


# ------------------------------------------------------------------ deletes tell the truth
def test_delete_of_a_missing_version_deletes_nothing_and_says_so(
    cli_repo: str, cli_run: Cli
) -> None:
    publish(cli_run, "model", V1)
    before = cli_run.json("versions", "model")
    for extra in ((), ("--json",)):
        result = cli_run("delete", "model", "99", *extra, code=3)
        line = assert_one_error_line(result.stderr)
        assert "version 99 of model does not exist; nothing deleted" in line
        assert result.stdout == ""
    assert cli_run.json("versions", "model") == before
    assert "eleted version 1 of model" in cli_run("delete", "model", "1").stdout  # (Soft-)D


def test_alias_delete_of_a_missing_alias_deletes_nothing_and_says_so(
    cli_repo: str, cli_run: Cli
) -> None:
    publish(cli_run, "model", V1)
    cli_run("alias", "set", "model", "prod", "1")
    line = assert_one_error_line(cli_run("alias", "delete", "model", "prdo", code=3).stderr)
    assert "alias prdo of model does not exist; nothing deleted (did you mean 'prod'?)" in line
    assert [a["alias"] for a in cli_run.json("alias", "list", "model")] == ["prod"]
    out = cli_run("alias", "delete", "model", "prod").stdout
    assert "Deleted alias prod of model (it pointed at 1)" in out
    assert cli_run.json("alias", "list", "model") == []


TYPO_COMMANDS = [
    ("versions", "modle"),
    ("alias", "list", "modle"),
    ("purge", "modle", "--dry-run"),
    ("purge", "modle", "--older-than", "0"),
    ("verify", "modle"),
    ("show", "modle"),
    ("show", "modle", "1"),
    ("publish", "modle"),
    ("get", "modle", "-o", "-"),
    ("alias", "get", "modle", "prod"),
    ("alias", "set", "modle", "prod", "1"),
    ("alias", "delete", "modle", "prod"),
    ("delete", "modle", "1"),
    ("purge-artifact", "modle", "--yes"),
]


def test_typos_are_not_found_with_a_suggestion(cli_repo: str, cli_run: Cli) -> None:
    publish(cli_run, "model", V1)
    cli_run("alias", "set", "model", "prod", "1")
    for command in TYPO_COMMANDS:
        line = assert_one_error_line(cli_run(*command, code=3).stderr)
        assert "no artifact 'modle' (did you mean 'model'?)" in line, (command, line)
    line = assert_one_error_line(cli_run("versions", "zzzzzz", code=3).stderr)
    assert "no artifact 'zzzzzz'" in line and "`versioned names`" in line
    alias_typo = assert_one_error_line(cli_run("alias", "get", "model", "prdo", code=3).stderr)
    assert "(did you mean 'prod'?)" in alias_typo


def test_an_existing_artifact_without_aliases_is_no_error(cli_repo: str, cli_run: Cli) -> None:
    cli_run("put", "model", "-", input=V1)
    assert cli_run.json("alias", "list", "model") == []
    assert "No aliases of 'model'." in cli_run("alias", "list", "model").stdout
    assert "Would purge nothing" in cli_run("purge", "model", "--dry-run").stdout
    assert "Purged nothing" in cli_run("purge", "model").stdout
    assert "No problems found in model" in cli_run("verify", "model").stdout


# ------------------------------------------------------------------ what changed
def test_alias_set_shows_what_it_replaced(cli_repo: str, cli_run: Cli) -> None:
    publish(cli_run, "model", V1, V2, V3)
    assert (
        "✓ alias prod of model: (none) -> 1" in cli_run("alias", "set", "model", "prod", "1").stdout
    )
    assert "alias prod of model: 1 -> 2" in cli_run("alias", "set", "model", "prod", "2").stdout
    out = cli_run("alias", "set", "model", "prod", "2", "--canary", "3", "--weight", "10").stdout
    assert "alias prod of model: 2 -> 2 + 10% to 3" in out
    document = cli_run.json("alias", "set", "model", "prod", "1")
    assert document["version"] == "1" and document["secondary_version"] is None
    previous = document["previous"]
    assert (previous["version"], previous["secondary_version"]) == ("2", "3")
    assert previous["secondary_version_weight"] == 10
    assert cli_run.json("alias", "set", "model", "beta", "1")["previous"] is None


def test_alias_set_with_expected_revision_still_reports_before(cli_repo: str, cli_run: Cli) -> None:
    publish(cli_run, "model", V1, V2)
    first = cli_run.json("alias", "set", "model", "prod", "1")
    out = cli_run(
        "alias", "set", "model", "prod", "2", "--expected-revision", first["revision"]
    ).stdout
    assert "alias prod of model: 1 -> 2" in out
    cli_run("alias", "set", "model", "prod", "1", "--expected-revision", first["revision"], code=4)


def test_publish_of_an_unchanged_latest_says_so(cli_repo: str, cli_run: Cli) -> None:
    cli_run("put", "model", "-", input=V1)
    first = cli_run.json("publish", "model")
    assert (first["version"], first["unchanged"]) == ("1", False)
    out = cli_run("publish", "model").stdout
    assert "LATEST is unchanged; version 1 already holds it." in out
    again = cli_run.json("publish", "model")
    assert (again["version"], again["unchanged"]) == ("1", True)
    cli_run("put", "model", "-", input=V2)
    out = cli_run("publish", "model").stdout
    assert "unchanged" not in out and "model: version 2" in out


# ------------------------------------------------------------------ listing and showing
def test_versions_fit_80_columns(cli_repo: str, cli_run: Cli, monkeypatch: Any) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    publish(cli_run, "a-rather-long-artifact-name", V1, V2, V3)
    name = "a-rather-long-artifact-name"
    cli_run("alias", "set", name, "production", "2", "--canary", "3", "--weight", "10")
    cli_run("alias", "set", name, "staging", "3")
    out = cli_run("versions", name).stdout
    lines = out.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, out
    assert "s3://" not in out
    for version in ("LATEST", "3", "2", "1"):
        row = next(line for line in lines if line.strip().startswith(f"{version} "))
        assert TABLE_TIME.search(row), row  # the timestamp is whole, never wrapped
        assert re.search(r"\b[0-9a-f]{12}…", row), row  # a short sha256
    assert "production" in out and "staging" in out
    if HAS_SIZE:
        assert f"{len(V3)} B" in out

    wide = cli_run("versions", name, "--wide").stdout
    listed = cli_run.json("versions", name)
    for artifact in listed:
        row = next(line for line in wide.splitlines() if artifact["s3uri"] in line)
        assert artifact["sha256"] in row  # full sha256 and S3 URI on one line
    assert all(artifact["s3uri"].startswith("s3://") for artifact in listed)


def test_show_one_version(cli_repo: str, cli_run: Cli, cli_env: CliEnv) -> None:
    path = cli_env.workdir / "v1.bin"
    path.write_bytes(V1)
    cli_run("put", "model", str(path), "-m", "team=ml", "-m", "stage=beta", "--content-type", "x/y")
    cli_run("publish", "model")
    publish(cli_run, "model", V2)
    cli_run("alias", "set", "model", "prod", "1", "--canary", "2", "--weight", "10")
    cli_run("alias", "set", "model", "beta", "2")

    document = cli_run.json("show", "model", "2")
    assert (document["name"], document["version"]) == ("model", "2")
    assert sorted(document["aliases"]) == ["beta", "prod (10%)"]
    assert cli_run.json("show", "model", "1")["aliases"] == ["prod"]
    assert cli_run.json("show", "model")["version"] == "LATEST"

    out = cli_run("show", "model", "1").stdout
    assert "model: version 1" in out
    for row in ("size", "content type", "sha256", "s3uri", "metadata", "aliases"):
        assert re.search(rf"^\s*{row}\s", out, re.MULTILINE), (row, out)
    assert document["sha256"] in cli_run("show", "model", "2").stdout
    assert TABLE_TIME.search(out)
    if HAS_SIZE:
        assert f"{len(V1)} bytes" in out
    if HAS_METADATA:
        assert "team=ml" in out and "stage=beta" in out and "x/y" in out
        shown = cli_run.json("show", "model", "1")
        assert shown["metadata"] == {"team": "ml", "stage": "beta"}
        assert shown["content_type"] == "x/y"
    line = assert_one_error_line(cli_run("show", "model", "7", code=3).stderr)
    assert "7" in line


def test_purge_dry_run_says_what_is_kept_and_why(cli_repo: str, cli_run: Cli) -> None:
    publish(cli_run, "model", V1, V2, V3, V4)
    cli_run("alias", "set", "model", "prod", "1")
    cli_run("alias", "set", "model", "beta", "2", "--canary", "3", "--weight", "5")

    plan = cli_run.json("purge", "model", "--keep", "1", "--older-than", "0", "--dry-run")
    assert plan["versions"] == []  # 4 is newest, 1/2/3 are alias targets
    reasons = {kept["version"]: kept["reason"] for kept in plan["kept"]}
    assert set(reasons) == {"LATEST", "4", "3", "2", "1"}
    assert "LATEST" in reasons["LATEST"]
    assert "newest" in reasons["4"]
    assert "prod" in reasons["1"] and "beta" in reasons["2"] and "beta" in reasons["3"]

    cli_run("alias", "delete", "model", "beta")
    out = cli_run("purge", "model", "--keep", "1", "--older-than", "0", "--dry-run").stdout
    assert "Would purge 2 version(s) of model (dry run: nothing deleted)" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()[:1].isalnum()}
    assert "delete" in rows["3"] and "delete" in rows["2"]
    assert "keep" in rows["4"] and "newest" in rows["4"]
    assert "keep" in rows["1"] and "alias prod" in rows["1"]

    young = cli_run.json("purge", "model", "--keep", "0", "--older-than", "1d", "--dry-run")
    assert young["versions"] == []
    assert {kept["version"]: kept["reason"] for kept in young["kept"]}["3"].startswith(
        "younger than"
    )


# ------------------------------------------------------------------ timestamps
def _json_time(text: str) -> datetime:
    assert JSON_TIME.match(text), text
    return datetime.fromisoformat(text)


def test_timestamps_agree_everywhere(cli_repo: str, cli_run: Cli) -> None:
    publish(cli_run, "model", V1, V2)
    cli_run("alias", "set", "model", "prod", "2")
    listed = {a["version"]: a["update_at"] for a in cli_run.json("versions", "model")}
    for version, update_at in listed.items():
        _json_time(update_at)
        assert cli_run.json("show", "model", version)["update_at"] == update_at
    _json_time(cli_run.json("alias", "get", "model", "prod")["update_at"])

    human = {
        "versions": cli_run("versions", "model").stdout,
        "show": cli_run("show", "model", "1").stdout,
        "alias": cli_run("alias", "get", "model", "prod").stdout,
        "aliases": cli_run("alias", "list", "model").stdout,
        "dry run": cli_run(
            "purge", "model", "--keep", "0", "--older-than", "0", "--dry-run"
        ).stdout,
    }
    shown_1 = TABLE_TIME.findall(human["show"])
    assert shown_1 and shown_1[0] in human["versions"] and shown_1[0] in human["dry run"]
    for text in human.values():
        assert TABLE_TIME.search(text), text

    purged = cli_run.json("purge", "model", "--keep", "0", "--older-than", "0")
    assert [a["version"] for a in purged["versions"]] == ["1"]
    _json_time(purged["purge_time"])
    # one definition of a version's time: the purge result says what the listing said
    assert purged["versions"][0]["update_at"] == listed["1"]


def test_bad_output_paths_leave_no_part_files(cli_repo: str, cli_run: Cli, cli_env: CliEnv) -> None:
    cli_run("put", "model", "-", input=V1)
    directory = cli_env.workdir / "out"
    directory.mkdir()
    missing = cli_env.workdir / "missing" / "dir" / "x"
    line = assert_one_error_line(cli_run("get", "model", "-o", str(missing), code=2).stderr)
    assert "directory" in line and "does not exist" in line and ".part" not in line
    line = assert_one_error_line(cli_run("get", "model", "-o", f"{missing}/", code=2).stderr)
    assert "directory" in line and "does not exist" in line and ".part" not in line
    assert list(directory.iterdir()) == [] and not missing.parent.exists()
    assert list(Path(cli_env.workdir).glob("**/*.part")) == []
