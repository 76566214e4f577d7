"""The one clock every component reads.

Two kinds of time meet here:
- *event time*: the time printed in the schedule (e.g. 2020-06-02 22:00 KST);
- *wall time*: what the machine's clock says while we run.

Live, the two are the same. In a rehearsal the event is moved to "now" and compressed: busy windows
(from a session's first preparation to its end) run `speed` times faster, and idle gaps between them
shrink to a few seconds. The mapping is piecewise linear and monotonic, so it can be inverted, which
is what lets the runner turn an action's event time into a wall time for the scheduler, and lets the
programme stamp every video frame with the event time it shows.

Pure: no asyncio, no I/O; `time.time()` is the only thing read, through an injectable function.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What every component may ask of time."""

    def now(self) -> datetime:
        """The current event time (timezone-aware, UTC)."""

    def to_wall(self, event_time: datetime) -> float:
        """Wall time (POSIX seconds) at which `event_time` happens."""

    def to_event(self, wall: float) -> datetime:
        """Event time shown at wall time `wall` (POSIX seconds)."""

    def rate_at(self, event_time: datetime) -> float:
        """Event seconds that pass per wall second around `event_time` (1 live, `speed` in a rehearsal)."""


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t.isoformat()} has no time zone")
    return t.astimezone(UTC)


class SystemClock:
    """Live: event time is wall time."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)

    def to_wall(self, event_time: datetime) -> float:
        return _utc(event_time).timestamp()

    def to_event(self, wall: float) -> datetime:
        return datetime.fromtimestamp(wall, UTC)

    def rate_at(self, event_time: datetime) -> float:
        return 1.0


@dataclass(frozen=True)
class Window:
    """A busy stretch of event time (something is being prepared or is on air)."""

    start: datetime
    end: datetime


def merge_windows(windows: Sequence[Window]) -> list[Window]:
    """Sort and merge overlapping or touching windows."""
    merged: list[Window] = []
    for w in sorted(windows, key=lambda w: w.start):
        if merged and w.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Window(last.start, max(last.end, w.end))
        else:
            merged.append(w)
    return merged


class CompressedClock:
    """Rehearsal clock: busy windows run `speed`× faster, idle gaps last `gap_s` wall seconds.

    The first busy window starts at wall time `wall_start`. Event time before the first window and
    after the last one runs at `speed` too (nothing is scheduled there, it only needs to be defined).
    """

    def __init__(
        self,
        windows: Sequence[Window],
        *,
        speed: float,
        wall_start: float,
        gap_s: float = 3.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        merged = merge_windows(windows)
        if not merged:
            raise ValueError("a compressed clock needs at least one busy window")
        self.speed = speed
        self._wall = wall
        # Breakpoints (event POSIX seconds, wall POSIX seconds); between two breakpoints the
        # mapping is linear.
        ev: list[float] = []
        wl: list[float] = []
        w_cursor = wall_start
        for i, win in enumerate(merged):
            s, e = _utc(win.start).timestamp(), _utc(win.end).timestamp()
            if i > 0:
                w_cursor += gap_s
            ev.append(s)
            wl.append(w_cursor)
            w_cursor += (e - s) / speed
            ev.append(e)
            wl.append(w_cursor)
        self._ev = ev
        self._wl = wl

    @property
    def wall_end(self) -> float:
        return self._wl[-1]

    def _segment(self, xs: list[float], x: float) -> int:
        i = bisect.bisect_right(xs, x) - 1
        return min(max(i, 0), len(xs) - 2)

    def _map(self, xs: list[float], ys: list[float], x: float, outside_rate: float) -> float:
        if x <= xs[0]:
            return ys[0] + (x - xs[0]) * outside_rate
        if x >= xs[-1]:
            return ys[-1] + (x - xs[-1]) * outside_rate
        i = self._segment(xs, x)
        x0, x1, y0, y1 = xs[i], xs[i + 1], ys[i], ys[i + 1]
        if x1 == x0:
            return y0
        return y0 + (x - x0) * (y1 - y0) / (x1 - x0)

    def to_wall(self, event_time: datetime) -> float:
        return self._map(self._ev, self._wl, _utc(event_time).timestamp(), 1 / self.speed)

    def to_event(self, wall: float) -> datetime:
        return datetime.fromtimestamp(self._map(self._wl, self._ev, wall, self.speed), UTC)

    def now(self) -> datetime:
        return self.to_event(self._wall())

    def rate_at(self, event_time: datetime) -> float:
        x = _utc(event_time).timestamp()
        if x <= self._ev[0] or x >= self._ev[-1]:
            return self.speed
        i = self._segment(self._ev, x)
        dw = self._wl[i + 1] - self._wl[i]
        de = self._ev[i + 1] - self._ev[i]
        # An idle gap squeezes a long event stretch into a few wall seconds.
        return de / dw if dw > 0 else self.speed


class ManualClock(SystemClock):
    """A clock tests move by hand: event time is wall time, and wall time is whatever was set."""

    def __init__(self, start: datetime) -> None:
        self._t = _utc(start).timestamp()
        super().__init__(wall=self.wall)

    def advance(self, delta: timedelta | float) -> None:
        self._t += delta.total_seconds() if isinstance(delta, timedelta) else delta

    def wall(self) -> float:
        return self._t
