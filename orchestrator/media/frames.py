"""Picture and sound in the programme's one format: yuv420p at the rendition size, and float32
stereo at 48 kHz held as numpy arrays shaped (2, samples)."""

from __future__ import annotations

import numpy as np
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter

from orchestrator.media.settings import AUDIO_RATE

Audio = np.ndarray  # float32, shape (2, n)


def silence(samples: int) -> Audio:
    return np.zeros((2, samples), dtype=np.float32)


def yuv_planes(arr: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views on the Y, U and V planes of a yuv420p array shaped (height*3/2, width)."""
    width = arr.shape[1]
    y = arr[:height]
    chroma = arr[height:].reshape(2, height // 2, width // 2)
    return y, chroma[0], chroma[1]


def solid_yuv(width: int, height: int, rgb: tuple[int, int, int]) -> np.ndarray:
    """A yuv420p array of one colour (BT.601 limited range, what x264 and players assume)."""
    r, g, b = rgb
    arr = np.empty((height * 3 // 2, width), dtype=np.uint8)
    y, u, v = yuv_planes(arr, height)
    y[:] = round(16 + 0.257 * r + 0.504 * g + 0.098 * b)
    u[:] = round(128 - 0.148 * r - 0.291 * g + 0.439 * b)
    v[:] = round(128 + 0.439 * r - 0.368 * g - 0.071 * b)
    return arr


class Fitter:
    """Scales pictures of any size and format to the rendition, letter- or pillar-boxing them when
    the aspect ratio differs (a 4:3 camera must not be stretched to 16:9)."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self._reformatter = VideoReformatter()  # keeps its swscale context between frames
        self._black = solid_yuv(width, height, (0, 0, 0))

    def fit(self, frame: VideoFrame) -> VideoFrame:
        w, h = frame.width, frame.height
        if w * self.height == h * self.width:
            # Decoded frames are reference-counted, so one already in shape is passed on as is.
            return self._reformatter.reformat(frame, self.width, self.height, "yuv420p")
        scale = min(self.width / w, self.height / h)
        fw = max(2, int(w * scale) // 2 * 2)
        fh = max(2, int(h * scale) // 2 * 2)
        small = self._reformatter.reformat(frame, fw, fh, "yuv420p").to_ndarray()
        canvas = self._black.copy()
        x0 = (self.width - fw) // 4 * 2
        y0 = (self.height - fh) // 4 * 2
        for dst, src, k in zip(yuv_planes(canvas, self.height), yuv_planes(small, fh), (1, 2, 2), strict=False):
            dst[y0 // k : y0 // k + src.shape[0], x0 // k : x0 // k + src.shape[1]] = src
        return VideoFrame.from_ndarray(canvas, format="yuv420p")


class AudioNormalizer:
    """Any decoded audio (44.1 kHz s16, 48 kHz s16 from WebRTC, mono, 5.1…) → float32 stereo 48 kHz."""

    def __init__(self) -> None:
        self._resampler = AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)

    def convert(self, frame: AudioFrame | None) -> list[Audio]:
        """Resample one frame (None flushes); the resampler may return zero, one or more chunks."""
        out = self._resampler.resample(frame)
        return [f.to_ndarray().astype(np.float32, copy=False) for f in out if f.samples]


class AudioBuffer:
    """A FIFO of stereo samples, read in exact-size chunks."""

    def __init__(self) -> None:
        self._chunks: list[Audio] = []
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def push(self, chunk: Audio) -> None:
        if chunk.shape[1]:
            self._chunks.append(chunk)
            self._size += chunk.shape[1]

    def pop(self, samples: int) -> Audio:
        """Exactly `samples` samples; zeros stand in for what is missing."""
        out = np.zeros((2, samples), dtype=np.float32)
        filled = 0
        while filled < samples and self._chunks:
            head = self._chunks[0]
            take = min(samples - filled, head.shape[1])
            out[:, filled : filled + take] = head[:, :take]
            filled += take
            if take == head.shape[1]:
                self._chunks.pop(0)
            else:
                self._chunks[0] = head[:, take:]
        self._size -= filled
        return out

    def drop(self, samples: int) -> None:
        self.pop(min(samples, self._size))

    def clear(self) -> None:
        self._chunks.clear()
        self._size = 0
