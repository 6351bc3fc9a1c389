"""The accumulation benchmark times the cases it names (a tiny model, so the run is short)."""
import re
import subprocess
import sys

from tests.helpers import ROOT


def bench(*args):
    return subprocess.run([sys.executable, "-m", "benchmarks.bench_accum", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_prints_the_large_batch_and_each_accumulation_side_by_side():
    proc = bench("--model_size", "tiny", "--batch", "4", "--accum_grad", "2", "--width", "64", "--updates", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = re.findall(r"^\| (batch [^|]+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", proc.stdout, re.M)
    assert [(name.strip(), int(graph)) for name, graph, *_ in rows] == [("batch 4", 4), ("batch 2 x --accum_grad 2", 2)]
    assert rows[0][4] == "1.00" and all(float(r[2]) > 0 for r in rows)


def test_an_accumulation_that_does_not_divide_the_batch_is_refused():
    proc = bench("--batch", "16", "--accum_grad", "3")
    assert proc.returncode == 2 and "--accum_grad 3 does not divide --batch 16" in proc.stderr
