"""The evaluation report: its totals are the console's, every utterance is listed, edits are marked."""
import os
import re

import pytest

from src.evaluation.report import confusions, marked_words, render_report, report_path, wer_distribution
from src.evaluation.metrics import ErrorRates, char_edits
from tests.helpers import FAST_LOOP, fsdd_manifest
from tests.test_entry_points import TINY, run


def outcome_of(pairs):
    rates, results = ErrorRates(), []
    for number, (ref, hyp) in enumerate(pairs):
        wer, cer = rates.add(ref, hyp)
        results.append({"wav_path": f"/data/u{number}.wav", "ref": ref, "hyp": hyp, "wer": wer, "cer": cer})
    return {"rates": rates, "utterances": results}


def test_differing_words_are_marked_and_aligned():
    assert marked_words("THREE FOUR SIX", "THREE FIVE SIX") == ("three **four** six", "three **five** six")
    assert marked_words("ONE TWO", "ONE") == ("one **two**", "one ·")
    assert marked_words("ONE", "ONE ONE") == ("one ·", "one **one**")
    assert marked_words("ONE", "") == ("**one**", "·")


def test_confusions_count_exactly_the_character_edits():
    pairs = [("SEVEN", "SEVAN"), ("NINE", "NIN"), ("TWO", "TWOO"), ("IT'S OK", "ITS OK")]
    found = confusions(pairs)
    assert found["substitutions"] == {("e", "a"): 1}
    assert found["deletions"] == {"e": 1, "'": 1} and found["insertions"] == {"o": 1}
    assert sum(sum(c.values()) for c in found.values()) == sum(char_edits(r, h) for r, h in pairs)
    words = confusions(pairs + [("TWO THREE", "SEVEN THREE FOUR")], "word")
    assert words["substitutions"] == {("seven", "sevan"): 1, ("nine", "nin"): 1, ("two", "twoo"): 1,
                                      ("it's", "its"): 1, ("two", "seven"): 1}
    assert words["insertions"] == {"four": 1} and not words["deletions"]


def test_wer_bins_hold_every_utterance_once():
    counts = dict(wer_distribution([0.0, 0.0, 0.1, 0.25, 0.5, 1.0, 2.0]))
    assert counts == {"0 %": 2, "(0, 25] %": 2, "(25, 50] %": 1, "(50, 75] %": 0, "(75, 100] %": 1, "> 100 %": 1}


def test_report_sections_from_known_results():
    text = render_report(outcome_of([("ONE TWO", "ONE TWO"), ("THREE", "TREE"), ("FOUR FIVE", "FOUR")]))
    assert "| words | 2 | 5 | 40.000 |" in text and "| characters (without spaces) | 5 | 19 | 26.316 |" in text
    assert "| 0 % | 1 | 33.3 % |" in text and "| (75, 100] % | 1 | 33.3 % |" in text
    worst = text.split("## Worst utterances (2 shown)")[1].split("## Character")[0]
    assert worst.index("u1.wav") < worst.index("u2.wav") and "u0.wav" not in worst  # perfect ones are not "worst"
    assert "Hyp: four ·" in worst and "| `h` | 1 |" in text and "| `i` | 1 |" in text


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """eval.py on a tiny model trained 2 epochs on 20 real FSDD clips."""
    folder = tmp_path_factory.mktemp("report")
    manifest = fsdd_manifest(str(folder / "data"), per_digit=2)
    run("train.py", "--train_manifest", manifest, "--epochs", "2", "--ckpt_path", str(folder / "ck"), *TINY, *FAST_LOOP)
    result = folder / "out" / "r.json"
    os.makedirs(result.parent)
    proc = run("eval.py", "--pretrain_ckpt", str(folder / "ck" / "DeepSpeech-2_5.ckpt"), "--test_manifest", manifest,
               "--batch_size", "8", "--pad_multiple", "160", "--result_file", str(result))
    return proc, open(report_path(str(result)), encoding="utf-8").read()


def test_report_totals_are_the_console_summary(evaluated):
    proc, text = evaluated
    wer, cer = re.search(r"^Test Summary \tAverage WER (\S+)\tAverage CER (\S+)\t$", proc.stdout, re.M).groups()
    assert re.search(rf"^\| words \| \d+ \| \d+ \| {re.escape(wer)} \|$", text, re.M)
    assert re.search(rf"^\| characters \(without spaces\) \| \d+ \| \d+ \| {re.escape(cer)} \|$", text, re.M)
    assert "report written to" in proc.stderr and "20 utterances" in text


def test_report_lists_every_utterance_with_its_console_wer(evaluated):
    proc, text = evaluated
    console = [(float(w), float(c)) for w, c in re.findall(r"^WER: (\S+) CER: (\S+)$", proc.stdout, re.M)]
    refs = re.findall(r"^Ref: (.*)$", proc.stdout, re.M)
    rows = re.findall(r"^\| (\d+) \| (\S+\.wav) \| (\S+) \| (\S+) \| (.*?) \| (.*?) \|$", text, re.M)
    assert len(console) == len(rows) == 20
    assert [int(r[0]) for r in rows] == list(range(1, 21)) and len({r[1] for r in rows}) == 20
    for (wer, cer), ref, row in zip(console, refs, rows):
        assert (float(row[2]), float(row[3])) == (round(100 * wer, 1), round(100 * cer, 1))
        assert row[4] == ref
    bins = re.findall(r"^\| (?:0 %|\(.*?\] %|> 100 %) \| (\d+) \|", text, re.M)
    assert len(bins) == 6 and sum(int(count) for count in bins) == 20
