"""Pushes the dashboard's state to its connected clients: on every change, at most `max_rate_hz`
times a second (a burst of actions at a changeover coalesces into one push), and at least once per
`tick_s` so that clocks and countdowns keep moving when nothing happens.

Every interval is decided on the injected clock's wall time (`clock.to_wall(clock.now())`), never
on a clock of its own: `step()` is one decision, so a test drives the throttle and the tick with a
`ManualClock` and no sleeping; `run()` is `step()` in a loop that waits, on the event loop, for the
next push to fall due or for a change.

Transport-agnostic: a client is anything with `send_str` and `closed` (an aiohttp
`WebSocketResponse`, or a list-backed double in tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Protocol

import structlog

from orchestrator.clock import Clock, SystemClock

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
        clock: Clock | None = None,
        tick_s: float = 1.0,
        max_rate_hz: float = 4.0,
        send_timeout_s: float = 2.0,
        urgent_rate_hz: float = 50.0,
    ) -> None:
        if tick_s <= 0 or max_rate_hz <= 0:
            raise ValueError(f"tick_s and max_rate_hz must be positive, not {tick_s} and {max_rate_hz}")
        self._render = render
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.tick_s = tick_s
        self.min_interval_s = 1.0 / max_rate_hz
        # What an operator did or must see now (an override, a changeover, an alert) skips the
        # throttle, held only to this rate so that a burst still folds into few pushes.
        self.urgent_interval_s = min(self.min_interval_s, 1.0 / urgent_rate_hz)
        self._urgent = False
        self.send_timeout_s = send_timeout_s
        self.clients: set[Client] = set()
        self.pushes = 0  # how many pushes went out (for tests and diagnostics)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._wake: asyncio.Event | None = None
        self._changed = False  # a change not yet pushed
        self._last = float("-inf")  # wall time of the last push

    def add(self, client: Client) -> None:
        self.clients.add(client)

    def discard(self, client: Client) -> None:
        self.clients.discard(client)

    def notify(self, urgent: bool = False) -> None:
        """Something changed (`urgent`: push it within `urgent_interval_s`, not the throttle's
        interval). Safe from any thread: platform adapters may alert from a worker."""
        loop = self._loop
        if loop is None:
            self._changed = True  # not running: the next step pushes it
            self._urgent = self._urgent or urgent
        elif threading.get_ident() == self._thread:
            self._mark(urgent)
        else:
            loop.call_soon_threadsafe(self._mark, urgent)

    def _mark(self, urgent: bool = False) -> None:
        self._changed = True
        self._urgent = self._urgent or urgent
        if self._wake is not None:
            self._wake.set()

    @property
    def running(self) -> bool:
        return self._loop is not None

    def wall(self) -> float:
        """The injected clock's wall time: what every interval is measured on."""
        return self.clock.to_wall(self.clock.now())

    def due_in(self, now: float) -> float:
        """Wall seconds from `now` until the next push is due (0: due now). A pending change goes
        out as soon as `min_interval_s` has passed since the last push (changes arriving in the
        meantime fold into it); without one, the tick comes `tick_s` after the last push."""
        if now < self._last:  # the wall clock was set back: measure from now rather than wait it out
            self._last = now
        interval = self.tick_s
        if self._changed:
            interval = self.urgent_interval_s if self._urgent else self.min_interval_s
        return max(0.0, self._last + interval - now)

    async def step(self) -> float:
        """Push if a push is due at the clock's wall time now; returns the wall seconds until the
        next one is due if nothing changes meanwhile."""
        now = self.wall()
        wait = self.due_in(now)
        if wait > 0:
            return wait
        self._changed = self._urgent = False
        self._last = now
        await self.push()
        return self.due_in(now)

    async def run(self) -> None:
        """Push until cancelled."""
        if self._loop is not None:
            raise RuntimeError("this broadcaster is already running (one per hub)")
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._wake = wake = asyncio.Event()
        try:
            while True:
                wait = await self.step()
                if wait <= 0:
                    continue
                # Throttled or idle: changes arriving now fold into the push that is coming; one
                # that is urgent (or the first after idling) wakes the loop to decide again.
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=wait)
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
