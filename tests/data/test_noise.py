"""src/data/noise.py: noise mixed in at an exact signal-to-noise ratio, as training's augmentation does."""
import numpy as np
import pytest

from src.data.noise import add_noise, noise_segment, snr_to_level


def test_add_noise_hits_the_snr():
    rng = np.random.default_rng(1)
    speech, noise = rng.standard_normal(8000).astype(np.float32), rng.standard_normal(8000).astype(np.float32)
    mixed = add_noise(speech, noise, snr_to_level(10.0))
    snr = 10 * np.log10(np.mean(speech ** 2) / np.mean((mixed - speech) ** 2))
    assert snr == pytest.approx(10.0, abs=1e-3)
    np.testing.assert_array_equal(add_noise(speech, noise, 0.0), speech)


def test_noise_segment_repeats_short_noise_and_draws_a_stretch():
    rng = np.random.default_rng(2)
    noise = np.arange(10, dtype=np.float32)
    segment = noise_segment(noise, 25, rng)
    assert len(segment) == 25 and np.all(np.diff(segment) % 10 == 1)  # a contiguous stretch of the tiled noise
    part = noise_segment(noise, 4, rng)
    assert len(part) == 4 and part[0] + 3 == part[-1]
