"""Each language programme's sound: which input it plays, and click-free changes between inputs.

FLOOR is the picture source's own sound, handed in by the pipeline each frame; interpretation
feeds (a test tone, a clip, silence, or a live booth) are inputs read here."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import structlog

from orchestrator.media.clip import ClipError, ClipReader
from orchestrator.media.frames import Audio, silence
from orchestrator.media.settings import AUDIO_RATE
from orchestrator.planning.cues import AudioKind, AudioSource, InterpretationFeed

log = structlog.get_logger(__name__)

FADE_SAMPLES = AUDIO_RATE * 5 // 1000  # 5 ms: long enough to hide a step, short enough to be unheard
TONE_LEVEL = 0.2  # about −14 dBFS: clearly audible, never clipping when summed


class AudioInput(Protocol):
    def read(self, samples: int) -> Audio: ...

    def close(self) -> None: ...


class Silence:
    def read(self, samples: int) -> Audio:
        return silence(samples)

    def close(self) -> None:
        pass


class Tone:
    """A sine test tone; the phase carries over between reads so the tone has no seams."""

    def __init__(self, hz: float, level: float = TONE_LEVEL) -> None:
        self.hz = hz
        self._level = level
        self._n = 0

    def read(self, samples: int) -> Audio:
        t = np.arange(self._n, self._n + samples, dtype=np.float64) / AUDIO_RATE
        self._n += samples
        wave = (self._level * np.sin(2 * np.pi * self.hz * t)).astype(np.float32)
        return np.stack([wave, wave])

    def close(self) -> None:
        pass


class ClipSound:
    """An interpretation channel recorded ahead (a file): played from the start, silence after."""

    def __init__(self, path: str) -> None:
        self._reader = ClipReader(path, fitter=None)
        self._ended_logged = False

    def read(self, samples: int) -> Audio:
        chunk = self._reader.read_audio(samples)
        if self._reader.eof and not self._ended_logged:
            self._ended_logged = True
            log.info("interpretation_clip_ended", clip=self._reader.path)
        return chunk

    def close(self) -> None:
        self._reader.close()


def feed_input(feed: InterpretationFeed | None, where: str) -> AudioInput:
    """The input for a scheduled interpretation feed; silence (logged) when it cannot be played."""
    if feed is None or feed.kind == "silence":
        return Silence()
    if feed.kind == "tone":
        return Tone(feed.tone_hz or 1000.0)
    if feed.kind == "clip" and feed.clip_path:
        try:
            return ClipSound(feed.clip_path)
        except ClipError as exc:
            log.warning("interpretation_feed_failed", where=where, error=str(exc))
            return Silence()
    log.warning("interpretation_feed_unknown", where=where, kind=feed.kind)
    return Silence()


def crossfade(old: Audio, new: Audio, length: int = FADE_SAMPLES) -> Audio:
    """`new`, whose first `length` samples fade in over `old` fading out."""
    length = min(length, new.shape[1], old.shape[1])
    if length <= 0:
        return new
    ramp = np.linspace(0.0, 1.0, length, endpoint=False, dtype=np.float32)
    out = new.copy()
    out[:, :length] = old[:, :length] * (1.0 - ramp) + new[:, :length] * ramp
    return out


FLOOR = AudioSource(kind=AudioKind.FLOOR)


class LanguageMix:
    """The sound of one language programme: a route (FLOOR, or an input) and changes between routes."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.source: AudioSource = FLOOR
        self._input: AudioInput | None = None
        self._previous: tuple[AudioSource, AudioInput | None] | None = None

    def route(self, source: AudioSource, make_input: InputFactory) -> None:
        """Switch to `source` from the next mixed frame on (with a crossfade then)."""
        if source == self.source:
            return
        if self._previous is not None and self._previous[1] is not None:
            self._previous[1].close()  # two changes on one frame: the first one is never heard
        self._previous = (self.source, self._input)
        self.source = source
        self._input = None if source.kind == AudioKind.FLOOR else make_input(source, self.language)

    def mix(self, samples: int, floor: Audio, floor_before: Audio | None) -> Audio:
        """One frame of sound. `floor_before` is the previous picture source's sound when the picture
        changed on this frame (so a FLOOR route crossfades from the old speaker to the new one)."""
        new = self._read(self.source, self._input, samples, floor)
        if self._previous is not None:
            source, inp = self._previous
            self._previous = None
            old = self._read(source, inp, samples, floor_before if floor_before is not None else floor)
            if inp is not None:
                inp.close()
            return crossfade(old, new)
        if floor_before is not None and self.source.kind == AudioKind.FLOOR:
            return crossfade(floor_before, new)
        return new

    @staticmethod
    def _read(source: AudioSource, inp: AudioInput | None, samples: int, floor: Audio) -> Audio:
        if source.kind == AudioKind.FLOOR:
            return floor
        if inp is None:
            return silence(samples)
        return inp.read(samples)

    def close(self) -> None:
        for inp in (self._input, self._previous[1] if self._previous else None):
            if inp is not None:
                inp.close()
        self._input = None
        self._previous = None


class InputFactory(Protocol):
    def __call__(self, source: AudioSource, language: str) -> AudioInput: ...
