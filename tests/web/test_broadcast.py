"""Throttled pushes, the idle tick, slow or gone clients, and the command seam — without sockets."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest

from orchestrator.clock import CompressedClock, ManualClock, Window
from orchestrator.web.broadcast import Broadcaster
from orchestrator.web.commands import CommandError, CommandRouter

START = datetime(2020, 6, 2, 13, 0, tzinfo=UTC)


class ListClient:
    def __init__(self, fail: bool = False, hang: bool = False) -> None:
        self.received: list[str] = []
        self.closed = False
        self.fail = fail
        self.hang = hang

    async def send_str(self, data: str, compress: int | None = None) -> None:
        if self.fail:
            raise ConnectionResetError("peer went away")
        if self.hang:
            await asyncio.sleep(60)
        self.received.append(data)


def counting(clock: ManualClock, **kwargs: float) -> tuple[Broadcaster, ListClient]:
    """A broadcaster on `clock` whose every render is a new number, with one client."""
    counter = iter(range(10_000))
    b = Broadcaster(lambda: str(next(counter)), clock=clock, **kwargs)
    client = ListClient()
    b.add(client)
    return b, client


async def settle(condition=lambda: False, turns: int = 200) -> None:  # type: ignore[no-untyped-def]
    """Let the event loop run `turns` rounds (no wall-clock waiting), or fewer once `condition` holds."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)


async def running(b: Broadcaster, client: ListClient) -> asyncio.Task[None]:
    task = asyncio.create_task(b.run())
    await settle(lambda: b.running and client.received)  # the first push goes out at once
    return task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_the_clock_defaults_to_the_system_clock_and_intervals_are_checked() -> None:
    from orchestrator.clock import SystemClock

    assert isinstance(Broadcaster(lambda: "x").clock, SystemClock)
    with pytest.raises(ValueError, match="must be positive"):
        Broadcaster(lambda: "x", tick_s=0)
    with pytest.raises(ValueError, match="must be positive"):
        Broadcaster(lambda: "x", max_rate_hz=-1)


async def test_a_burst_of_changes_is_throttled() -> None:
    # The clock's wall time goes through a datetime: exact to the microsecond.
    clock = ManualClock(START)
    b, client = counting(clock, tick_s=10.0, max_rate_hz=8.0)  # at most one push per 1/8 s
    assert await b.step() == 10.0  # the first push goes out at once; then the tick is 10 s away
    assert client.received == ["0"]
    # 256 changes, one every 1/512 s (about 2 ms) for half a second: a push as soon as 1/8 s has
    # passed since the previous one, each showing the state as it is then.
    pushed_at = [0]
    for n in range(1, 257):
        clock.advance(1 / 512)
        b.notify()
        before = b.pushes
        wait = await b.step()
        if b.pushes > before:
            pushed_at.append(n)
            assert wait == 10.0  # nothing pending after a push
        else:
            assert wait == pytest.approx((64 - n % 64) / 512, abs=1e-6)  # held back until 1/8 s after the last push
    assert pushed_at == [0, 64, 128, 192, 256]
    assert client.received == ["0", "1", "2", "3", "4"]
    # The last change did go out with the push at 0.5 s: nothing is pending.
    assert await b.step() == 10.0 and b.pushes == 5
    clock.advance(1 / 16)
    b.notify()  # one more change, half way through the interval: held back, then pushed
    assert await b.step() == 1 / 16 and b.pushes == 5
    clock.advance(1 / 16)
    await b.step()
    assert b.pushes == 6 and client.received[-1] == "5"


async def test_the_tick_pushes_when_nothing_changes() -> None:
    clock = ManualClock(START)
    b, client = counting(clock, tick_s=1 / 8, max_rate_hz=50.0)
    await b.step()
    for _ in range(36):  # 0.5625 s in 1/64 s steps: the ticks at 1/8, 2/8, 3/8 and 4/8 s
        clock.advance(1 / 64)
        await b.step()
    assert b.pushes == len(client.received) == 5
    assert await b.step() == 1 / 16  # the next tick is due at 5/8 s


async def test_a_change_is_pushed_at_once_when_the_last_push_is_old_enough() -> None:
    clock = ManualClock(START)
    b, client = counting(clock, tick_s=30.0, max_rate_hz=4.0)
    await b.step()
    clock.advance(1.0)
    assert await b.step() == pytest.approx(29.0) and b.pushes == 1  # nothing changed: no push
    b.notify()
    assert await b.step() == pytest.approx(30.0) and client.received == ["0", "1"]


async def test_intervals_are_wall_seconds_of_a_compressed_clock() -> None:
    """In a rehearsal event time runs 60× faster; the dashboard still ticks on wall seconds."""
    wall = [1_000.0]
    clock = CompressedClock([Window(START, START.replace(hour=15))], speed=60, wall_start=1_000.0, wall=lambda: wall[0])
    b = Broadcaster(lambda: "x", clock=clock, tick_s=1.0)  # type: ignore[arg-type]
    b.add(client := ListClient())
    await b.step()
    wall[0] += 0.5  # 30 event seconds
    assert await b.step() == pytest.approx(0.5, abs=1e-5) and b.pushes == 1
    wall[0] += 0.5
    await b.step()
    assert b.pushes == 2 and len(client.received) == 2


async def test_the_run_loop_decides_on_the_injected_clock() -> None:
    clock = ManualClock(START)
    b, client = counting(clock, tick_s=1 / 1024, max_rate_hz=50.0)
    task = await running(b, client)
    assert client.received == ["0"]
    # Real time passes, the injected clock stands still: no tick is due.
    await asyncio.sleep(0.05)
    assert b.pushes == 1
    clock.advance(1 / 1024)  # the clock reaches the tick: the loop, polling every (real) ms, pushes
    for _ in range(10_000):  # only a guard against never
        if b.pushes == 2:
            break
        await asyncio.sleep(0.001)
    await stop(task)
    assert client.received == ["0", "1"]


async def test_a_change_from_another_thread_wakes_it() -> None:
    clock = ManualClock(START)
    b, client = counting(clock, tick_s=30.0, max_rate_hz=50.0)
    task = await running(b, client)
    await settle()
    assert b.pushes == 1  # waiting for the tick, 30 s away on the clock
    clock.advance(1.0)  # past the throttle interval, long before the tick
    thread = threading.Thread(target=b.notify)
    thread.start()
    thread.join()
    await settle(lambda: b.pushes == 2)
    await settle()
    await stop(task)
    assert client.received == ["0", "1"]


async def test_gone_and_stuck_clients_are_dropped() -> None:
    b = Broadcaster(lambda: "x", send_timeout_s=0.1)
    good, gone, stuck, closed = ListClient(), ListClient(fail=True), ListClient(hang=True), ListClient()
    closed.closed = True
    for c in (good, gone, stuck, closed):
        b.add(c)
    await b.push()
    assert b.clients == {good} and len(good.received) == 1 and b.pushes == 1


async def test_only_one_run_per_broadcaster() -> None:
    b = Broadcaster(lambda: "x", clock=ManualClock(START))
    b.add(client := ListClient())
    task = await running(b, client)
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
