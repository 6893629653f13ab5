"""Every code block of README.md runs as written, and the example is the seed's code.

The blocks run the way the README tells a reader to: `versioned sandbox` in one terminal,
its printed `export` lines in another, then the Python snippet and the command blocks in
order in that shell. Only that environment is supplied; each block's text runs unmodified.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _clikit import LineReader, parse_exports, script_directory
from _dockit import page_blocks
from _testkit import ROOT

README = ROOT / "README.md"


def readme_blocks() -> list[tuple[str, str]]:
    """(language, text) of each fenced code block of README.md, in order."""
    return page_blocks(README)


def kind_of(language: str, text: str) -> str:
    first = text.strip().splitlines()[0]
    if language == "python":
        return "python"
    assert language == "bash", f"README block of unknown language {language!r}:\n{text}"
    if first.startswith("make "):
        return "make"
    if first.startswith("versioned sandbox"):
        return "sandbox"
    return "shell"


def blocks_of(kind: str) -> list[str]:
    return [text for language, text in readme_blocks() if kind_of(language, text) == kind]


def clean_env(tmp: Path) -> dict[str, str]:
    """The environment of a fresh terminal: no AWS or versioned settings of this machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VERSIONED_"))}
    env.update(
        AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONIOENCODING="utf-8",
        COLUMNS="80",
        PATH=f"{script_directory()}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def test_readme_blocks_are_all_known() -> None:
    kinds = [kind_of(language, text) for language, text in readme_blocks()]
    assert kinds.count("make") == 1 and kinds.count("sandbox") == 1
    assert kinds.count("python") == 1 and kinds.count("shell") >= 2
    quick_start = blocks_of("make")[0]
    assert re.search(r"^make demo\b", quick_start, re.MULTILINE)
    assert re.search(r"^make test\b", quick_start, re.MULTILINE)


def test_quick_start_targets_exist() -> None:
    """`make demo` and `make test` are real targets (dry run: `make test` is what runs
    this very test, and `versioned demo`, the demo's recipe, has its own test)."""
    targets = re.findall(r"^make (\w+)", blocks_of("make")[0], re.MULTILINE)
    completed = subprocess.run(
        ["make", "-n", *targets], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "versioned demo" in completed.stdout
    assert "pytest" in completed.stdout
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.fixture(scope="module")
def terminal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    """The README's sandbox block running as written; yields the environment of a second
    terminal that ran its printed exports, and that terminal's working directory."""
    tmp = tmp_path_factory.mktemp("readme")
    env = clean_env(tmp)
    process = subprocess.Popen(
        ["bash", "-c", blocks_of("sandbox")[0]],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        lines = LineReader(process).until("Press Ctrl-C", timeout=60)
        exports = parse_exports(lines)
        assert {"AWS_ENDPOINT_URL", "VERSIONED_ENDPOINT_URL", "AWS_ACCESS_KEY_ID"} <= set(exports)
        workdir = tmp / "work"
        workdir.mkdir()
        yield {**env, **exports}, workdir
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_python_block_runs_as_written(terminal: tuple[dict[str, str], Path]) -> None:
    env, workdir = terminal
    completed = subprocess.run(
        [sys.executable, "-c", blocks_of("python")[0]],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert (workdir / "m.onnx").read_bytes() == b"weights of version 1"  # prod's primary


def test_command_blocks_run_in_order(terminal: tuple[dict[str, str], Path]) -> None:
    env, workdir = terminal
    session = "set -euo pipefail\n" + "\n".join(blocks_of("shell"))
    completed = subprocess.run(
        ["bash", "-c", session],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert (workdir / "prod.onnx").read_text() == "weights v1\n"
    out = completed.stdout
    assert "alias prod of model: 1 -> 1 + 10% to 2" in out
    assert "alias prod of model: 1 + 10% to 2 -> 1" in out
    assert (workdir / "model").read_text() == "weights v2\n"  # `versioned get model 2`
    assert re.search(r"^model\t1\t", out, re.MULTILINE)  # `versions model --output text`
    assert "content type" in out  # `versioned show model latest`
    assert "Would purge nothing of model" in out and "among the newest 5" in out
    # tables fit the 80 columns of the terminal (one-line messages are never wrapped;
    # text output is one line per record, however long)
    tables = [line for line in out.splitlines() if not line.startswith("✓ ") and "\t" not in line]
    assert [line for line in tables if len(line) > 80] == []


# ------------------------------------------------------------------ the example
EXAMPLE = ROOT / "examples" / "s3_only_quickstart.py"
SEED = ROOT / "examples" / "s3-only-backend-quickstart.txt"


def test_example_cites_only_files_of_the_repository() -> None:
    cited = re.findall(r"[\w./-]+\.(?:txt|py|md)\b", EXAMPLE.read_text().split("# ---- In")[0])
    assert cited
    for path in cited:
        assert (ROOT / path).is_file(), path


def test_example_is_every_code_cell_of_the_seed_verbatim() -> None:
    text = EXAMPLE.read_text()
    cells = re.split(r"^# ---- In \[(\d+)\] ----\n", text, flags=re.MULTILINE)
    numbers = [int(number) for number in cells[1::2]]
    seed_cells = re.findall(r"^In \[(\d+)\]:\n", SEED.read_text(), re.MULTILINE)
    assert numbers == [int(number) for number in seed_cells]
    seed = SEED.read_text()
    for number, code in zip(numbers, cells[2::2], strict=True):
        marker = f"In [{number}]:\n{code.rstrip()}\n"
        assert marker in seed, f"cell {number} is not verbatim"
        after = seed[seed.index(marker) + len(marker) :]
        next_cell = after.find("\nIn [")
        rest = after if next_cell < 0 else after[:next_cell]
        # what follows the cell's code in the guide is its printed output, never code
        code_line = r"^(?:(?:print|rprint|repo|for|import|from|def)\b|# )"
        assert not re.search(code_line, rest, re.MULTILINE), (
            f"cell {number} stops early:\n{rest[:300]}"
        )
