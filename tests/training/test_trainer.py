"""The training loop: the best-WER record across --resume (in every checkpoint's meta), SortaGrad."""
import math
import re
import shutil

import soundfile

import src  # noqa: F401
from mindspore import nn

from src.model.checkpoint import load_param_dict, read_meta, save_checkpoint
from src.training.trainer import Progress
from tests.helpers import FAST_LOOP, assert_same_parameters, fsdd_manifest, run_script

TINY = ["--model_size", "tiny", "--batch_size", "4", "--num_workers", "2", *FAST_LOOP]


def train(manifest, ckpt_dir, *extra):
    return run_script("train.py", "--train_manifest", manifest, "--val_manifest", manifest, "--ckpt_path", str(ckpt_dir),
                      *TINY, *extra, timeout=600).stdout


def validation_wers(out):
    return {int(e): float(w) for e, w in re.findall(r"^epoch (\d+) validation: WER (\d+\.\d+) CER", out, re.M)}


def best_lines(out):
    return re.findall(r"^best validation WER so far: (\d+\.\d+), kept as (.+)$", out, re.M)


def test_the_best_wer_is_written_as_text_and_read_back_exactly(tmp_path):
    progress = Progress(epoch=2, step=3, best_wer=45.123456789012345, best_checkpoint="DeepSpeech-1_3.ckpt")
    path = save_checkpoint(nn.Dense(2, 2), str(tmp_path / "c.ckpt"), {**progress.meta(), "steps_per_epoch": 3})
    restored = Progress.from_meta(read_meta(load_param_dict(path)), steps_per_epoch=3)
    assert (restored.epoch, restored.step) == (3, 0)  # the epoch was complete: continue with the next
    assert restored.best_wer == progress.best_wer and restored.best_checkpoint == "DeepSpeech-1_3.ckpt"
    fresh = Progress.from_meta(read_meta(load_param_dict(save_checkpoint(nn.Dense(2, 2), str(tmp_path / "f.ckpt"),
                                                                         Progress(1, 2).meta()))), 3)
    assert (fresh.epoch, fresh.step, fresh.best_wer, fresh.best_checkpoint) == (1, 2, math.inf, "")


def test_a_worse_epoch_after_resume_does_not_replace_the_best_checkpoint(tmp_path):
    """2 epochs with validation, then a 3rd after --resume with a learning rate that wrecks the model:
    before the record was kept in the checkpoints, the resumed run started from "no best yet" and
    overwrote DeepSpeech-best.ckpt with whatever its first validation gave."""
    manifest = fsdd_manifest(str(tmp_path / "data"), per_digit=1)  # 10 clips: 3 steps per epoch
    ckpt_dir = tmp_path / "ck"
    first = train(manifest, ckpt_dir, "--epochs", "2", "--keep_checkpoint_max", "0")
    kept = best_lines(first)
    assert kept and kept[-1][1] == str(ckpt_dir / "DeepSpeech-best.ckpt")
    best_wer = float(kept[-1][0])
    assert best_wer == min(validation_wers(first).values())
    best_bytes = (ckpt_dir / "DeepSpeech-best.ckpt").read_bytes()
    best_epoch = min(validation_wers(first), key=lambda e: (validation_wers(first)[e], e))
    # validated before saved: the epoch-2 checkpoint already knows the best, whichever epoch it was
    meta = read_meta(load_param_dict(str(ckpt_dir / "DeepSpeech-2_3.ckpt")))
    assert f"{float(meta['best_wer']):.3f}" == f"{best_wer:.3f}"
    assert meta["best_checkpoint"] == f"DeepSpeech-{best_epoch}_3.ckpt"

    resumed = train(manifest, ckpt_dir, "--epochs", "3", "--resume", "auto", "--learning_rate", "1000")
    assert "DeepSpeech-2_3.ckpt: epoch 3, step 0" in resumed
    assert validation_wers(resumed)[3] >= best_wer  # worse (or no better) by construction
    assert best_lines(resumed) == []
    assert (ckpt_dir / "DeepSpeech-best.ckpt").read_bytes() == best_bytes
    assert read_meta(load_param_dict(str(ckpt_dir / "DeepSpeech-3_3.ckpt")))["best_checkpoint"] == meta["best_checkpoint"]


def test_sortagrad_trains_the_first_epoch_shortest_first_and_then_shuffles(tmp_path, monkeypatch):
    manifest = fsdd_manifest(str(tmp_path / "fsdd"), per_digit=2)
    monkeypatch.setenv("DS2_RECORD_SEEN", str(tmp_path / "seen"))
    run_script("train.py", "--train_manifest", manifest, "--ckpt_path", str(tmp_path / "ckpt"), *TINY,
               "--epochs", "2", "--sortagrad", "true", timeout=600)
    seen = {1: [], 2: []}
    for line in open(tmp_path / "seen" / "seen-rank0.txt", encoding="utf-8"):
        epoch, path = line.rstrip("\n").split("\t")
        seen[int(epoch)].append(soundfile.info(path).frames // 160)  # spectrogram frames, up to a constant
    assert sorted(seen[1]) == sorted(seen[2]) and len(seen[1]) == 20  # every utterance once per epoch
    assert seen[1] == sorted(seen[1])  # SortaGrad: epoch 1 in length order
    assert seen[2] != sorted(seen[2])  # then the usual shuffled buckets


def test_accum_grad_updates_every_other_batch_and_resumes_between_updates_exactly(tmp_path):
    """--accum_grad 2 over 3 batches per epoch: updates after batches 2 and 3 of each epoch (4 in all). The
    checkpoint after batch 1 holds gradients added but not applied; a run resumed from it ends with the
    uninterrupted run's parameters, and one resumed with another accum_grad is refused."""
    manifest = fsdd_manifest(str(tmp_path / "data"), per_digit=1)  # 10 clips, batch 4: 3 batches per epoch
    accum = ["--epochs", "2", "--accum_grad", "2", "--save_checkpoint_steps", "1", "--keep_checkpoint_max", "0"]
    out = train(manifest, tmp_path / "ref", *accum)
    assert "gradient accumulation: 2 batches of 4 per update, effective batch 8, 2 updates per epoch" in out

    def state(name):
        params = load_param_dict(str(tmp_path / "ref" / name))
        buffers = [params[k].asnumpy() for k in params if k.startswith("accum.")]
        return int(params["global_step"].asnumpy()[0]), any(b.any() for b in buffers), len(buffers), params

    updates, pending, count, _ = state("DeepSpeech-1_1.ckpt")
    assert (updates, pending) == (0, True) and count > 0
    assert state("DeepSpeech-1_2.ckpt")[:2] == (1, False)
    updates, pending, _, final = state("DeepSpeech-2_3.ckpt")
    assert (updates, pending) == (4, False) and read_meta(final)["accum_grad"] == 2

    (tmp_path / "resumed").mkdir()
    shutil.copy(tmp_path / "ref" / "DeepSpeech-1_1.ckpt", tmp_path / "resumed")
    out = train(manifest, tmp_path / "resumed", *accum, "--resume", "auto")
    assert "DeepSpeech-1_1.ckpt: epoch 1, step 1" in out
    assert_same_parameters(tmp_path / "resumed" / "DeepSpeech-2_3.ckpt", tmp_path / "ref" / "DeepSpeech-2_3.ckpt")

    proc = run_script("train.py", "--train_manifest", manifest, "--ckpt_path", str(tmp_path / "ref"), *TINY,
                      "--epochs", "3", "--resume", "auto", check=False, timeout=600)
    assert proc.returncode != 0 and "resume with --accum_grad 2" in proc.stderr.strip().splitlines()[-1]


def test_resuming_on_other_features_is_refused_before_anything_is_loaded(tmp_path):
    import config
    import pytest

    from src.data.features import SpectParams
    from src.training.trainer import load_training_state
    from tests.helpers import random_checkpoint

    ckpt = random_checkpoint(tmp_path / "mel.ckpt", n_mels=40, normalize="band")
    with pytest.raises(ValueError, match=r"mel.ckpt was trained on other features \(--n_mels 40 --normalize band\) "
                                         r"than these settings compute \(--n_mels 40 --normalize utterance\)"):
        load_training_state(None, ckpt, config.train_config.ModelConfig, 5, params=SpectParams(n_mels=40))
