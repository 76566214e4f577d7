"""Loudness of every output: a slow AGC to the destination's target and a true-peak limiter.

Measurement follows ITU-R BS.1770 (the K-weighting filter, short-term loudness over 3 s, the
−70 LUFS absolute gate), the filters run by FFmpeg's `biquad` through PyAV; FFmpeg's `ebur128`
(the reference the benchmarks and tests read outputs back with) measures the same way. Neither
filter uses scipy: importing scipy.signal cost ~0.8 s of CPU on every `summit run` start-up, on
the way from a restart to the outputs being back on the air. (tests/media/test_loudness_reference.py
checks both against scipy's `lfilter` and `resample_poly`.) The AGC is driven by short-term loudness:
gain comes down quickly when the programme gets louder (a loud speaker after a quiet one) and goes
up slowly, and holds through pauses. The limiter looks one programme frame ahead (33 ms at 30 fps)
and keeps 4× oversampled peaks — an estimate of true peak — under the ceiling.

One `LoudnessChain` runs per (language, target): outputs of one language with the same target
share it and its AAC encoder; a second target for the same language is a second chain."""

from __future__ import annotations

from collections import deque
from fractions import Fraction

import numpy as np
from av.audio.frame import AudioFrame
from av.filter import Graph

from orchestrator.media.frames import Audio
from orchestrator.media.settings import AUDIO_RATE, MediaSettings

# BS.1770-4 K-weighting at 48 kHz: a high shelf (head) then a high pass (RLB).
_SHELF_B = np.array([1.53512485958697, -2.69169618940638, 1.19839281085285])
_SHELF_A = np.array([1.0, -1.69065929318241, 0.73248077421585])
_HP_B = np.array([1.0, -2.0, 1.0])
_HP_A = np.array([1.0, -1.99004745483398, 0.99007225036621])

# The 4× oversampler's low-pass, as scipy's `resample_poly(x, 4, 1)` designs it: `firwin(81, 1/4,
# window=("kaiser", 5.0))` (a Kaiser-windowed sinc with unit gain at DC), in the signal's float32
# and times 4 for the inserted zeros. Split into its 4 phases: output sample 4q + r is the input
# convolved with taps r, r+4, r+8, … (no multiplications by the zeros).
_UP = 4
_HALF = 10 * _UP
_taps = 0.25 * np.sinc(0.25 * (np.arange(2 * _HALF + 1) - _HALF)) * np.kaiser(2 * _HALF + 1, 5.0)
_PHASES = {
    dtype: [((_taps / _taps.sum()).astype(dtype) * dtype(_UP))[r::_UP] for r in range(_UP)]
    for dtype in (np.float32, np.float64)  # computed in the signal's precision, as scipy does
}

SHORT_TERM_S = 3.0
MOMENTARY_S = 0.4
ABSOLUTE_GATE_LUFS = -70.0
PAUSE_GATE_LU = 20.0  # momentary loudness this far below the running level is a pause: the gain holds
NEW_LEVEL_S = 1.0  # … unless it lasts this long above SIGNAL_LUFS: then a quieter voice has taken over
SIGNAL_LUFS = -50.0  # below this, a long "pause" is taken for noise, never boosted
JUMP_LU = 6.0  # momentary loudness this far above the level before it: a louder voice, follow it at once
DOWN_DB_PER_S = 60.0  # how fast gain comes down when the programme gets louder
UP_DB_PER_S = 4.0  # and how slowly it goes up when it gets quieter
RELEASE_PER_FRAME = 10 ** (0.35 / 20)  # the limiter lets go at 0.35 dB a frame (about 10 dB/s)


def _biquad(b: np.ndarray, a: np.ndarray) -> str:
    names = ("b0", "b1", "b2", "a0", "a1", "a2")
    return ":".join(f"{name}={float(v)!r}" for name, v in zip(names, (*b, *a), strict=True))


class KWeighting:
    """The K-weighting filter with its state carried between chunks (stereo): a filter graph of
    FFmpeg's `biquad` (in double precision for planar doubles) that keeps each filter's state."""

    def __init__(self) -> None:
        self._graph = Graph()
        source = self._graph.add_abuffer(format="dblp", sample_rate=AUDIO_RATE, layout="stereo")
        shelf = self._graph.add("biquad", _biquad(_SHELF_B, _SHELF_A))
        high_pass = self._graph.add("biquad", _biquad(_HP_B, _HP_A))
        source.link_to(shelf)
        shelf.link_to(high_pass)
        high_pass.link_to(self._graph.add("abuffersink"))
        self._graph.configure()
        self._pts = 0

    def mean_square(self, chunk: Audio) -> float:
        """Sum over channels of the K-weighted mean square of `chunk` (BS.1770's z)."""
        if chunk.shape[0] != 2:
            raise ValueError(f"K-weighting: stereo sound expected, got {chunk.shape[0]} channel(s)")
        if chunk.shape[1] == 0:
            return float("nan")  # as the mean of nothing is
        frame = AudioFrame.from_ndarray(np.ascontiguousarray(chunk, dtype=np.float64), format="dblp", layout="stereo")
        frame.sample_rate = AUDIO_RATE
        frame.time_base = Fraction(1, AUDIO_RATE)
        frame.pts = self._pts
        self._pts += chunk.shape[1]
        self._graph.push(frame)
        y = self._graph.pull().to_ndarray()
        return float(np.mean(np.square(y), axis=1).sum())


def oversampled_peak(chunk: Audio) -> float:
    """The largest magnitude of `chunk` oversampled 4× (what `resample_poly(chunk, 4, 1, axis=1)`
    gives: zero-padded at both ends, the filter's delay removed), an estimate of its true peak."""
    if not chunk.size:
        return 0.0
    peak = 0.0
    n = chunk.shape[1]
    phases = _PHASES[np.float32 if chunk.dtype == np.float32 else np.float64]
    for channel in chunk.astype(np.float32 if chunk.dtype == np.float32 else np.float64, copy=False):
        for taps in phases:
            # the full convolution's samples HALF/UP … HALF/UP + n - 1 are this phase's kept outputs
            y = np.convolve(channel, taps)[_HALF // _UP : _HALF // _UP + n]
            peak = max(peak, float(np.max(np.abs(y))))
    return peak


def lufs(mean_square: float) -> float:
    return -0.691 + 10.0 * float(np.log10(mean_square)) if mean_square > 1e-12 else -120.0


class Agc:
    """Gain that brings the short-term loudness of what it is given to `target_lufs`."""

    def __init__(self, target_lufs: float, fps: int, max_gain_db: float) -> None:
        self.target = target_lufs
        self.gain_db = 0.0
        self._max = max_gain_db
        self._dt = 1.0 / fps
        self._k = KWeighting()
        self._recent: deque[float] = deque(maxlen=max(1, round(MOMENTARY_S * fps)))  # every frame
        self._blocks: deque[float] = deque(maxlen=round(SHORT_TERM_S * fps))  # frames not in a pause
        self._quiet_s = 0.0  # how long the programme has been far below its running level

    def short_term(self) -> float:
        """Short-term loudness of the input (before gain) without its pauses, LUFS."""
        return lufs(float(np.mean(self._blocks))) if self._blocks else -120.0

    def step(self, chunk: Audio) -> float:
        """Feed one frame; the gain (dB) to apply to it."""
        z = self._k.mean_square(chunk)
        self._recent.append(z)
        momentary = lufs(float(np.mean(self._recent)))
        before = self.short_term()
        if momentary < ABSOLUTE_GATE_LUFS:
            return self.gain_db  # digital silence: hold
        if before > -120.0 and momentary < before - PAUSE_GATE_LU:
            self._quiet_s += self._dt
            if self._quiet_s < NEW_LEVEL_S or momentary < SIGNAL_LUFS:
                return self.gain_db  # a pause (or only noise): hold, do not pump the noise floor up
            self._blocks = deque(self._recent, maxlen=self._blocks.maxlen)  # a quieter voice has the floor
        self._quiet_s = 0.0
        n_old = len(self._blocks) - len(self._recent)
        older = lufs(float(np.mean(list(self._blocks)[:n_old]))) if n_old > 0 else -120.0
        if older > -120.0 and momentary > older + JUMP_LU:
            # A louder voice took over: forget the quieter past at once rather than let it
            # average in for seconds while the new voice goes out too loud.
            self._blocks = deque(self._recent, maxlen=self._blocks.maxlen)
        self._blocks.append(z)
        wanted = min(self._max, max(-self._max, self.target - self.short_term()))
        rate = DOWN_DB_PER_S if wanted < self.gain_db else UP_DB_PER_S
        step = rate * self._dt
        self.gain_db += max(-step, min(step, wanted - self.gain_db))
        return self.gain_db


class TruePeakLimiter:
    """Keeps the 4× oversampled peak of the output under `ceiling_dbtp`, one frame of look-ahead."""

    def __init__(self, ceiling_dbtp: float) -> None:
        self._ceiling = 10 ** (ceiling_dbtp / 20)
        self._held: Audio | None = None
        self._held_need = 1.0
        self._gain = 1.0

    def _need(self, chunk: Audio) -> float:
        peak = oversampled_peak(chunk)
        return min(1.0, self._ceiling / peak) if peak > 0 else 1.0

    def process(self, chunk: Audio) -> Audio:
        """Takes a frame, returns the previous one limited (silence of the same size at first)."""
        need = self._need(chunk)
        if self._held is None:
            self._held, self._held_need = chunk, need
            return np.zeros_like(chunk)
        out_chunk, out_need = self._held, self._held_need
        # Ramp to what both this frame and the next allow, so the next one starts low enough.
        target = min(1.0, out_need, need, self._gain * RELEASE_PER_FRAME)
        ramp = np.linspace(self._gain, target, out_chunk.shape[1], endpoint=False, dtype=np.float32)
        out: Audio = out_chunk * np.minimum(ramp, out_need)
        self._gain = target
        self._held, self._held_need = chunk, need
        limited: Audio = np.clip(out, -self._ceiling, self._ceiling)
        return limited


class LoudnessChain:
    """AGC then limiter, for one language at one target; `process` delays by one frame."""

    def __init__(self, target_lufs: float, settings: MediaSettings) -> None:
        self.target = target_lufs
        self._agc = Agc(target_lufs, settings.fps, settings.agc_max_gain_db)
        self._limiter = TruePeakLimiter(settings.true_peak_dbtp)
        self._gain = 1.0

    @property
    def gain_db(self) -> float:
        return self._agc.gain_db

    def process(self, chunk: Audio) -> Audio:
        gain = 10 ** (self._agc.step(chunk) / 20)
        ramp = np.linspace(self._gain, gain, chunk.shape[1], endpoint=False, dtype=np.float32)
        self._gain = gain
        return self._limiter.process(chunk * ramp)


def delay_s(settings: MediaSettings) -> float:
    """How much later than the picture a normalised output's sound is (the limiter's look-ahead)."""
    return settings.samples_per_frame / AUDIO_RATE
