import json
import os

import pytest

from src.data.manifest import Entry, ManifestError, read_manifest, write_csv


def test_csv_relative_paths_resolve_against_the_manifest(tmp_path):
    (tmp_path / "m.csv").write_text("wav/a.wav,txt/a.txt\n/abs/b.wav,/abs/b.txt\n\n")
    entries = read_manifest(str(tmp_path / "m.csv"))
    assert entries[0].wav_path == str(tmp_path / "wav" / "a.wav")
    assert entries[0].txt_path == str(tmp_path / "txt" / "a.txt")
    assert entries[1].wav_path == "/abs/b.wav"


def test_json_manifest_with_root_path(tmp_path):
    doc = {"root_path": "split", "samples": [{"wav_path": "wav/a.wav", "transcript_path": "txt/a.txt"}]}
    (tmp_path / "m.json").write_text(json.dumps(doc))
    (entry,) = read_manifest(str(tmp_path / "m.json"))
    assert entry.wav_path == str(tmp_path / "split" / "wav" / "a.wav")


def test_malformed_line_is_named(tmp_path):
    (tmp_path / "m.csv").write_text("a.wav,a.txt\njust-one-field\n")
    with pytest.raises(ManifestError, match=r"m\.csv:2"):
        read_manifest(str(tmp_path / "m.csv"))


def test_bad_json_is_named(tmp_path):
    (tmp_path / "m.json").write_text('{"samples": [{"wav_path": "x"}]}')
    with pytest.raises(ManifestError, match=r"samples\[0\]"):
        read_manifest(str(tmp_path / "m.json"))


def test_write_csv_is_atomic_and_round_trips(tmp_path):
    path = str(tmp_path / "out.csv")
    assert write_csv(path, [Entry("/a.wav", "/a.txt", "")]) == 1
    assert read_manifest(path)[0].wav_path == "/a.wav"
    assert [p for p in os.listdir(tmp_path) if "tmp" in p] == []
