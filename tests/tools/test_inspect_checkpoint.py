"""inspect_checkpoint: generation, architecture, parameters, optimizer state and a working eval.py line."""
import shlex

import numpy as np
import pytest

import src  # noqa: F401
import mindspore as ms
from mindspore import Tensor

from src.model.checkpoint import save_checkpoint
from src.model.checkpoint_formats import GEN_MS15_CPU, GEN_MS16
from src.model.deepspeech2 import DeepSpeechModel, count_parameters
from src.tools.inspect_checkpoint import main
from tests.helpers import fsdd_manifest, run_script
from tests.model.test_checkpoint_formats import zoo15_cpu


@pytest.fixture(scope="module", autouse=True)
def pynative_cpu():
    """Set before any kernel runs (MindSpore refuses set_device after that); each shape runs once."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    ms.set_device("CPU")


def _printed(capsys, path):
    assert main([str(path)]) == 0
    return dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())


def test_a_zoo_15_training_checkpoint_is_described(tmp_path, capsys):
    ms.set_seed(1)
    net = DeepSpeechModel(29, 32, 2)
    ref = {p.name: p.asnumpy() for p in net.get_parameters()}
    flat = zoo15_cpu(ref)
    adam = {f"moment{i}.{k}": np.zeros_like(v) for k, v in flat.items() for i in (1, 2)}
    state = {**flat, **adam, "beta1_power": np.float32(0.9), "global_step": np.array([40], np.int32),
             "learning_rate": np.float32(1e-4)}
    path = tmp_path / "DeepSpeech.ckpt"
    ms.save_checkpoint([{"name": k, "data": Tensor(np.asarray(v))} for k, v in state.items()], str(path))
    info = _printed(capsys, path)
    assert info["generation"].strip() == GEN_MS15_CPU
    assert info["architecture"].strip() == "2 x BiLSTM-32, 29 classes"
    assert info["parameters"].strip().startswith(f"{count_parameters(net, trainable_only=False):,} "
                                                 f"({count_parameters(net):,} trainable)")
    assert info["optimizer state"].strip() == f"present, ignored when loading the network: {len(adam) + 3} entries " \
                                              "(moment1.*, moment2.*, beta1_power, global_step, learning_rate)"
    assert "not recorded" in info["activation"] and "training position" not in info
    assert info["evaluate with"].strip() == f"python eval.py --pretrain_ckpt {path} --hidden_size 32 --hidden_layers 2"


def test_the_eval_line_of_our_own_checkpoint_runs(tmp_path, capsys):
    ms.set_seed(2)
    net = DeepSpeechModel(29, 16, 1, "hardtanh", n_bins=40, rnn_batch_norm=False)  # on 40 log-mel bands
    path = save_checkpoint(net, str(tmp_path / "DS-3_5.ckpt"), {"epoch": 3, "step": 5, "steps_per_epoch": 9,
                                                                "activation": "hardtanh", "n_mels": 40,
                                                                "spect_normalize": "band"})
    info = _printed(capsys, path)
    assert info["generation"].strip() == GEN_MS16 and info["activation"].strip() == "hardtanh (recorded)"
    assert info["features"].strip() == "--n_mels 40 --normalize band (recorded)"
    assert info["optimizer state"].strip() == "none (a network-only file)"
    assert info["training position"].strip() == "epoch 3, step 5 of 9"
    line = shlex.split(info["evaluate with"])
    assert line[:2] == ["python", "eval.py"] and "--activation" in line and "--n_mels" in line
    manifest = fsdd_manifest(str(tmp_path / "fsdd"), per_digit=1)
    proc = run_script(*line[1:], "--test_manifest", manifest, "--batch_size", "5",
                      "--result_file", str(tmp_path / "r.json"), timeout=300)
    assert "model: 1 x BiLSTM-16" in proc.stderr and "Test Summary" in proc.stdout


def test_a_truncated_file_is_one_sentence_and_exit_2(tmp_path):
    path = save_checkpoint(DeepSpeechModel(29, 8, 1), str(tmp_path / "a.ckpt"))
    data = open(path, "rb").read()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    proc = run_script("-m", "src.tools.inspect_checkpoint", str(tmp_path / "cut.ckpt"), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0
    assert "cut.ckpt" in proc.stderr


def test_a_file_without_a_network_is_one_sentence(tmp_path):
    state = {"moment1.fc.module.weight": np.zeros((29, 8), np.float32), "global_step": np.array([3], np.int32)}
    ms.save_checkpoint([{"name": k, "data": Tensor(v)} for k, v in state.items()], str(tmp_path / "opt.ckpt"))
    proc = run_script("-m", "src.tools.inspect_checkpoint", str(tmp_path / "opt.ckpt"), check=False)
    assert proc.returncode == 2 and "holds no DeepSpeech2 network" in proc.stderr

