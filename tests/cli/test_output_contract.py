"""The output contract (issue 18, items 2 and 6): one JSON schema per record kind on both
layouts (docs/schemas/), ``--output text``, ``-q``, ``--no-progress``, ``-h``, and tables
that never wrap or cut an identifier at 40, 60, 80 and 120 columns."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from _clikit import Cli, CliEnv, process_env, run_with_stderr_on_a_terminal, versioned_command
from referencing import Registry, Resource

from versioned.cli._output import PROGRESS_THRESHOLD

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
NAME = "a-rather-long-artifact-name"
V1 = b"version one bytes"
V2 = b"version two bytes, a little longer"


def registry() -> Registry[Any]:
    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def check(kind: str, document: Any) -> None:
    """``document`` is valid against docs/schemas/{kind}.schema.json."""
    schema = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, registry=registry())
    errors = sorted(validator.iter_errors(document), key=str)
    assert not errors, f"{kind}: {[e.message for e in errors]}\n{json.dumps(document, indent=2)}"


def two_versions(cli_run: Cli, workdir: Path, name: str = NAME) -> None:
    (workdir / "v1.bin").write_bytes(V1)
    (workdir / "v2.bin").write_bytes(V2)
    cli_run("put", name, str(workdir / "v1.bin"), "-m", "team=ml", "-m", "stage=beta")
    cli_run("publish", name)
    cli_run("put", name, str(workdir / "v2.bin"))
    cli_run("publish", name)
    cli_run("alias", "set", name, "production", "1", "--canary", "2", "--weight", "10")


# ------------------------------------------------------------------ JSON, both layouts
def test_every_json_document_matches_its_schema(
    cli_repo: str, cli_run: Cli, cli_env: CliEnv
) -> None:
    work = cli_env.workdir
    (work / "v1.bin").write_bytes(V1)
    put = cli_run.json("put", "model", str(work / "v1.bin"), "-m", "team=ml")
    again = cli_run.json("put", "model", str(work / "v1.bin"), "-m", "team=ml")
    published = cli_run.json("publish", "model")
    for document in (put, again, published):
        check("artifact", document)
    assert (put["unchanged"], again["unchanged"], published["unchanged"]) == (False, True, False)
    listed = cli_run.json("versions", "model")
    for document in listed:
        check("artifact", document)
    shown = cli_run.json("show", "model", "1")
    check("artifact", shown)
    # the version's metadata in the listing too (S3-only used to say null), and one
    # content type on both layouts for an upload without --content-type
    assert [item["metadata"] for item in listed] == [{"team": "ml"}] * 2
    assert {item["content_type"] for item in listed} == {"binary/octet-stream"}
    assert shown["metadata"] == {"team": "ml"} and shown["content_type"] == "binary/octet-stream"

    alias = cli_run.json("alias", "set", "model", "prod", "1")
    check("alias", alias)
    check("alias", cli_run.json("alias", "set", "model", "prod", "LATEST"))
    check("alias", cli_run.json("alias", "get", "model", "prod"))
    for document in cli_run.json("alias", "list", "model"):
        check("alias", document)
    check("download", cli_run.json("get", "model", "1", "-o", str(work / "one.bin")))
    check("download", cli_run.json("get", "model", "--alias", "prod", "-o", str(work / "one.bin")))
    plan = cli_run.json("purge", "model", "--keep", "0", "--older-than", "0", "--dry-run")
    check("purge", plan)
    planned = [*plan["versions"], *(kept["artifact"] for kept in plan["kept"])]
    assert [item["metadata"] for item in planned] == [{"team": "ml"}] * 2
    check("verify", cli_run.json("verify"))
    check("names", cli_run.json("names"))
    check("deletion", cli_run.json("alias", "delete", "model", "prod"))
    check("purge", cli_run.json("purge", "model", "--keep", "0", "--older-than", "0"))
    cli_run("put", "model", "-", input=b"other")
    cli_run("publish", "model")
    check("deletion", cli_run.json("delete", "model", "2"))


def test_output_text_is_one_tab_separated_line_per_record(
    cli_repo: str, cli_run: Cli, cli_env: CliEnv
) -> None:
    two_versions(cli_run, cli_env.workdir, "model")
    listed = cli_run.json("versions", "model")
    lines = cli_run("versions", "model", "--output", "text").stdout.splitlines()
    assert len(lines) == len(listed) == 3
    for line, record in zip(lines, listed, strict=True):
        fields = line.split("\t")
        assert fields[:5] == [
            record["name"],
            record["version"],
            record["update_at"],
            record["s3uri"],
            record["sha256"],
        ]
        assert fields[5] == str(record["size"])
    assert lines[2].split("\t")[-1] == "stage=beta,team=ml"  # keys sorted
    # the group-level spelling, and the alias record
    alias = cli_run("--output", "text", "alias", "list", "model").stdout.splitlines()
    fields = alias[0].split("\t")
    assert fields[:2] + fields[3:6] == ["model", "production", "1", "2", "10"]
    plan = cli_run(
        "purge", "model", "--keep", "0", "--older-than", "0", "--dry-run", "--output", "text"
    )
    assert "1\tkeep\talias production" in plan.stdout.splitlines()


def test_quiet_no_progress_and_short_help(cli_repo: str, cli_run: Cli, cli_env: CliEnv) -> None:
    assert cli_run("put", "model", "-", "-q", input=V1).stdout == ""
    assert cli_run("-q", "publish", "model").stdout == ""
    assert cli_run("versions", "model", "--quiet").stdout == ""
    assert cli_run("get", "model", "1", "-q", "-o", str(cli_env.workdir / "x")).stdout == ""
    assert (cli_env.workdir / "x").read_bytes() == V1
    assert json.loads(cli_run("versions", "model", "-q", "--json").stdout)  # asked for
    assert "Usage: versioned get" in cli_run("get", "-h").stdout
    assert "--output" in cli_run("versions", "-h").stdout
    cli_run("versions", "model", "--output", "yaml", code=2)


def test_progress_in_mib_and_no_progress(cli_env: CliEnv, cli_run: Cli, tmp_path: Path) -> None:
    cli_run("bootstrap")
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x5a" * (PROGRESS_THRESHOLD + 1024 * 1024))
    env = process_env(TERM="xterm", COLUMNS="120")
    put = run_with_stderr_on_a_terminal(
        [*versioned_command(), "put", "big", str(big)], env, tmp_path / "put.log"
    )
    assert put.returncode == 0, put.terminal
    assert "MiB" in put.terminal and not re.search(r"\d MB\b", put.terminal), put.terminal
    big.write_bytes(b"\x5b" * (PROGRESS_THRESHOLD + 1024 * 1024))
    quiet = run_with_stderr_on_a_terminal(
        [*versioned_command(), "put", "big", str(big), "--no-progress"], env, tmp_path / "q.log"
    )
    assert quiet.returncode == 0 and "put big" not in quiet.terminal, quiet.terminal


# ------------------------------------------------------------------ narrow terminals
def whole_on_a_line(value: str, out: str) -> bool:
    return any(value in line for line in out.splitlines())


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_identifiers_are_never_wrapped_or_cut(
    width: int, cli_repo: str, cli_run: Cli, cli_env: CliEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_versions(cli_run, cli_env.workdir)
    listed = cli_run.json("versions", NAME)
    alias = cli_run.json("alias", "get", NAME, "production")
    monkeypatch.setenv("COLUMNS", str(width))
    outputs = {
        "versions": cli_run("versions", NAME).stdout,
        "alias list": cli_run("alias", "list", NAME).stdout,
        "alias get": cli_run("alias", "get", NAME, "production").stdout,
        "show": cli_run("show", NAME, "2").stdout,
    }
    for command, out in outputs.items():
        # the only ellipsis is the one ending a short sha256: nothing else is cut
        assert "…" not in re.sub(r"\b[0-9a-f]{12}…", "", out), (command, out)
        if width < 60:  # key: value lists
            assert all(": " in line for line in out.splitlines()[1:] if line), (command, out)
        title, *rest = out.splitlines()
        assert NAME in title  # the title names the artifact whole
        for line in rest:  # a longer line is one identifier, left to the terminal to wrap
            assert len(line) <= width or re.fullmatch(r"[a-z0-9 ]+: \S+", line), (command, out)
    for item in listed:
        assert whole_on_a_line(item["sha256"][:12], outputs["versions"])
    assert whole_on_a_line(alias["revision"], outputs["alias list"])
    assert whole_on_a_line(alias["revision"], outputs["alias get"])
    assert whole_on_a_line(alias["version_s3uri"], outputs["alias get"])
    assert whole_on_a_line(alias["secondary_version_s3uri"], outputs["alias get"])
    assert whole_on_a_line(listed[1]["s3uri"], outputs["show"])
    assert whole_on_a_line(listed[1]["sha256"], outputs["show"])
    assert whole_on_a_line(f"{len(V2)} B", outputs["versions"])
    assert whole_on_a_line("production", outputs["alias list"])
    if width >= 80:
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", outputs["versions"])
    if width < 60:
        assert "version: LATEST" in outputs["versions"].splitlines()
        assert "alias: production" in outputs["alias list"].splitlines()
        assert "canary: 2" in outputs["alias list"].splitlines()
