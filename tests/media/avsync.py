"""Lip-sync measurement for the media tests and the latency bench: a remote speaker whose camera
flashes and whose microphone clicks at the same instants, and a reader that finds both in what the
programme put out (an FLV file, or an RTMP stream played back from nginx) by media timestamps.

The camera and the microphone share one epoch: picture n is handed to the peer connection at
epoch + n/fps, and the audio frame holding sample k at epoch + k/48000 (a 20 ms frame as soon as its
first sample is due), so the flash of picture `s * fps` and the click at sample `s * 48000` leave
the speaker at the same moment. In the output, offset = click's time − flash's time: positive when
the sound is late (the picture leads), negative when it is early."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame
from peers import Camera, Microphone

EVERY_S = 1.0  # one flash and one click a second
FLASH_FRAMES = 3  # the flash lasts 100 ms: white pictures, and the click's tone burst as long
CLICK_HZ = 1000.0
CLICK_LEVEL = 0.5
FLASH_LUMA = 160  # mean luma of a flash picture's centre is far above this; the speaker's far below
CLICK_THRESHOLD = 0.1  # |sample| above this starts a click (the tone peaks at 0.5)


class Epoch:
    """The one loop time both tracks count from, taken by whichever asks first."""

    def __init__(self) -> None:
        self.start: float | None = None

    def get(self) -> float:
        if self.start is None:
            self.start = asyncio.get_running_loop().time()
        return self.start


class FlashingCamera(Camera):
    """A camera filming a dark colour whose centre flashes white for the first `FLASH_FRAMES`
    pictures of every second (the top 20 rows are left alone: the latency bench stamps them)."""

    def __init__(self, epoch: Epoch, fps: int = 30, size: tuple[int, int] = (320, 240)) -> None:
        super().__init__((40, 40, 90), size=size, fps=fps)
        self._epoch = epoch
        self.stamp = lambda picture, n: picture  # the bench's frame-number stamp, drawn first

    async def recv(self) -> VideoFrame:
        if self._start is None:
            self._start = self._epoch.get()
        return await super().recv()

    def draw(self, picture: np.ndarray, n: int) -> np.ndarray:
        out = self.stamp(picture, n)
        if n % int(self.fps * EVERY_S) < FLASH_FRAMES:
            out = out.copy()
            out[out.shape[0] // 4 :, :] = 255
        return out


def flashing_camera(epoch: Epoch, fps: int = 30) -> FlashingCamera:
    camera = FlashingCamera(epoch, fps=fps)
    camera.on_frame = camera.draw
    return camera


class ClickingMicrophone(Microphone):
    """A microphone hearing silence, and a tone burst (the click) from the start of every second."""

    def __init__(self, epoch: Epoch) -> None:
        super().__init__(CLICK_HZ, level=CLICK_LEVEL, bursts=(EVERY_S, FLASH_FRAMES / 30))
        self._epoch = epoch

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = self._epoch.get()
        return await super().recv()


class SyncReader:
    """Collects, from one container, each picture's time and centre luma and the audio's first
    channel with the time of its first sample."""

    def __init__(self) -> None:
        self.pictures: list[tuple[float, float]] = []  # (time, mean luma of the lower centre)
        self.audio_t0: float | None = None
        self.audio: list[np.ndarray] = []
        self.error: str | None = None

    def read(self, url: str, seconds: float | None = None, timeout: tuple[float, float] = (20, 10)) -> None:
        """Read `url` to its end, or until `seconds` of media have gone by (a live stream)."""
        try:
            with av.open(url, "r", timeout=timeout) as c:
                v, a = c.streams.video[0], c.streams.audio[0]
                for packet in c.demux(v, a):
                    for frame in packet.decode():
                        if frame.time is None:
                            continue
                        if isinstance(frame, VideoFrame):
                            y = frame.to_ndarray(format="gray")
                            h, w = y.shape
                            self.pictures.append((float(frame.time), float(y[h // 2 :, w // 3 : 2 * w // 3].mean())))
                        elif isinstance(frame, AudioFrame):
                            if self.audio_t0 is None:
                                self.audio_t0 = float(frame.time)
                            self.audio.append(frame.to_ndarray()[0].astype(np.float32))
                    if seconds is not None and self.pictures and self.pictures[-1][0] - self.pictures[0][0] > seconds:
                        return
        except (av.error.ExitError, av.error.EOFError):
            pass
        except Exception as exc:  # the caller asserts on it, with what was read so far
            self.error = repr(exc)

    def flashes(self) -> list[float]:
        """When each flash's first picture is shown."""
        out, lit = [], False
        for t, luma in self.pictures:
            if luma > FLASH_LUMA and not lit:
                out.append(t)
            lit = luma > FLASH_LUMA
        return out

    def clicks(self, rate: int = 48_000) -> list[float]:
        """When each click's first sample sounds (after at least half a second of quiet)."""
        if self.audio_t0 is None or not self.audio:
            return []
        pcm = np.concatenate(self.audio)
        hot = np.flatnonzero(np.abs(pcm) > CLICK_THRESHOLD)
        out: list[float] = []
        last = -1e9
        for i in hot:
            if i - last > rate // 2:
                out.append(self.audio_t0 + float(i) / rate)
            last = i
        return out

    def offsets_ms(self, after_s: float = 0.0) -> list[float]:
        """Click time − flash time for each flash shown after `after_s` (media time) that has a
        click within half a second of it."""
        clicks = self.clicks()
        out = []
        for flash in self.flashes():
            if flash < after_s or not clicks:
                continue
            nearest = min(clicks, key=lambda c: abs(c - flash))
            if abs(nearest - flash) < EVERY_S / 2:
                out.append(round(float(nearest - flash) * 1000, 1))
        return out


def flash_click_clip(path: Path, seconds: int = 5, fps: int = 30, size: tuple[int, int] = (320, 240)) -> Path:
    """A recording of the same speaker, flash and click together to the sample: H.264 pictures
    and PCM sound (no codec delay of its own) in Matroska."""
    w, h = size
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast"}
        a = out.add_stream("pcm_s16le", rate=48_000)
        a.layout = "mono"
        dark = np.full((h, w, 3), (40, 40, 90), np.uint8)
        for i in range(seconds * fps):
            picture = dark.copy()
            if i % int(fps * EVERY_S) < FLASH_FRAMES:
                picture[h // 4 :, :] = 255
            f = VideoFrame.from_ndarray(picture, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, fps)
            out.mux(v.encode(f))
        out.mux(v.encode(None))
        t = np.arange(seconds * 48_000) / 48_000
        wave = CLICK_LEVEL * np.sin(2 * np.pi * CLICK_HZ * t) * (np.mod(t, EVERY_S) < FLASH_FRAMES / fps)
        pcm = (wave * 32767).astype(np.int16)
        for i in range(0, pcm.size, 960):
            f = AudioFrame.from_ndarray(pcm[None, i : i + 960], format="s16", layout="mono")
            f.sample_rate, f.pts, f.time_base = 48_000, i, Fraction(1, 48_000)
            out.mux(a.encode(f))
        out.mux(a.encode(None))
    return path
