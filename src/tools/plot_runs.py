"""Training curves as PNG files from one or several run folders (``metrics.jsonl``, see src/training/run_log.py).

    python -m src.tools.plot_runs checkpoint/run [other/run ...] --out plots [--labels a,b] [--smooth W]

Writes ``loss.png`` (raw and smoothed CTC loss against steps, log scale), ``lr.png``,
``grad_norm.png`` (before clipping, with the clipping threshold), ``validation.png`` (WER and
CER against epochs), ``throughput.png`` (utterances/s) and ``overview.png`` (all of them on one
page); with ``--val_minutes`` also ``validation_minutes.png`` (WER and CER against training minutes,
:func:`training_minutes`). Several runs share each chart, one colour per run. Works on a run that is
still training.
"""
import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from src.common.errors import run_main  # noqa: E402
from src.common.files import atomic_path  # noqa: E402
from src.training.run_log import METRICS, read_records  # noqa: E402


@dataclass
class Run:
    label: str
    train: List[Dict] = field(default_factory=list)
    val: List[Dict] = field(default_factory=list)
    max_grad_norm: float = 0.0


def load_run(run_dir: str, label: str) -> Run:
    path = os.path.join(run_dir, METRICS)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{run_dir}: not a run folder (no {METRICS})")
    records = read_records(path)
    run = Run(label, [r for r in records if r.get("kind") == "train"], [r for r in records if r.get("kind") == "val"])
    for record, minutes in zip(run.val, training_minutes(records)):
        record["minutes"] = minutes
    config = os.path.join(run_dir, "config.json")
    if os.path.isfile(config):
        with open(config, encoding="utf-8") as fh:
            run.max_grad_norm = float(json.load(fh).get("OptimConfig", {}).get("max_grad_norm", 0.0))
    return run


def training_minutes(records: Sequence[Dict]) -> List[float]:
    """Minutes of training before each validation record of a metrics log (in its file order).

    Each train record's ``step_time`` (its average since the previous record of the epoch) times the
    steps it covers; an epoch's steps after its last record count at that record's rate. Validation
    and the data set-up between epochs are left out; a start's first record includes compilation.
    """
    minutes, covered, step_time, out = 0.0, 0, 0.0, []
    for record in records:
        if record.get("kind") == "train" and record.get("step_time") is not None:
            step_time = record["step_time"]
        elif record.get("kind") != "val":
            continue
        minutes += max(record["step"] - covered, 0) * step_time / 60.0
        covered = max(covered, record["step"])
        if record["kind"] == "val":
            out.append(minutes)
    return out


def run_labels(run_dirs: Sequence[str]) -> List[str]:
    """Short distinct names: the fewest trailing path parts that tell the runs apart (the default
    folder name ``run`` alone says nothing, so its parent is always included)."""
    parts = [os.path.abspath(d).rstrip(os.sep).split(os.sep) for d in run_dirs]
    for depth in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels) and "run" not in labels:
            return labels
    return [os.path.abspath(d) for d in run_dirs]


def auto_weight(points: int) -> float:
    """An EMA weight whose memory is ~5 % of the points: a fixed weight lags far behind a short
    run's falling loss and barely smooths a long one."""
    window = max(points / 20, 1.0)
    return 1 - 2 / (window + 1)


def smoothed(values: Sequence[float], weight: Optional[float] = None) -> List[float]:
    """TensorBoard-style exponential moving average, debiased so the start is not pulled to 0
    (``weight`` None: ``auto_weight``)."""
    weight = auto_weight(len(values)) if weight is None else weight
    out, average, norm = [], 0.0, 0.0
    for value in values:
        average = weight * average + (1 - weight) * value
        norm = weight * norm + (1 - weight)
        out.append(average / norm)
    return out


def _xy(records: Sequence[Dict], x: str, y: str) -> Tuple[List, List]:
    """The points of one series; records where it is missing (null: a non-finite value) are gaps."""
    points = [(r[x], r[y]) for r in records if r.get(y) is not None]
    return [p[0] for p in points], [p[1] for p in points]


def draw_loss(ax: Axes, runs: Sequence[Run], smooth: Optional[float]) -> None:
    for color, run in _colored(runs):
        steps, loss = _xy(run.train, "step", "loss")
        ax.plot(steps, loss, color=color, alpha=0.3, linewidth=0.8, label=f"{run.label} (raw)")
        ax.plot(steps, smoothed(loss, smooth), color=color, linewidth=1.8, label=f"{run.label} (smoothed)")
    _finish(ax, "Training loss", "CTC loss per utterance (log scale)", log=True)


def draw_lr(ax: Axes, runs: Sequence[Run], smooth: Optional[float]) -> None:
    for color, run in _colored(runs):
        ax.plot(*_xy(run.train, "step", "lr"), color=color, label=run.label)
    ax.set_ylim(bottom=0)
    _finish(ax, "Learning rate", "learning rate")


def draw_grad_norm(ax: Axes, runs: Sequence[Run], smooth: Optional[float]) -> None:
    for color, run in _colored(runs):
        ax.plot(*_xy(run.train, "step", "grad_norm"), color=color, label=run.label)
    for threshold in sorted({r.max_grad_norm for r in runs if r.max_grad_norm > 0}):
        ax.axhline(threshold, color="grey", linestyle="--", linewidth=1, label=f"clipping at {threshold:g}")
    _finish(ax, "Gradient norm (before clipping)", "global L2 norm (log scale)", log=True)


def draw_validation(ax: Axes, runs: Sequence[Run], smooth: Optional[float]) -> None:
    _draw_rates(ax, runs, "epoch")
    epochs = [r["epoch"] for run in runs for r in run.val]
    if epochs:  # whole epochs only, with room around a single one
        ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
    ax.xaxis.get_major_locator().set_params(integer=True)
    _note_no_validation(ax, runs)
    _finish(ax, "Validation error rates", "error rate (%)", xlabel="epoch")


def draw_validation_minutes(ax: Axes, runs: Sequence[Run], smooth: Optional[float]) -> None:
    _draw_rates(ax, runs, "minutes")
    last = max((r["minutes"] for run in runs for r in run.val), default=0.0)
    ax.set_xlim(0, last * 1.05 if last > 0 else None)  # from the start of training, the last point inside
    _note_no_validation(ax, runs)
    _finish(ax, "Validation error rates", "error rate (%)", xlabel="training minutes (validation excluded)")


def _draw_rates(ax: Axes, runs: Sequence[Run], x: str) -> None:
    """WER and CER of every run's validations against ``x`` (a key of the val records)."""
    for color, run in _colored(runs):
        ax.plot(*_xy(run.val, x, "wer"), color=color, marker="o", label=f"{run.label} WER")
        ax.plot(*_xy(run.val, x, "cer"), color=color, marker="s", linestyle="--", label=f"{run.label} CER")
    ax.set_ylim(bottom=0)


def _note_no_validation(ax: Axes, runs: Sequence[Run]) -> None:
    if not any(run.val for run in runs):
        ax.text(0.5, 0.5, "no validation records\n(train with --val_manifest)", ha="center", va="center",
                transform=ax.transAxes, color="grey")
        ax.set_xticks([])  # no data: tick numbers around 0 would only mislead
        ax.set_yticks([])


def draw_throughput(ax: Axes, runs: Sequence[Run], smooth: Optional[float]) -> None:
    for color, run in _colored(runs):
        steps, rates = _xy(run.train, "step", "samples_per_s")
        ax.plot(steps, rates, color=color, marker="." if len(steps) <= 60 else None, label=run.label)
    _finish(ax, "Throughput (first point of a start includes compilation)", "utterances / s (log scale)", log=True)


CHARTS: Dict[str, Callable[[Axes, Sequence[Run], Optional[float]], None]] = {
    "loss": draw_loss, "lr": draw_lr, "grad_norm": draw_grad_norm, "validation": draw_validation,
    "throughput": draw_throughput,
}


def _colored(runs: Sequence[Run]):
    return zip(plt.rcParams["axes.prop_cycle"].by_key()["color"] * (len(runs) // 10 + 1), runs)


def _finish(ax: Axes, title: str, ylabel: str, log: bool = False, xlabel: str = "training step") -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log and any(y > 0 for line in ax.get_lines() for y in line.get_ydata()):
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(FuncFormatter(_minor_label))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.3g}"))
    ax.grid(True, which="major", alpha=0.3)
    if ax.get_lines():
        ax.legend(fontsize="small")


def _minor_label(value: float, _) -> str:
    """Label 2x and 5x between the powers of ten: a log axis over less than a decade has no other."""
    mantissa = value / 10 ** int(f"{value:e}".split("e")[1])
    return f"{value:.3g}" if round(mantissa, 6) in (2, 5) else ""


def summary_text(runs: Sequence[Run]) -> str:
    """What the curves end at, per run, for the overview's spare panel."""
    lines = []
    for run in runs:
        _, loss = _xy(run.train, "step", "loss")
        line = f"{run.label}\n  {run.train[-1]['step'] if run.train else 0} steps"
        if loss:
            line += f", smoothed loss {smoothed(loss)[-1]:.3g}"
        if run.val:
            best = min(run.val, key=lambda r: r["wer"])
            line += f"\n  best WER {best['wer']:.1f} % (CER {best['cer']:.1f} %) at epoch {best['epoch']}"
        lines.append(line)
    return "\n".join(lines)


def _lines(ax: Axes) -> List[Tuple[str, List[float], List[float]]]:
    return [(line.get_label(), list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()]


def plot_runs(run_dirs: Sequence[str], out_dir: str, labels: Optional[Sequence[str]] = None,
              smooth: Optional[float] = None,
              val_minutes: bool = False) -> Dict[str, List[Tuple[str, List[float], List[float]]]]:
    """Write the PNGs (``val_minutes``: also validation_minutes.png); returns, per file, the
    (label, x, y) of every line drawn on it."""
    if smooth is not None and not 0 <= smooth < 1:
        raise ValueError(f"--smooth {smooth}: must be in [0, 1)")
    labels = list(labels) if labels else run_labels(run_dirs)
    if len(labels) != len(run_dirs):
        raise ValueError(f"--labels gives {len(labels)} names for {len(run_dirs)} run folders")
    runs = [load_run(d, label) for d, label in zip(run_dirs, labels)]
    os.makedirs(out_dir, exist_ok=True)
    drawn = {}
    charts = {**CHARTS, "validation_minutes": draw_validation_minutes} if val_minutes else CHARTS
    for name, draw in charts.items():
        fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
        draw(ax, runs, smooth)
        drawn[_save(fig, os.path.join(out_dir, f"{name}.png"))] = _lines(ax)
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5), layout="constrained")
    for ax, draw in zip(axes.flat, CHARTS.values()):
        draw(ax, runs, smooth)
    axes.flat[-1].set_axis_off()
    axes.flat[-1].text(0, 1, summary_text(runs), va="top", family="monospace", fontsize="small", wrap=True)
    drawn[_save(fig, os.path.join(out_dir, "overview.png"))] = [line for ax in axes.flat for line in _lines(ax)]
    return drawn


def _save(fig, path: str) -> str:
    try:
        with atomic_path(path) as tmp:  # the temporary name ends in the target's extension, as savefig needs
            fig.savefig(tmp, dpi=90)
    finally:
        plt.close(fig)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders (default <ckpt_path>/run)")
    parser.add_argument("--out", required=True, help="folder for the PNG files")
    parser.add_argument("--labels", default="", help="comma-separated legend names, one per run folder")
    parser.add_argument("--smooth", type=float, default=None,
                        help="loss EMA weight in [0, 1) (default: memory of ~5 %% of the points)")
    parser.add_argument("--val_minutes", action="store_true",
                        help="also validation_minutes.png: WER/CER against minutes of training (summed step times)")
    args = parser.parse_args(argv)
    drawn = plot_runs(args.run_dirs, args.out, args.labels.split(",") if args.labels else None, args.smooth,
                      args.val_minutes)
    for path in drawn:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
