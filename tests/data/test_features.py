import numpy as np
import pytest

import config
from src.data.features import SpectParams, load_audio, spectrogram


def reference_spectrogram(samples, n_fft=320, hop=160):
    """A deliberately plain loop: reflect-pad, periodic Hamming, full FFT, first n_fft/2+1 bins."""
    window = np.hamming(n_fft + 1)[:-1]  # periodic
    padded = np.pad(samples, (n_fft // 2, n_fft // 2), mode="reflect")
    frames = 1 + len(samples) // hop
    out = np.empty((n_fft // 2 + 1, frames))
    for t in range(frames):
        seg = padded[t * hop:t * hop + n_fft] * window
        out[:, t] = np.abs(np.fft.fft(seg))[: n_fft // 2 + 1]
    out = np.log1p(out)
    return (out - out.mean()) / out.std()


def test_spectrogram_matches_numpy_reference():
    rng = np.random.default_rng(0)
    samples = (0.1 * rng.standard_normal(16000 + 77)).astype(np.float32)
    spec = spectrogram(samples)
    ref = reference_spectrogram(samples.astype(np.float64))
    assert spec.shape == (161, 1 + len(samples) // 160) == ref.shape
    assert spec.dtype == np.float32
    np.testing.assert_allclose(spec, ref, atol=2e-4)


def test_spectrogram_matches_mindspore_dataset_audio():
    import mindspore.dataset.audio as audio

    rng = np.random.default_rng(1)
    samples = (0.1 * rng.standard_normal(8000)).astype(np.float32)
    ms_spec = audio.Spectrogram(n_fft=320, win_length=320, hop_length=160, window=audio.WindowType.HAMMING,
                                power=1.0, center=True, pad_mode=audio.BorderType.REFLECT)(samples)
    ms_spec = np.log1p(ms_spec)
    ms_spec = (ms_spec - ms_spec.mean()) / ms_spec.std()
    np.testing.assert_allclose(spectrogram(samples), ms_spec, atol=1e-3)


def test_train_and_eval_use_the_same_features():
    assert dict(config.train_config.DataConfig.SpectConfig) == dict(config.eval_config.DataConfig.SpectConfig)
    assert config.eval_config.DataConfig.SpectConfig.window == "hamming"


def test_zoo_hanning_name_is_accepted_as_hann():
    samples = np.random.default_rng(2).standard_normal(4000).astype(np.float32)
    a = spectrogram(samples, SpectParams(window="hanning"))
    b = spectrogram(samples, SpectParams(window="hann"))
    np.testing.assert_array_equal(a, b)


def test_very_short_audio_gives_frames_not_an_error():
    spec = spectrogram(np.ones(10, np.float32) * 0.1)
    assert spec.shape[0] == 161 and spec.shape[1] >= 1 and np.isfinite(spec).all()


def test_load_audio_resamples_and_downmixes(tmp_path):
    import soundfile as sf

    stereo = np.stack([np.sin(np.arange(8000) / 5.0), np.zeros(8000)], axis=1).astype(np.float32) * 0.5
    path = tmp_path / "x.wav"
    sf.write(path, stereo, 8000, subtype="PCM_16")
    with pytest.warns(UserWarning, match="resampled"):
        samples = load_audio(str(path), 16000)
    assert samples.ndim == 1 and abs(len(samples) - 16000) <= 1
    assert np.abs(samples).max() == pytest.approx(0.25, abs=0.02)


def _speech_like(seconds=2.0, seed=3):
    """Noise with a syllable-rate envelope: energy in every band, varying over time."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.1 * rng.standard_normal(t.size) * (1.2 + np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def test_log_mel_bands_have_the_linear_frames_and_put_a_tone_in_its_band():
    from src.data.features import mel_filters

    params = SpectParams(n_mels=80)
    assert params.n_bins == 80 and params.fft_size == 512
    t = np.arange(16000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    spec = spectrogram(tone, params)
    assert spec.shape == (80, spectrogram(tone).shape[1]) and spec.dtype == np.float32
    filters = mel_filters(80, 512, 16000)
    peak_band = int(np.argmax(filters[:, round(1000 / (8000 / 256))]))
    assert abs(int(np.argmax(spec.mean(axis=1))) - peak_band) <= 1
    assert (filters.max(axis=1) > 0.3).all()  # even the narrowest low band holds an FFT bin well inside it
    assert (filters[40:].max(axis=1) > 0.8).all()  # wide bands: triangles that an FFT bin samples near their peak


def test_per_band_normalisation_removes_a_microphones_colouring():
    """A fixed filter (a channel) adds log|H|^2 to each band: per band it is gone, per utterance it is not."""
    from scipy.signal import lfilter

    clean = _speech_like()
    coloured = lfilter([1.0, -0.9], [1.0], clean).astype(np.float32)  # a strong tilt: high bands louder
    diffs = {}
    for per in ("band", "utterance"):
        params = SpectParams(n_mels=40, normalize=per)
        diffs[per] = float(np.abs(spectrogram(clean, params) - spectrogram(coloured, params)).mean())
    assert diffs["band"] < 0.25 * diffs["utterance"]
    spec = spectrogram(clean, SpectParams(n_mels=40, normalize="band"))
    np.testing.assert_allclose(spec.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(spec.std(axis=1), 1, atol=1e-3)


def test_too_many_mel_bands_are_refused_when_the_settings_are_read():
    with pytest.raises(ValueError, match="n_mels 200: band 0 holds no FFT bin"):
        SpectParams(n_mels=200)


def test_the_checkpoint_records_only_features_that_are_not_the_zoos():
    from src.data.features import check_recorded_features, feature_meta

    assert feature_meta(SpectParams()) == {}
    mel = SpectParams(n_mels=64, normalize="band")
    assert feature_meta(mel) == {"n_mels": 64, "spect_normalize": "band"}
    check_recorded_features({"n_mels": 64, "spect_normalize": "band", "epoch": 3}, mel, "m.ckpt")
    check_recorded_features({"activation": "tanh"}, SpectParams(), "zoo.ckpt")
    with pytest.raises(ValueError, match=r"m.ckpt was trained on other features \(--n_mels 64 --normalize band\) "
                                         r"than these settings compute \(--n_mels 0 --normalize utterance\): "
                                         r"run it with --n_mels 64 --normalize band"):
        check_recorded_features(feature_meta(mel), SpectParams(), "m.ckpt")
    with pytest.raises(ValueError, match=r"zoo.ckpt was trained on other features \(--n_mels 0 --normalize utterance"):
        check_recorded_features({}, SpectParams(n_mels=64), "zoo.ckpt")


def test_an_exported_model_of_other_rows_gets_the_flag_that_gives_them():
    from src.data.features import mismatched_bins_hint

    assert "run it with --n_mels 0" in mismatched_bins_hint(161)
    assert "run it with --n_mels 80 and the --normalize" in mismatched_bins_hint(80)
    assert mismatched_bins_hint(None) == "" and mismatched_bins_hint(-1) == ""
