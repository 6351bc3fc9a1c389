"""Checkpoint averaging: the mean of every network tensor, a checkpoint the network loads, clear refusals."""
import os
import shutil

import numpy as np
import pytest

import src  # noqa: F401
from mindspore import Tensor

from src.common.errors import CheckpointError, ConfigError, run_main
from src.model.checkpoint import load_param_dict, load_network_params, read_meta, save_checkpoint
from src.model.checkpoint_formats import as_arrays, is_optimizer_state
from src.model.deepspeech2 import DeepSpeechModel
from src.tools.average_checkpoints import checkpoints_to_average, main
from tests.helpers import random_checkpoint

HIDDEN, LAYERS = 32, 2


def _training_checkpoint(path, seed, hidden=HIDDEN, features=None):
    """A network checkpoint plus what a training run's file also holds: Adam's moments, the step, meta
    (``features``: the feature entries a run with --n_mels/--normalize records)."""
    random_checkpoint(path, hidden, LAYERS, seed=seed)
    arrays = as_arrays(load_param_dict(str(path)))
    rows = [{"name": name, "data": Tensor(value)} for name, value in arrays.items()]
    rows += [{"name": "moment1." + name, "data": Tensor(np.full_like(value, seed + 1.0))}
             for name, value in arrays.items()]
    save_checkpoint(rows, str(path), {"epoch": seed + 1, "step": 10, "activation": "tanh", **(features or {})})
    return str(path)


def test_every_tensor_is_the_mean_and_the_network_loads_it(tmp_path):
    paths = [_training_checkpoint(tmp_path / f"DeepSpeech-{epoch}_10.ckpt", seed=epoch) for epoch in (1, 2, 3)]
    out = tmp_path / "avg.ckpt"
    assert run_main(lambda: main(["--out", str(out), "--ckpt_dir", str(tmp_path), "--last", "2"])) == 0

    inputs = [as_arrays(load_param_dict(p)) for p in paths[1:]]  # --last 2: epochs 2 and 3
    averaged = as_arrays(load_param_dict(str(out)))
    assert averaged["activation"] == "tanh" and "DeepSpeech-2_10.ckpt, DeepSpeech-3_10.ckpt" in averaged["origin"]
    assert not any(is_optimizer_state(name) for name in averaged) and "epoch" not in averaged
    tensors = [name for name, value in inputs[0].items() if not is_optimizer_state(name) and np.ndim(value) > 0]
    assert sorted(tensors) == sorted(name for name, value in averaged.items() if np.ndim(value) > 0)
    for name in tensors:
        np.testing.assert_allclose(averaged[name], (inputs[0][name] + inputs[1][name]) / 2, rtol=1e-6, atol=1e-7)
    assert not np.allclose(inputs[0]["fc.module.weight"], inputs[1]["fc.module.weight"])  # the inputs did differ

    load_network_params(DeepSpeechModel(29, HIDDEN, LAYERS, "tanh"), load_param_dict(str(out)), str(out))


def test_files_of_another_network_are_refused_and_nothing_is_written(tmp_path, capsys):
    first = _training_checkpoint(tmp_path / "a.ckpt", seed=0)
    wider = _training_checkpoint(tmp_path / "b.ckpt", seed=1, hidden=HIDDEN * 2)
    out = tmp_path / "avg.ckpt"
    assert run_main(lambda: main(["--out", str(out), first, wider])) == 2
    message = capsys.readouterr().err
    assert "b.ckpt" in message and "shape" in message and message.count("\n") == 1
    assert sorted(os.listdir(tmp_path)) == ["a.ckpt", "b.ckpt"]  # no average, no temporary file


def test_the_features_are_kept_and_other_features_refused(tmp_path, capsys):
    band = {"spect_normalize": "band"}  # same tensors as the zoo's features: only the record tells them apart
    a, b = (_training_checkpoint(tmp_path / f"{n}.ckpt", seed=i, features=band) for i, n in enumerate("ab"))
    assert run_main(lambda: main(["--out", str(tmp_path / "avg.ckpt"), a, b])) == 0
    assert read_meta(load_param_dict(str(tmp_path / "avg.ckpt")))["spect_normalize"] == "band"
    zoo = _training_checkpoint(tmp_path / "zoo.ckpt", seed=2)
    assert run_main(lambda: main(["--out", str(tmp_path / "mixed.ckpt"), a, zoo])) == 2
    message = capsys.readouterr().err
    assert "zoo.ckpt was trained on other features (--n_mels 0 --normalize utterance) than" in message
    assert not (tmp_path / "mixed.ckpt").exists()


def test_choosing_the_files(tmp_path):
    for epoch in (1, 2, 3):
        shutil.copy(random_checkpoint(tmp_path / "x.ckpt", HIDDEN, LAYERS), tmp_path / f"DeepSpeech-{epoch}_7.ckpt")
    assert checkpoints_to_average([], str(tmp_path), "DeepSpeech", 2) == \
        [str(tmp_path / "DeepSpeech-2_7.ckpt"), str(tmp_path / "DeepSpeech-3_7.ckpt")]
    with pytest.raises(ConfigError, match="--last 4: .* holds 3 checkpoint"):
        checkpoints_to_average([], str(tmp_path), "DeepSpeech", 4)
    with pytest.raises(ConfigError, match="not both"):
        checkpoints_to_average(["a.ckpt"], str(tmp_path), "DeepSpeech", 2)
    with pytest.raises(CheckpointError, match="not found"):
        main(["--out", str(tmp_path / "avg.ckpt"), str(tmp_path / "missing.ckpt")])
