"""Splitting real Mini LibriSpeech speakers: no voice on both sides, balanced by sex, nothing lost or doubled."""
import os
import shutil

import pytest
import soundfile

from src.common.errors import run_main
from src.data.manifest import read_manifest
from src.prep.speaker_split import main, read_speakers_file, speaker_of
from tests.helpers import SHARED, run_script

MINI = os.path.join(SHARED, "mini-librispeech", "LibriSpeech")
FEMALE, MALE = ("669", "1088", "7859"), ("118", "1867", "2136")  # 1088 reads two chapters


def libri_subset(dest, part_dir, speakers, per_speaker):
    """A LibriSpeech tree ``dest/LibriSpeech/<part>`` with the ``per_speaker`` shortest utterances
    (>= 1.5 s) of each speaker in the real corpus layout (flacs linked, ``.trans.txt`` cut to them)
    and the source's SPEAKERS.TXT; returns ``dest``."""
    part = os.path.basename(part_dir)
    for speaker in speakers:
        flacs = []
        for chapter in sorted(os.listdir(os.path.join(part_dir, speaker))):
            folder = os.path.join(part_dir, speaker, chapter)
            flacs += [(soundfile.info(os.path.join(folder, n)).duration, chapter, n[:-len(".flac")])
                      for n in os.listdir(folder) if n.endswith(".flac")]
        chosen = sorted(f for f in flacs if f[0] >= 1.5)[:per_speaker]
        for chapter in {c for _, c, _ in chosen}:
            source, target = os.path.join(part_dir, speaker, chapter), os.path.join(dest, "LibriSpeech", part,
                                                                                    speaker, chapter)
            os.makedirs(target)
            uids = {u for _, c, u in chosen if c == chapter}
            for uid in uids:
                os.symlink(os.path.join(source, uid + ".flac"), os.path.join(target, uid + ".flac"))
            with open(os.path.join(source, f"{speaker}-{chapter}.trans.txt"), encoding="utf-8") as fh:
                lines = [line for line in fh if line.split(" ", 1)[0] in uids]
            with open(os.path.join(target, f"{speaker}-{chapter}.trans.txt"), "w", encoding="utf-8") as fh:
                fh.writelines(lines)
    shutil.copy(os.path.join(os.path.dirname(part_dir), "SPEAKERS.TXT"), os.path.join(dest, "LibriSpeech"))
    return str(dest)


pytestmark = pytest.mark.skipif(not os.path.isdir(MINI), reason="Mini LibriSpeech not present")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """3 F + 3 M real speakers, 3 utterances each, through librispeech.py: its train manifest."""
    folder = tmp_path_factory.mktemp("split")
    tree = libri_subset(folder / "tree", os.path.join(MINI, "train-clean-5"), FEMALE + MALE, 3)
    run_script("librispeech.py", "--libri-root", tree, "--target-dir", str(folder / "data"), "--num-workers", "2")
    return folder, str(folder / "data" / "libri_train_manifest.csv"), os.path.join(tree, "LibriSpeech", "SPEAKERS.TXT")


def sides(out):
    return {side: [(e.wav_path, e.txt_path) for e in read_manifest(os.path.join(out, f"{side}_manifest.csv"))]
            for side in ("train", "val")}


def speakers(pairs):
    return {os.path.basename(wav).split("-")[0] for wav, _ in pairs}


def test_balanced_split_keeps_every_utterance_once_and_no_voice_on_both_sides(prepared, tmp_path):
    folder, manifest, speakers_file = prepared
    rows = [(e.wav_path, e.txt_path) for e in read_manifest(manifest)]
    assert len(rows) == 18 and speakers(rows) == set(FEMALE + MALE)
    sexes = read_speakers_file(speakers_file)
    assert [sexes[s] for s in FEMALE + MALE] == list("FFFMMM")
    for count in (2, 4):
        out = str(tmp_path / f"n{count}")
        proc = run_script("-m", "src.prep.speaker_split", "--manifest", manifest, "--speakers-file", speakers_file,
                          "--val-speakers", str(count), "--out", out)
        split = sides(out)
        train, val = speakers(split["train"]), speakers(split["val"])
        assert not train & val and train | val == set(FEMALE + MALE)
        assert sorted(sexes[s] for s in val) == ["F"] * (count // 2) + ["M"] * (count // 2)
        # every utterance exactly once, each side in the input's order (shortest first)
        assert sorted(split["train"] + split["val"]) == sorted(rows)
        assert split["train"] == [r for r in rows if r in split["train"]]
        assert split["val"] == [r for r in rows if r in split["val"]]
        assert f"validation: {count} speakers ({count // 2} F + {count // 2} M), {3 * count} utterances" in proc.stdout
        assert f"training: {6 - count} speakers" in proc.stdout
        for speaker in val:  # one line per speaker with sex, utterances and hours
            hours = sum(soundfile.info(w).duration for w, _ in split["val"] if speaker in os.path.basename(w)) / 3600
            assert f"{speaker:>6} {sexes[speaker]}     3 utterances {hours:.3f} h" in proc.stdout


def test_the_seed_decides_and_a_rerun_gives_the_same_files(prepared, tmp_path):
    folder, manifest, speakers_file = prepared
    args = ["--manifest", manifest, "--speakers-file", speakers_file, "--val-speakers", "2"]
    chosen = {}
    for seed in range(6):
        main([*args, "--seed", str(seed), "--out", str(tmp_path / str(seed))])
        chosen[seed] = speakers(sides(str(tmp_path / str(seed)))["val"])
    assert len({frozenset(v) for v in chosen.values()}) > 1  # 9 possible pairs: six seeds do not all agree
    before = {side: open(tmp_path / "0" / f"{side}_manifest.csv").read() for side in ("train", "val")}
    main([*args, "--seed", "0", "--out", str(tmp_path / "0")])
    assert {side: open(tmp_path / "0" / f"{side}_manifest.csv").read() for side in ("train", "val")} == before
    assert not [n for n in os.listdir(tmp_path / "0") if n.startswith(".tmp-")]


def test_named_speakers_go_to_validation_without_a_speakers_file(prepared, tmp_path):
    folder, manifest, _ = prepared
    out = str(tmp_path / "named")
    main(["--manifest", manifest, "--val-speaker-ids", "1088, 2136,1088", "--out", out])
    split = sides(out)
    assert speakers(split["val"]) == {"1088", "2136"} and len(split["val"]) == 6
    assert speakers(split["train"]) == {"669", "7859", "118", "1867"}


def test_refusals_are_one_sentence_and_write_nothing(prepared, tmp_path, capsys):
    folder, manifest, speakers_file = prepared
    no_sex = tmp_path / "SPEAKERS.TXT"
    no_sex.write_text("".join(line for line in open(speakers_file) if not line.startswith("118 ")))
    base = ["--manifest", manifest, "--out", str(tmp_path / "out")]
    cases = [
        (["--val-speaker-ids", "1088,32"], "validation speaker(s) 32 not in the manifest (its speakers: "
                                           "118, 669, 1088, 1867, 2136, 7859)"),
        (["--speakers-file", speakers_file, "--val-speakers", "8"],
         "--val-speakers 8 needs 4 F speakers, but the manifest has 3 (669, 1088, 7859)"),
        (["--speakers-file", speakers_file, "--val-speakers", "3"], "--val-speakers 3: must be an even number"),
        (["--val-speakers", "2"], "--val-speakers chooses by sex: give --speakers-file"),
        (["--speakers-file", str(no_sex), "--val-speakers", "2"], "speaker(s) 118 of the manifest are not in the "
                                                                  "speakers file"),
        (["--val-speaker-ids", "669,1088,7859,118,1867,2136"], "6 validation speakers leave none of the manifest's 6"),
        (["--speakers-file", str(tmp_path / "nope.txt"), "--val-speakers", "2"], "speakers file not found"),
    ]
    for args, message in cases:
        assert run_main(lambda: main([*base, *args]), prefix="[prep] ") == 2, args
        err = capsys.readouterr().err
        assert err.startswith("[prep] error: ") and message in err and err.count("\n") == 1, err
    assert not os.path.exists(tmp_path / "out")


def test_a_file_that_is_not_named_by_an_utterance_id_is_named(tmp_path, capsys):
    (tmp_path / "m.csv").write_text(f"{tmp_path}/clip.wav,{tmp_path}/clip.txt\n")
    assert run_main(lambda: main(["--manifest", str(tmp_path / "m.csv"), "--val-speaker-ids", "1",
                                  "--out", str(tmp_path / "o")])) == 2
    assert "m.csv:1: clip.wav is not named by a LibriSpeech utterance id" in capsys.readouterr().err
