"""The loudness chain's filters, run without scipy (FFmpeg's biquad, a numpy polyphase
oversampler), give what scipy's `lfilter` and `resample_poly` give, chunk after chunk."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.signal import lfilter, resample_poly

from orchestrator.media import loudness
from orchestrator.media.loudness import KWeighting, oversampled_peak


def _sound(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 48_000)) / 48_000
    tone = 0.3 * np.sin(2 * np.pi * 997 * t) * (1 + np.sin(2 * np.pi * 0.5 * t))
    return np.stack([tone + rng.normal(0, 0.05, t.size), rng.normal(0, 0.2, t.size)]).astype(np.float32)


def test_the_k_weighting_matches_scipy_lfilter_across_chunks() -> None:
    sound = _sound(4.0, 1)
    k = KWeighting()
    zs, zh = np.zeros((2, 2)), np.zeros((2, 2))
    for i in range(0, sound.shape[1], 1600):
        x = sound[:, i : i + 1600].astype(np.float64)
        y, zs = lfilter(loudness._SHELF_B, loudness._SHELF_A, x, axis=1, zi=zs)
        y, zh = lfilter(loudness._HP_B, loudness._HP_A, y, axis=1, zi=zh)
        expected = float(np.mean(np.square(y), axis=1).sum())
        assert k.mean_square(sound[:, i : i + 1600]) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1600, 1601, 7, 1])
def test_the_oversampled_peak_matches_scipy_resample_poly(dtype: type, n: int) -> None:
    for seed in range(5):
        chunk = _sound(1.0, seed)[:, :n].astype(dtype)
        expected = float(np.max(np.abs(resample_poly(chunk, 4, 1, axis=1))))
        assert oversampled_peak(chunk) == pytest.approx(expected, rel=1e-6 if dtype is np.float32 else 1e-12)


def test_an_intersample_peak_is_seen_above_the_sample_peak() -> None:
    # A sine at a quarter of the rate, sampled 45° off its crests: samples at 0.707, true peak 1.
    t = np.arange(1600)
    chunk = np.stack([np.sin(np.pi / 2 * t + np.pi / 4)] * 2).astype(np.float32)
    assert float(np.max(np.abs(chunk))) == pytest.approx(0.7071, abs=1e-3)
    assert oversampled_peak(chunk) == pytest.approx(1.0, abs=0.02)


def test_the_loudness_chain_does_not_import_scipy() -> None:
    code = "import sys, orchestrator.media.loudness; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
