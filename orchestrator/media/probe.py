"""What a recording or stream really carries, read back with PyAV (for the rehearsal report and
the tests): codecs, size, rate, keyframe spacing, audio format, timestamp sanity."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import av
import av.error


def probe(
    path_or_url: str, *, max_seconds: float | None = None, timeout: tuple[float, float] | None = None
) -> dict[str, Any]:
    """Demux (without decoding) `path_or_url` and describe it.

    `max_seconds` stops reading a live stream after that much media; `timeout` is PyAV's
    (open, read) timeout for network URLs.
    """
    container = av.open(path_or_url, "r", timeout=timeout) if timeout else av.open(path_or_url, "r")
    try:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        info: dict[str, Any] = {
            "format": container.format.name,
            "duration_s": None,
            "video_codec": None,
            "video_profile": None,
            "width": None,
            "height": None,
            "fps": None,
            "video_frames": 0,
            "keyframes": 0,
            "keyframe_interval": None,  # frames between keyframes (the longest, last GOP excluded)
            "keyframe_interval_s": None,
            "keyframe_intervals": {},  # interval in frames → how often it occurs
            "audio_codec": None,
            "audio_profile": None,
            "audio_sample_rate": None,
            "audio_channels": None,
            "audio_packets": 0,
            "monotonic": True,  # every stream's dts strictly increases
        }
        if video is not None:
            cc = video.codec_context
            info.update(
                video_codec=cc.name,
                video_profile=cc.profile,
                width=cc.width,
                height=cc.height,
                fps=float(video.average_rate or video.guessed_rate or 0) or None,
            )
        if audio is not None:
            ac = audio.codec_context
            info.update(
                audio_codec=ac.name,
                audio_profile=ac.profile,
                audio_sample_rate=ac.sample_rate,
                audio_channels=ac.channels if hasattr(ac, "channels") else len(ac.layout.channels),
            )
        streams = [s for s in (video, audio) if s is not None]
        last_dts: dict[int, int] = {}
        key_frames: list[int] = []
        video_dts: list[float] = []
        first_t: float | None = None
        last_t = 0.0
        try:
            for packet in container.demux(streams):
                if packet.size == 0 or packet.dts is None:
                    continue
                t = float(packet.dts * packet.time_base)
                first_t = t if first_t is None else min(first_t, t)
                last_t = max(last_t, t + float((packet.duration or 0) * packet.time_base))
                index = packet.stream.index
                if index in last_dts and packet.dts <= last_dts[index]:
                    info["monotonic"] = False
                last_dts[index] = packet.dts
                if packet.stream is video:
                    video_dts.append(t)
                    if packet.is_keyframe:
                        key_frames.append(info["video_frames"])
                    info["video_frames"] += 1
                else:
                    info["audio_packets"] += 1
                if max_seconds is not None and first_t is not None and t - first_t >= max_seconds:
                    break
        except (av.error.EOFError, av.error.ExitError):
            pass  # a live stream that ended
        info["keyframes"] = len(key_frames)
        if len(video_dts) > 1 and video_dts[-1] > video_dts[0]:
            # FLV keeps milliseconds, so the container's rate guess is off; measure it instead.
            info["fps"] = round((len(video_dts) - 1) / (video_dts[-1] - video_dts[0]), 2)
        intervals = [b - a for a, b in pairwise(key_frames)]
        if intervals:
            info["keyframe_intervals"] = dict(Counter(intervals))
            info["keyframe_interval"] = max(intervals)
            if info["fps"]:
                info["keyframe_interval_s"] = max(intervals) / info["fps"]
        if container.duration:
            info["duration_s"] = container.duration / 1_000_000
        elif first_t is not None:
            info["duration_s"] = last_t - first_t
        return info
    finally:
        container.close()


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float
    true_peak_dbtp: float


def measure_loudness(path: str, *, start_s: float = 0.0, seconds: float | None = None) -> Loudness:
    """EBU R128 integrated loudness and true peak of a recording's first audio stream, measured by
    FFmpeg's `ebur128` filter (the reference implementation broadcasters use); `start_s` and
    `seconds` pick a window. Raises ValueError naming the file when FFmpeg cannot measure it."""
    window = ["-ss", f"{start_s:.3f}"] if start_s else []
    if seconds is not None:
        window += ["-t", f"{seconds:.3f}"]
    cmd = ["ffmpeg", "-hide_banner", "-nostats", *window, "-i", path, "-map", "0:a:0"]
    cmd += ["-af", "ebur128=peak=true", "-f", "null", "-"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    summary = done.stderr.rsplit("Summary:", 1)[-1]
    integrated = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    if done.returncode != 0 or integrated is None or peak is None:
        raise ValueError(f"cannot measure the loudness of {path}: {done.stderr.strip().splitlines()[-1:]}")
    return Loudness(float(integrated.group(1)), float(peak.group(1)))
