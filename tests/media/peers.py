"""Real aiortc peer pairs on loopback for the media tests and benches: a camera and a microphone
that can be paused (a hard drop: the peer stops sending, no goodbye) or muted."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Callable

import numpy as np
from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.mediastreams import MediaStreamTrack
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

VIDEO_CLOCK = 90_000


class Camera(MediaStreamTrack):
    """A camera filming one colour at 30 fps; `paused` stops it sending (recv waits)."""

    kind = "video"

    def __init__(self, rgb: tuple[int, int, int], size: tuple[int, int] = (320, 240), fps: int = 30) -> None:
        super().__init__()
        self.paused = False
        self.fps = fps
        self.picture = np.full((size[1], size[0], 3), rgb, np.uint8)
        self.sent: list[tuple[int, float]] = []  # (pts, wall time) of each picture handed to the encoder
        self.on_frame: Callable[[np.ndarray, int], np.ndarray] | None = None  # draw on each picture
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> VideoFrame:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        while True:
            wait = self._start + self._n / self.fps - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not self.paused:
                break
            self._n += 1  # time goes on while nothing is sent
        picture = self.on_frame(self.picture, self._n) if self.on_frame else self.picture
        frame = VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts = self._n * VIDEO_CLOCK // self.fps
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self.sent.append((self._n, time.time()))
        self._n += 1
        return frame


class Microphone(MediaStreamTrack):
    """A microphone hearing a sine at `level` (peak, linear), 20 ms frames of s16 mono at 48 kHz;
    `muted` sends digital silence, `paused` sends nothing."""

    kind = "audio"

    def __init__(self, hz: float, level: float = 0.3, bursts: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.hz = hz
        self.level = level
        self.bursts = bursts  # (every s, for s): the tone only for the first part of each period
        self.burst_sent: list[float] = []  # when each burst's first frame was handed to the peer
        self.muted = False
        self.paused = False
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        while True:
            wait = self._start + self._n / 48_000 - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not self.paused:
                break
            self._n += 960
        t = np.arange(self._n, self._n + 960) / 48_000
        level = 0.0 if self.muted else self.level
        wave = level * np.sin(2 * np.pi * self.hz * t)
        if self.bursts is not None:
            every, length = self.bursts
            on = np.mod(t, every) < length
            wave = wave * on
            starts = np.flatnonzero(on[1:] & ~on[:-1]) + 1  # a burst begins inside this frame
            if on[0] and np.mod(t[0] - 1 / 48_000, every) >= length:
                starts = np.concatenate([[0], starts])
            if starts.size:
                self.burst_sent.append(time.time())
        samples = (wave * 32767).astype(np.int16)
        frame = AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
        frame.sample_rate = 48_000
        frame.pts, frame.time_base = self._n, fractions.Fraction(1, 48_000)
        self._n += 960
        return frame


class PeerPair:
    """A sending and a receiving `RTCPeerConnection` joined in this process (SDP handed over
    directly, ICE over loopback). `received` holds the receiver's tracks by kind."""

    def __init__(self) -> None:
        self.sender = RTCPeerConnection()
        self.receiver = RTCPeerConnection()
        self.received: dict[str, MediaStreamTrack] = {}
        self._wanted = 0
        self._all = asyncio.Event()

        @self.receiver.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.received[track.kind] = track
            if len(self.received) >= self._wanted:
                self._all.set()

    def send(self, track: MediaStreamTrack, codec: str | None = None) -> None:
        """Add a track to send; `codec` (e.g. "video/H264") narrows what the offer proposes."""
        self._wanted += 1
        transceiver = self.sender.addTransceiver(track, direction="sendonly")
        if codec is not None:
            caps = RTCRtpSender.getCapabilities(track.kind)
            transceiver.setCodecPreferences(
                [c for c in caps.codecs if c.mimeType.lower() in (codec.lower(), f"{track.kind}/rtx")]
            )

    async def connect(self, timeout: float = 15.0) -> dict[str, MediaStreamTrack]:
        await self.sender.setLocalDescription(await self.sender.createOffer())
        await self.receiver.setRemoteDescription(self.sender.localDescription)
        await self.receiver.setLocalDescription(await self.receiver.createAnswer())
        await self.sender.setRemoteDescription(self.receiver.localDescription)
        await asyncio.wait_for(self._all.wait(), timeout)
        return self.received

    def offered(self) -> str:
        """The SDP the sender offered (which codecs it proposed)."""
        assert self.sender.localDescription is not None
        return str(self.sender.localDescription.sdp)

    async def close(self) -> None:
        await self.sender.close()
        await self.receiver.close()


class Listener:
    """The far end of a return or floor feed: an aiortc peer receiving the programme's track,
    recording each audio frame's samples and its arrival time."""

    def __init__(self) -> None:
        self.pair = PeerPair()
        self.frames: list[tuple[float, np.ndarray]] = []
        self.pictures: list[tuple[float, VideoFrame]] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, *tracks: MediaStreamTrack) -> None:
        for track in tracks:
            self.pair.send(track)
        got = await self.pair.connect()
        for track in got.values():
            self._tasks.append(asyncio.get_running_loop().create_task(self._drain(track)))

    async def _drain(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, AudioFrame):
                    pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0].astype(np.float32) / 32768
                    self.frames.append((time.time(), pcm))
                elif isinstance(frame, VideoFrame):
                    self.pictures.append((time.time(), frame))
        except Exception:  # MediaStreamError when the track ends
            return

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pair.close()
