"""The clients of one boto session, built on first use with the library's retry policy."""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

from . import _s3

if TYPE_CHECKING:
    from boto_session_manager import BotoSesManager


class Session:
    """S3 and DynamoDB clients of exactly one ``BotoSesManager``."""

    def __init__(self, bsm: BotoSesManager) -> None:
        self.bsm = bsm
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}

    def client(self, service: str, *, retries: bool = True) -> Any:
        name = service if retries else f"{service} (one attempt)"
        client = self._clients.get(name)
        if client is None:
            with self._lock:
                client = self._clients.get(name)
                if client is None:
                    client = _s3.make_client(self.bsm, service, retries=retries)
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
