"""Who makes a change, as alias history records it: ``VERSIONED_ACTOR`` if set, else the
caller's AWS identity (its ARN, from STS GetCallerIdentity through the session's own
endpoint and credentials, looked up at most once per session; never sent to AWS when S3
is another endpoint), else the OS user."""

from __future__ import annotations

import getpass
import logging
import os
import urllib.parse
from typing import TYPE_CHECKING

from . import _s3

if TYPE_CHECKING:
    from ._session import Session

logger = logging.getLogger(__name__)

#: names the actor of every change, whatever the credentials
ACTOR_ENV = "VERSIONED_ACTOR"


def os_user() -> str:
    """The operating system's user name, or "unknown" when it has none."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def from_environment() -> str | None:
    """``VERSIONED_ACTOR`` when it is set to something other than blanks."""
    value = os.environ.get(ACTOR_ENV, "").strip()
    return value or None


def aws_identity(session: Session) -> str | None:
    """The ARN the session's credentials belong to (one STS request on first use,
    remembered on the session); None when it cannot be found, never an error."""
    known = session.caller
    if known is None:
        known = (_look_up(session),)
        session.caller = known  # one assignment: a race only looks it up twice
    return known[0]


def _look_up(session: Session) -> str | None:
    try:
        client = _s3.make_client(session.bsm, "sts", retries=False)
        if _is_aws(client.meta.endpoint_url) and not _is_aws(session.s3.meta.endpoint_url):
            # S3 is a local or other endpoint: its credentials are not sent to AWS
            logger.debug("no AWS identity for alias history: STS would leave the endpoint")
            return None
        arn = client.get_caller_identity().get("Arn")
    except Exception as error:  # any failure: the OS user is recorded instead
        logger.debug("no AWS identity for alias history (%s: %s)", type(error).__name__, error)
        return None
    return arn if isinstance(arn, str) and arn else None


def _is_aws(url: object) -> bool:
    """Is ``url`` an AWS service endpoint (not a local or S3-compatible server)?"""
    host = urllib.parse.urlsplit(str(url)).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


def known(session: Session) -> bool:
    """Is the actor known without a request (``VERSIONED_ACTOR``, or looked up already)?"""
    return from_environment() is not None or session.caller is not None


def actor(session: Session) -> str:
    """Who an alias change is recorded as made by."""
    return from_environment() or aws_identity(session) or os_user()
