"""Benchmark `dashboard`: how soon a change reaches the dashboard's pages, and whether the
throttle and the tick keep their intervals, on the real clock and event loop.

1. Latency: `--changes` single changes, each after the throttle interval has passed, from
   `notify()` (on the loop, and from another thread) to the client holding the message.
   Target: a few ms.
2. Burst: a change every 2 ms for `--burst-s` seconds at `max_rate_hz` 10. Target: pushes never
   closer than 100 ms, at most 10 a second, the last change out within 100 ms of being made.
3. Tick: no changes for `--burst-s` seconds with `tick_s` 0.1. Target: a push every 100 ms.

Last line: JSON with `bench`, `push_latency_ms_p50`, `push_latency_ms_max`,
`thread_push_latency_ms_max`, `burst_pushes_per_s`, `burst_min_gap_ms`, `burst_last_change_ms`,
`tick_interval_ms_mean`, `tick_interval_ms_max`.

    python scripts/bench/dashboard.py [--changes 50] [--burst-s 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import threading
import time

import numpy as np

from orchestrator.web.broadcast import Broadcaster


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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--burst-s", type=float, default=2.0)
    args = parser.parse_args()

    lat = np.array(await latency(args.changes, from_thread=False))
    lat_thread = np.array(await latency(args.changes, from_thread=True))
    gaps, last_change_ms, pushes = await burst(args.burst_s)
    ticks = np.array(await tick(args.burst_s))
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
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
