"""What the HTTP platform adapters (YouTube, Facebook) share: their collaborators, one aiohttp
session opened on first use (or given by the caller, who then closes it), a lock per destination
and session so concurrent calls for one broadcast run one at a time, alerts to the notifier, and
the run's `Secrets`: every credential and token an adapter obtains joins it at once, so it is masked
by value wherever it could appear (logs, journal, dashboard, errors), not only where a pattern
expects one."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from orchestrator.clock import Clock, SystemClock
from orchestrator.engine.ports import Journal, Notifier
from orchestrator.platforms.credentials import CredentialStore
from orchestrator.redaction import Secrets
from orchestrator.schedule.model import Session


class HttpPlatform:
    def __init__(
        self,
        credentials: CredentialStore,
        journal: Journal,
        *,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
        http: aiohttp.ClientSession | None = None,
        secrets: Secrets | None = None,
    ) -> None:
        self._credentials = credentials
        # The composition hands in the run's (the bus's); alone, a private one still masks log lines.
        self.secrets = secrets if secrets is not None else Secrets()
        self._journal = journal
        self._clock = clock or SystemClock()
        self._notifier = notifier
        self._http = http
        self._own_http = http is None
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    async def close(self) -> None:
        if self._own_http and self._http is not None:
            await self._http.close()
        self._http = None

    def _lock(self, destination_id: str, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault((destination_id, session_id), asyncio.Lock())

    def _alert(self, level: str, message: str, session: Session, d: Any) -> None:
        if self._notifier is not None:
            self._notifier.alert(level, message, session=session.id, destination=d.id)
