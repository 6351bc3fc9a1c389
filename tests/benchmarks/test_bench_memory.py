"""The per-shape memory table (benchmarks/bench_memory.py): one real case per row, its estimate beside it,
and a case past the memory limit stopped and reported instead of running on."""
import re

from benchmarks import bench_memory


def test_prints_a_row_per_case_with_the_measured_peak_below_the_estimate(capsys):
    bench_memory.main(["--model_size", "tiny", "--batch", "1", "--widths", "64", "--steps", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| tiny b1 static")]
    assert len(rows) == 1
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    base, peak, predicted = cells[2], float(cells[3]), float(cells[6])
    assert re.fullmatch(r"\d+\.\d\d / \d+\.\d\d", base)
    assert float(base.split(" / ")[1]) < peak <= predicted


def test_a_case_past_the_limit_is_killed_and_reported(capsys):
    bench_memory.main(["--model_size", "tiny", "--batch", "1", "--widths", "64", "--steps", "1",
                       "--rss_limit_gb", "0.2"])
    assert "killed at" in capsys.readouterr().out


def test_recompute_and_mel_cases_are_named_and_bad_blocks_refused():
    import argparse

    import pytest

    [case] = bench_memory.cases_from(bench_memory.parse_args(["--batch", "16", "--widths", "1024", "--n_mels", "80",
                                                             "--recompute", "conv2,rnn"]))
    assert (case.n_mels, case.recompute) == (80, "conv2,rnn")
    assert "80 log-mel bands" in bench_memory.describe(case) and "recompute conv2,rnn" in bench_memory.describe(case)
    with pytest.raises(argparse.ArgumentTypeError, match="conv: choose from conv1, bn1, conv2"):
        bench_memory.recomputable("conv")
