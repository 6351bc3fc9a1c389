"""import_audio.py on real recordings: FSDD (8 kHz, transcripts from a list file) and a folder of mixed
formats and sample rates made with sox."""
import os
import subprocess

import pytest
import soundfile

from src.prep.audio_import import collect_utterances, import_audio, read_transcript_list, utterance_id
from src.data.manifest import read_manifest
from src.prep.common import PrepError
from tests.helpers import FSDD, LIBRI, WORDS, manifest_rows, mtime_snapshot, run_script

pytestmark = pytest.mark.skipif(not (os.path.isdir(FSDD) and os.path.isdir(LIBRI)), reason="shared data not present")


def run_import(*args, check=True):
    return run_script("import_audio.py", *args, check=check)


def test_fsdd_with_a_list_file_of_digit_words(tmp_path):
    names = [f"{digit}_{speaker}_0.wav" for digit in range(10) for speaker in ("george", "lucas")]
    listing = tmp_path / "digits.txt"
    listing.write_text("".join(f"{name}|{WORDS[int(name[0])].lower()}\n" for name in names))
    target = tmp_path / "data"
    proc = run_import("--audio-dir", FSDD, "--transcripts", str(listing), "--target-dir", str(target),
                      "--name", "digits", "--num-workers", "2")
    assert "2480 audio file(s)" in proc.stdout and "not in" in proc.stdout  # the unlisted rest is ignored
    rows = manifest_rows(str(target / "digits_manifest.csv"))  # 16 kHz mono 16-bit, sorted by duration
    assert len(rows) == 20
    for wav, txt in rows:
        name = os.path.basename(wav)
        assert wav == str(target / "digits" / "wav" / name) and name in names
        assert open(txt).read() == WORDS[int(name[0])] + "\n"  # e.g. "THREE"
        source = soundfile.info(os.path.join(FSDD, name))
        assert source.samplerate == 8000 and abs(soundfile.info(wav).duration - source.duration) < 0.002
    json_rows = [(e.wav_path, e.txt_path) for e in read_manifest(str(target / "digits_manifest.json"))]
    assert json_rows == [tuple(r) for r in rows]
    before = mtime_snapshot(str(target))
    again = run_import("--audio-dir", FSDD, "--transcripts", str(listing), "--target-dir", str(target),
                       "--name", "digits")
    assert "0 converted, 20 already present" in again.stdout and mtime_snapshot(str(target)) == before


def _make(src, dst, *options):
    subprocess.run(["sox", src, *options, dst], check=True, capture_output=True)
    return dst


def test_mixed_formats_and_rates_with_per_file_transcripts(tmp_path):
    flac = os.path.join(LIBRI, "test-other", "367", "130732", "367-130732-0000.flac")
    digit = os.path.join(FSDD, "3_jackson_5.wav")
    audio = tmp_path / "audio"
    (audio / "speaker_b").mkdir(parents=True)
    made = {  # file -> (transcript, source)
        "a.mp3": ("this is an mp3 at forty four k", flac, ["-r", "44100", "-c", "2"]),
        "b.ogg": ("ogg vorbis twenty two k", flac, ["-r", "22050"]),
        "c.flac": ("flac at forty eight k stereo", flac, ["-r", "48000", "-c", "2", "-b", "24"]),
        "speaker_b/d.wav": ("three", digit, ["-r", "11025", "-b", "8", "-e", "unsigned-integer"]),
        "speaker_b/e.aiff": ("it's aiff", digit, ["-r", "32000"]),
    }
    for name, (text, source, options) in made.items():
        _make(source, str(audio / name), *options)
        (audio / name).with_suffix(".txt").write_text(f"  {text}\n")
    _make(digit, str(audio / "no_transcript.wav"))
    target = tmp_path / "data"
    proc = run_import("--audio-dir", str(audio), "--target-dir", str(target), "--name", "mine")
    assert "1 audio file(s) without a <stem>.txt transcript" in proc.stdout
    rows = manifest_rows(str(target / "mine_manifest.csv"))
    ids = {os.path.basename(w)[:-4]: (w, t) for w, t in rows}
    assert sorted(ids) == ["a", "b", "c", "speaker_b_d", "speaker_b_e"]
    for name, (text, source, _) in made.items():
        wav, txt = ids[utterance_id(str(audio), str(audio / name))]
        assert open(txt).read() == text.upper() + "\n"  # upper case, apostrophe kept, spaces squeezed
        tolerance = 0.1 if name.endswith(".mp3") else 0.01  # mp3 frames pad the end
        assert abs(soundfile.info(wav).duration - soundfile.info(source).duration) < tolerance


def test_csv_list_and_duration_filter(tmp_path):
    names = ["0_nicolas_1.wav", "5_nicolas_1.wav", "9_nicolas_1.wav"]
    listing = tmp_path / "list.csv"
    listing.write_text("path,text\n" + "".join(f'{n},"{WORDS[int(n[0])]}, said nicolas"\n' for n in names))
    assert [t for t, _ in read_transcript_list(str(listing), FSDD).values()] == \
        [f"{WORDS[int(n[0])]}, said nicolas" for n in names]
    durations = sorted(soundfile.info(os.path.join(FSDD, n)).duration for n in names)
    paths = import_audio(FSDD, str(tmp_path / "out"), "n", str(listing), workers=1,
                         max_duration=(durations[1] + durations[2]) / 2)
    assert len(manifest_rows(paths["csv"])) == 2 and len(read_manifest(paths["json"])) == 2
    assert len(os.listdir(tmp_path / "out" / "n" / "wav")) == 3


def test_bad_input_names_the_file(tmp_path):
    (tmp_path / "a").mkdir()
    _make(os.path.join(FSDD, "1_lucas_1.wav"), str(tmp_path / "a" / "x.wav"))
    _make(os.path.join(FSDD, "1_lucas_1.wav"), str(tmp_path / "a" / "x.flac"))
    (tmp_path / "a" / "x.txt").write_text("one\n")
    with pytest.raises(PrepError, match="would both become 'x.wav'"):
        collect_utterances(str(tmp_path / "a"), None)
    listing = tmp_path / "l.txt"
    listing.write_text("x.wav|one\nx.flac|\n")
    with pytest.raises(PrepError, match=r"l.txt:2: empty transcript"):
        collect_utterances(str(tmp_path / "a"), str(listing))
    listing.write_text("x.wav|one\nmissing.wav|two\n")
    proc = run_import("--audio-dir", str(tmp_path / "a"), "--transcripts", str(listing), "--target-dir",
                      str(tmp_path / "out"), check=False)
    assert proc.returncode == 2 and "l.txt:2: audio file not found" in proc.stderr and "Traceback" not in proc.stderr
    listing.write_text("x.wav one\n")
    with pytest.raises(PrepError, match=r"l.txt:1: expected 'path\|text'"):
        read_transcript_list(str(listing), str(tmp_path / "a"))
    (tmp_path / "b").mkdir()
    _make(os.path.join(FSDD, "1_lucas_1.wav"), str(tmp_path / "b" / "y.wav"))
    with pytest.raises(PrepError, match="no audio file with a transcript"):
        collect_utterances(str(tmp_path / "b"), None)
    (tmp_path / "a" / "x.txt").write_text("1 2 3\n")
    (tmp_path / "a" / "x.flac").unlink()
    proc = run_import("--audio-dir", str(tmp_path / "a"), "--target-dir", str(tmp_path / "out"))
    assert "warning: characters outside" in proc.stdout and "'1' x1" in proc.stdout
