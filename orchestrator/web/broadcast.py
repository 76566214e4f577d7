"""Pushes the dashboard's state to its connected clients: on every change, at most `max_rate_hz`
times a second (a burst of actions at a changeover coalesces into one push), and at least once per
`tick_s` so that clocks and countdowns keep moving when nothing happens.

Transport-agnostic: a client is anything with `send_str` and `closed` (an aiohttp
`WebSocketResponse`, or a list-backed double in tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)


class Client(Protocol):
    @property
    def closed(self) -> bool: ...

    async def send_str(self, data: str, compress: int | None = None) -> None: ...


class Broadcaster:
    def __init__(
        self,
        render: Callable[[], str],
        *,
        tick_s: float = 1.0,
        max_rate_hz: float = 4.0,
        send_timeout_s: float = 2.0,
    ) -> None:
        if tick_s <= 0 or max_rate_hz <= 0:
            raise ValueError(f"tick_s and max_rate_hz must be positive, not {tick_s} and {max_rate_hz}")
        self._render = render
        self.tick_s = tick_s
        self.min_interval_s = 1.0 / max_rate_hz
        self.send_timeout_s = send_timeout_s
        self.clients: set[Client] = set()
        self.pushes = 0  # how many pushes went out (for tests and diagnostics)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._wake: asyncio.Event | None = None
        self._pending = False

    def add(self, client: Client) -> None:
        self.clients.add(client)

    def discard(self, client: Client) -> None:
        self.clients.discard(client)

    def notify(self) -> None:
        """Something changed. Safe from any thread: platform adapters may alert from a worker."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            self._pending = True  # not running yet: the first push shows it anyway
        elif threading.get_ident() == self._thread:
            wake.set()
        else:
            loop.call_soon_threadsafe(wake.set)

    @property
    def running(self) -> bool:
        return self._loop is not None

    async def run(self) -> None:
        """Push until cancelled."""
        if self._loop is not None:
            raise RuntimeError("this broadcaster is already running (one per hub)")
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._wake = wake = asyncio.Event()
        if self._pending:
            wake.set()
        last = float("-inf")
        try:
            while True:
                until_tick = max(0.0, last + self.tick_s - time.monotonic())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=until_tick)
                # Throttle: changes arriving within the interval are folded into the next push.
                await asyncio.sleep(max(0.0, last + self.min_interval_s - time.monotonic()))
                wake.clear()
                last = time.monotonic()
                await self.push()
        finally:
            self._loop = self._thread = self._wake = None

    async def push(self) -> None:
        """One message to every client; a client that is gone or too slow is dropped."""
        clients = [c for c in self.clients if not c.closed]
        self.clients.difference_update(c for c in list(self.clients) if c.closed)
        if not clients:
            return
        message = self._render()
        self.pushes += 1
        results = await asyncio.gather(
            *(asyncio.wait_for(c.send_str(message), self.send_timeout_s) for c in clients), return_exceptions=True
        )
        for client, result in zip(clients, results, strict=False):
            if isinstance(result, Exception):
                self.clients.discard(client)
                log.info("dashboard_client_dropped", reason=type(result).__name__)
