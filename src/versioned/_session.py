"""The clients of one boto session, built on first use with the library's retry policy."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.config import Config

from . import _model, _s3

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager

logger = logging.getLogger(__name__)


class ServerClock:
    """The servers' clock, as their answers tell it: the Date header of the latest
    response to a client of the session, moved on by the monotonic time since it came.

    Rules that compare a time the server recorded (an object's LastModified) with "now"
    read this, so a client whose wall clock is wrong measures ages as the server does.
    It costs no request: every answer carries a Date (whole seconds)."""

    def __init__(self) -> None:
        self._seen: tuple[datetime, float] | None = None

    def note(self, parsed: object = None, **_: Any) -> None:
        """botocore's ``after-call`` hook: remember the response's Date."""
        moment = _s3.served_at(parsed) if isinstance(parsed, Mapping) else None
        if moment is not None:
            self._seen = (moment, time.monotonic())  # one assignment: threads may race

    def now(self) -> datetime:
        """The server's time now; the local clock when no response carried a Date."""
        seen = self._seen
        if seen is None:
            logger.debug("no response carried a Date header: using the local clock")
            return _model.utc_now()
        served, at = seen
        return served + timedelta(seconds=time.monotonic() - at)


def unsigned_part(request: Any, **_: Any) -> None:
    """botocore's ``before-sign`` hook of UploadPart: a part that carries its SHA-256
    checksum (a signed header S3 checks the body against) is signed with UNSIGNED-PAYLOAD,
    as botocore does by itself over HTTPS, rather than hashed once more for the signature
    (botocore does that over plain HTTP: a fourth pass over every byte of a large put).
    A payload signing setting the session's config gives explicitly is kept."""
    config = request.context.get("client_config")
    if config is None or "x-amz-checksum-sha256" not in request.headers:
        return
    s3 = dict(config.s3 or {})
    if "payload_signing_enabled" in s3:
        return
    s3["payload_signing_enabled"] = False
    request.context["client_config"] = config.merge(Config(s3=s3))


class Session:
    """S3 and DynamoDB clients of exactly one ``BotoSesManager``."""

    def __init__(self, bsm: BotoSesManager) -> None:
        self.bsm = bsm
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self.clock = ServerClock()
        #: who the credentials are, as alias history records it: looked up at most once
        #: (a 1-tuple once looked up; its value None when the lookup failed)
        self.caller: tuple[str | None] | None = None

    def client(self, service: str, *, retries: bool = True) -> Any:
        name = service if retries else f"{service} (one attempt)"
        client = self._clients.get(name)
        if client is None:
            with self._lock:
                client = self._clients.get(name)
                if client is None:
                    client = _s3.make_client(self.bsm, service, retries=retries)
                    client.meta.events.register("after-call", self.clock.note)
                    if service == "s3":
                        client.meta.events.register("before-sign.s3.UploadPart", unsigned_part)
                    self._clients[name] = client
        return client

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def s3_once(self) -> Any:
        """An S3 client that sends each request once (for requests the library re-sends
        itself, after looking at what the last attempt did)."""
        return self.client("s3", retries=False)

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")


class Sessions:
    """One :class:`Session` per ``BotoSesManager``, kept while that manager lives (a
    per-repository cache: nothing is shared between repositories)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_bsm: weakref.WeakKeyDictionary[Any, Session] = weakref.WeakKeyDictionary()

    def of(self, bsm: BotoSesManager) -> Session:
        session = self._by_bsm.get(bsm)
        if session is None:
            with self._lock:
                session = self._by_bsm.get(bsm)
                if session is None:
                    session = Session(bsm)
                    self._by_bsm[bsm] = session
        return session
