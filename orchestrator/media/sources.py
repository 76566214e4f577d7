"""Picture sources as the programme plays them: each frame a source gives a picture and its own
sound (the FLOOR), or None when it cannot show anything any more — the switcher then falls back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from av.video.frame import VideoFrame

from orchestrator.media.audio import AudioInput
from orchestrator.media.clip import ClipReader
from orchestrator.media.frames import Audio, Fitter, silence
from orchestrator.media.settings import MediaSettings
from orchestrator.media.slate import SlateRenderer
from orchestrator.planning.cues import AudioSource, Slate, VideoSource


@dataclass(frozen=True)
class Tick:
    """One programme frame."""

    index: int  # frame number since the session's programme started
    wall: float  # the wall time this frame stands for (t0 + index / fps)
    event: datetime  # the event time it shows: clock.to_event(wall)
    samples: int  # audio samples per frame


@dataclass(frozen=True)
class Picture:
    video: VideoFrame
    audio: Audio


class VideoRuntime(Protocol):
    name: str  # what the logs call it: "slate 'Please stand by'", "clip /media/x.mp4", …
    failure: str | None  # why render() returned None

    def render(self, tick: Tick) -> Picture | None: ...

    def close(self) -> None: ...


@runtime_checkable
class Recoverable(VideoRuntime, Protocol):
    """A source that may come back after failing (a live feed); the switcher keeps watching it."""

    def recovered(self) -> bool: ...


class LiveSources:
    """Where live pictures and booths come from (remote speakers, studio feeds). This base has
    none; `live.RemoteSourceRegistry` is the real one."""

    def warm(self, source: VideoSource) -> None:
        """A cue for `source` is coming: start connecting to it now."""

    def video(self, source: VideoSource, settings: MediaSettings, fitter: Fitter) -> VideoRuntime | None:
        return None

    def booth(self, source: AudioSource, language: str, fallback: AudioInput) -> AudioInput:
        return fallback


class Unavailable:
    """A source that could not be opened: fails on its first frame, saying why."""

    def __init__(self, name: str, failure: str) -> None:
        self.name = name
        self.failure: str | None = failure

    def render(self, tick: Tick) -> Picture | None:
        return None

    def close(self) -> None:
        pass


class SlateRuntime:
    def __init__(self, slate: Slate, renderer: SlateRenderer) -> None:
        self.slate = slate
        self.name = f"slate {slate.title!r}"
        self.failure: str | None = None
        self._renderer = renderer

    def render(self, tick: Tick) -> Picture:
        return Picture(self._renderer.frame(self.slate, tick.event), silence(tick.samples))

    def close(self) -> None:
        pass


class ClipRuntime:
    """Plays a clip from its offset, one programme frame after the other (paced by frame count, so
    a clip always plays at its own speed whatever the clock's compression)."""

    def __init__(self, reader: ClipReader, fps: int) -> None:
        self.name = f"clip {reader.path}"
        self.failure: str | None = None
        self._reader = reader
        self._fps = fps
        self._shown = 0  # frames shown so far

    @property
    def position(self) -> float:
        """Clip time of the next frame."""
        return self._reader.offset_s + self._shown / self._fps

    def render(self, tick: Tick) -> Picture | None:
        t = self.position
        if not self._reader.has_video:
            self.failure = "it has no picture"
            return None
        frame = self._reader.video_at(t)
        if frame is None or self._reader.video_ended(t, 1 / self._fps):
            self.failure = f"it ended at {t:.2f} s"
            return None
        self._shown += 1
        return Picture(frame, self._reader.read_audio(tick.samples))

    def close(self) -> None:
        self._reader.close()
