"""Clean spectrograms computed once and kept on disk (``DataConfig.feature_cache_dir``).

Every epoch otherwise decodes each audio file and recomputes its STFT. The cache stores the
clean, normalised spectrogram (augmentation is applied on top, per epoch, as before) and is
keyed so that a stale entry is never used:

- one folder per feature configuration (``SpectParams`` plus a version of the feature code), so
  changing ``SpectConfig`` starts a fresh folder instead of reusing features of another config;
- one file per audio file, named by a hash of its absolute path plus its size and mtime, so an
  audio file that is replaced or edited is recomputed (the stale entry is removed then).

Files are written to a temporary name and renamed, so a killed run or several data workers at
once never leave a half-written entry; an unreadable entry is recomputed.
"""
import glob
import hashlib
import json
import os
from dataclasses import asdict

import numpy as np

from src.common.files import atomic_write
from src.data.features import SpectParams, audio_features

# Bump when src/data/features.py computes different numbers for the same SpectParams.
FEATURES_VERSION = 1


def _described(params: SpectParams) -> dict:
    """The settings that name a cache folder; keys added later count only when set, so the folders of
    the zoo's features keep their names."""
    settings, defaults = asdict(params), asdict(SpectParams())
    for name in ("n_mels", "normalize"):
        if settings[name] == defaults[name]:
            del settings[name]
    return settings


def config_fingerprint(params: SpectParams) -> str:
    """Short hash naming the cache folder of one feature configuration."""
    text = json.dumps({"version": FEATURES_VERSION, **_described(params)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class FeatureCache:
    """Callable ``utt -> clean spectrogram``, for ``BatchSource(feature_fn=...)``; picklable for workers."""

    def __init__(self, cache_dir: str, params: SpectParams):
        self.params = params
        self.folder = os.path.join(os.path.abspath(cache_dir), config_fingerprint(params))
        os.makedirs(self.folder, exist_ok=True)
        description = os.path.join(self.folder, "spect_config.json")
        if not os.path.exists(description):  # for people looking into the cache
            with atomic_write(description) as fh:
                json.dump({"version": FEATURES_VERSION, **_described(params)}, fh, indent=1)

    def entry_path(self, wav_path: str) -> str:
        """Where the features of ``wav_path`` in its current state are (or would be) stored."""
        stat = os.stat(wav_path)
        key = hashlib.sha1(os.path.abspath(wav_path).encode()).hexdigest()
        return os.path.join(self.folder, key[:2], f"{key}-{stat.st_size}-{stat.st_mtime_ns}.npy")

    def features(self, wav_path: str) -> np.ndarray:
        path = self.entry_path(wav_path)
        try:
            return np.load(path, allow_pickle=False)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, EOFError):  # damaged entry: recompute below
            pass
        spec = audio_features(wav_path, self.params)[0]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        for stale in glob.glob(path.rsplit("-", 2)[0] + "-*.npy"):  # the same file before it changed
            if stale != path:
                try:
                    os.remove(stale)
                except FileNotFoundError:  # another worker removed it first
                    pass
        # no fsync: a power cut leaves at worst an empty or zeroed entry, which np.load rejects (recomputed above)
        with atomic_write(path, "wb", fsync=False) as fh:
            np.save(fh, spec, allow_pickle=False)
        return spec

    def __call__(self, utt) -> np.ndarray:
        return self.features(utt.wav_path)
