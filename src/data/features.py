"""Audio loading and the DeepSpeech2 spectrogram, one implementation for train, eval and export.

Features (as the model zoo / deepspeech.pytorch V2.1): 16 kHz audio, a 20 ms periodic Hamming
window (n_fft = win = 320), 10 ms hop, centred frames with reflect padding
(frames = 1 + samples // hop), magnitude -> log1p -> per-utterance scalar mean/std.
Computed in NumPy so the data workers need no MindSpore.

Beyond the zoo (``SpectConfig.n_mels`` / ``normalize``): N log-mel bands instead of the 161 linear
bins (mel bands smooth away the pitch harmonics that the linear bins resolve, which differ between
speakers), and a mean/std per band instead of one per utterance (cepstral mean and variance
normalisation, which removes a speaker's or microphone's spectral tilt). The checkpoint records both
(``feature_meta``), so eval/export/transcribe refuse features the network was not trained on. On the
Mini LibriSpeech recipe both learnt more slowly than the zoo's features (docs/accuracy.md, runs 8-10).
"""
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, Mapping, Tuple

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
        """Feature rows the network sees: the mel bands, or the linear bins of the STFT."""
        return int(self.n_mels) or freq_bins(self.n_fft)

    @property
    def fft_size(self) -> int:
        """The FFT length: the window itself for linear bins (the zoo's); for mel bands the next power of
        two, so that the narrow low bands each cover at least one FFT bin."""
        return 1 << (self.n_fft - 1).bit_length() if self.n_mels else self.n_fft

    def describe(self) -> str:
        kind = f"{self.n_mels} log-mel bands" if self.n_mels else f"{self.n_bins} linear bins"
        return f"{kind}, normalised per {self.normalize}"

    def num_frames(self, num_samples: int) -> int:
        return 1 + num_samples // self.hop

    def __post_init__(self) -> None:
        if self.n_mels:  # too many bands is a settings error: say so now, not in a data worker
            mel_filters(int(self.n_mels), self.fft_size, int(self.sample_rate))


@lru_cache(maxsize=8)
def _window(name: str, n_fft: int) -> np.ndarray:
    name = _WINDOW_ALIASES.get(name, name)
    try:
        return get_window(name, n_fft, fftbins=True).astype(np.float32)
    except ValueError as err:
        raise ValueError(f"SpectConfig.window {name!r} is not a window SciPy knows ({err})") from None


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)  # HTK's mel scale


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def mel_filters(n_mels: int, fft_size: int, sample_rate: int) -> np.ndarray:
    """(n_mels, fft_size // 2 + 1) triangular filters, equally spaced on the mel scale from 0 Hz to
    Nyquist, each peaking at 1. Refused when a band would hold no FFT bin (too many bands)."""
    edges = _mel_to_hz(np.linspace(0.0, _hz_to_mel(sample_rate / 2.0), n_mels + 2))
    freqs = np.linspace(0.0, sample_rate / 2.0, fft_size // 2 + 1)
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - low) / (centre - low)
    falling = (high - freqs[None, :]) / (high - centre)
    filters = np.maximum(0.0, np.minimum(rising, falling))
    empty = np.flatnonzero(filters.sum(axis=1) == 0)
    if empty.size:
        raise ValueError(f"SpectConfig.n_mels {n_mels}: band {int(empty[0])} holds no FFT bin at "
                         f"{fft_size} points and {sample_rate} Hz; use fewer bands")
    return filters.astype(np.float32)


def _normalise(spec: np.ndarray, per: str) -> np.ndarray:
    """Zero mean, unit variance over the utterance: one pair of statistics, or one per band."""
    if per == "band":
        mean, std = spec.mean(axis=1, keepdims=True), spec.std(axis=1, keepdims=True)
        return ((spec - mean) / np.maximum(std, 1e-5)).astype(np.float32)
    mean, std = spec.mean(), spec.std()
    return ((spec - mean) / (std + 1e-10)).astype(np.float32) if std > 0 else (spec - mean).astype(np.float32)


def feature_meta(params: SpectConfig) -> Dict[str, object]:
    """What a checkpoint records about its features: only what differs from the zoo's, so that
    checkpoints of the zoo's features stay as they were."""
    meta: Dict[str, object] = {}
    if int(params.n_mels):
        meta["n_mels"] = int(params.n_mels)
    if str(params.normalize) != "utterance":
        meta["spect_normalize"] = str(params.normalize)
    return meta


def recorded_features(meta: Mapping[str, object]) -> Dict[str, object]:
    """The feature entries of a checkpoint's metadata (``feature_meta``'s form; {} = the zoo's features)."""
    return {k: meta[k] for k in ("n_mels", "spect_normalize") if k in meta}


def feature_flags(meta: Mapping[str, object]) -> str:
    """The command-line flags that compute the features ``meta`` records (the defaults when it records none)."""
    return f"--n_mels {int(meta.get('n_mels', 0))} --normalize {meta.get('spect_normalize', 'utterance')}"


def check_recorded_features(meta: Mapping[str, object], params: SpectConfig, path: str) -> None:
    """Refuse to run a network on features other than those it was trained on (``path`` names it)."""
    recorded = recorded_features(meta)
    if recorded != feature_meta(params):
        raise ValueError(f"{path} was trained on other features ({feature_flags(recorded)}) than these settings "
                         f"compute ({feature_flags(feature_meta(params))}): run it with {feature_flags(recorded)}")


def mismatched_bins_hint(bins) -> str:
    """For an exported model whose input rows are not these features' rows: the flag that gives them."""
    if not isinstance(bins, int) or bins <= 0:
        return ""
    if bins == SpectParams().n_bins:
        return f" (its {bins} rows are the default linear bins: run it with --n_mels 0)"
    return (f" ({bins} rows: if they are log-mel bands, run it with --n_mels {bins} and the --normalize it was "
            "trained with)")


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
    """Normalised log spectrogram (linear bins or mel bands), shape (n_bins, 1 + len // hop), float32."""
    n_fft, hop = params.n_fft, params.hop
    half = n_fft // 2
    samples = np.asarray(samples, dtype=np.float32)
    if samples.size <= half:  # reflect padding needs more samples than the pad
        samples = np.pad(samples, (0, half + 1 - samples.size))
    padded = np.pad(samples, (half, half), mode="reflect")
    frames = params.num_frames(len(samples))
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(padded[idx] * _window(params.window, n_fft), n=params.fft_size, axis=1)).T
    if params.n_mels:
        power = mel_filters(int(params.n_mels), params.fft_size, params.sample_rate) @ np.square(spec)
        spec = np.log(power + 1e-6)
    else:
        spec = np.log1p(spec)
    return _normalise(spec, str(params.normalize))


def audio_features(path: str, params: SpectParams = SpectParams()) -> Tuple[np.ndarray, float]:
    """Spectrogram of a file and its duration in seconds."""
    samples = load_audio(path, params.sample_rate)
    return spectrogram(samples, params), len(samples) / params.sample_rate
