"""The run folder: what a training run was (config, command line, versions, seed) and how it went.

People watch curves, not scrolling loss lines, so every training run keeps a folder
(``TrainingConfig.run_dir``, default ``<ckpt_path>/run``, beside the checkpoints it describes):

- ``metrics.jsonl``: one JSON object per line, flushed when written, so it can be read (or plotted
  with ``python -m src.tools.plot_runs``) while training runs:
  ``{"kind": "train", "step", "epoch", "loss", "lr", "grad_norm", "step_time", "samples_per_s", "time"}``
  every ``log_interval`` steps, and ``{"kind": "val", "step", "epoch", "wer", "cer"}`` after each
  epoch's validation. ``step`` is the global step (1-based, over all epochs); ``loss``, ``lr`` and
  ``grad_norm`` (before clipping) are those of that step; ``step_time`` (s) and ``samples_per_s``
  are averaged since the previous record (the first record of a start includes graph compilation);
  WER/CER are percent.
- ``run.json``: one entry per start (command line, working directory, versions, seed, the
  checkpoint it resumed from and the configuration); ``config.json``: the latest start's config.
- ``tensorboard/``: TensorBoard event files with the same scalars, when ``TrainingConfig.tensorboard``.

A resumed run continues the same folder: records beyond the restored step are dropped first (and
TensorBoard is told to purge them), so every step appears once. A fresh run into a folder that
already holds a log moves the old run into ``previous-<UTC time>/`` instead of mixing the two.
"""
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

from src import ROOT
from src.common.files import atomic_write

METRICS = "metrics.jsonl"
RUN_FILES = (METRICS, "run.json", "config.json", "tensorboard")


def read_records(path: str) -> List[Dict]:
    """The records of a metrics log. A last line without its newline is a record being written
    right now (the log is read while training runs) and is left out; any other bad line is an error."""
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):  # unterminated last line
                break
            raise ValueError(f"{path}:{number}: not a JSON record") from None
        if not isinstance(record, dict) or not isinstance(record.get("step"), int):
            raise ValueError(f"{path}:{number}: a metrics record needs an integer 'step'")
        records.append(record)
    return records


def _write_json(path: str, doc) -> None:
    with atomic_write(path) as fh:
        json.dump(doc, fh, indent=1, default=str)
        fh.write("\n")


def _versions() -> Dict[str, str]:
    import mindspore
    import numpy

    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"python": platform.python_version(), "mindspore": mindspore.__version__,
            "numpy": numpy.__version__, "git_commit": commit or "unknown", "host": platform.node()}


def _archive_previous(run_dir: str) -> Optional[str]:
    """Move an earlier run's files into ``previous-<UTC time>/`` (a run folder of its own)."""
    present = [name for name in RUN_FILES if os.path.exists(os.path.join(run_dir, name))]
    if METRICS not in present:
        return None
    stem = os.path.join(run_dir, "previous-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()))
    target, number = stem, 1
    while os.path.exists(target):  # two fresh starts within one second
        target, number = f"{stem}-{number}", number + 1
    os.makedirs(target)
    for name in present:
        os.replace(os.path.join(run_dir, name), os.path.join(target, name))
    return target


def _keep_up_to(path: str, last_step: int) -> int:
    """Rewrite the log (atomically) without records beyond ``last_step``; returns how many went."""
    records = read_records(path)
    kept = [r for r in records if r["step"] <= last_step]
    with atomic_write(path) as fh:
        fh.writelines(json.dumps(r) + "\n" for r in kept)
    return len(records) - len(kept)


class RunLog:
    """Writes one run folder; the trainer calls it at log steps, epoch starts and validations."""

    def __init__(self, run_dir: str, cfg: Dict, lr: Sequence[float], samples_per_step: int,
                 start_step: int = 0, resumed_from: str = "", tensorboard: bool = False,
                 argv: Optional[Sequence[str]] = None, printer=print):
        self.run_dir, self.lr, self.samples_per_step = run_dir, lr, samples_per_step
        if os.path.exists(run_dir) and not os.path.isdir(run_dir):
            raise ValueError(f"--run_dir {run_dir}: exists and is not a folder")
        os.makedirs(run_dir, exist_ok=True)
        path = os.path.join(run_dir, METRICS)
        if resumed_from and os.path.exists(path):
            dropped = _keep_up_to(path, start_step)
            if dropped:
                printer(f"run log: dropped {dropped} records after step {start_step} (resumed there)")
        elif not resumed_from:
            moved = _archive_previous(run_dir)
            if moved:
                printer(f"run log: the earlier run in {run_dir} moved to {moved}")
        start = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "command": shlex.join([sys.executable, *(sys.argv if argv is None else argv)]),
                 "cwd": os.getcwd(), "versions": _versions(), "seed": int(cfg["TrainingConfig"]["seed"]),
                 "resumed_from": resumed_from, "start_step": start_step, "config": cfg}
        run_json = os.path.join(run_dir, "run.json")
        starts = []
        if os.path.exists(run_json):
            with open(run_json, encoding="utf-8") as fh:
                starts = json.load(fh)["starts"]
        _write_json(run_json, {"starts": starts + [start]})
        _write_json(os.path.join(run_dir, "config.json"), cfg)
        self._file = open(path, "a", encoding="utf-8")
        self._tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(os.path.join(run_dir, "tensorboard"),
                                     purge_step=start_step + 1 if resumed_from else None)
        self._clock, self._since = time.time(), start_step

    def begin_epoch(self, step: int) -> None:
        """Restart the throughput clock (data loading set-up and validation are not training)."""
        self._clock, self._since = time.time(), step

    def train(self, epoch: int, step: int, loss: float, grad_norm: float) -> None:
        """Record training step ``step`` (global, 1-based); call it at log steps only."""
        now = time.time()
        steps, elapsed = max(step - self._since, 1), max(now - self._clock, 1e-9)
        self._clock, self._since = now, step
        lr = float(f"{float(self.lr[min(step, len(self.lr)) - 1]):.8g}")  # float32 -> its short decimal
        self._write({"kind": "train", "step": step, "epoch": epoch, "loss": loss, "lr": lr, "grad_norm": grad_norm,
                     "step_time": elapsed / steps, "samples_per_s": steps * self.samples_per_step / elapsed,
                     "time": now}, "train", ("loss", "lr", "grad_norm", "samples_per_s"))

    def validation(self, epoch: int, step: int, wer: float, cer: float) -> None:
        self._write({"kind": "val", "step": step, "epoch": epoch, "wer": wer, "cer": cer, "time": time.time()},
                    "val", ("wer", "cer"))

    def _write(self, record: Dict, group: str, scalars: Sequence[str]) -> None:
        # NaN/inf are not JSON: a diverged step is written as null and left out of TensorBoard.
        record = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        self._file.write(json.dumps(record, allow_nan=False) + "\n")
        self._file.flush()
        if self._tb is not None:
            for key in scalars:
                if record[key] is not None:
                    self._tb.add_scalar(f"{group}/{key}", record[key], record["step"])
            self._tb.flush()

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def open_run_log(cfg, lr: Sequence[float], samples_per_step: int, start_step: int = 0, resumed_from: str = "",
                 printer=print) -> RunLog:
    """The run log a training config asks for (``run_dir`` "" = ``<ckpt_path>/run``)."""
    run_dir = str(cfg.TrainingConfig.run_dir) or os.path.join(cfg.CheckpointConfig.ckpt_path, "run")
    return RunLog(run_dir, cfg, lr, samples_per_step, start_step, resumed_from,
                  bool(cfg.TrainingConfig.tensorboard), printer=printer)
