"""A live feed's picture age, on a fake clock, with the heartbeat of the loop that delivers it:
time the loop was held up is not the sender's silence (up to a limit); time it ran is."""

from __future__ import annotations

import pytest
from av.video.frame import VideoFrame

from orchestrator.engine.heartbeat import HEARTBEAT_S, HEARTBEAT_SLACK_S, STALL_EXCUSE_MAX_S, LoopHeartbeat
from orchestrator.media.frames import solid_yuv
from orchestrator.media.live import LiveFeed

PICTURE = VideoFrame.from_ndarray(solid_yuv(64, 36, (20, 200, 40)), format="yuv420p")


class Loop:
    """A fake clock, a heartbeat and a feed on it; `run(s, sending)` advances s seconds with the
    loop ticking (and the sender's pictures arriving at 30 fps while `sending`); `hold_up(s)`
    advances with the loop stuck: nothing ticks, nothing is delivered."""

    def __init__(self) -> None:
        self.t = 100.0
        self.beat = LoopHeartbeat(now=lambda: self.t)
        self.beat.start()
        self.feed = LiveFeed("remote x", now=lambda: self.t, gap_s=0.3, heartbeat=self.beat)
        self._next_tick = self.t + HEARTBEAT_S
        self._next_picture = self.t

    def run(self, seconds: float, sending: bool = True) -> None:
        end = self.t + seconds
        while True:
            due = min(self._next_tick, self._next_picture)
            if due > end:
                break
            self.t = due
            if due == self._next_tick:
                self.beat.tick()
                self._next_tick = self.t + HEARTBEAT_S
            else:
                if sending:
                    self.feed.put_video(PICTURE)
                self._next_picture = self.t + 1 / 30
        self.t = end

    def hold_up(self, seconds: float) -> None:
        self.t += seconds
        # what was due meanwhile happens once the loop runs again
        self._next_tick = max(self._next_tick, self.t)
        self._next_picture = max(self._next_picture, self.t)

    def age(self) -> float:
        return self.feed.picture()[1]


def test_a_held_up_loop_does_not_age_the_picture_and_keeps_the_healthy_run() -> None:
    loop = Loop()
    loop.run(2.5)
    assert loop.feed.healthy_for() > 2.0
    loop.hold_up(0.6)
    assert loop.age() < 0.1  # 0.6 s since the last picture, all of it ours
    loop.run(0.02)  # the loop runs: the backlog arrives
    assert loop.age() < 0.05 and loop.feed.healthy_for() > 2.5  # no gap: the run goes on
    assert loop.beat.longest == pytest.approx(0.6 - HEARTBEAT_S - HEARTBEAT_SLACK_S, abs=HEARTBEAT_S)


def test_a_sender_silent_while_the_loop_runs_ages_as_before() -> None:
    loop = Loop()
    loop.run(1.0)
    loop.run(0.5, sending=False)
    assert loop.age() == pytest.approx(0.5, abs=1 / 30 + 0.001)
    assert loop.feed.healthy_for() == 0.0


def test_a_sender_silent_across_a_hold_up_ages_by_the_time_the_loop_ran() -> None:
    loop = Loop()
    loop.run(1.0)
    loop.run(0.1, sending=False)
    loop.hold_up(0.8)
    loop.run(0.15, sending=False)
    # 0.1 + 0.15 s of running loop without a picture, and what the heartbeat could not tell apart
    assert 0.25 - 1 / 30 <= loop.age() <= 0.25 + HEARTBEAT_S + HEARTBEAT_SLACK_S + 0.001
    loop.run(0.2, sending=False)
    assert loop.age() > 0.3  # dropped, once the loop has run long enough


def test_a_loop_stuck_for_longer_than_the_excuse_lets_the_picture_age() -> None:
    loop = Loop()
    loop.run(1.0)
    loop.hold_up(STALL_EXCUSE_MAX_S + 1.0)
    assert loop.age() > 0.9  # a picture frozen that long goes off the air all the same


def test_a_feed_without_heartbeat_ages_by_the_clock() -> None:
    t = [0.0]
    feed = LiveFeed("studio x", now=lambda: t[0])
    feed.put_video(PICTURE)
    t[0] = 0.7
    assert feed.picture()[1] == pytest.approx(0.7)
