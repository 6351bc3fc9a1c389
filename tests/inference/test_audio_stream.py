import glob
import os

import numpy as np
import pytest
import soundfile

from src.inference.audio_stream import quietest_cut, sox_samples, split_at_silences
from src.data.features import AudioError
from tests.helpers import FSDD, LIBRI

FLAC = sorted(glob.glob(os.path.join(LIBRI, "test-other", "*", "*", "*.flac")))[0]


def test_sox_pipe_gives_the_samples_soundfile_reads():
    blocks = list(sox_samples(FLAC, block_seconds=1.0))
    assert len(blocks) > 5 and all(len(b) <= 16000 for b in blocks)
    expected, rate = soundfile.read(FLAC, dtype="float32")
    assert rate == 16000 and np.array_equal(np.concatenate(blocks), expected)


def test_other_rates_are_resampled_to_16k():
    wav = os.path.join(FSDD, "3_george_12.wav")
    original = soundfile.info(wav)
    samples = np.concatenate(list(sox_samples(wav)))
    assert original.samplerate == 8000
    assert len(samples) == pytest.approx(2 * original.frames, abs=2)


def test_unreadable_input_names_the_file(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    with pytest.raises(AudioError, match="notes.wav: sox cannot read it"):
        list(sox_samples(str(bad)))


def test_a_reader_that_stops_early_leaves_no_sox_running():
    import psutil

    def sox_children():
        return [p for p in psutil.Process().children() if p.name() == "sox"]

    stream = sox_samples(FLAC, block_seconds=0.1)
    next(stream)
    assert len(sox_children()) == 1
    stream.close()
    assert sox_children() == []


def noise_with_gap(rng, seconds, gap_start, gap_seconds, rate=16000):
    signal = rng.standard_normal(int(seconds * rate)).astype(np.float32) * 0.3
    a, b = int(gap_start * rate), int((gap_start + gap_seconds) * rate)
    signal[a:b] *= 0.001
    return signal


def test_chunks_cover_the_stream_and_end_in_pauses():
    rng = np.random.default_rng(0)
    # 25 s of "speech" with pauses at 7.0-7.3 s and 16.5-16.8 s; chunks of at most 10 s
    signal = noise_with_gap(rng, 25, 7.0, 0.3)
    signal[int(16.5 * 16000):int(16.8 * 16000)] *= 0.001
    blocks = np.array_split(signal, 37)  # uneven blocks, as a pipe delivers them
    chunks = list(split_at_silences(blocks, 16000, max_seconds=10.0, search_seconds=5.0))
    starts = [c.start for c in chunks]
    assert 7.0 < starts[1] < 7.3 and 16.5 < starts[2] < 16.8
    assert all(len(c.samples) <= 10 * 16000 for c in chunks)
    assert np.array_equal(np.concatenate([c.samples for c in chunks]), signal)


def test_without_a_pause_the_chunk_is_still_bounded():
    signal = np.random.default_rng(1).standard_normal(16000 * 12).astype(np.float32)
    chunks = list(split_at_silences([signal], 16000, max_seconds=5.0, search_seconds=1.0))
    assert len(chunks) == 3 and all(len(c.samples) <= 5 * 16000 for c in chunks)
    assert all(4.0 <= len(c.samples) / 16000 for c in chunks[:-1])
    cut = quietest_cut(signal[:16000], 16000, 0.5)
    assert 8000 <= cut <= 16000
