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
