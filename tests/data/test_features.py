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
