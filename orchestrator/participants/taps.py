"""Taps on received tracks: one task drains each aiortc track (its queue is unbounded, so it is
always read, shown or not), keeps the figures the dashboard shows (frames, resolution, level, the
time of the last frame: a drop is seen by the picture, not by ICE) and hands each frame to the
outputs attached to it (the media plane's registration, the loopback of a technical check). An
output keeps only the newest frames, so a slow reader never builds up delay."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import structlog
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from orchestrator.engine.heartbeat import LoopHeartbeat

log = structlog.get_logger(__name__)

_OUT_QUEUE = 2  # frames an output holds before the oldest is dropped
_LEVEL_EVERY = 5  # measure the sound's level on every fifth audio frame (about 10 a second)


class TapOutput(MediaStreamTrack):
    """A track fed by a tap; ends when the tap's source ends or the output is stopped."""

    def __init__(self, kind: str, on_stop: Callable[[TapOutput], None]) -> None:
        super().__init__()
        self.kind = kind
        self._queue: asyncio.Queue[Any] = asyncio.Queue(_OUT_QUEUE)
        self._on_stop = on_stop

    def offer(self, frame: Any) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(frame)

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        if frame is None:
            raise MediaStreamError
        return frame

    def end(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            if self._queue.full():
                self._queue.get_nowait()
            self._queue.put_nowait(None)

    def stop(self) -> None:
        super().stop()
        self._on_stop(self)
        self.end()


class Tap:
    """Drains one received track; `output()` gives a new track carrying the same frames."""

    def __init__(
        self,
        track: Any,
        name: str,
        now: Callable[[], float] = time.monotonic,
        heartbeat: LoopHeartbeat | None = None,
    ) -> None:
        self.kind: str = track.kind
        self.name = name
        self._track = track
        self._now = now
        self._heartbeat = heartbeat  # of the loop this tap drains on: its hold-ups are not the sender's
        self._stalled_at = 0.0
        self._outs: list[TapOutput] = []
        self.frames = 0
        self.last_at: float | None = None
        self.width = 0
        self.height = 0
        self.level_db = -120.0
        self.muted = False  # audio: frames go out as silence (microphone off, cough)
        self.ended = False
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"tap {name} {self.kind}")

    def output(self) -> TapOutput:
        out = TapOutput(self.kind, self._forget)
        if self.ended:
            out.end()
        else:
            self._outs.append(out)
        return out

    def age(self) -> float | None:
        """Seconds since the last frame (None: none yet), less the time our own loop was held up
        meanwhile and could not have read a newer one."""
        if self.last_at is None:
            return None
        excused = self._heartbeat.excused(self._stalled_at) if self._heartbeat is not None else 0.0
        return max(0.0, self._now() - self.last_at - excused)

    def _forget(self, out: TapOutput) -> None:
        with contextlib.suppress(ValueError):
            self._outs.remove(out)

    async def _run(self) -> None:
        try:
            while True:
                frame = await self._track.recv()
                self.frames += 1
                self.last_at = self._now()
                if self._heartbeat is not None:
                    self._stalled_at = self._heartbeat.stalled()
                if isinstance(frame, VideoFrame):
                    self.width, self.height = frame.width, frame.height
                elif isinstance(frame, AudioFrame):
                    if self.frames % _LEVEL_EVERY == 0:
                        self.level_db = _level_db(frame)
                    if self.muted:
                        frame = _silenced(frame)
                for out in self._outs:
                    out.offer(frame)
        except MediaStreamError:
            log.info("participant_track_ended", track=self.name, kind=self.kind, frames=self.frames)
        finally:
            self.ended = True
            for out in self._outs:
                out.end()

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def _level_db(frame: AudioFrame) -> float:
    samples = frame.to_ndarray().astype(np.float32)
    if frame.format.name.startswith("s16"):
        samples /= 32768.0
    rms = float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0
    return max(-120.0, 20 * math.log10(rms)) if rms > 0 else -120.0


def _silenced(frame: AudioFrame) -> AudioFrame:
    out = AudioFrame.from_ndarray(np.zeros_like(frame.to_ndarray()), format=frame.format.name, layout=frame.layout.name)
    out.sample_rate = frame.sample_rate
    out.pts = frame.pts
    out.time_base = frame.time_base
    return out
