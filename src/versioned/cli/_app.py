"""The ``versioned`` command group; its commands live in one module per subject:

- ``_commands_repository``: bootstrap, config, names, verify
- ``_commands_artifacts``: put, publish, versions, show, get, delete
- ``_commands_aliases``: alias set / get / list / delete
- ``_commands_lifecycle``: purge, purge-artifact, purge-all
- ``_commands_local``: sandbox, demo
- ``_commands_cache``: fetch, watch, url, cache ls / verify / prune (consumers)
- ``_commands_retention``: retention show / set / plan / apply, hold, release
- ``_commands_rollout``: rollout NAME ALIAS TO_VERSION, rollout status / resume / abort

Every command is a client of the public API only (``versioned.repository.Repository``).
"""

from __future__ import annotations

import click

from .. import __version__
from . import _commands_artifacts as artifacts
from . import _commands_cache as consumers
from . import _commands_lifecycle as lifecycle
from . import _commands_local as local
from . import _commands_repository as repository
from . import _commands_retention as retention
from . import _completion
from ._commands_aliases import alias_group
from ._commands_rollout import rollout_group
from ._contract import mode_options
from ._errors import EXIT_CODES_HELP, ErrorHandlingGroup
from ._options import parse_duration, repository_options, verbose_option
from ._settings import ALLOW_PROJECT_ENDPOINT_ENV

__all__ = ["cli", "parse_duration"]

# ------------------------------------------------------------------ the group
HELP = f"""Versioned binary artifacts on Amazon S3 (optionally with DynamoDB).

Immutable numbered versions, a mutable LATEST, and aliases that route traffic to one
version or split it with a canary.

\b
Repository selection, highest precedence first:
  1. options (--bucket, --prefix, --suffix, --region, --profile, --endpoint-url, --table),
     given before or after the command
  2. VERSIONED_BUCKET, VERSIONED_PREFIX, VERSIONED_SUFFIX, VERSIONED_REGION,
     VERSIONED_PROFILE, VERSIONED_ENDPOINT_URL, VERSIONED_TABLE
  3. the project file: the nearest versioned.toml (top-level keys) or pyproject.toml
     [tool.versioned], in this directory or one above it (up to your home directory),
     keys: bucket, prefix, suffix, region, profile, table (and endpoint_url, used
     only with {ALLOW_PROJECT_ENDPOINT_ENV}=1: a project file may not send your
     credentials elsewhere)
  4. the user file's repository chosen by --repo NAME / VERSIONED_REPO (else its
     default): [repositories.NAME] in ~/.config/versioned/config.toml
  5. AWS_REGION / AWS_DEFAULT_REGION, AWS_PROFILE, AWS_ENDPOINT_URL
`versioned config` shows each value and where it came from; shell completion:
`versioned completion --help`.
A table name selects the S3 + DynamoDB backend; without one, the S3-only backend.
Give the two backends different prefixes (or buckets): never the same one.

\b
Output (before or after the command; docs/cli-output.md):
  --output table|json|text  tables (default); one JSON document (--json for short; its
                            schema in docs/schemas/); or tab-separated lines for scripts
  -q, --quiet               errors only     --no-progress   no bar or spinner on stderr
Durations take a unit: 30d, 12h, 90m, 45s. Errors are one line on stderr; --debug adds
the traceback, -v the library's log.

{EXIT_CODES_HELP}"""


@click.group(
    "versioned",
    cls=ErrorHandlingGroup,
    help=HELP,
    context_settings={"max_content_width": 100, "help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="versioned")
@verbose_option
@repository_options
@mode_options
def cli() -> None:
    pass


for command in (
    alias_group,
    rollout_group,
    repository.bootstrap,
    repository.show_config,
    artifacts.put,
    artifacts.publish,
    artifacts.versions,
    artifacts.show_version,
    repository.names,
    artifacts.get,
    artifacts.delete,
    lifecycle.purge,
    lifecycle.purge_artifact,
    lifecycle.purge_all,
    repository.verify,
    consumers.fetch,
    consumers.watch,
    consumers.url,
    consumers.cache_group,
    local.sandbox,
    local.demo,
    _completion.completion,
    retention.retention_group,
    retention.hold,
    retention.release,
):
    cli.add_command(command)

_completion.attach(cli)
