import os

import numpy as np
import pytest
import soundfile

from src.common.files import is_temp_name
from src.data.manifest import read_manifest
from src.prep.common import (PrepError, Progress, convert_audio, filter_by_duration, is_valid_wav, pair_jobs,
                             parallel_map, wav_duration, write_csv_manifest, write_manifests)


def _tone(path, seconds, rate=8000, channels=1, subtype="PCM_16"):
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 440 * t)
    if channels > 1:
        x = np.stack([x] * channels, axis=1)
    soundfile.write(str(path), x, rate, subtype=subtype)
    return str(path)


def _temps(folder):
    return [n for n in os.listdir(folder) if is_temp_name(n)]


def test_convert_audio_to_16k_mono_pcm16(tmp_path):
    src = _tone(tmp_path / "in.wav", 0.5, rate=8000, channels=2, subtype="FLOAT")
    dst = str(tmp_path / "out.wav")
    assert convert_audio(src, dst)
    info = soundfile.info(dst)
    assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
    assert abs(wav_duration(dst) - 0.5) < 0.01
    mtime = os.stat(dst).st_mtime_ns
    assert not convert_audio(src, dst)  # already there: nothing redone
    assert os.stat(dst).st_mtime_ns == mtime
    assert _temps(tmp_path) == []


def test_convert_audio_errors_name_the_problem(tmp_path, monkeypatch):
    with pytest.raises(PrepError, match="missing.wav"):
        convert_audio(str(tmp_path / "missing.wav"), str(tmp_path / "o.wav"))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 10)
    with pytest.raises(PrepError, match="sox failed"):
        convert_audio(str(bad), str(tmp_path / "o.wav"))
    assert not (tmp_path / "o.wav").exists() and _temps(tmp_path) == []  # failed run leaves nothing behind
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    src = _tone(tmp_path / "in.wav", 0.1)
    with pytest.raises(PrepError, match="'sox' not found"):
        convert_audio(src, str(tmp_path / "o.wav"))


def test_invalid_or_wrong_format_wav_is_redone(tmp_path):
    dst = tmp_path / "out.wav"
    _tone(dst, 0.2, rate=8000)  # exists but is 8 kHz: not the toolkit format
    assert not is_valid_wav(str(dst))
    assert convert_audio(_tone(tmp_path / "in.wav", 0.2), str(dst))
    assert is_valid_wav(str(dst))
    (tmp_path / "in.txt").write_text("x")
    with pytest.raises(PrepError, match="in.txt"):
        wav_duration(str(tmp_path / "in.txt"))


def test_write_csv_manifest_sorted_by_duration(tmp_path):
    pairs = []
    for name, seconds in (("long", 0.9), ("short", 0.1), ("mid", 0.4)):
        wav = _tone(tmp_path / f"{name}.wav", seconds, rate=16000)
        txt = tmp_path / f"{name}.txt"
        txt.write_text(name.upper() + "\n")
        pairs.append((os.path.relpath(wav), str(txt)))  # relative input becomes absolute
    manifest = tmp_path / "m.csv"
    assert write_csv_manifest(str(manifest), pairs) == 3
    lines = manifest.read_text().splitlines()
    assert [os.path.basename(line.split(",")[0]) for line in lines] == ["short.wav", "mid.wav", "long.wav"]
    for line in lines:
        wav, txt = line.split(",")
        assert os.path.isabs(wav) and os.path.isfile(wav) and os.path.isabs(txt) and os.path.isfile(txt)
    mtime = os.stat(manifest).st_mtime_ns
    write_csv_manifest(str(manifest), reversed(pairs))
    assert os.stat(manifest).st_mtime_ns == mtime  # same content: not rewritten
    with pytest.raises(PrepError, match="nothere.wav"):
        write_csv_manifest(str(manifest), [(str(tmp_path / "nothere.wav"), str(txt))])


def _square(x):
    if x == -1:
        raise PrepError("thirteen")
    return x * x


@pytest.mark.parametrize("workers", [1, 2])
def test_parallel_map_keeps_order_and_raises(workers):
    assert parallel_map(_square, list(range(50)), workers) == [x * x for x in range(50)]
    assert parallel_map(_square, [], workers) == []
    with pytest.raises(PrepError, match="thirteen"):
        parallel_map(_square, list(range(20)) + [-1] + list(range(20)), workers)


def test_manifest_pair_and_duration_filter(tmp_path, capsys):
    split = tmp_path / "mine"
    jobs = pair_jobs(str(split), [("b", "src_b.flac", "B"), ("a", "src_a.flac", "A")])
    assert jobs[1] == ("src_a.flac", str(split / "wav" / "a.wav"), str(split / "txt" / "a.txt"), "A")
    rows = []
    for name, seconds in (("long", 0.9), ("short", 0.1), ("mid", 0.4)):
        wav = _tone(split / "wav" / f"{name}.wav", seconds, rate=16000)
        (split / "txt" / f"{name}.txt").write_text(name.upper() + "\n")
        rows.append((wav, str(split / "txt" / f"{name}.txt"), seconds))
    kept = filter_by_duration(rows, 0.2, 1.0, "mine")
    assert [os.path.basename(r[0]) for r in kept] == ["long.wav", "mid.wav"]
    assert "mine: kept 2 utterances (0.000 h), dropped 1 (0.000 h) outside [0.2, 1.0] s" in capsys.readouterr().out
    assert filter_by_duration(rows, None, None, "mine") == rows
    paths = write_manifests(str(tmp_path), "mine", str(split), rows)
    csv_rows = [tuple(line.split(",")) for line in open(paths["csv"]).read().splitlines()]
    json_entries = read_manifest(paths["json"])
    assert [(e.wav_path, e.txt_path) for e in json_entries] == csv_rows  # same rows, same order
    assert [os.path.basename(w) for w, _ in csv_rows] == ["short.wav", "mid.wav", "long.wav"]
    assert '"wav_path": "wav/short.wav"' in open(paths["json"]).read()  # relative to root_path, movable


def test_progress_prints_rate_and_eta(capsys):
    progress = Progress(200, "convert x", every_s=1e9)
    progress.start -= 10.0  # as if 10 s had passed
    progress.last_time -= 10.0
    progress.update(50)
    progress.update(51)  # under 10 % more: quiet
    progress.update(200)
    progress.update(200)  # the final line only once
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[prep] convert x: 50/200 files (25 %, 5.0 files/s, elapsed 0:00:10, ETA 0:00:30)")
    assert "200/200 files (100 %" in lines[1]
