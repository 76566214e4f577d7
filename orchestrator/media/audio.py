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
    @property
    def watched(self) -> bool:
        """Whether silence on this input means someone stopped talking (a live booth, a recording),
        so that the silence alarm watches it; a scheduled "silence" feed is silent on purpose."""

    def read(self, samples: int) -> Audio: ...

    def close(self) -> None: ...


def dbfs(chunk: Audio) -> float:
    """RMS level of a chunk in dB relative to full scale (−120 for digital silence)."""
    if not chunk.size:
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(chunk, dtype=np.float64))))
    return 20.0 * float(np.log10(rms)) if rms > 1e-6 else -120.0


def db_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


class Silence:
    watched = False

    def read(self, samples: int) -> Audio:
        return silence(samples)

    def close(self) -> None:
        pass


class Tone:
    """A sine test tone; the phase carries over between reads so the tone has no seams."""

    watched = True

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

    watched = True

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
    """The sound of one language programme: a route (FLOOR, or an input) and changes between routes.

    Under an interpretation the floor is muted, or mixed in at `duck_gain`; `substitute(gain)`
    (the silence policy) replaces a silent booth by the floor at `gain` until `substitute(None)`.
    Gains move over one frame, so no change clicks."""

    def __init__(self, language: str, duck_gain: float | None = None) -> None:
        self.language = language
        self.source: AudioSource = FLOOR
        self.input_level = -120.0  # dBFS of the route's input on the last frame (-120 on the floor)
        self._duck = duck_gain or 0.0
        self._input: AudioInput | None = None
        self._previous: tuple[AudioSource, AudioInput | None] | None = None
        self._substitute: float | None = None
        self._gains = (1.0, self._duck)  # (input, floor) on the last frame

    @property
    def watched(self) -> bool:
        """Whether the silence alarm should watch this language now (a live or recorded booth on duty)."""
        return self.source.kind == AudioKind.INTERPRETATION and self._input is not None and self._input.watched

    def route(self, source: AudioSource, make_input: InputFactory) -> bool:
        """Switch to `source` from the next mixed frame on (with a crossfade then); False when it
        was the route already."""
        if source == self.source:
            return False
        if self._previous is not None and self._previous[1] is not None:
            self._previous[1].close()  # two changes on one frame: the first one is never heard
        self._previous = (self.source, self._input)
        self.source = source
        self._substitute = None
        self._gains = (1.0, self._duck)
        self._input = None if source.kind == AudioKind.FLOOR else make_input(source, self.language)
        return True

    def substitute(self, floor_gain: float | None) -> None:
        """The floor at `floor_gain` in place of the route's input (None: the input again)."""
        self._substitute = floor_gain

    def mix(self, samples: int, floor: Audio, floor_before: Audio | None) -> Audio:
        """One frame of sound. `floor_before` is the previous picture source's sound when the picture
        changed on this frame (so a FLOOR route crossfades from the old speaker to the new one)."""
        new = self._read(self.source, self._input, samples, floor, current=True)
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

    def _read(
        self, source: AudioSource, inp: AudioInput | None, samples: int, floor: Audio, current: bool = False
    ) -> Audio:
        if source.kind == AudioKind.FLOOR:
            if current:
                self.input_level = -120.0
            return floor
        chunk = silence(samples) if inp is None else inp.read(samples)
        if not current:
            return chunk
        self.input_level = dbfs(chunk)
        target = (1.0, self._duck) if self._substitute is None else (0.0, self._substitute)
        (gi0, gf0), (gi1, gf1) = self._gains, target
        self._gains = target
        if (gi0, gf0) == (gi1, gf1):
            return chunk * gi1 + floor * gf1 if (gi1, gf1) != (1.0, 0.0) else chunk
        ramp = np.linspace(0.0, 1.0, samples, endpoint=False, dtype=np.float32)
        gi = gi0 + (gi1 - gi0) * ramp
        gf = gf0 + (gf1 - gf0) * ramp
        out: Audio = chunk * gi + floor * gf
        return out

    def close(self) -> None:
        for inp in (self._input, self._previous[1] if self._previous else None):
            if inp is not None:
                inp.close()
        self._input = None
        self._previous = None


class InputFactory(Protocol):
    def __call__(self, source: AudioSource, language: str) -> AudioInput: ...
