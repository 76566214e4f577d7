"""Throttled pushes, the idle tick, slow or gone clients, and the command seam — without sockets."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time

import pytest

from orchestrator.web.broadcast import Broadcaster
from orchestrator.web.commands import CommandError, CommandRouter


class ListClient:
    def __init__(self, fail: bool = False, hang: bool = False) -> None:
        self.received: list[tuple[float, str]] = []
        self.closed = False
        self.fail = fail
        self.hang = hang

    async def send_str(self, data: str, compress: int | None = None) -> None:
        if self.fail:
            raise ConnectionResetError("peer went away")
        if self.hang:
            await asyncio.sleep(60)
        self.received.append((time.monotonic(), data))


async def running(b: Broadcaster) -> asyncio.Task[None]:
    task = asyncio.create_task(b.run())
    await asyncio.sleep(0.05)
    return task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_burst_of_changes_is_throttled() -> None:
    counter = iter(range(10_000))
    b = Broadcaster(lambda: str(next(counter)), tick_s=10.0, max_rate_hz=10.0)
    client = ListClient()
    b.add(client)
    task = await running(b)
    start = time.monotonic()
    while time.monotonic() - start < 0.5:  # ~250 changes in half a second
        b.notify()
        await asyncio.sleep(0.002)
    await asyncio.sleep(0.15)
    await stop(task)
    times = [t for t, _ in client.received]
    assert 3 <= len(times) <= 8  # ≤ 10/s over ~0.6 s, and the last change did go out
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.09


async def test_the_tick_pushes_when_nothing_changes() -> None:
    b = Broadcaster(lambda: "same", tick_s=0.1, max_rate_hz=50.0)
    client = ListClient()
    b.add(client)
    task = await running(b)
    await asyncio.sleep(0.45)
    await stop(task)
    assert 3 <= len(client.received) <= 6


async def test_a_change_from_another_thread_wakes_it() -> None:
    b = Broadcaster(lambda: "x", tick_s=30.0, max_rate_hz=50.0)
    client = ListClient()
    b.add(client)
    task = await running(b)
    before = len(client.received)
    threading.Thread(target=b.notify).start()
    await asyncio.sleep(0.2)
    await stop(task)
    assert len(client.received) == before + 1


async def test_gone_and_stuck_clients_are_dropped() -> None:
    b = Broadcaster(lambda: "x", send_timeout_s=0.1)
    good, gone, stuck, closed = ListClient(), ListClient(fail=True), ListClient(hang=True), ListClient()
    closed.closed = True
    for c in (good, gone, stuck, closed):
        b.add(c)
    await b.push()
    assert b.clients == {good} and len(good.received) == 1 and b.pushes == 1


async def test_only_one_run_per_broadcaster() -> None:
    b = Broadcaster(lambda: "x")
    task = await running(b)
    with pytest.raises(RuntimeError, match="already running"):
        await b.run()
    await stop(task)
    assert not b.running


# ---------------------------------------------------------------------- commands


async def test_commands_reply_and_errors_become_reply_lines() -> None:
    router = CommandRouter()
    router.register("ping", lambda: {"pong": True})

    async def hold(session: str) -> dict[str, str]:
        if session != "climate":
            raise CommandError(f"no session '{session}' to hold")
        return {"held": session}

    def broken() -> None:
        raise RuntimeError("push to rtmp://h/live/sk-LIVE-abcdef123456 failed")

    router.register("hold", hold)
    router.register("broken", broken)
    assert (await router.handle_text('{"id": 1, "command": "ping"}')).to_json() == {
        "type": "reply",
        "id": 1,
        "ok": True,
        "result": {"pong": True},
    }
    assert (await router.handle_text('{"id": 2, "command": "hold", "args": {"session": "climate"}}')).result == {
        "held": "climate"
    }
    refused = await router.handle_text('{"id": 3, "command": "hold", "args": {"session": "x"}}')
    assert not refused.ok and refused.error == "no session 'x' to hold"
    unknown = await router.handle_text('{"id": 4, "command": "go"}')
    assert unknown.error == "no command 'go'; known: broken, hold, ping"
    bad_args = await router.handle_text('{"id": 5, "command": "hold", "args": {"sesion": "climate"}}')
    assert bad_args.error == "command 'hold': missing a required argument: 'session'"
    assert "JSON object" in str((await router.handle_text("hold climate")).error)
    failed = str((await router.handle_text('{"id": 6, "command": "broken"}')).error)
    assert failed.startswith("command 'broken' failed") and "sk-LIVE" not in failed
    with pytest.raises(ValueError, match="already registered"):
        router.register("ping", lambda: None)
