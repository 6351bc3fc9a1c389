import json
import pickle

import numpy as np
import pytest

from src.data.labels import Labels
from src.decoding.ngram_lm import estimate, write_arpa
from src.tools.tune_decoder import grid, load_saved_outputs, main
from tests.ctc_frames import spell, word_frames

L = Labels.load("labels.json")


def saved_outputs(path):
    """What eval.py --save_output writes: per batch (probs (B, T, C), output lengths, references)."""
    ambiguous = word_frames("ONE ") + ["T", "_", {"W": 0.4, "O": 0.5}, "_", "O", "_", " "] + word_frames("THREE")
    clear = word_frames("THREE ONE")
    rows = [spell(ambiguous, L), spell(clear, L)]
    width = max(len(r) for r in rows)
    batch = np.stack([np.pad(r, ((0, width - len(r)), (0, 0))) for r in rows])
    with open(path, "wb") as fh:
        pickle.dump([(batch, np.array([len(r) for r in rows]), ["ONE TWO THREE", "THREE ONE"])] * 3, fh)


def test_search_finds_weights_that_beat_greedy(tmp_path, capsys):
    saved_outputs(tmp_path / "val.bin")
    lm = tmp_path / "lm.arpa"
    write_arpa(estimate([["ONE", "TWO", "THREE"], ["THREE", "ONE"], ["ME", "TOO"]], 3), str(lm))
    assert main(["--saved_output", str(tmp_path / "val"), "--lm_path", str(lm), "--steps", "3",
                 "--alpha_range", "0", "1", "--beta_range", "0", "2", "--beam_width", "8", "--lm_workers", "2",
                 "--result_file", str(tmp_path / "grid.json")]) == 0
    doc = json.loads((tmp_path / "grid.json").read_text())
    assert doc["greedy"]["wer"] == pytest.approx(100 * 3 / 15)
    assert len(doc["grid"]) == 9 and {p["alpha"] for p in doc["grid"]} == {0.0, 0.5, 1.0}
    assert doc["best"]["wer"] == 0.0 and doc["best"]["alpha"] > 0
    assert "best: --alpha" in capsys.readouterr().out


def test_saved_outputs_are_trimmed_to_their_lengths_and_bad_files_named(tmp_path):
    saved_outputs(tmp_path / "val.bin")
    rows, lengths, refs = load_saved_outputs(str(tmp_path / "val.bin"))
    assert [len(r) for r in rows] == lengths and len(refs) == 6
    (tmp_path / "junk.bin").write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.bin: not an eval.py --save_output file"):
        load_saved_outputs(str(tmp_path / "junk.bin"))
    with pytest.raises(FileNotFoundError, match="none.bin: not found"):
        load_saved_outputs(str(tmp_path / "none.bin"))
    assert grid(0, 1, 1) == [0.0] and grid(0, 1, 3) == [0.0, 0.5, 1.0]
