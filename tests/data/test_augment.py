import numpy as np
import pytest
import soundfile as sf

import config
from src.data.augment import AugmentParams, perturb_waveform, spec_augment, warp_frequencies
from src.data.batching import BatchSource, load_utterances, make_batches
from src.data.features import SpectParams
from src.data.labels import Labels
from tests.helpers import fsdd_manifest

LABELS = Labels.load("labels.json")


def test_masks_have_bounded_sizes_and_never_cover_everything():
    params = AugmentParams(spec_augment=True, freq_masks=2, freq_mask_width=15, time_masks=2, time_mask_ratio=0.5)
    spec = np.ones((161, 40), np.float32)
    for seed in range(50):
        out = spec_augment(spec, np.random.default_rng(seed), params)
        masked_bins = int((out == 0).all(axis=1).sum())
        masked_frames = int((out == 0).all(axis=0).sum())
        assert masked_bins <= 30 and masked_frames <= 20
        assert (out == 1).any()
    assert (spec == 1).all()  # the input is not modified


def test_speed_changes_the_length_by_the_factor():
    samples = np.sin(np.arange(16000) / 7.0).astype(np.float32)
    params = AugmentParams(speed_volume_perturb=True, speed_min=1.25, speed_max=1.25, gain_min=0, gain_max=0)
    out = perturb_waveform(samples, np.random.default_rng(0), params)
    assert len(out) == round(16000 / 1.25)


def test_noise_level_is_relative_to_speech(tmp_path):
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "n.wav", rng.standard_normal(32000).astype(np.float32) * 0.05, 16000)
    speech = (np.sin(np.arange(16000) / 5.0) * 0.3).astype(np.float32)
    params = AugmentParams(noise_dir=str(tmp_path), noise_prob=1.0, noise_min=0.316, noise_max=0.316)
    noisy = perturb_waveform(speech, np.random.default_rng(1), params)
    noise = noisy - speech
    snr = 20 * np.log10(np.sqrt(np.mean(speech ** 2)) / np.sqrt(np.mean(noise ** 2)))
    assert snr == pytest.approx(10.0, abs=0.3)  # level 0.316 = 10 dB SNR


def test_off_is_bit_identical_and_on_is_seeded(tmp_path):
    manifest = fsdd_manifest(str(tmp_path), per_digit=1)
    utts, _ = load_utterances(manifest, LABELS, SpectParams())
    batches = make_batches(utts, 4, shuffle=False)
    plain = BatchSource(utts, batches, SpectParams(), LABELS.blank, 4)[0][0]
    off = BatchSource(utts, batches, SpectParams(), LABELS.blank, 4, augment=AugmentParams(), epoch=3)[0][0]
    np.testing.assert_array_equal(plain, off)
    on = AugmentParams(speed_volume_perturb=True, spec_augment=True)
    a = BatchSource(utts, batches, SpectParams(), LABELS.blank, 4, augment=on, seed=1, epoch=2)[0][0]
    b = BatchSource(utts, batches, SpectParams(), LABELS.blank, 4, augment=on, seed=1, epoch=2)[0][0]
    c = BatchSource(utts, batches, SpectParams(), LABELS.blank, 4, augment=on, seed=1, epoch=3)[0][0]
    np.testing.assert_array_equal(a, b)
    assert a.shape != plain.shape or not np.array_equal(a, plain)
    assert a.shape != c.shape or not np.array_equal(a, c)


def test_a_noise_folder_without_audio_is_named(tmp_path):
    # the ranges (speed_min <= speed_max ...) are checked with the whole config: tests/config/test_checks.py
    aug_cfg = config.train_config.DataConfig.AugmentationConfig
    with pytest.raises(ValueError, match="noise_dir '/nonexistent': no .wav/.flac files found"):
        AugmentParams.from_config(dict(aug_cfg, noise_dir="/nonexistent"))
    (tmp_path / "n.wav").write_bytes(b"")
    assert AugmentParams.from_config(dict(aug_cfg, noise_dir=str(tmp_path))).noise_dir == str(tmp_path)


def test_vtlp_moves_formants_by_the_factor_and_keeps_the_axis():
    bins, frames = 161, 5
    spec = np.zeros((bins, frames), np.float32)
    spec[50] = 1.0  # one "formant" at bin 50
    np.testing.assert_allclose(warp_frequencies(spec, 1.0), spec)
    for alpha in (0.9, 1.1):
        warped = warp_frequencies(spec, alpha)
        assert warped.shape == spec.shape
        centre = (warped[:, 0] * np.arange(bins)).sum() / warped[:, 0].sum()
        assert abs(centre - 50 * alpha) < 0.5
    edge = np.zeros((bins, frames), np.float32)
    edge[-1] = 1.0  # the top bin stays the top bin: nothing pushed off the axis
    assert warp_frequencies(edge, 1.1)[-1, 0] == pytest.approx(1.0)
    assert warp_frequencies(edge, 0.9)[-1, 0] == pytest.approx(1.0)


def test_vtlp_is_applied_in_the_batch_source_and_seeded(tmp_path):
    manifest = fsdd_manifest(str(tmp_path), per_digit=1)
    utts, _ = load_utterances(manifest, LABELS, SpectParams())
    batches = make_batches(utts, 4, shuffle=False)
    plain = BatchSource(utts, batches, SpectParams(), LABELS.blank, 4)[0][0]
    on = AugmentParams(vtlp=True)
    a = BatchSource(utts, batches, SpectParams(), LABELS.blank, 4, augment=on, seed=1, epoch=2)[0][0]
    b = BatchSource(utts, batches, SpectParams(), LABELS.blank, 4, augment=on, seed=1, epoch=2)[0][0]
    np.testing.assert_array_equal(a, b)
    assert a.shape == plain.shape and not np.allclose(a, plain)
