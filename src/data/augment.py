"""Training-time data augmentation (never used in eval): speed/gain, noise, SpecAugment.

Switched by the zoo's ``AugmentationConfig`` keys (which the zoo itself never read) plus a few
new ones. Everything draws from a NumPy generator seeded by (seed, epoch, utterance), so a run, a
resumed run and a data-parallel run see the same augmented data.

- ``speed_volume_perturb``: resample the waveform by a factor in [speed_min, speed_max] (speed
  perturbation as in Kaldi recipes: tempo and pitch change together, which mimics other vocal
  tracts) and scale it by a gain in [gain_min, gain_max] dB.
- ``noise_dir``: with probability ``noise_prob`` add a random segment of a random recording from
  that folder at a level in [noise_min, noise_max] relative to the speech RMS (deepspeech.pytorch;
  level L is an SNR of -20 log10 L dB: 0.5 = 6 dB, 0.316 = 10 dB, 0.1 = 20 dB). ``python -m
  src.tools.noise make`` writes such a folder when you have no noise recordings.
- ``vtlp``: vocal tract length perturbation (Jaitly & Hinton 2013): the frequency axis of the
  spectrogram is warped by a factor in [vtlp_min, vtlp_max] (piecewise linear, Nyquist fixed),
  which moves the formants as a longer or shorter vocal tract would, without changing tempo or
  pitch as speed perturbation does. Aimed at new speakers.
- ``spec_augment``: ``freq_masks`` bands of up to ``freq_mask_width`` bins and ``time_masks``
  spans of up to ``time_mask_ratio`` of the utterance, set to 0 (the normalised mean); the masks
  together never cover half of either axis.
"""
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from src.config.schema import AugmentationConfig
from src.data.features import load_audio
from src.data.noise import add_noise, noise_files, noise_segment


@dataclass(frozen=True)
class AugmentParams(AugmentationConfig):
    """``AugmentationConfig`` (its keys and defaults), with what it switches on."""

    @classmethod
    def from_config(cls, aug_cfg) -> "AugmentParams":
        """The section's values (ranges are checked with the whole config, src/config/checks.py) and a
        noise folder that holds audio."""
        params = super().from_config(aug_cfg)
        if params.noise_dir and not noise_files(params.noise_dir):
            raise ValueError(f"AugmentationConfig.noise_dir {params.noise_dir!r}: no .wav/.flac files found")
        return params

    @property
    def enabled(self) -> bool:
        return self.speed_volume_perturb or self.spec_augment or self.vtlp or bool(self.noise_dir)

    @property
    def waveform(self) -> bool:
        return self.speed_volume_perturb or bool(self.noise_dir)


@lru_cache(maxsize=64)
def _noise(path: str, sample_rate: int) -> np.ndarray:
    return load_audio(path, sample_rate)


def perturb_waveform(samples: np.ndarray, rng: np.random.Generator, params: AugmentParams,
                     sample_rate: int = 16000) -> np.ndarray:
    if params.speed_volume_perturb:
        factor = rng.uniform(params.speed_min, params.speed_max)
        length = max(int(round(len(samples) / factor)), 1)
        positions = np.linspace(0, len(samples) - 1, length)
        samples = np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
        samples = samples * np.float32(10 ** (rng.uniform(params.gain_min, params.gain_max) / 20))
    if params.noise_dir and rng.uniform() < params.noise_prob:
        files = noise_files(params.noise_dir)
        noise = noise_segment(_noise(files[rng.integers(len(files))], sample_rate), len(samples), rng)
        samples = add_noise(samples, noise, rng.uniform(params.noise_min, params.noise_max))
    return samples.astype(np.float32)


def warp_frequencies(spec: np.ndarray, alpha: float, boundary: float = 0.8) -> np.ndarray:
    """(bins, frames) spectrogram with its frequency axis scaled by ``alpha`` (a copy).

    A source bin f goes to alpha * f up to f0 = boundary * top * min(alpha, 1) / alpha, then
    linearly so the top bin stays the top bin: nothing is pushed off the axis or left empty.
    """
    bins = spec.shape[0]
    top = bins - 1.0
    f0 = boundary * top * min(alpha, 1.0) / alpha
    source = np.array([0.0, f0, top])
    target = np.array([0.0, alpha * f0, top])
    pos = np.interp(np.arange(bins, dtype=np.float64), target, source)  # where each output bin reads
    low = np.clip(np.floor(pos).astype(np.int64), 0, bins - 1)
    high = np.minimum(low + 1, bins - 1)
    frac = (pos - low).astype(spec.dtype)[:, None]
    return spec[low] * (1 - frac) + spec[high] * frac


def vtlp(spec: np.ndarray, rng: np.random.Generator, params: AugmentParams) -> np.ndarray:
    return warp_frequencies(spec, float(rng.uniform(params.vtlp_min, params.vtlp_max)))


def spec_augment(spec: np.ndarray, rng: np.random.Generator, params: AugmentParams) -> np.ndarray:
    """Frequency and time masks on a normalised (bins, frames) spectrogram (a copy)."""
    spec = spec.copy()
    bins, frames = spec.shape
    width = min(params.freq_mask_width, bins // (2 * max(params.freq_masks, 1)))
    for _ in range(params.freq_masks):
        w = int(rng.integers(0, width + 1))
        start = int(rng.integers(0, bins - w + 1))
        spec[start:start + w, :] = 0.0
    width = min(int(params.time_mask_ratio * frames), frames // (2 * max(params.time_masks, 1)))
    for _ in range(params.time_masks):
        w = int(rng.integers(0, width + 1))
        start = int(rng.integers(0, frames - w + 1))
        spec[:, start:start + w] = 0.0
    return spec
