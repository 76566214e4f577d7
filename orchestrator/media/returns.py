"""What people get back from the programme over WebRTC: a speaker's green-room feed (the
picture at a low rate, the floor minus their own voice) and an interpreter's floor (low delay).

The programme's thread hands each frame to a `ProgrammeTap`; the tracks' `recv()` run on the event
loop. Between the two sits a small bounded buffer that drops the oldest, so a slow peer can never
hold up or grow behind the programme."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from fractions import Fraction
from typing import Protocol

import numpy as np
import structlog
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter

from orchestrator.media.frames import Audio, AudioBuffer
from orchestrator.media.settings import AUDIO_RATE

log = structlog.get_logger(__name__)

OPUS_FRAME = 960  # 20 ms: aiortc's Opus encoder stamps one RTP timestamp per frame it is given
MAX_AUDIO_S = 0.12  # audio waiting for a peer beyond this is dropped (oldest first)
RETURN_FPS = 5
RETURN_SIZE = (320, 180)


class _Signal:
    """Wakes a coroutine on the loop from any thread; never blocks the caller."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def set(self) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is listening any more
            self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self) -> None:
        await self._event.wait()
        self._event.clear()


class ReturnAudioTrack(MediaStreamTrack):
    """48 kHz stereo s16 in 20 ms frames, from what the programme pushes (at most 120 ms queued)."""

    kind = "audio"

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self._lock = threading.Lock()
        self._buffer = AudioBuffer()
        self._signal = _Signal(asyncio.get_running_loop())
        self._pts = 0
        self.dropped_samples = 0
        self.pushed_at: deque[tuple[int, float]] = deque(maxlen=256)  # (sample index, wall time) for benches

    def push(self, chunk: Audio, wall: float | None = None) -> None:
        """From the programme's thread: one frame of sound."""
        if self.readyState != "live":
            return
        with self._lock:
            if wall is not None:
                self.pushed_at.append((self._pts + len(self._buffer), wall))
            self._buffer.push(chunk)
            excess = len(self._buffer) - int(MAX_AUDIO_S * AUDIO_RATE)
            if excess > 0:
                self._buffer.drop(excess)
                self.dropped_samples += excess
        self._signal.set()

    async def recv(self) -> AudioFrame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            with self._lock:
                if len(self._buffer) >= OPUS_FRAME:
                    chunk = self._buffer.pop(OPUS_FRAME)
                    break
            await self._signal.wait()
        pcm = (np.clip(chunk, -1.0, 1.0) * 32767).astype(np.int16)
        frame = AudioFrame.from_ndarray(pcm.T.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._pts
        frame.time_base = Fraction(1, AUDIO_RATE)
        self._pts += OPUS_FRAME
        return frame


class ReturnVideoTrack(MediaStreamTrack):
    """The programme's picture, small and at a low rate; only the newest picture is kept."""

    kind = "video"

    def __init__(self, name: str, fps: int = RETURN_FPS, size: tuple[int, int] = RETURN_SIZE) -> None:
        super().__init__()
        self.name = name
        self.fps = fps
        self._size = size
        self._lock = threading.Lock()
        self._newest: VideoFrame | None = None
        self._signal = _Signal(asyncio.get_running_loop())
        self._reformatter = VideoReformatter()
        self._index = 0

    def push(self, frame: VideoFrame) -> None:
        """From the programme's thread: one picture (scaled down here; a small cost per call)."""
        if self.readyState != "live":
            return
        small = self._reformatter.reformat(frame, self._size[0], self._size[1], "yuv420p")
        with self._lock:
            self._newest = small
        self._signal.set()

    async def recv(self) -> VideoFrame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            with self._lock:
                frame, self._newest = self._newest, None
            if frame is not None:
                break
            await self._signal.wait()
        frame.pts = self._index * (90_000 // self.fps)
        frame.time_base = Fraction(1, 90_000)
        self._index += 1
        return frame


class FrameTap(Protocol):
    """Anything fed each programme frame once it is encoded and handed to the outputs."""

    @property
    def ended(self) -> bool: ...

    def feed(self, index: int, wall: float, picture: VideoFrame, floor: Audio, speaker: str | None) -> None: ...


class ProgrammeTap:
    """One peer's return tracks on one session: fed by `Programme` after each encoded frame.
    `minus`: the person whose voice is left out of the sound (their own, while they speak)."""

    def __init__(
        self,
        video: ReturnVideoTrack | None,
        audio: ReturnAudioTrack,
        minus: str | None,
        programme_fps: int,
    ) -> None:
        self.video = video
        self.audio = audio
        self.minus = minus
        self._every = max(1, programme_fps // (video.fps if video else 1))
        self._silence: Audio | None = None

    @property
    def ended(self) -> bool:
        return self.audio.readyState != "live" and (self.video is None or self.video.readyState != "live")

    def feed(self, index: int, wall: float, picture: VideoFrame, floor: Audio, speaker: str | None) -> None:
        if self.video is not None and index % self._every == 0:
            self.video.push(picture)
        if self.minus is not None and speaker == self.minus:
            # Their own voice is what the floor carries: they hear nothing of it back (no echo).
            if self._silence is None or self._silence.shape != floor.shape:
                self._silence = np.zeros_like(floor)
            self.audio.push(self._silence, wall)
        else:
            self.audio.push(floor, wall)
