"""``versioned rollout ...``: progressive rollouts of an alias to a version, with a health
check command, and the status / resume / abort of a running one."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click
from rich.live import Live
from rich.text import Text

from . import _output as out
from ._connection import Connection, connect
from ._errors import ErrorHandlingGroup
from ._lookup import explained
from ._options import json_option, parse_duration, repository_options

if TYPE_CHECKING:
    from ..rollout import RolloutProgress, RolloutStatus

SUBCOMMANDS = ("status", "resume", "abort")


class RolloutGroup(ErrorHandlingGroup):
    """``rollout NAME ALIAS TO_VERSION`` starts one; ``rollout status|resume|abort``
    manage a running one (the first word decides)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = next((a for a in args if not a.startswith("-")), None)
        if first is not None and first not in SUBCOMMANDS and "--help" not in args[:1]:
            args = ["start", *args]
        return super().parse_args(ctx, args)


def seconds(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """A duration ("5m", "1h30m", "45s") or a number of seconds (fractions allowed)."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return float(parse_duration(value))
    except ValueError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from error


def plan(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a list like 10,50,100", ctx, param) from None


def health_check(command: str | None) -> Callable[[], bool] | None:
    """The check a rollout calls: COMMAND run by the shell, healthy when it exits 0."""
    if command is None:
        return None

    def check() -> bool:
        return subprocess.run(command, shell=True, check=False).returncode == 0

    return check


def describe(status: RolloutStatus, remaining: float | None = None) -> str:
    text = (
        f"step {status.step}/{len(status.plan)}: {status.share}% to version "
        f"{status.to_version} (from {status.from_version})"
    )
    if remaining:
        text += f", bake {remaining:.0f}s left" if remaining >= 1 else ", bake ending"
    return text


@contextmanager
def live_view(label: str) -> Iterator[Callable[[RolloutProgress], None]]:
    """An on_progress callback: a Rich line on a terminal's stderr, redrawn as the bake
    runs down; otherwise one plain line per step on stdout."""
    if not out.progress_wanted():
        seen: list[int] = []

        def plain(progress: RolloutProgress) -> None:
            if progress.status.step not in seen:
                seen.append(progress.status.step)
                out.say(f"{label}: {describe(progress.status)}")

        yield plain
        return
    live = Live(Text(label), console=out.stderr_console(), transient=True, refresh_per_second=4)
    live.start()
    try:
        yield lambda p: live.update(Text(f"{label}: {describe(p.status, p.remaining_bake_secs)}"))
    finally:
        live.stop()


@click.group("rollout", cls=RolloutGroup)
def rollout_group() -> None:
    """Move an alias to a version step by step, checking health between steps.

    \b
    versioned rollout NAME ALIAS TO_VERSION [--steps 10,50,100] [--bake 5m] [--check CMD]
    versioned rollout status NAME ALIAS
    versioned rollout resume NAME ALIAS     (a rollout whose process died)
    versioned rollout abort NAME ALIAS      (back to the state before it)
    """


@rollout_group.command("start", hidden=True)
@click.argument("name")
@click.argument("alias")
@click.argument("to_version")
@click.option("--steps", default="10,50,100", callback=plan, help="Traffic shares, ending at 100.")
@click.option("--bake", default="5m", callback=seconds, help="Time between steps (5m, 30s, 0.5).")
@click.option("--check", "command", metavar="CMD", help="Health check: healthy when CMD exits 0.")
@click.option("--reason", help="Why (recorded in the alias history).")
@repository_options
@click.pass_context
def rollout_start(
    ctx: click.Context,
    name: str,
    alias: str,
    to_version: str,
    steps: tuple[int, ...],
    bake: float,
    command: str | None,
    reason: str | None,
) -> None:
    """Move ALIAS of NAME to TO_VERSION in steps (see ``versioned rollout --help``)."""
    conn = connect(ctx)
    label = f"rollout of {alias} of {name}"
    try:
        with explained(conn, name, alias), live_view(label) as view:
            final = conn.repo.rollout(
                name=name, alias=alias, to_version=to_version, steps=steps, bake_secs=bake,
                check=health_check(command), reason=reason, on_progress=view, bsm=conn.bsm,
            )  # fmt: skip
    except KeyboardInterrupt:  # Ctrl-C: put the alias back rather than leave a step
        if conn.repo.rollout_status(name=name, alias=alias, bsm=conn.bsm) is not None:
            conn.repo.abort_rollout(
                name=name, alias=alias, reason="interrupted (Ctrl-C)", force=True, bsm=conn.bsm
            )
        raise
    out.done(f"alias {alias} of {name} -> {out.describe_target(final)}")


def read_status(conn: Connection, name: str, alias: str) -> RolloutStatus | None:
    with explained(conn, name, alias):
        return conn.repo.rollout_status(name=name, alias=alias, bsm=conn.bsm)


@rollout_group.command("status")
@click.argument("name")
@click.argument("alias")
@json_option
@repository_options
@click.pass_context
def rollout_status(ctx: click.Context, name: str, alias: str, as_json: bool) -> None:
    """Show the running rollout of ALIAS of NAME (exit code 0 with none)."""
    conn = connect(ctx)
    status = read_status(conn, name, alias)
    if as_json:
        out.emit_json(None if status is None else {**vars(status), "share": status.share})
        return
    if status is None:
        out.say(f"No rollout of alias {alias} of {name} is running.")
        return
    rows: list[tuple[str, Any]] = [
        ("step", describe(status)),
        ("plan", ", ".join(f"{s}%" for s in status.plan)),
        ("bake", f"{status.bake_secs:g}s"),
        ("owner", status.owner + ("  (stopped: resume or abort it)" if status.stale else "")),
        ("started", out.format_time(status.started)),
        ("updated", out.format_time(status.updated)),
        ("reason", status.reason or ""),
    ]
    out.show(out.key_value_table(f"{name}: rollout of alias {alias}", rows))


@rollout_group.command("resume")
@click.argument("name")
@click.argument("alias")
@click.option(
    "--bake", default=None, callback=seconds, help="Time between steps (default: as started)."
)
@click.option("--check", "command", metavar="CMD", help="Health check: healthy when CMD exits 0.")
@click.option("--force", is_flag=True, help="Even while its owner still renews its lease.")
@repository_options
@click.pass_context
def rollout_resume(
    ctx: click.Context, name: str, alias: str, bake: float | None, command: str | None, force: bool
) -> None:
    """Continue the rollout of ALIAS of NAME whose process died, from its recorded step."""
    conn = connect(ctx)
    with explained(conn, name, alias), live_view(f"rollout of {alias} of {name}") as view:
        final = conn.repo.resume_rollout(
            name=name, alias=alias, check=health_check(command), force=force, bake_secs=bake,
            on_progress=view, bsm=conn.bsm,
        )  # fmt: skip
    out.done(f"alias {alias} of {name} -> {out.describe_target(final)}")


@rollout_group.command("abort")
@click.argument("name")
@click.argument("alias")
@click.option("--reason", help="Why (recorded in the alias history).")
@click.option("--force", is_flag=True, help="Even while its owner still renews its lease.")
@repository_options
@click.pass_context
def rollout_abort(
    ctx: click.Context, name: str, alias: str, reason: str | None, force: bool
) -> None:
    """Put ALIAS of NAME back as the rollout found it and end the rollout."""
    conn = connect(ctx)
    with explained(conn, name, alias):
        restored = conn.repo.abort_rollout(
            name=name, alias=alias, reason=reason, force=force, bsm=conn.bsm
        )
    out.done(f"rollout aborted; alias {alias} of {name} -> {out.describe_target(restored)}")
