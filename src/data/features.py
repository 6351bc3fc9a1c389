"""Audio loading and the DeepSpeech2 spectrogram, one implementation for train, eval and export.

Features (as the model zoo / deepspeech.pytorch V2.1): 16 kHz audio, a 20 ms periodic Hamming
window (n_fft = win = 320), 10 ms hop, centred frames with reflect padding
(frames = 1 + samples // hop), magnitude -> log1p -> per-utterance scalar mean/std.
Computed in NumPy so the data workers need no MindSpore.
"""
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Tuple

import numpy as np
import soundfile as sf
from scipy.signal import get_window, resample_poly

from src.common.errors import AudioError
from src.config.schema import SpectConfig
from src.model.geometry import freq_bins


# Window names the zoo configs use, mapped to what current SciPy accepts.
_WINDOW_ALIASES = {"hanning": "hann"}


@dataclass(frozen=True)
class SpectParams(SpectConfig):
    """``SpectConfig`` (its keys and defaults; ``SpectParams.from_config(cfg.DataConfig.SpectConfig)``)
    with the sizes derived from it."""

    @property
    def n_fft(self) -> int:
        return int(self.sample_rate * self.window_size)

    @property
    def hop(self) -> int:
        return int(self.sample_rate * self.window_stride)

    @property
    def n_bins(self) -> int:
        return freq_bins(self.n_fft)

    def num_frames(self, num_samples: int) -> int:
        return 1 + num_samples // self.hop


@lru_cache(maxsize=8)
def _window(name: str, n_fft: int) -> np.ndarray:
    name = _WINDOW_ALIASES.get(name, name)
    try:
        return get_window(name, n_fft, fftbins=True).astype(np.float32)
    except ValueError as err:
        raise ValueError(f"SpectConfig.window {name!r} is not a window SciPy knows ({err})") from None


_WARNED_RATES = set()  # warn once per rate and process; the data report counts the files


def load_audio(path: str, sample_rate: int = 16000) -> np.ndarray:
    """Mono float32 samples at ``sample_rate``; other rates are resampled with a warning."""
    try:
        samples, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises several types for bad files
        raise AudioError(f"{path}: cannot read audio ({err})") from None
    samples = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    if samples.size == 0:
        raise AudioError(f"{path}: the audio is empty")
    if rate != sample_rate:
        if rate not in _WARNED_RATES:
            _WARNED_RATES.add(rate)
            warnings.warn(f"{path}: {rate} Hz resampled to {sample_rate} Hz (other {rate} Hz files are resampled "
                          "without a warning)", stacklevel=2)
        g = math.gcd(rate, sample_rate)
        samples = resample_poly(samples, sample_rate // g, rate // g).astype(np.float32)
    return np.ascontiguousarray(samples, dtype=np.float32)


def spectrogram(samples: np.ndarray, params: SpectParams = SpectParams()) -> np.ndarray:
    """Normalised log-magnitude spectrogram, shape (n_bins, 1 + len // hop), float32."""
    n_fft, hop = params.n_fft, params.hop
    half = n_fft // 2
    samples = np.asarray(samples, dtype=np.float32)
    if samples.size <= half:  # reflect padding needs more samples than the pad
        samples = np.pad(samples, (0, half + 1 - samples.size))
    padded = np.pad(samples, (half, half), mode="reflect")
    frames = params.num_frames(len(samples))
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(padded[idx] * _window(params.window, n_fft), axis=1)).T
    spec = np.log1p(spec)
    mean, std = spec.mean(), spec.std()
    return ((spec - mean) / (std + 1e-10)).astype(np.float32) if std > 0 else (spec - mean).astype(np.float32)


def audio_features(path: str, params: SpectParams = SpectParams()) -> Tuple[np.ndarray, float]:
    """Spectrogram of a file and its duration in seconds."""
    samples = load_audio(path, params.sample_rate)
    return spectrogram(samples, params), len(samples) / params.sample_rate
