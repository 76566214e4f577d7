"""Benchmark `dashboard`: how soon a change reaches the dashboard's pages, and whether the
throttle and the tick keep their intervals, on the real clock and event loop.

1. Latency: `--changes` single changes, each after the throttle interval has passed, from
   `notify()` (on the loop, and from another thread) to the client holding the message.
   Target: a few ms.
2. Burst: a change every 2 ms for `--burst-s` seconds at `max_rate_hz` 10. Target: pushes never
   closer than 100 ms, at most 10 a second, the last change out within 100 ms of being made.
3. Tick: no changes for `--burst-s` seconds with `tick_s` 0.1. Target: a push every 100 ms.

4. State to client: the real dashboard (hub, aiohttp, WebSocket) of a real schedule
   (schedules/cac-2020.yaml, its whole plan in every snapshot), `--clients` WebSocket clients on a
   loop of their own (another thread); an engine state change is an operator's command as the
   control module announces it (`OverrideApplied` on the event bus), `--changes` of them at random
   intervals while a run's ordinary events (actions finishing) keep the throttle busy. Measured:
   from the publish to each client holding the snapshot that shows it. Target: p95 ≤ 100 ms.

Last line: JSON with `bench`, `push_latency_ms_p50`, `push_latency_ms_max`,
`thread_push_latency_ms_max`, `burst_pushes_per_s`, `burst_min_gap_ms`, `burst_last_change_ms`,
`tick_interval_ms_mean`, `tick_interval_ms_max`, `clients`, `snapshot_kb`,
`state_to_client_ms_p50`, `state_to_client_ms_p95`, `state_to_client_ms_max`.

    python scripts/bench/dashboard.py [--changes 50] [--burst-s 2] [--clients 20] [--state-changes 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from orchestrator.web.broadcast import Broadcaster

ROOT = Path(__file__).resolve().parents[2]


class TimedClient:
    def __init__(self) -> None:
        self.closed = False
        self.received: list[tuple[float, str]] = []
        self.arrived = asyncio.Event()

    async def send_str(self, data: str, compress: int | None = None) -> None:
        self.received.append((time.perf_counter(), data))
        self.arrived.set()


async def started(b: Broadcaster, client: TimedClient) -> asyncio.Task[None]:
    task = asyncio.create_task(b.run())
    await client.arrived.wait()  # the first push goes out at once
    return task


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def latency(changes: int, from_thread: bool) -> list[float]:
    b = Broadcaster(lambda: "x", tick_s=60.0, max_rate_hz=20.0)
    client = TimedClient()
    b.add(client)
    task = await started(b, client)
    out = []
    for _ in range(changes):
        await asyncio.sleep(b.min_interval_s * 1.5)  # past the throttle: measure the wake-up alone
        client.arrived.clear()
        t = time.perf_counter()
        if from_thread:
            threading.Thread(target=b.notify).start()
        else:
            b.notify()
        await client.arrived.wait()
        out.append((client.received[-1][0] - t) * 1000)
    await stopped(task)
    return out


async def burst(seconds: float) -> tuple[list[float], float, int]:
    version = [0]
    b = Broadcaster(lambda: str(version[0]), tick_s=60.0, max_rate_hz=10.0)
    client = TimedClient()
    b.add(client)
    task = await started(b, client)
    start = time.perf_counter()
    last_change = start
    while time.perf_counter() - start < seconds:
        version[0] += 1
        b.notify()
        last_change = time.perf_counter()
        await asyncio.sleep(0.002)
    await asyncio.sleep(0.3)
    await stopped(task)
    times = [t for t, _ in client.received]
    gaps = [(y - x) * 1000 for x, y in itertools.pairwise(times)]
    # The push that carried the last change: the first one after it was made.
    carried = next(t for t in times if t >= last_change)
    pushes_in_burst = sum(start < t <= last_change for t in times)
    if client.received[-1][1] != str(version[0]):
        raise SystemExit("the last change never went out")
    return gaps, (carried - last_change) * 1000, pushes_in_burst


async def tick(seconds: float) -> list[float]:
    b = Broadcaster(lambda: "same", tick_s=0.1, max_rate_hz=50.0)
    client = TimedClient()
    b.add(client)
    task = await started(b, client)
    await asyncio.sleep(seconds)
    await stopped(task)
    times = [t for t, _ in client.received]
    return [(y - x) * 1000 for x, y in itertools.pairwise(times)]


async def state_to_client(clients: int, changes: int) -> tuple[list[float], int]:
    """Publish `changes` commands on the bus; return each client's delay (ms) and the snapshot size."""
    import aiohttp

    from orchestrator.clock import SystemClock
    from orchestrator.engine.events import ActionFinished, ActionResult, EventBus, OverrideApplied
    from orchestrator.planning.plan import plan
    from orchestrator.schedule.loader import load_schedule
    from orchestrator.web.app import serve_dashboard
    from orchestrator.web.hub import DashboardHub

    schedule = load_schedule(ROOT / "schedules" / "cac-2020.yaml")
    the_plan = plan(schedule)
    clock = SystemClock()
    bus = EventBus(clock)
    bus.bind(asyncio.get_running_loop())
    hub = DashboardHub(schedule, clock, secrets=bus.secrets, plan=the_plan)
    bus.subscribe(hub)
    runner, url = await serve_dashboard(hub)
    published: dict[int, float] = {}
    seen: dict[int, list[float]] = {i: [] for i in range(1, changes + 1)}
    ready = threading.Event()
    stop = threading.Event()
    sizes: list[int] = []

    def client_side() -> None:
        async def one() -> None:
            async with aiohttp.ClientSession() as http, http.ws_connect(url + "/ws", max_msg_size=0) as ws:
                got: set[int] = set()
                first = True
                while not stop.is_set():
                    try:
                        msg = await ws.receive(timeout=0.5)
                    except TimeoutError:
                        continue
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        return
                    at = time.perf_counter()
                    data = json.loads(msg.data)
                    if first:
                        sizes.append(len(msg.data))
                        first = False
                    for o in data["data"].get("overrides", []):
                        if o["seq"] not in got and o["seq"] in seen:
                            got.add(o["seq"])
                            seen[o["seq"]].append(at)

        async def all_of_them() -> None:
            tasks = [asyncio.create_task(one()) for _ in range(clients)]
            await asyncio.sleep(1.0)
            ready.set()
            await asyncio.gather(*tasks)

        asyncio.run(all_of_them())

    thread = threading.Thread(target=client_side, daemon=True)
    thread.start()
    await asyncio.to_thread(ready.wait, 20)
    rng = random.Random(9)
    actions = list(the_plan.actions)
    for seq in range(1, changes + 1):
        # the run goes on meanwhile: ordinary (throttled) changes between the commands
        for _ in range(rng.randint(0, 5)):
            bus.publish(ActionFinished(ActionResult(rng.choice(actions), "ok", clock.now(), 1.0)))
            await asyncio.sleep(rng.uniform(0.0, 0.03))
        await asyncio.sleep(rng.uniform(0.05, 0.3))
        published[seq] = time.perf_counter()
        bus.publish(OverrideApplied(seq, "bench", "hold", "s1", {}, datetime.now(UTC), "bench"))
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.to_thread(thread.join, 10)
    await runner.cleanup()
    delays = [(t - published[seq]) * 1000 for seq, ts in seen.items() for t in ts]
    missing = sum(clients - len(ts) for ts in seen.values())
    if missing:
        raise SystemExit(f"{missing} of {clients * changes} changes never reached their client")
    return delays, max(sizes) if sizes else 0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--burst-s", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--state-changes", type=int, default=60)
    args = parser.parse_args()

    lat = np.array(await latency(args.changes, from_thread=False))
    lat_thread = np.array(await latency(args.changes, from_thread=True))
    gaps, last_change_ms, pushes = await burst(args.burst_s)
    ticks = np.array(await tick(args.burst_s))
    delays, snapshot_bytes = await state_to_client(args.clients, args.state_changes)
    d = np.array(delays)
    print(
        f"push latency: p50 {np.median(lat):.2f} ms, max {lat.max():.2f} ms "
        f"(from a thread: p50 {np.median(lat_thread):.2f} ms, max {lat_thread.max():.2f} ms)"
    )
    print(
        f"burst at 10 Hz for {args.burst_s:g} s: {pushes} pushes ({pushes / args.burst_s:.1f}/s), "
        f"gaps min {min(gaps):.1f} ms, last change out after {last_change_ms:.1f} ms"
    )
    print(f"tick 100 ms: intervals mean {ticks.mean():.1f} ms, min {ticks.min():.1f} ms, max {ticks.max():.1f} ms")
    print(
        f"state to {args.clients} clients ({len(d)} deliveries, snapshot {snapshot_bytes / 1024:.1f} KiB): "
        f"p50 {np.median(d):.1f} ms, p95 {np.percentile(d, 95):.1f} ms, max {d.max():.1f} ms"
    )
    print(
        json.dumps(
            {
                "bench": "dashboard",
                "push_latency_ms_p50": round(float(np.median(lat)), 2),
                "push_latency_ms_max": round(float(lat.max()), 2),
                "thread_push_latency_ms_max": round(float(lat_thread.max()), 2),
                "burst_pushes_per_s": round(pushes / args.burst_s, 2),
                "burst_min_gap_ms": round(min(gaps), 1),
                "burst_last_change_ms": round(last_change_ms, 1),
                "tick_interval_ms_mean": round(float(ticks.mean()), 1),
                "tick_interval_ms_max": round(float(ticks.max()), 1),
                "clients": args.clients,
                "snapshot_kb": round(snapshot_bytes / 1024, 1),
                "state_to_client_ms_p50": round(float(np.median(d)), 1),
                "state_to_client_ms_p95": round(float(np.percentile(d, 95)), 1),
                "state_to_client_ms_max": round(float(d.max()), 1),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
