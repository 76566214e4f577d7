"""What both emulators share: fault injection, ids, and serving an app on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import string
from dataclasses import dataclass

from aiohttp import web


@dataclass
class Fault:
    """Answer the next `count` matching calls with `status` and `reason` instead of serving them."""

    status: int
    reason: str
    count: int = 1
    method: str | None = None  # e.g. "liveBroadcasts.insert" or "live_videos.create"; None: any call
    message: str | None = None
    retry_after: float | None = None


class FaultPlan:
    """Faults queued by a test or an operator drill, consumed in order by matching calls."""

    def __init__(self) -> None:
        self._queue: list[Fault] = []

    def add(self, fault: Fault) -> None:
        if fault.count > 0:
            self._queue.append(fault)

    def clear(self) -> None:
        self._queue.clear()

    def take(self, method: str) -> Fault | None:
        for fault in self._queue:
            if fault.method is None or fault.method == method:
                fault.count -= 1
                if fault.count <= 0:
                    self._queue.remove(fault)
                return fault
        return None

    @property
    def pending(self) -> int:
        return sum(f.count for f in self._queue)


def random_id(length: int, alphabet: str = string.ascii_letters + string.digits + "-_") -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def digits(length: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(length))


async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Start `app` on host:port (0: a free port) and return the runner and its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, f"http://{host}:{bound}"


async def wait_for_stop_signal() -> None:
    """Block until SIGTERM or SIGINT (or cancellation), so a standalone emulator's `finally` blocks
    run and the nginx it started is stopped rather than orphaned."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
