"""Loudness: the AGC and limiter bring voices 20 dB apart to each target, measured by FFmpeg's
ebur128 (the reference), and a live feed's sound buffer does not stay late."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from av.audio.frame import AudioFrame

from orchestrator.media.live import JITTER_MIN, LiveFeed
from orchestrator.media.loudness import KWeighting, LoudnessChain, lufs
from orchestrator.media.probe import measure_loudness
from orchestrator.media.settings import MediaSettings

SETTINGS = MediaSettings()


def voice(seconds: float, gain_db: float, pitch: float, seed: int) -> np.ndarray:
    """Harmonics on a wandering pitch in syllables, plus a little breath noise; stereo float32."""
    t = np.arange(int(seconds * 48_000)) / 48_000
    f0 = pitch * (1 + 0.08 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / 48_000
    x = sum(a * np.sin(k * phase) for k, a in ((1, 0.3), (2, 0.2), (3, 0.12), (5, 0.06)))
    x = x + np.random.default_rng(seed).normal(0, 0.01, t.size)
    x = x * np.where(np.mod(t, 0.45) < 0.3, 1.0, 0.02) * 10 ** (gain_db / 20)
    return np.stack([x, x]).astype(np.float32)


def run_chain(signal: np.ndarray, target: float) -> np.ndarray:
    chain = LoudnessChain(target, SETTINGS)
    step = SETTINGS.samples_per_frame
    return np.concatenate([chain.process(signal[:, i : i + step]) for i in range(0, signal.shape[1], step)], axis=1)


def write_wav(path: Path, audio: np.ndarray) -> str:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes((np.clip(audio.T, -1, 1) * 32767).astype(np.int16).tobytes())
    return str(path)


def test_the_k_weighting_reads_a_1khz_sine_as_the_standard_says() -> None:
    t = np.arange(48_000 * 5) / 48_000
    sine = (0.1 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    assert lufs(KWeighting().mean_square(np.stack([sine, sine]))) == pytest.approx(-20.0, abs=0.1)


@pytest.mark.parametrize("target", [-14.0, -23.0])
def test_voices_20_db_apart_come_out_at_the_target_under_the_true_peak_ceiling(tmp_path: Path, target: float) -> None:
    loud, quiet = voice(12, 0, 140, 1), voice(12, -20, 220, 2)
    signal = np.concatenate([loud, quiet, loud, quiet], axis=1)
    assert lufs(KWeighting().mean_square(loud)) - lufs(KWeighting().mean_square(quiet)) == pytest.approx(20, abs=0.5)
    measured = measure_loudness(write_wav(tmp_path / "out.wav", run_chain(signal, target)))
    assert measured.integrated_lufs == pytest.approx(target, abs=1.0)
    assert measured.true_peak_dbtp <= -1.0


def test_silence_and_pauses_are_not_pumped_up() -> None:
    quiet_room = np.random.default_rng(3).normal(0, 10 ** (-70 / 20), (2, 48_000 * 6)).astype(np.float32)
    signal = np.concatenate([voice(6, -10, 150, 4), quiet_room], axis=1)
    chain = LoudnessChain(-14.0, SETTINGS)
    step = SETTINGS.samples_per_frame
    gains = []
    for i in range(0, signal.shape[1], step):
        chain.process(signal[:, i : i + step])
        gains.append(chain.gain_db)
    after_voice = gains[6 * 30]
    # The voice's last syllables fade out of the momentary window (a fraction of a dB), then six
    # seconds of room noise 60 dB down: the gain holds, never climbing towards +30 dB.
    assert max(gains[6 * 30 :]) <= after_voice + 1.0
    assert gains[-1] == pytest.approx(gains[7 * 30], abs=0.01)


def _chunk(samples: int) -> AudioFrame:
    frame = AudioFrame.from_ndarray(np.zeros((1, samples * 2), dtype=np.int16), format="s16", layout="stereo")
    frame.sample_rate, frame.pts, frame.time_base = 48_000, 0, Fraction(1, 48_000)
    return frame


def test_a_burst_of_sound_does_not_leave_a_live_feed_late_for_good() -> None:
    feed = LiveFeed("remote x")
    feed.put_audio(_chunk(48_000 // 5))  # 200 ms arrive at once (a network burst)
    for _ in range(60):  # then sound arrives as fast as it is taken
        feed.put_audio(_chunk(1600))
        feed.sound(1600)
    assert len(feed._sound) <= JITTER_MIN + 1600
