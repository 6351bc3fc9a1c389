"""Data-parallel training under msrun on 127.0.0.1, through the real launcher script."""
import glob
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import FAST_LOOP, ROOT, fsdd_manifest

TINY = ["--model_size", "tiny", "--num_workers", "1", *FAST_LOOP]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(folder, *args):
    """scripts/run_distribute_train_cpu.sh 2 ...; returns (exit status, per-rank logs, console)."""
    env = dict(os.environ, DS2_LOG_DIR=str(folder / "logs"), DS2_MASTER_PORT=str(free_port()),
               DS2_RECORD_SEEN=str(folder / "seen"))
    proc = subprocess.run(["bash", "scripts/run_distribute_train_cpu.sh", "2", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    logs = [open(folder / "logs" / "distribute_cpu" / f"worker_{r}.log").read() for r in range(2)]
    return proc.returncode, logs, proc.stdout + proc.stderr


def losses(text):
    return [float(v) for v in re.findall(r"^epoch: \d+ step: \d+, loss is (\S+)$", text, re.M)]


def digests(log):
    return re.findall(r"parameter digest (\w+)", log)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    """2 ranks x batch 2 for 2 epochs on 22 real FSDD clips (6 global batches, the last one short)."""
    folder = tmp_path_factory.mktemp("dist")
    manifest = fsdd_manifest(str(folder / "data"), speakers=("jackson", "nicolas"), per_digit=1)
    with open(manifest, "a") as fh:  # two more, so the last global batch is split unevenly
        fh.write(open(fsdd_manifest(str(folder / "data"), speakers=("lucas",), per_digit=1, name="x.csv"))
                 .read().splitlines()[0] + "\n")
        fh.write(open(str(folder / "data" / "x.csv")).read().splitlines()[1] + "\n")
    status, logs, console = launch(folder, "--train_manifest", manifest, "--batch_size", "2", "--epochs", "2",
                                   "--ckpt_path", str(folder / "ckpt"), *TINY)
    assert status == 0, console[-3000:] + logs[0][-2000:] + logs[1][-2000:]
    return {"folder": folder, "manifest": manifest, "logs": logs, "console": console}


def test_ranks_stay_identical_and_only_rank0_writes(two_workers):
    logs, folder = two_workers["logs"], two_workers["folder"]
    first, second = digests(logs[0]), digests(logs[1])
    assert len(first) == 2 and first == second  # initial and final parameters equal on both ranks
    assert first[0] != first[1]  # and training changed them
    written = sorted(os.path.basename(p) for p in glob.glob(str(folder / "ckpt" / "*.ckpt")))
    assert written == ["DeepSpeech-1_6.ckpt", "DeepSpeech-2_6.ckpt"]
    assert "effective batch 4, 6 steps per epoch" in logs[0]
    assert losses(logs[0]) and not losses(logs[1])  # progress from rank 0 only
    assert losses(two_workers["console"]) == losses(logs[0])


def test_each_epoch_is_seen_once_across_ranks(two_workers):
    folder = two_workers["folder"]
    wavs = sorted(line.split(",")[0] for line in open(two_workers["manifest"]).read().splitlines())
    seen = {}
    for path in glob.glob(str(folder / "seen" / "seen-rank*.txt")):
        for line in open(path).read().splitlines():
            epoch, wav = line.split("\t")
            seen.setdefault(epoch, []).append(wav)
    assert sorted(seen) == ["1", "2"]
    for epoch, paths in seen.items():
        assert sorted(paths) == wavs, f"epoch {epoch}: duplicates or gaps"


def test_loss_curve_matches_one_process_with_the_doubled_batch(two_workers, tmp_path):
    proc = subprocess.run([sys.executable, "train.py", "--train_manifest", two_workers["manifest"],
                           "--batch_size", "4", "--epochs", "2", "--ckpt_path", str(tmp_path), *TINY],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    single, double = losses(proc.stdout), losses(two_workers["logs"][0])
    assert len(single) == len(double) == 12
    # equal up to batch-norm statistics (per rank over 2 rows vs over 4) and the uneven last batch
    np.testing.assert_allclose(double, single, rtol=0.03)


def test_distributed_run_resumes(two_workers):
    folder = two_workers["folder"]
    status, logs, console = launch(folder, "--train_manifest", two_workers["manifest"], "--batch_size", "2",
                                   "--epochs", "3", "--resume", "auto", "--ckpt_path", str(folder / "ckpt"), *TINY)
    assert status == 0, console[-3000:]
    for log in logs:
        assert "DeepSpeech-2_6.ckpt: epoch 3, step 0" in log
    assert digests(logs[0]) == digests(logs[1])
    assert "DeepSpeech-3_6.ckpt" in os.listdir(folder / "ckpt")


def test_launcher_rejects_bad_worker_counts():
    proc = subprocess.run(["bash", "scripts/run_distribute_train_cpu.sh", "zero"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "WORKERS must be a positive number" in proc.stderr
    proc = subprocess.run([sys.executable, "train.py", "--is_distributed"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "needs a launcher" in proc.stderr


def test_accumulated_gradients_are_averaged_over_the_ranks(two_workers, tmp_path):
    """--accum_grad 2: the gradients are averaged over the ranks before they are added up (or the ranks drift apart)."""
    status, logs, console = launch(tmp_path, "--train_manifest", two_workers["manifest"], "--batch_size", "2",
                                   "--epochs", "1", "--accum_grad", "2", "--ckpt_path", str(tmp_path / "ckpt"), *TINY)
    assert status == 0, console[-3000:]
    assert "2 batches of 2 per update, effective batch 8, 3 updates per epoch" in logs[0]
    first, second = digests(logs[0]), digests(logs[1])
    assert len(first) == 2 and first == second and first[0] != first[1]
