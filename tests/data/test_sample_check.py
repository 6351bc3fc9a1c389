"""Every kind of bad manifest entry gets its reason and line; fuzzed input gets only skips or clear errors."""
import json
import os

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.tools.check_manifest import main as check_manifest
from src.data.batching import BatchSource
from src.data.features import SpectParams
from src.data.labels import Labels
from src.data.manifest import ManifestError
from src.data.sample_check import BadSampleError, SamplePolicy, load_utterances
from tests.helpers import BAD_ENTRIES, bad_manifest, fsdd_manifest

LABELS = Labels.load("labels.json")
LIMITS = dict(max_duration=10.0, max_label_length=12)


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return bad_manifest(str(tmp_path_factory.mktemp("bad")))


def line_of(manifest, stem):
    needle = stem if " " in stem else f"/{stem}.wav"
    for number, line in enumerate(open(manifest, encoding="utf-8").read().splitlines(), 1):
        if needle in line:
            return f"{manifest}:{number}"
    raise AssertionError(stem)


def test_every_bad_entry_is_skipped_with_its_reason_and_line(bad):
    utts, report = load_utterances(bad, LABELS, SpectParams(), policy=SamplePolicy(**LIMITS))
    assert report.total == 21 and report.kept == 8 == len(utts)  # 4 good + 8 kHz, stereo, '!', NaN (header only)
    for stem, reason in BAD_ENTRIES:
        assert any(m.startswith(line_of(bad, stem)) for m in report.examples[reason]), (stem, reason)
    assert sum(report.skipped.values()) == len(BAD_ENTRIES)
    assert report.converted == {"8000 Hz resampled to 16000 Hz": 1, "2 channels downmixed to mono": 1}
    assert report.dropped_chars["!"] == 1 and [u.text for u in utts if "chars" in u.wav_path] == ["SEVEN"]
    summary = report.summary()
    assert "13 of 21" not in summary and "8 of 21 utterances kept" in summary
    assert f"e.g. {line_of(bad, 'nope')}: " in summary


def test_error_policy_stops_at_the_first_bad_entry_naming_it(bad, tmp_path):
    with pytest.raises(BadSampleError, match=r"bad\.csv:16: expected 'wav_path,txt_path'.*malformed manifest line"):
        load_utterances(bad, LABELS, SpectParams(), policy=SamplePolicy("error"))
    no_malformed = tmp_path / "m.csv"
    no_malformed.write_text("".join(line + "\n" for line in open(bad).read().splitlines() if "," in line))
    with pytest.raises(BadSampleError, match=r"m\.csv:5: .*nope\.wav \(audio file missing"):
        load_utterances(str(no_malformed), LABELS, SpectParams(), policy=SamplePolicy("error"))


def test_other_formats_are_refused_without_convert_audio(bad):
    _, report = load_utterances(bad, LABELS, SpectParams(), policy=SamplePolicy(convert_audio=False, **LIMITS))
    assert report.skipped["sample rate other than configured (convert_audio is off)"] == 1
    assert report.skipped["not mono (convert_audio is off)"] == 1
    assert "is 8000 Hz, expected 16000 Hz" in report.summary()


def test_full_decode_finds_nan_samples(bad):
    _, report = load_utterances(bad, LABELS, SpectParams(), policy=SamplePolicy(decode_audio=True, **LIMITS))
    assert report.skipped["audio contains NaN/inf samples"] == 1 and report.kept == 7


def test_characters_outside_labels_are_refused_under_error(tmp_path):
    manifest = fsdd_manifest(str(tmp_path), per_digit=1)
    txt = open(manifest).readline().strip().split(",")[1]
    with open(txt, "w") as fh:
        fh.write("zero?")
    with pytest.raises(BadSampleError, match=r"m\.csv:1: .* has '\?' \(characters outside labels\.json"):
        load_utterances(manifest, LABELS, SpectParams(), policy=SamplePolicy("error"))


def test_json_manifest_paths_must_stay_under_root_path(tmp_path):
    manifest = fsdd_manifest(str(tmp_path / "data"), per_digit=1)
    wav, txt = open(manifest).readline().strip().split(",")
    doc = {"root_path": "data", "samples": [{"wav_path": os.path.basename(wav), "transcript_path": os.path.basename(txt)},
                                            {"wav_path": wav, "transcript_path": "../../x.txt"},
                                            {"wav_path": 3}]}
    (tmp_path / "m.json").write_text(json.dumps(doc))
    utts, report = load_utterances(str(tmp_path / "m.json"), LABELS, SpectParams())
    assert len(utts) == 1
    assert report.examples["path outside the manifest's root"] == [f"{tmp_path}/m.json:samples[1]: "
                                                                   f"{tmp_path.parent}/x.txt is outside {tmp_path}/data"]
    assert report.skipped["malformed manifest line"] == 1


def test_check_manifest_prints_the_report_and_exit_code(bad, capsys):
    assert check_manifest([bad, "--max_duration", "10", "--label_pad_length", "12"]) == 1
    out = capsys.readouterr().out
    assert "7 of 21 utterances kept" in out and "skipped 1: audio contains NaN/inf samples" in out
    good = os.path.join(os.path.dirname(bad), "good", "m.csv")
    assert check_manifest([good]) == 0


def test_a_file_that_breaks_after_the_check_gets_weight_zero(bad):
    utts, _ = load_utterances(bad, LABELS, SpectParams(), policy=SamplePolicy(**LIMITS))
    nan = next(i for i, u in enumerate(utts) if u.wav_path.endswith("nan.wav"))
    good = next(i for i, u in enumerate(utts) if i != nan)
    inputs, _, _, weights = BatchSource(utts, [[good, nan]], SpectParams(), LABELS.blank, 3)[0]
    assert list(weights) == [1, 0, 0] and np.isfinite(inputs).all()


# ---- fuzzing: random bytes, truncated wavs, random manifest lines -> a skip or a clear error, never a crash

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ALLOWED = (BadSampleError, ManifestError)


def run_data_path(manifest, policy):
    """The data path as training uses it: check entries, then build the batches of what is kept."""
    utts, report = load_utterances(manifest, LABELS, SpectParams(), policy=policy)
    assert report.kept + sum(report.skipped.values()) == report.total
    if utts:
        batch = BatchSource(utts, [list(range(len(utts)))], SpectParams(), LABELS.blank, len(utts))[0]
        assert np.isfinite(batch[0]).all()
    return utts, report


@FUZZ
@given(data=st.binary(max_size=4000), policy=st.sampled_from(["skip", "error"]))
def test_fuzz_random_bytes_as_audio(tmp_path, data, policy):
    (tmp_path / "a.wav").write_bytes(data)
    (tmp_path / "a.txt").write_text("one")
    (tmp_path / "m.csv").write_text("a.wav,a.txt\n")
    try:
        run_data_path(str(tmp_path / "m.csv"), SamplePolicy(policy))
    except ALLOWED as err:
        assert "m.csv:1" in str(err)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return fsdd_manifest(str(tmp_path_factory.mktemp("clips")), per_digit=1)


@FUZZ
@given(cut=st.integers(min_value=0, max_value=20000), decode=st.booleans())
def test_fuzz_truncated_wav(tmp_path, clips, cut, decode):
    rows = open(clips).read().split()
    data = open(rows[0].split(",")[0], "rb").read()
    (tmp_path / "cut.wav").write_bytes(data[:cut])
    (tmp_path / "m.csv").write_text("\n".join(rows[1:] + [f"cut.wav,{rows[0].split(',')[1]}"]))
    utts, report = run_data_path(str(tmp_path / "m.csv"), SamplePolicy(decode_audio=decode))
    assert report.total == 10 and len(utts) >= 9
    assert len(utts) == 9 or sf.info(str(tmp_path / "cut.wav")).frames > 0


@FUZZ
@given(lines=st.lists(st.text(max_size=60), max_size=6), policy=st.sampled_from(["skip", "error"]))
def test_fuzz_random_manifest_lines(tmp_path, lines, policy):
    manifest = tmp_path / "m.csv"
    manifest.write_text("\n".join(lines), encoding="utf-8")
    try:
        utts, _ = run_data_path(str(manifest), SamplePolicy(policy))
    except ALLOWED as err:
        assert str(manifest) in str(err)
    else:
        assert utts == []


@FUZZ
@given(doc=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                            st.sampled_from(["root_path", "samples", "wav_path", "transcript_path", "x"]),
                            inner, max_size=4), max_leaves=12))
def test_fuzz_random_json_manifests(tmp_path, doc):
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(doc))
    try:
        utts, _ = run_data_path(str(manifest), SamplePolicy())
    except ManifestError as err:
        assert str(manifest) in str(err)
    else:
        assert utts == []
