"""The heartbeat of the event loop that receives live media, for the threads and checks that
judge a live source by how long it has been silent.

A remote speaker's pictures and sound reach us through our own event loop (aiortc reads the packets
and hands decoded frames over on it), so a loop held up by our own load (a programme opening its
outputs, a slow callback, a collector pause) delays them although the speaker is fine. The media
plane's programme thread and the participants' watchdog both ask the same `LoopHeartbeat` how long
the loop could not deliver, and do not hold that time against the speaker. The composition root
hands the media plane's heartbeat to the participants adapter."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)

# The heartbeat of the loop that delivers remote pictures: a tick every HEARTBEAT_S; a tick later
# than HEARTBEAT_S + HEARTBEAT_SLACK_S means the loop was held up for the excess (the slack keeps
# ordinary timer jitter from slowing the detection of real drops). At most STALL_EXCUSE_MAX_S of
# hold-up is excused per gap between pictures: a loop stuck for good must not freeze a picture on
# air for good.
HEARTBEAT_S = 0.05
HEARTBEAT_SLACK_S = 0.02
STALL_EXCUSE_MAX_S = 2.0


class LoopHeartbeat:
    """How long the event loop that delivers pictures has been held up, for other threads.

    `run()` ticks on the loop; `stalled()` (any thread) is the total hold-up so far, including the
    one under way if the next tick is overdue. A picture gap minus the hold-up that happened during
    it is the time the sender, not we, failed to deliver. Before `run()` starts or after it ends,
    nothing counts as a hold-up."""

    def __init__(
        self,
        every_s: float = HEARTBEAT_S,
        slack_s: float = HEARTBEAT_SLACK_S,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._now = now
        self._every = every_s
        self._slack = slack_s
        self._lock = threading.Lock()
        self._last: float | None = None  # the last tick (None: not ticking)
        self._stalled = 0.0
        self.longest = 0.0  # the longest hold-up seen, for the logs and tests

    async def run(self) -> None:
        self.start()
        try:
            while True:
                await asyncio.sleep(self._every)
                self.tick()
        finally:
            with self._lock:
                self._stalled += self._overdue(self._now())
                self._last = None

    def start(self) -> None:
        with self._lock:
            self._last = self._now()

    def tick(self) -> None:
        now = self._now()
        with self._lock:
            late = self._overdue(now)
            self._stalled += late
            self._last = now
        if late > 0.1:
            self.longest = max(self.longest, late)
            log.info("live_loop_held_up", held_up_ms=round(late * 1000))

    def _overdue(self, now: float) -> float:
        if self._last is None:
            return 0.0
        return max(0.0, now - self._last - self._every - self._slack)

    def stalled(self) -> float:
        with self._lock:
            return self._stalled + self._overdue(self._now())

    def excused(self, since: float) -> float:
        """The hold-up since the heartbeat's total was `since` (a `stalled()` taken when the newest
        frame came), up to STALL_EXCUSE_MAX_S: the part of a gap between frames that is ours."""
        return excused(self.stalled(), since)


def excused(stalled: float, since: float) -> float:
    """Of two `stalled()` totals, the hold-up between them that a gap is excused (≤ STALL_EXCUSE_MAX_S)."""
    return min(max(0.0, stalled - since), STALL_EXCUSE_MAX_S)
