"""Encoder and rendition settings of the media plane (env prefix `SUMMIT_MEDIA_`)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

AUDIO_RATE = 48_000  # every programme's audio runs at 48 kHz (PLATFORMS.md "Ingest settings")


class MediaSettings(BaseSettings):
    """Rendition and encoder settings. 640x360 suits rehearsals and tests; 1280x720 or 1920x1080 live."""

    model_config = SettingsConfigDict(env_prefix="SUMMIT_MEDIA_", extra="ignore")

    width: int = 640
    height: int = 360
    fps: int = 30
    video_bitrate: int = 1_000_000  # bits/s; 2.5–4 Mbps for 720p30, 4.5–6 Mbps for 1080p30
    preset: str = "veryfast"
    audio_bitrate: int = 128_000
    gop_seconds: int = 2
    # "realtime": frame n is produced at wall t0 + n/fps (what a live output needs).
    # "asap": frames are produced as fast as the CPU allows, each still stamped with the wall time it
    # stands for (t0 + n/fps) — for offline renders, tests and benchmarks; never for RTMP outputs.
    pacing: Literal["realtime", "asap"] = "realtime"
    # How far ahead (wall seconds) an armed clip cue is opened and decoded to its first frame, so
    # opening a file never delays the frame the cue is due on.
    preroll_s: float = 5.0
    # A live source (remote speaker, studio feed) that delivered no frame for this long is replaced
    # by its backup or the stand-by slate (drop detection by the picture itself, not by ICE).
    live_timeout_s: float = 0.3
    # A live booth whose sound stopped for this long gives way to its scheduled feed.
    booth_timeout_s: float = 0.5
    # A dropped live source is cut back to once its pictures have flowed this long without a gap.
    live_return_s: float = 2.0
    # The floor under an interpretation: None mutes it, a number mixes it in at that gain (dB, < 0).
    floor_duck_db: float | None = None
    # A booth on duty silent while the floor speaks: an alarm after `silence_alarm_s`, the booth's
    # `on_silence` policy after `silence_policy_s`; it recovers once the booth speaks `silence_recover_s`.
    silence_alarm_s: float = 1.5
    silence_policy_s: float = 5.0
    silence_recover_s: float = 0.5
    # Level (dBFS, RMS over a frame) above which a channel counts as speaking.
    speech_dbfs: float = -45.0
    # FFmpeg threads per remote speaker's video decoder (aiortc leaves it at one per core).
    decoder_threads: int = 1
    # Loudness of every output: a slow AGC to its destination's target and a true-peak ceiling.
    true_peak_dbtp: float = -1.5
    agc_max_gain_db: float = 30.0
    # RTMP reconnection: first wait, and the ceiling of the exponential backoff.
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 10.0
    # Packets an output may fall behind before it is cut and resumed at the next keyframe.
    output_queue_s: float = 4.0

    @model_validator(mode="after")
    def _check(self) -> MediaSettings:
        if self.width % 2 or self.height % 2:
            raise ValueError(f"rendition {self.width}x{self.height} must have even sides (yuv420p)")
        if AUDIO_RATE % self.fps:
            raise ValueError(f"fps {self.fps} must divide {AUDIO_RATE} so every frame carries whole audio samples")
        return self

    @property
    def gop(self) -> int:
        return self.fps * self.gop_seconds

    @property
    def samples_per_frame(self) -> int:
        return AUDIO_RATE // self.fps
