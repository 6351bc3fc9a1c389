"""The run folder: metrics log written as it goes, resume without duplicate steps, TensorBoard events."""
import glob
import json
import math
import re
import struct

import numpy as np
import pytest

import config
from src.training.run_log import RunLog, read_records
from tests.helpers import FAST_LOOP, fsdd_manifest
from tests.test_entry_points import TINY, run


def strict_records(path):
    """Every line parsed as strict JSON (NaN/Infinity are not JSON)."""
    def refuse(name):
        raise ValueError(f"non-JSON constant {name}")
    return [json.loads(line, parse_constant=refuse) for line in open(path, encoding="utf-8").read().splitlines()]


def tensorboard_events(folder):
    """The events of the files below ``folder``, oldest file first (TFRecord framing)."""
    from tensorboardX.proto.event_pb2 import Event

    events = []
    for path in sorted(glob.glob(f"{folder}/events.out.tfevents.*")):
        data = open(path, "rb").read()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("Q", data[offset:offset + 8])
            events.append(Event.FromString(data[offset + 12:offset + 12 + length]))
            offset += 12 + length + 4
    return events


def new_log(folder, **kwargs):
    return RunLog(str(folder), config.train_config, np.full(100, 1e-3, np.float32), 4, printer=lambda _: None,
                  **kwargs)


def test_records_are_readable_before_close_and_a_half_written_line_is_left_out(tmp_path):
    log = new_log(tmp_path)
    log.train(1, 1, 12.5, 3.0)
    log.train(1, 2, float("nan"), float("inf"))
    (first, second) = read_records(str(tmp_path / "metrics.jsonl"))  # not closed yet: already flushed
    assert first["loss"] == 12.5 and first["lr"] == 0.001 and first["samples_per_s"] > 0
    assert second["loss"] is None and second["grad_norm"] is None
    log.close()
    with open(tmp_path / "metrics.jsonl", "a") as fh:
        fh.write('{"kind": "train", "step": 3, "lo')
    assert [r["step"] for r in read_records(str(tmp_path / "metrics.jsonl"))] == [1, 2]
    with open(tmp_path / "metrics.jsonl", "a") as fh:
        fh.write('\n{"kind": "val", "step": 4}\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl:3: not a JSON record"):
        read_records(str(tmp_path / "metrics.jsonl"))


def test_a_fresh_start_moves_the_earlier_run_aside_and_a_resume_cuts_it(tmp_path):
    log = new_log(tmp_path)
    for step in range(1, 6):
        log.train(1, step, 10.0 - step, 1.0)
    log.close()
    new_log(tmp_path, start_step=3, resumed_from="x.ckpt").close()
    assert [r["step"] for r in read_records(str(tmp_path / "metrics.jsonl"))] == [1, 2, 3]
    assert [s["resumed_from"] for s in json.load(open(tmp_path / "run.json"))["starts"]] == ["", "x.ckpt"]
    new_log(tmp_path).close()
    (previous,) = glob.glob(str(tmp_path / "previous-*"))
    assert [r["step"] for r in read_records(previous + "/metrics.jsonl")] == [1, 2, 3]
    assert read_records(str(tmp_path / "metrics.jsonl")) == []
    assert len(json.load(open(tmp_path / "run.json"))["starts"]) == 1
    with pytest.raises(ValueError, match="metrics.jsonl: exists and is not a folder"):
        new_log(tmp_path / "metrics.jsonl")


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory):
    """A tiny model: 2 epochs of 5 steps (checkpoints every 2 steps), then resumed from epoch 1 step 4
    up to epoch 3, so steps 5-10 are trained (and logged) twice."""
    folder = tmp_path_factory.mktemp("runlog")
    manifest = fsdd_manifest(str(folder / "data"), per_digit=2)
    ckpt = folder / "ck"
    common = ["--train_manifest", manifest, "--val_manifest", manifest, "--ckpt_path", str(ckpt),
              "--save_checkpoint_steps", "2", "--tensorboard", "true", *TINY, *FAST_LOOP]
    first = run("train.py", *common, "--epochs", "2")
    second = run("train.py", *common, "--epochs", "3", "--resume", str(ckpt / "DeepSpeech-1_4.ckpt"))
    return {"run_dir": ckpt / "run", "first": first.stdout, "second": second.stdout}


def test_metrics_log_is_json_lines_with_each_step_once_after_a_resume(resumed_run):
    records = strict_records(resumed_run["run_dir"] / "metrics.jsonl")
    train = [r for r in records if r["kind"] == "train"]
    assert [r["step"] for r in train] == list(range(1, 16))
    assert [r["epoch"] for r in train] == [1] * 5 + [2] * 5 + [3] * 5
    assert [(r["epoch"], r["step"]) for r in records if r["kind"] == "val"] == [(1, 5), (2, 10), (3, 15)]
    assert all(math.isfinite(r[k]) and r[k] > 0 for r in train for k in ("loss", "lr", "grad_norm", "step_time",
                                                                          "samples_per_s"))
    assert all(r["lr"] == pytest.approx(3e-4) for r in train[:10])  # zoo schedule: constant in the first half
    assert "dropped 8 records after step 4" in resumed_run["second"]


def test_logged_losses_are_the_console_lines(resumed_run):
    train = [r for r in read_records(str(resumed_run["run_dir"] / "metrics.jsonl")) if r["kind"] == "train"]
    console = {}
    for out in (resumed_run["first"], resumed_run["second"]):  # the second start overrides steps 5..10
        for epoch, step, loss in re.findall(r"^epoch: (\d+) step: (\d+), loss is (\S+)$", out, re.M):
            console[(int(epoch) - 1) * 5 + int(step)] = float(loss)
    assert {r["step"]: r["loss"] for r in train} == console


def test_run_json_records_both_starts(resumed_run):
    starts = json.load(open(resumed_run["run_dir"] / "run.json"))["starts"]
    assert [s["start_step"] for s in starts] == [0, 4]
    assert starts[1]["resumed_from"].endswith("DeepSpeech-1_4.ckpt") and "--resume" in starts[1]["command"]
    assert starts[0]["versions"]["mindspore"].startswith("2.") and starts[0]["seed"] == 1
    assert json.load(open(resumed_run["run_dir"] / "config.json"))["TrainingConfig"]["epochs"] == 3


def test_tensorboard_events_hold_the_logged_scalars(resumed_run):
    events = tensorboard_events(resumed_run["run_dir"] / "tensorboard")
    scalars = [(v.tag, event.step, v.simple_value) for event in events for v in event.summary.value]
    loss = [(step, value) for tag, step, value in scalars if tag == "train/loss"]
    wer = [step for tag, step, _ in scalars if tag == "val/wer"]
    # Both starts' files are kept (steps 5-10 twice); the second starts with TensorBoard's
    # "purge from step 5" marker, so TensorBoard shows each step once.
    assert sorted({step for step, _ in loss}) == list(range(1, 16)) and len(loss) == 10 + 11
    assert sorted(wer) == [5, 5, 10, 10, 15]
    log = dict(zip(range(1, 16), [r["loss"] for r in read_records(str(resumed_run["run_dir"] / "metrics.jsonl"))
                                  if r["kind"] == "train"]))
    assert [value for step, value in loss[10:]] == pytest.approx([log[s] for s in range(5, 16)])
    purges = [event.step for event in events if event.HasField("session_log") and event.session_log.status == 1]
    assert purges == [5]
