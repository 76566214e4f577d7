"""Pre-recorded clips: any container FFmpeg reads, decoded from an offset.

Pictures are asked for by clip time (so a 25 or 60 fps clip is paced to the programme's rate by
repeating or skipping frames); sound is read as a continuous sample stream, resampled to the
programme's format. The two are read in lockstep by the source that plays the clip."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path

import av
import av.error
import structlog
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.packet import Packet
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from orchestrator.media.frames import Audio, AudioBuffer, AudioNormalizer, Fitter, silence
from orchestrator.media.settings import AUDIO_RATE

log = structlog.get_logger(__name__)


class ClipError(Exception):
    """A clip cannot be opened or holds nothing we can play."""


class ClipReader:
    """Decodes one clip from `offset_s`. `fitter=None` reads sound only (an interpretation clip)."""

    def __init__(self, path: str, fitter: Fitter | None, offset_s: float = 0.0) -> None:
        self.path = path
        self.offset_s = max(0.0, offset_s)
        try:
            self._container: InputContainer = av.open(path, "r")
        except (av.error.FFmpegError, OSError) as exc:
            raise ClipError(f"clip {path}: cannot open ({exc})") from exc
        c = self._container
        self._video: VideoStream | None = c.streams.video[0] if (fitter and c.streams.video) else None
        self._audio: AudioStream | None = c.streams.audio[0] if c.streams.audio else None
        if self._video is None and self._audio is None:
            c.close()
            raise ClipError(f"clip {path}: no {'video or ' if fitter else ''}audio stream")
        if self._video is not None:
            self._video.thread_type = "AUTO"
        self._fitter = fitter
        # Clip time 0 is the container's start (MPEG-TS files start at 1.4 s, not 0).
        self._origin = (c.start_time or 0) / 1_000_000
        if self.offset_s > 0:
            c.seek(int((self.offset_s + self._origin) * 1_000_000), backward=True)
        streams = [s for s in (self._video, self._audio) if s is not None]
        self._packets: Iterator[Packet] = c.demux(streams)
        self._frames: deque[tuple[float, VideoFrame]] = deque()
        self._shown: VideoFrame | None = None
        self.last_video_time: float | None = None  # clip time of the newest decoded picture
        self._normalizer = AudioNormalizer()
        self._sound = AudioBuffer()
        self._sound_next: float | None = None  # clip time of the next sample pushed into _sound
        self._sound_started = False
        self.eof = False

    @property
    def has_video(self) -> bool:
        return self._video is not None

    @property
    def has_audio(self) -> bool:
        return self._audio is not None

    def video_at(self, t: float) -> VideoFrame | None:
        """The picture showing at clip time `t`: the newest frame starting at or before `t`."""
        if self._video is None:
            return None
        while not self.eof and (not self._frames or self._frames[-1][0] <= t):
            self._pump()
        newest: VideoFrame | None = None
        while self._frames and (self._frames[0][0] <= t or self._shown is None):
            newest = self._frames.popleft()[1]
            if self._shown is None:
                break  # the first picture after a seek may start a hair after the offset
        if newest is not None:
            assert self._fitter is not None
            self._shown = self._fitter.fit(newest)
        return self._shown

    def video_ended(self, t: float, frame_duration: float) -> bool:
        """True once the last picture has had its time on screen."""
        if self._video is None:
            return self.eof and not len(self._sound)
        if not self.eof or self._frames:
            return False
        return self.last_video_time is None or t >= self.last_video_time + frame_duration

    def read_audio(self, samples: int) -> Audio:
        """The next `samples` samples of the clip's sound (silence where it has none or has ended)."""
        while len(self._sound) < samples and not self.eof:
            self._pump()
        return self._sound.pop(samples)

    def close(self) -> None:
        self._frames.clear()
        self._container.close()

    def _pump(self) -> None:
        try:
            packet = next(self._packets)
        except StopIteration:
            self.eof = True
            if self._sound_next is not None:  # the resampler holds a few samples back
                for chunk in self._normalizer.convert(None):
                    self._push_sound(chunk)
            return
        except av.error.FFmpegError as exc:
            log.warning("clip_read_error", clip=self.path, error=str(exc))
            self.eof = True
            return
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:  # one damaged packet must not end the clip
            log.warning("clip_decode_error", clip=self.path, error=str(exc))
            return
        for frame in frames:
            if isinstance(frame, VideoFrame):
                t = (frame.time or 0.0) - self._origin
                self._frames.append((t, frame))
                self.last_video_time = t
            elif isinstance(frame, AudioFrame):
                if self._sound_next is None:
                    self._sound_next = (frame.time or 0.0) - self._origin
                for chunk in self._normalizer.convert(frame):
                    self._push_sound(chunk)

    def _push_sound(self, chunk: Audio) -> None:
        """Queue sound, trimming what lies before the offset and filling a late start with silence."""
        start = self._sound_next if self._sound_next is not None else self.offset_s
        self._sound_next = start + chunk.shape[1] / AUDIO_RATE
        if not self._sound_started:
            if self._sound_next <= self.offset_s:
                return  # decoded from the keyframe before the offset
            if start < self.offset_s:
                chunk = chunk[:, round((self.offset_s - start) * AUDIO_RATE) :]
            elif start > self.offset_s:
                self._sound.push(silence(round((start - self.offset_s) * AUDIO_RATE)))
            self._sound_started = True
        self._sound.push(chunk)

    @property
    def sound_decoded(self) -> bool:
        return self._sound_started


def check_clip(path: str) -> str | None:
    """Why a clip cannot be played, or None when it opens and decodes a first frame."""
    if not Path(path).exists():
        return f"clip {path} does not exist"
    try:
        reader = ClipReader(path, Fitter(64, 36))
    except ClipError as exc:
        return str(exc)
    try:
        if reader.has_video and reader.video_at(0.0) is None:
            return f"clip {path}: no picture could be decoded"
        if not reader.has_video:
            reader.read_audio(1)
            if not reader.sound_decoded:
                return f"clip {path}: no sound could be decoded"
    finally:
        reader.close()
    return None
