import os

import pytest

from src.tools.build_lm import main
from src.decoding.ngram_lm import arpa_vocabulary
from tests.helpers import run_script


def test_builds_from_manifest_and_text_in_the_networks_spelling(tmp_path, capsys):
    lines = []
    for i, text in enumerate(["Don't stop!", "stop\u2019s here", "café here"]):
        (tmp_path / f"{i}.txt").write_text(text + "\n")
        (tmp_path / f"{i}.wav").write_bytes(b"")  # never read: only transcripts matter
        lines.append(f"{i}.wav,{i}.txt")
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "extra.txt").write_text("more text here\n\n   \nHERE AGAIN\n")
    out = tmp_path / "lm.arpa"
    assert main(["--manifest", str(tmp_path / "m.csv"), "--text", str(tmp_path / "extra.txt"),
                 "--order", "2", "--out", str(out)]) == 0
    assert arpa_vocabulary(str(out)) == {"DON'T", "STOP", "STOP'S", "HERE", "CAFE", "MORE", "TEXT", "AGAIN"}
    printed = capsys.readouterr().out
    assert "5 sentences, 11 words, 8 word types" in printed and "fallback" in printed


def test_bad_input_is_one_sentence_and_writes_nothing(tmp_path):
    out = tmp_path / "lm.arpa"
    missing = run_script("-m", "src.tools.build_lm", "--text", str(tmp_path / "none.txt"), "--out", str(out), check=False)
    assert missing.returncode == 2 and "none.txt: file not found" in missing.stderr
    assert "Traceback" not in missing.stderr
    (tmp_path / "symbols.txt").write_text("123 !!!\n")
    with pytest.raises(ValueError, match="corpus is empty"):
        main(["--text", str(tmp_path / "symbols.txt"), "--out", str(out)])
    with pytest.raises(SystemExit):
        main(["--text", str(tmp_path / "symbols.txt"), "--order", "1", "--out", str(out)])
    assert os.listdir(tmp_path) == ["symbols.txt"]
