"""Curves from run folders written by the trainer's own RunLog: the PNGs exist and show exactly the logged series.

The folders are written by ``src.training.run_log.RunLog`` (what train.py writes through), with the real
learning-rate schedules, instead of two training runs: plotting depends on the log, not on training;
tests/training/test_run_log.py covers what train.py logs.
"""
import os

import matplotlib.image
import pytest

from src.common.errors import run_main
from src.config.schema import train_tree
from src.tools.plot_runs import auto_weight, main, plot_runs, run_labels, smoothed, training_minutes
from src.training.lr_schedule import get_lr
from src.training.run_log import RunLog, read_records
from tests.test_entry_points import run

EPOCHS, STEPS = 2, 5  # per run: every step logged, validation after each epoch


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two run folders of 2 epochs x 5 steps: constant LR vs cosine, a falling loss, max_grad_norm 400."""
    folder = tmp_path_factory.mktemp("plots")
    dirs = []
    for offset, schedule in enumerate(("constant", "cosine")):
        cfg = train_tree()
        cfg.OptimConfig.lr_schedule, cfg.OptimConfig.max_grad_norm = schedule, 400.0
        run_dir = str(folder / schedule / "run")
        log = RunLog(run_dir, cfg, get_lr(1e-3, EPOCHS, STEPS, schedule), samples_per_step=4, argv=["train.py"])
        for epoch in range(1, EPOCHS + 1):
            log.begin_epoch((epoch - 1) * STEPS)
            for step in range((epoch - 1) * STEPS + 1, epoch * STEPS + 1):
                log.train(epoch, step, loss=100.0 / step + offset, grad_norm=50.0 * step)
            log.validation(epoch, epoch * STEPS, wer=90.0 - 10 * epoch - offset, cer=50.0 - 10 * epoch)
        log.close()
        dirs.append(run_dir)
    return folder, dirs


def records(run_dir, kind):
    return [r for r in read_records(os.path.join(run_dir, "metrics.jsonl")) if r["kind"] == kind]


def test_every_chart_is_a_png_with_both_runs_series(two_runs):
    folder, dirs = two_runs
    drawn = plot_runs(dirs, str(folder / "out"), smooth=0.5)
    names = {os.path.basename(p): lines for p, lines in drawn.items()}
    assert sorted(names) == ["grad_norm.png", "loss.png", "lr.png", "overview.png", "throughput.png",
                             "validation.png"]
    for path in drawn:
        height, width, _ = matplotlib.image.imread(path).shape
        assert width > 500 and height > 300
    for label, run_dir in zip(("constant/run", "cosine/run"), dirs):
        train, val = records(run_dir, "train"), records(run_dir, "val")
        steps, loss = [r["step"] for r in train], [r["loss"] for r in train]
        lines = {name: {lab: (x, y) for lab, x, y in found} for name, found in names.items()}
        assert steps == list(range(1, 11))
        assert lines["loss.png"][f"{label} (raw)"] == (steps, loss)
        assert lines["loss.png"][f"{label} (smoothed)"][1] == pytest.approx(smoothed(loss, 0.5))
        assert lines["lr.png"][label] == (steps, [r["lr"] for r in train])
        assert lines["grad_norm.png"][label] == (steps, [r["grad_norm"] for r in train])
        assert lines["throughput.png"][label] == (steps, [r["samples_per_s"] for r in train])
        assert lines["validation.png"][f"{label} WER"] == ([1, 2], [r["wer"] for r in val])
        assert lines["validation.png"][f"{label} CER"] == ([1, 2], [r["cer"] for r in val])
        assert len(names["overview.png"]) == sum(len(v) for k, v in names.items() if k != "overview.png")
    lr = {label: y for label, _, y in names["lr.png"]}
    assert lr["cosine/run"][0] > lr["cosine/run"][-1] and len(set(lr["constant/run"])) == 1
    assert ("clipping at 400", [0, 1], [400.0, 400.0]) in names["grad_norm.png"]


def test_smoothing_starts_at_the_first_value_and_follows_a_level():
    assert smoothed([10.0, 10.0, 10.0], 0.9) == pytest.approx([10.0, 10.0, 10.0])
    values = smoothed([10.0, 0.0], 0.5)
    assert values[0] == 10.0 and 0 < values[1] < 10
    assert smoothed([3.0, 1.0], 0.0) == [3.0, 1.0]
    assert auto_weight(10) == 0.0 and auto_weight(1000) == pytest.approx(0.96, abs=0.01)
    assert smoothed([float(v % 2) for v in range(1000)])[-100:] == pytest.approx([0.5] * 100, abs=0.05)


def test_labels_are_short_and_distinct():
    assert run_labels(["/x/a/run", "/x/b/run"]) == ["a/run", "b/run"]
    assert run_labels(["/x/big", "/y/small"]) == ["big", "small"]
    assert run_labels(["/p/a/b", "/q/a/b"]) == ["p/a/b", "q/a/b"]


def test_command_writes_files_and_names_a_bad_folder(two_runs, tmp_path, capsys):
    folder, dirs = two_runs
    ok = run("-m", "src.tools.plot_runs", dirs[0], "--out", str(tmp_path / "p"), "--labels", "mine")
    assert os.path.isfile(tmp_path / "p" / "loss.png") and "overview.png" in ok.stdout
    for args, message in (([str(folder)], "not a run folder (no metrics.jsonl)"),
                          ([*dirs, "--labels", "one"], "--labels gives 1 names for 2 run folders"),
                          ([dirs[0], "--smooth", "1"], "--smooth 1.0: must be in [0, 1)")):
        assert run_main(lambda: main([*args, "--out", str(tmp_path / "q")])) == 2
        assert message in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "q" / "loss.png")


def test_validation_against_training_minutes_sums_the_step_times(two_runs, tmp_path):
    folder, dirs = two_runs
    ok = run("-m", "src.tools.plot_runs", *dirs, "--out", str(tmp_path / "m"), "--val_minutes")
    assert str(tmp_path / "m" / "validation_minutes.png") in ok.stdout.split()
    drawn = plot_runs(dirs, str(tmp_path / "p"), val_minutes=True)
    lines = {lab: (x, y) for lab, x, y in drawn[str(tmp_path / "p" / "validation_minutes.png")]}
    for label, run_dir in zip(("constant/run", "cosine/run"), dirs):
        train, val = records(run_dir, "train"), records(run_dir, "val")
        # every step logged (log_interval 1): the minutes after epoch e are the step times of its 5 e steps
        minutes = [sum(r["step_time"] for r in train if r["step"] <= 5 * epoch) / 60 for epoch in (1, 2)]
        assert lines[f"{label} WER"][0] == pytest.approx(minutes) and 0 < minutes[0] < minutes[1]
        assert lines[f"{label} WER"][1] == [r["wer"] for r in val]
        assert lines[f"{label} CER"] == (lines[f"{label} WER"][0], [r["cer"] for r in val])
    assert "validation_minutes.png" not in {os.path.basename(p) for p in plot_runs(dirs, str(tmp_path / "q"))}


def test_training_minutes_count_unlogged_steps_at_the_last_rate_and_skip_validation():
    log = [{"kind": "train", "step": 3, "step_time": 2.0, "time": 100.0},  # steps 1-3 (with compilation)
           {"kind": "train", "step": 6, "step_time": 1.0, "time": 103.0},
           {"kind": "val", "step": 7, "wer": 90.0, "cer": 50.0, "time": 500.0},  # step 7 at 1 s; validation took long
           {"kind": "train", "step": 9, "step_time": 0.5, "time": 501.0},  # steps 8-9
           {"kind": "train", "step": 12, "step_time": 0.5, "time": 502.5},
           {"kind": "val", "step": 14, "wer": 80.0, "cer": 40.0, "time": 900.0}]
    assert training_minutes(log) == pytest.approx([10 / 60, 13.5 / 60])
    assert training_minutes(log[:2]) == [] and training_minutes([]) == []
