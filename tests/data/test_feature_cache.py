"""The feature cache: hits return the computed features, edits and config changes invalidate."""
import os

import numpy as np
import soundfile as sf

from src.data.augment import AugmentParams
from src.data.batching import BatchSource
from src.data.feature_cache import FeatureCache
from src.data.features import SpectParams, audio_features
from src.data.sample_check import Utterance


def write_wav(path, seconds, seed):
    sf.write(path, np.random.default_rng(seed).standard_normal(int(16000 * seconds)).astype(np.float32) * 0.1, 16000)
    return str(path)


def entries(cache_dir):
    return sorted(os.path.join(root, f) for root, _, files in os.walk(cache_dir) for f in files if f.endswith(".npy"))


def test_a_hit_returns_the_stored_features_without_reading_the_audio(tmp_path):
    wav = write_wav(tmp_path / "a.wav", 0.5, 0)
    cache = FeatureCache(str(tmp_path / "cache"), SpectParams())
    first = cache.features(wav)
    np.testing.assert_array_equal(first, audio_features(wav)[0])
    [entry] = entries(tmp_path / "cache")
    np.save(entry, np.full_like(first, 7.0))  # a hit must come from the cache, not the audio
    assert (cache.features(wav) == 7.0).all()


def test_an_edited_audio_file_is_recomputed_and_its_stale_entry_removed(tmp_path):
    wav = write_wav(tmp_path / "a.wav", 0.5, 0)
    cache = FeatureCache(str(tmp_path / "cache"), SpectParams())
    old = cache.features(wav)
    write_wav(tmp_path / "a.wav", 0.7, 1)
    os.utime(wav, ns=(os.stat(wav).st_atime_ns, os.stat(wav).st_mtime_ns + 10**9))
    new = cache.features(wav)
    assert new.shape[1] > old.shape[1]
    np.testing.assert_array_equal(new, audio_features(wav)[0])
    assert len(entries(tmp_path / "cache")) == 1


def test_another_feature_config_does_not_reuse_entries(tmp_path):
    wav = write_wav(tmp_path / "a.wav", 0.5, 0)
    FeatureCache(str(tmp_path / "cache"), SpectParams()).features(wav)
    other = SpectParams(window="hann")
    spec = FeatureCache(str(tmp_path / "cache"), other).features(wav)
    np.testing.assert_array_equal(spec, audio_features(wav, other)[0])
    assert len(entries(tmp_path / "cache")) == 2


def test_mel_features_get_their_own_folder_and_the_zoos_folder_keeps_its_name(tmp_path):
    import hashlib
    import json
    from dataclasses import asdict

    from src.data.feature_cache import FEATURES_VERSION, config_fingerprint

    zoo = SpectParams()
    before = {k: v for k, v in asdict(zoo).items() if k not in ("n_mels", "normalize")}  # keys of the first caches
    assert config_fingerprint(zoo) == hashlib.sha256(json.dumps({"version": FEATURES_VERSION, **before},
                                                                sort_keys=True).encode()).hexdigest()[:16]
    wav = write_wav(tmp_path / "a.wav", 0.5, 0)
    mel = SpectParams(n_mels=40, normalize="band")
    spec = FeatureCache(str(tmp_path / "cache"), mel).features(wav)
    assert spec.shape[0] == 40 and config_fingerprint(mel) != config_fingerprint(zoo)
    np.testing.assert_array_equal(spec, audio_features(wav, mel)[0])


def test_a_damaged_entry_is_recomputed(tmp_path):
    wav = write_wav(tmp_path / "a.wav", 0.5, 0)
    cache = FeatureCache(str(tmp_path / "cache"), SpectParams())
    cache.features(wav)
    [entry] = entries(tmp_path / "cache")
    with open(entry, "r+b") as fh:
        fh.truncate(40)
    np.testing.assert_array_equal(cache.features(wav), audio_features(wav)[0])
    assert not [f for f in os.listdir(os.path.dirname(entry)) if f.startswith(".tmp-")]


def test_spec_augment_applies_on_top_of_cached_features(tmp_path):
    """Cached clean features + SpecAugment == computed features + the same SpecAugment."""
    wav = write_wav(tmp_path / "a.wav", 1.0, 0)
    utt = Utterance(wav, "A", (1,), SpectParams().num_frames(16000), "m.csv:1")
    augment = AugmentParams(spec_augment=True)
    plain = BatchSource([utt], [[0]], SpectParams(), 28, 1, augment=augment, seed=3, epoch=2)
    cached = BatchSource([utt], [[0]], SpectParams(), 28, 1, augment=augment, seed=3, epoch=2,
                         feature_fn=FeatureCache(str(tmp_path / "cache"), SpectParams()))
    for _ in range(2):  # a miss, then a hit
        np.testing.assert_array_equal(cached[0][0], plain[0][0])
    clean = audio_features(wav)[0]
    assert not np.array_equal(plain[0][0][0, 0, :, :clean.shape[1]], clean)  # SpecAugment did mask something
