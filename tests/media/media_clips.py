"""Media made on the fly for the tests: solid-colour clips with a sine tone, in odd formats."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame


def make_clip(
    path: Path,
    *,
    rgb: tuple[int, int, int],
    seconds: float,
    tone_hz: float | None = 440.0,
    fps: int = 25,
    size: tuple[int, int] = (320, 240),
    sample_rate: int = 44_100,
) -> Path:
    """An mp4 (H.264 + AAC, or no audio when `tone_hz` is None) of one colour and one tone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast"}
        a = None
        if tone_hz is not None:
            a = out.add_stream("aac", rate=sample_rate)
            a.layout = "mono"
        picture = np.zeros((h, w, 3), dtype=np.uint8)
        picture[:] = rgb
        frames = round(seconds * fps)
        for i in range(frames):
            f = VideoFrame.from_ndarray(picture, format="rgb24")
            f.pts = i
            f.time_base = Fraction(1, fps)
            out.mux(v.encode(f))
        out.mux(v.encode(None))
        if a is not None:
            n = round(seconds * sample_rate)
            t = np.arange(n) / sample_rate
            wave = (0.3 * np.sin(2 * np.pi * tone_hz * t) * 32767).astype(np.int16)
            step = 1024
            for i in range(0, n, step):
                f = AudioFrame.from_ndarray(wave[None, i : i + step], format="s16", layout="mono")
                f.sample_rate = sample_rate
                f.pts = i
                f.time_base = Fraction(1, sample_rate)
                out.mux(a.encode(f))
            out.mux(a.encode(None))
    return path


def dominant_hz(samples: np.ndarray, rate: int = 48_000) -> float:
    """The strongest frequency in a mono signal."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[:5] = 0  # ignore DC
    return float(np.argmax(spectrum) * rate / len(samples))


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples)))) if len(samples) else 0.0
