"""Mixing noise into speech at a chosen level: what training's noise augmentation (``noise_dir``) uses.

The noise is scaled relative to the speech's RMS, so a level of 0.316 is 10 dB SNR. Making noise
recordings and noisy test copies is ``python -m src.tools.noise make|mix`` (src/tools/noise.py),
which mixes with the same :func:`add_noise`.
"""
import glob
import math
import os
from functools import lru_cache
from typing import Tuple

import numpy as np


@lru_cache(maxsize=4)
def noise_files(folder: str) -> Tuple[str, ...]:
    """The .wav/.flac recordings below ``folder`` (a ``noise_dir``), sorted so draws are repeatable."""
    return tuple(sorted(glob.glob(os.path.join(folder, "**", "*.wav"), recursive=True) +
                        glob.glob(os.path.join(folder, "**", "*.flac"), recursive=True)))


def snr_to_level(snr_db: float) -> float:
    """Noise RMS relative to speech RMS for a signal-to-noise ratio in dB."""
    return 10.0 ** (-snr_db / 20.0)


def noise_segment(noise: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``length``-sample stretch of ``noise`` (repeated first if it is shorter)."""
    if len(noise) < length:
        noise = np.tile(noise, int(math.ceil(length / len(noise))))
    start = int(rng.integers(len(noise) - length + 1))
    return noise[start:start + length]


def add_noise(speech: np.ndarray, noise: np.ndarray, level: float) -> np.ndarray:
    """``speech`` plus ``noise`` (same length) scaled to ``level`` x the speech RMS."""
    speech_rms, noise_rms = np.sqrt(np.mean(speech ** 2)), np.sqrt(np.mean(noise ** 2))
    if noise_rms == 0 or level <= 0:
        return speech.astype(np.float32)
    return (speech + np.float32(level * speech_rms / noise_rms) * noise).astype(np.float32)
