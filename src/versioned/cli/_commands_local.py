"""Commands that run a local endpoint: ``sandbox`` and ``demo``."""

from __future__ import annotations

import signal
import sys
import time
from typing import Final

import click
from rich.console import Console

from .. import constants

__all__ = ["SANDBOX_DYNAMODB_PREFIX", "SANDBOX_TABLE", "demo", "sandbox", "sandbox_lines"]

#: The sandbox's DynamoDB layout gets its own prefix: the two layouts must never share one.
SANDBOX_TABLE: Final = "versioned-sandbox"
SANDBOX_DYNAMODB_PREFIX: Final = f"{constants.S3_PREFIX}-dynamodb"


def sandbox_lines(endpoint_url: str, bucket: str) -> list[str]:
    from ._sandbox import export_lines

    return [
        f"Local S3 + DynamoDB endpoint (moto) on {endpoint_url}; bucket {bucket!r} created.",
        "In another shell, run:",
        "",
        *export_lines(endpoint_url, bucket),
        "",
        f"That is the S3-only layout (prefix {constants.S3_PREFIX}). For the S3 + DynamoDB layout,",
        "use its own prefix, never the S3-only one:",
        f"  export VERSIONED_TABLE={SANDBOX_TABLE} "
        f"VERSIONED_PREFIX={SANDBOX_DYNAMODB_PREFIX} && versioned bootstrap",
        "and to go back to the S3-only layout: unset VERSIONED_TABLE VERSIONED_PREFIX",
        "Press Ctrl-C to stop (all data is in memory and goes with the server).",
    ]


def moved_note(port: int | None, endpoint_url: str) -> str | None:
    """What to say when the preferred port was taken and the sandbox listens elsewhere
    (a shell that exported the other sandbox's lines keeps talking to that one)."""
    from ._sandbox import PREFERRED_PORT

    if port is not None or endpoint_url.endswith(f":{PREFERRED_PORT}"):
        return None
    actual = endpoint_url.rsplit(":", 1)[-1]
    return (
        f"port {PREFERRED_PORT} is in use (another `versioned sandbox`?), so this one "
        f"listens on port {actual}: a shell that exported the other's lines still talks to "
        f"the other. Export the lines above where you want this one, or stop the other and "
        f"run `versioned sandbox --port {PREFERRED_PORT}`."
    )


@click.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port on 127.0.0.1 [default: 5000, or a free one if 5000 is taken; 0: a free one].",
)
@click.option("--bucket", default="versioned-sandbox", show_default=True, help="Bucket to create.")
@click.option("--verbose", is_flag=True, help="Log every request the endpoint serves.")
def sandbox(port: int | None, bucket: str, verbose: bool) -> None:
    """Run a local S3 + DynamoDB endpoint.

    A moto server on 127.0.0.1, in the foreground until Ctrl-C.

    Prints the environment to export in another shell so that both this command line and
    the library (through boto3's AWS_ENDPOINT_URL) use it, and the settings that give
    the S3 + DynamoDB layout a prefix of its own. Needs moto[server].
    """
    from .. import s3_only_backend
    from ._sandbox import moto_endpoint, sandbox_session

    with moto_endpoint(port, quiet=not verbose) as endpoint_url:
        s3_only_backend.Repository(aws_region="us-east-1", s3_bucket=bucket).bootstrap(
            bsm=sandbox_session(endpoint_url)
        )
        # Stop on Ctrl-C or SIGTERM, even when started with SIGINT ignored (as background
        # jobs of a non-interactive shell are, which Python would otherwise inherit).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        click.echo("\n".join(sandbox_lines(endpoint_url, bucket)))
        moved = moved_note(port, endpoint_url)
        if moved:
            click.echo(click.style("Note: ", fg="yellow", bold=True) + moved, err=True)
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("\nSandbox stopped.")


@click.command()
@click.option(
    "--backend",
    type=click.Choice(["all", "s3", "dynamodb"]),
    default="all",
    show_default=True,
    help="Which storage layout(s) to run the story on.",
)
def demo(backend: str) -> None:
    """Run the quick-start story on a local endpoint.

    Starts a moto server on 127.0.0.1, runs put, publish, aliases, a blue/green switch, a
    canary with its measured split, a rollback and a purge through the library on each
    backend, printing every step, and stops the server. Exit code 1 if any check fails.
    Needs moto[server].
    """
    from ._demo import run_demo

    if not run_demo(Console(highlight=False), backend):
        raise click.exceptions.Exit(1)
