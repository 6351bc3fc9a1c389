"""Each bad input through the real entry points: the message, the exit code, and outputs left as they were.

What trains or must limit the process (disk full) runs in a subprocess; what fails before any
training calls the entry point's ``main`` through ``run_main`` in this process, as ``__main__`` does.
"""
import contextlib
import importlib
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys

import pytest

from src.common.errors import run_main
from tests.helpers import BAD_ENTRIES, bad_manifest, mtime_snapshot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the direct conv kernel: these tests are about the loop, not the convs, and its graph compiles ~4x faster
TINY = ["--model_size", "tiny", "--batch_size", "4", "--pad_multiple", "32", "--num_workers", "2", "--conv_impl", "direct"]
LIMITS = ["--max_duration", "10", "--label_pad_length", "12"]


def run(*args, limit_file_size=0):
    def limit():  # a "disk" that holds only limit_file_size bytes per file; EFBIG instead of SIGXFSZ
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          preexec_fn=limit if limit_file_size else None)


def call(entry_point, *args):
    """(exit code, stderr) of ``<entry_point>.py args`` run in this process, exactly as its
    ``__main__`` runs it: for the cases that fail before any training (no 5 s interpreter start)."""
    module = importlib.import_module(entry_point)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = run_main(lambda: module.main(list(args)))
        except SystemExit as exit_:  # argparse's parser.error
            code = exit_.code
    return code, err.getvalue()


def assert_one_line(code, err, expected_code, *fragments):
    """Exit ``expected_code``, no traceback, and a last stderr line holding every fragment."""
    assert code == expected_code, (code, err[-2000:])
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    for fragment in fragments:
        assert fragment in last, (fragment, last)


def assert_one_line_error(proc, code, *fragments):
    assert_one_line(proc.returncode, proc.stderr, code, *fragments)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The bad manifest, and a tiny model trained on it for one epoch (skipping what is bad)."""
    folder = tmp_path_factory.mktemp("bad_inputs")
    manifest = bad_manifest(str(folder / "data"))
    ckpt_dir = folder / "checkpoint"
    proc = run("train.py", "--train_manifest", manifest, "--epochs", "1", "--ckpt_path", str(ckpt_dir), *TINY, *LIMITS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    good = str(folder / "data" / "good" / "m.csv")
    return {"folder": folder, "manifest": manifest, "good": good, "ckpt_dir": ckpt_dir, "train": proc,
            "ckpt": str(ckpt_dir / "DeepSpeech-1_2.ckpt")}


def test_training_skips_every_bad_sample_and_reports_it(data):
    out, err = data["train"].stdout, data["train"].stderr
    assert "8 of 21 utterances kept" in out
    for _, reason in BAD_ENTRIES:
        assert f": {reason}\n" in out, reason
    assert "converted 1: 8000 Hz resampled to 16000 Hz" in out and "converted 1: 2 channels downmixed to mono" in out
    assert "'!' x1" in out.split("characters outside labels.json removed from transcripts:")[1].splitlines()[0]
    assert "nan.wav left out of this batch (non-finite samples)" in err  # only a full decode sees NaN samples
    assert os.path.isfile(data["ckpt"])


def test_check_manifest_reports_up_front(data):
    proc = run("-m", "src.tools.check_manifest", data["manifest"], *LIMITS)
    assert proc.returncode == 1 and "7 of 21 utterances kept" in proc.stdout
    assert "skipped 1: audio contains NaN/inf samples" in proc.stdout


def test_error_policy_refuses_the_first_bad_sample_and_writes_nothing(data, tmp_path):
    code, err = call("train", "--train_manifest", data["manifest"], "--on_bad_sample", "error",
                     "--ckpt_path", str(tmp_path / "ck"), *TINY)
    assert_one_line(code, err, 2, "bad.csv:16: expected 'wav_path,txt_path'", "malformed manifest line")
    assert not (tmp_path / "ck").exists()


def test_eval_skips_bad_samples_and_error_policy_keeps_the_result_file(data, tmp_path):
    result = tmp_path / "r.json"
    proc = run("eval.py", "--pretrain_ckpt", data["ckpt"], "--test_manifest", data["manifest"], "--batch_size", "8",
               "--verbose", "false", "--result_file", str(result))
    assert proc.returncode == 0 and "Test Summary" in proc.stdout, proc.stderr[-2000:]
    assert json.loads(result.read_text())["utterances"] == 10  # no max_duration/label limit in eval
    before = result.read_bytes()
    no_malformed = tmp_path / "m.csv"
    no_malformed.write_text("".join(line + "\n" for line in open(data["manifest"]).read().splitlines() if "," in line))
    code, err = call("eval", "--pretrain_ckpt", data["ckpt"], "--test_manifest", str(no_malformed),
                     "--on_bad_sample", "error", "--result_file", str(result))
    assert_one_line(code, err, 2, "m.csv:5:", "nope.wav", "audio file missing")
    assert result.read_bytes() == before


def test_impossible_configuration_is_refused_before_anything_runs(data):
    before = mtime_snapshot(str(data["ckpt_dir"]))
    code, err = call("train", "--train_manifest", data["good"], "--ckpt_path", str(data["ckpt_dir"]), "--resume", "auto",
                     "--learning_rate", "-1", "--batch_size", "0", "--hidden_size", "0", "--epochs", "0",
                     "--on_bad_sample", "ignore")
    assert code == 2 and err.splitlines()[-1].endswith(
        ": error: --TrainingConfig.epochs 0 must be >= 1; --DataConfig.batch_size 0 must be >= 1; "
        "--DataConfig.on_bad_sample 'ignore' must be one of skip, error; --ModelConfig.hidden_size 0 must be >= 1; "
        "--OptimConfig.learning_rate -1.0 must be > 0")
    assert mtime_snapshot(str(data["ckpt_dir"])) == before


def test_checkpoint_of_another_architecture_names_the_parameters(data, tmp_path):
    before = mtime_snapshot(str(data["ckpt_dir"]))
    code, err = call("train", "--train_manifest", data["good"], "--ckpt_path", str(data["ckpt_dir"]), "--epochs", "2",
                     "--resume", data["ckpt"], *TINY, "--hidden_size", "32")
    assert_one_line(code, err, 2, "holds a 2 x 64 model, the config says 2 x 32",
                    "shape mismatch: RNN.lstms.0.weight_ih_l0 (256, 1312) in the checkpoint, (128, 1312) here")
    assert mtime_snapshot(str(data["ckpt_dir"])) == before
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ _")))  # 28 symbols, the checkpoint has 29
    result = tmp_path / "r.json"
    result.write_text("earlier results")
    code, err = call("eval", "--pretrain_ckpt", data["ckpt"], "--test_manifest", data["good"], "--labels_path",
                     str(labels), "--result_file", str(result))
    assert_one_line(code, err, 2, "does not fit this network", "fc.module.weight (29, 64) in the checkpoint, (28, 64) here")
    assert result.read_text() == "earlier results"


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_corrupt_checkpoint_is_one_sentence_everywhere(data, tmp_path, damage):
    bad = tmp_path / "bad.ckpt"
    blob = open(data["ckpt"], "rb").read()
    bad.write_bytes(blob[: len(blob) // 2] if damage == "truncated" else b"")
    expected = "not a readable MindSpore checkpoint" if damage == "truncated" else "the checkpoint file is empty"
    mindir = tmp_path / "bad.mindir"
    mindir.write_text("an earlier export")
    assert_one_line(*call("export", "--pre_trained_model_path", str(bad), "--input_frames", "64"), 2, str(bad), expected)
    assert mindir.read_text() == "an earlier export"
    assert_one_line(*call("eval", "--pretrain_ckpt", str(bad), "--test_manifest", data["good"],
                          "--result_file", str(tmp_path / "r.json")), 2, str(bad), expected)
    assert_one_line(*call("train", "--train_manifest", data["good"], "--ckpt_path", str(tmp_path), "--resume", str(bad),
                          *TINY), 2, str(bad), expected)
    assert sorted(os.listdir(tmp_path)) == ["bad.ckpt", "bad.mindir"]


def test_missing_labels_file_and_unreadable_manifests(data, tmp_path):
    missing = str(tmp_path / "labels.json")
    for args in (["train", "--train_manifest", data["good"], "--ckpt_path", str(tmp_path / "ck")],
                 ["eval", "--pretrain_ckpt", data["ckpt"], "--test_manifest", data["good"]],
                 ["export", "--pre_trained_model_path", data["ckpt"], "--file_name", str(tmp_path / "x")]):
        assert_one_line(*call(*args, "--labels_path", missing), 2, f"labels file not found: {missing}")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)))
    for manifest, message in ((str(tmp_path / "none.csv"), "manifest not found"),
                              (str(tmp_path / "binary.csv"), "not a text manifest (not UTF-8 at byte 128)")):
        assert_one_line(*call("train", "--train_manifest", manifest, "--ckpt_path", str(tmp_path / "ck"), *TINY),
                        2, message)
    assert sorted(os.listdir(tmp_path)) == ["binary.csv"]


def test_disk_full_while_saving_keeps_the_previous_checkpoint(data, tmp_path):
    ckpt_dir = tmp_path / "ck"
    shutil.copytree(data["ckpt_dir"], ckpt_dir)
    before = {name: (ckpt_dir / name).read_bytes() for name in os.listdir(ckpt_dir) if name.endswith(".ckpt")}
    proc = run("train.py", "--train_manifest", data["manifest"], "--ckpt_path", str(ckpt_dir), "--epochs", "2",
               "--resume", "auto", *TINY, *LIMITS, limit_file_size=2 << 20)
    assert_one_line_error(proc, 2, f"could not write checkpoint {ckpt_dir}/DeepSpeech-2_2.ckpt (File too large)",
                          "the checkpoints already in", "are untouched")
    assert {name: (ckpt_dir / name).read_bytes() for name in os.listdir(ckpt_dir) if name.endswith(".ckpt")} == before
    assert not [name for name in os.listdir(ckpt_dir) if name.startswith(".tmp")]


def test_a_run_of_non_finite_steps_stops_training_and_saves(tmp_path, data):
    # plain SGD at lr 1e12 blows the weights up in one step; every later loss is inf/NaN, so those steps are
    # skipped (weights untouched) and the third in a row stops the run, saving the state it stopped at
    ckpt_dir = tmp_path / "ck"
    proc = run("train.py", "--train_manifest", data["good"], "--ckpt_path", str(ckpt_dir), "--epochs", "2",
               "--optimizer", "sgd", "--learning_rate", "1e12", "--max_grad_norm", "0", "--max_nonfinite_steps", "3",
               *TINY)
    assert_one_line_error(proc, 3, "3 steps in a row had a non-finite loss or gradient", "last at epoch 2 step 1",
                          f"saved {ckpt_dir}/DeepSpeech-2_1.ckpt", "lower learning_rate", "max_nonfinite_steps")
    assert "2 steps skipped so far: non-finite loss or gradient, update not applied" in proc.stdout
    assert sorted(name for name in os.listdir(ckpt_dir) if name.endswith(".ckpt")) == [
        "DeepSpeech-1_3.ckpt", "DeepSpeech-2_1.ckpt"]
