"""Every checkpoint generation, built from one set of weights, gives the same network; bad files are one sentence."""
import glob
import os

import numpy as np
import pytest

import src  # noqa: F401
import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops

from src.common.errors import CheckpointError
from src.model import checkpoint as checkpoint_module
from src.model.checkpoint import load_param_dict, save_checkpoint
from src.model.checkpoint_formats import (GEN_MS15_CPU, GEN_MS15_GPU, GEN_MS16, RNN_PREFIX_NOTE, Architecture,
                                          architecture, as_arrays, canonical_params, to_network_params)
from src.model.deepspeech2 import DeepSpeechModel, NetWithLoss
from src.model.geometry import rnn_input_size
from tests.helpers import LIBRI, fsdd_manifest, run_script, speech_batch

HIDDEN, LAYERS, CLASSES, FRAMES = 32, 2, 29, 120
CLIPS = sorted(glob.glob(os.path.join(LIBRI, "test-other", "*", "*", "*.flac")))[:2]


@pytest.fixture(scope="module", autouse=True)
def pynative_cpu():
    """Set before any kernel runs (MindSpore refuses set_device after that); each shape runs once."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    ms.set_device("CPU")


@pytest.fixture(scope="module")
def speech():
    """Two real utterances (the second shorter, so the batch has padding): (N, 1, 161, T), lengths."""
    batch, lengths = speech_batch(FRAMES)
    return Tensor(batch), Tensor(lengths)


@pytest.fixture(scope="module")
def reference():
    """The one set of weights every generation's file is built from, and its network."""
    ms.set_seed(7)
    net = DeepSpeechModel(CLASSES, HIDDEN, LAYERS)
    net.set_train(False)
    return net, {p.name: p.asnumpy() for p in net.get_parameters()}


def _lstm(ref, layer, name):
    return ref[f"RNN.lstms.{layer}.{name}"]


def rnn_prefixed(ref):
    return {("rnn." + k[4:] if k.startswith("RNN.") else k): v for k, v in ref.items()}


def zoo15_gpu(ref):
    """A <= 1.5 GPU-trained file as the zoo's own converter (FastSpeech import_deepspeech2.py) reads it:
    nn.LSTM's trainable parameters taken in the order [0, 2, 1, 3, 4, 6, 5, 7], one after the other."""
    order = [p.name for p in nn.LSTM(4, 2, bidirectional=True).trainable_params()]
    recipe = [order[i] for i in (0, 2, 1, 3, 4, 6, 5, 7)]
    return _flat_file(ref, lambda layer: [_lstm(ref, layer, name) for name in recipe])


def zoo15_cpu(ref):
    """A <= 1.5 CPU-trained file: W_ih fwd, W_ih bwd, W_hh fwd, W_hh bwd, b fwd, b bwd (oneDNN ldgoi/ldgo)."""
    def pieces(layer):
        w = {name: _lstm(ref, layer, name) for name in ("weight_ih_l0", "weight_ih_l0_reverse", "weight_hh_l0",
                                                         "weight_hh_l0_reverse")}
        return [w["weight_ih_l0"], w["weight_ih_l0_reverse"], w["weight_hh_l0"], w["weight_hh_l0_reverse"],
                _lstm(ref, layer, "bias_ih_l0") + _lstm(ref, layer, "bias_hh_l0"),
                _lstm(ref, layer, "bias_ih_l0_reverse") + _lstm(ref, layer, "bias_hh_l0_reverse")]
    return _flat_file(ref, pieces)


def _flat_file(ref, pieces):
    out = {k: v for k, v in ref.items() if not k.startswith("RNN.")}
    for layer in range(LAYERS):
        out[f"RNN.weight{layer}"] = np.concatenate([p.reshape(-1) for p in pieces(layer)])[:, None, None]
    return out


def with_adam_state(ref, tmp_path):
    """A training checkpoint as MindSpore writes it: network + Adam moments, beta powers, step, LR."""
    net = DeepSpeechModel(CLASSES, HIDDEN, LAYERS)
    ms.load_param_into_net(net, {k: Parameter(Tensor(v), name=k) for k, v in ref.items()})
    cell = nn.TrainOneStepCell(NetWithLoss(net), nn.Adam(net.trainable_params(), learning_rate=1e-3))
    path = str(tmp_path / "adam.ckpt")
    ms.save_checkpoint(cell, path)
    return as_arrays(load_param_dict(path))


def saved(file_dict, path):
    """``file_dict`` written as a MindSpore checkpoint and read back, as the entry points read files."""
    ms.save_checkpoint([{"name": k, "data": Tensor(v)} for k, v in file_dict.items()], str(path))
    return as_arrays(load_param_dict(str(path)))


def load(file_dict, net=None, **kwargs):
    net = net or DeepSpeechModel(CLASSES, HIDDEN, LAYERS)
    params, report = to_network_params(file_dict, {p.name: p.shape for p in net.get_parameters()}, **kwargs)
    ms.load_param_into_net(net, {k: Parameter(Tensor(v), name=k) for k, v in params.items()}, strict_load=True)
    net.set_train(False)
    return net, report


BUILDERS = {GEN_MS16: dict, GEN_MS16 + RNN_PREFIX_NOTE: rnn_prefixed, GEN_MS15_GPU: zoo15_gpu, GEN_MS15_CPU: zoo15_cpu}


def test_every_generation_gives_the_same_network_on_real_speech(reference, speech, tmp_path):
    net, ref = reference
    expected = net(*speech)[0].asnumpy()
    untouched = DeepSpeechModel(CLASSES, HIDDEN, LAYERS)
    untouched.set_train(False)
    assert np.abs(untouched(*speech)[0].asnumpy() - expected).max() > 1e-2  # loading is what makes them equal
    for generation, build in BUILDERS.items():
        loaded, report = load(saved(build(ref), tmp_path / "g.ckpt"))
        assert report.generation == generation
        assert np.abs(loaded(*speech)[0].asnumpy() - expected).max() <= 1e-5, generation
    loaded, report = load(with_adam_state(ref, tmp_path))
    assert np.abs(loaded(*speech)[0].asnumpy() - expected).max() <= 1e-5
    ignored = set(report.optimizer_state)
    assert {"beta1_power", "beta2_power", "global_step", "learning_rate"} <= ignored
    assert {f"moment{i}.RNN.lstms.1.weight_hh_l0" for i in (1, 2)} <= ignored
    assert "ignored optimizer state: " in report.summary() and "moment1.*" in report.summary()


def test_cpu_flat_layout_is_what_mindspores_own_lstm_kernel_reads(reference, speech):
    """Feed each layer's flat tensor to ops.LSTM (bidirectional, as the zoo's <= 1.5 cell did) and compare
    its summed directions with our layer loaded from the converted file: not merely our packing inverted."""
    net, ref = reference
    flat_file = zoo15_cpu(ref)
    loaded, _ = load(flat_file)
    x, lengths = speech[0][:1], speech[1][:1]  # the full-length utterance: no padding for the kernel to read
    conv, out_lengths = net.conv(x, lengths)
    n, c, f, t = conv.shape
    rnn_in = conv.reshape(n, c * f, t).transpose(2, 0, 1)
    mask = ops.ones((t, 1, 1), ms.float32)
    zeros = ops.zeros((2, 1, HIDDEN), ms.float32)
    for layer in range(LAYERS):
        kernel = ops.LSTM(int(rnn_in.shape[2]), HIDDEN, 1, True, True, 0.0)
        both = kernel(rnn_in, zeros, zeros, Tensor(flat_file[f"RNN.weight{layer}"]))[0].asnumpy()
        ours = loaded.RNN.lstms[layer](rnn_in, out_lengths, mask)
        assert np.abs(both[..., :HIDDEN] + both[..., HIDDEN:] - ours.asnumpy()).max() <= 1e-5
        rnn_in = ours


@pytest.mark.parametrize("build, generation", [(zoo15_gpu, GEN_MS15_GPU), (zoo15_cpu, GEN_MS15_CPU)])
def test_a_one_layer_flat_file_is_told_apart_by_its_size(reference, build, generation):
    _, ref = reference
    one_layer = {k: v for k, v in build(ref).items() if k != "RNN.weight1"}
    params, report = canonical_params(one_layer)
    assert report.generation == generation
    for name in ("weight_ih_l0", "weight_hh_l0_reverse", "bias_ih_l0_reverse"):
        expected = _lstm(ref, 0, name) + (_lstm(ref, 0, name.replace("_ih_", "_hh_"))
                                          if generation == GEN_MS15_CPU and name.startswith("bias") else 0)
        np.testing.assert_array_equal(params[f"RNN.lstms.0.{name}"], expected)
    assert architecture(params) == Architecture(HIDDEN, 1, CLASSES, rnn_input_size(), False, False)


def _one_sentence(match, file_dict, **kwargs):
    with pytest.raises(CheckpointError, match=match) as err:
        load(file_dict, **kwargs)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_a_missing_tensor_is_named(reference):
    _, ref = reference
    lacking = {k: v for k, v in ref.items() if k != "RNN.lstms.1.weight_hh_l0_reverse"}
    _one_sentence(r"missing: RNN\.lstms\.1\.weight_hh_l0_reverse$", lacking)
    flat = {k: v for k, v in zoo15_cpu(ref).items() if k != "RNN.weight1"}  # a layer's flat tensor gone
    _one_sentence(r"holds 1 x BiLSTM-32.*MindSpore <= 1.5.*missing: RNN\.lstms\.1\.weight_ih_l0", flat)


def test_a_missing_layer_in_the_middle_is_named(reference):
    _, ref = reference
    gap = {k.replace("RNN.lstms.1.", "RNN.lstms.2."): v for k, v in ref.items()}
    with pytest.raises(CheckpointError, match=r"LSTM layers are numbered \[0, 2\], not 0 \.\.\. 1"):
        architecture(canonical_params(gap)[0])


def test_an_extra_tensor_is_named(reference):
    _, ref = reference
    peephole = {**ref, "RNN.lstms.0.peephole_l0": ref["fc.module.weight"]}
    _one_sentence(r"not in this network: RNN\.lstms\.0\.peephole_l0", peephole)
    norms = {**ref, "RNN.norms.0.module.gamma": np.ones(HIDDEN, np.float32)}  # a file with rnn_batch_norm
    _one_sentence(r"not in this network: RNN\.norms\.0\.module\.gamma", norms)


def test_a_truncated_flat_tensor_is_named(reference):
    _, ref = reference
    flat = zoo15_gpu(ref)
    flat["RNN.weight1"] = flat["RNN.weight1"][:-7]
    _one_sentence("fit neither the GPU size", flat)


def test_another_architecture_is_named(reference):
    _, ref = reference
    text = _one_sentence(r"does not fit this network \(2 x BiLSTM-16.*holds 2 x BiLSTM-32.*"
                         r"shape mismatch: RNN\.lstms\.0\.weight_ih_l0", ref, net=DeepSpeechModel(CLASSES, 16, LAYERS))
    assert "(128, 1312) in the checkpoint, (64, 1312) here" in text
    _one_sentence(r"network \(3 x BiLSTM-32.*missing: RNN\.lstms\.2\.", zoo15_gpu(ref),
                  net=DeepSpeechModel(CLASSES, HIDDEN, 3))


def test_other_labels_need_reset_output_layer_which_reinitialises_only_fc(reference, speech):
    net, ref = reference
    _one_sentence(r"shape mismatch: fc\.module\.weight .*--reset_output_layer", ref,
                  net=DeepSpeechModel(30, HIDDEN, LAYERS))
    fresh = DeepSpeechModel(30, HIDDEN, LAYERS)
    initial = fresh.fc.module.weight.asnumpy().copy()
    loaded, report = load(zoo15_cpu(ref), net=fresh, reset_output_layer=True)
    assert report.reset == ["fc.module.weight"] and "output layer reinitialised" in report.summary()
    np.testing.assert_array_equal(loaded.fc.module.weight.asnumpy(), initial)
    np.testing.assert_array_equal(loaded.conv.conv1.weight.asnumpy(), ref["conv.conv1.weight"])
    with pytest.raises(CheckpointError, match=r"missing: RNN\.lstms\.0\.bias_hh_l0"):  # the exception is fc only
        load({k: v for k, v in ref.items() if k != "RNN.lstms.0.bias_hh_l0"},
             net=DeepSpeechModel(30, HIDDEN, LAYERS), reset_output_layer=True)


def test_metadata_of_any_name_is_metadata_not_an_extra_tensor(reference, tmp_path):
    net, _ = reference
    meta = {"epoch": 3, "step": 40, "activation": "tanh", "best_wer": "0.25", "origin": "a test"}
    save_checkpoint(net, str(tmp_path / "m.ckpt"), meta)
    _, report = load(as_arrays(load_param_dict(str(tmp_path / "m.ckpt"))))
    assert report.meta == meta and report.generation == GEN_MS16


LOADS_EVERY_GENERATION = hasattr(checkpoint_module, "checkpoint_architecture")


@pytest.mark.skipif(not LOADS_EVERY_GENERATION, reason="src/model/checkpoint.py does not use checkpoint_formats yet")
def test_the_entry_points_load_every_generation_and_stop_on_bad_files_with_one_sentence(reference, tmp_path):
    _, ref = reference
    manifest = fsdd_manifest(str(tmp_path / "fsdd"), per_digit=1)
    saved({**zoo15_gpu(ref), "moment1.RNN.weight0": np.zeros(3, np.float32), "beta1_power": np.float32(0.9),
                 "learning_rate": np.float32(1e-3)}, tmp_path / "zoo.ckpt")
    ok = run_script("eval.py", "--pretrain_ckpt", str(tmp_path / "zoo.ckpt"), "--test_manifest", manifest,
                    "--batch_size", "5", "--result_file", str(tmp_path / "r.json"), timeout=300)
    assert f"model: {LAYERS} x BiLSTM-{HIDDEN}" in ok.stderr and "Test Summary" in ok.stdout
    lacking = {k: v for k, v in ref.items() if k != "RNN.lstms.1.bias_hh_l0"}
    saved(lacking, tmp_path / "lacking.ckpt")
    saved({**ref, "RNN.lstms.0.peephole_l0": ref["fc.module.weight"]}, tmp_path / "extra.ckpt")
    cut = open(str(tmp_path / "zoo.ckpt"), "rb").read()
    (tmp_path / "cut.ckpt").write_bytes(cut[: len(cut) // 2])
    failures = {
        "missing: RNN.lstms.1.bias_hh_l0": ("eval.py", "--pretrain_ckpt", str(tmp_path / "lacking.ckpt"),
                                            "--test_manifest", manifest),
        "not in this network: RNN.lstms.0.peephole_l0": ("export.py", "--pre_trained_model_path",
                                                         str(tmp_path / "extra.ckpt"), "--input_frames", "64"),
        "not a readable MindSpore checkpoint": ("transcribe.py", "--pretrain_ckpt", str(tmp_path / "cut.ckpt"),
                                                CLIPS[0]),
        "shape mismatch: RNN.lstms.0.weight_ih_l0": ("train.py", "--pre_trained_model_path", str(tmp_path / "zoo.ckpt"),
                                                    "--train_manifest", manifest, "--hidden_size", "16",
                                                    "--hidden_layers", str(LAYERS), "--epochs", "1",
                                                    "--ckpt_path", str(tmp_path / "ft")),
    }
    for expected, command in failures.items():
        proc = run_script(*command, check=False, timeout=300)
        assert proc.returncode == 2 and expected in proc.stderr, (command[0], proc.stderr[-500:])
        assert proc.stderr.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in proc.stderr


def test_no_network_at_all_is_one_sentence():
    with pytest.raises(CheckpointError, match="holds no DeepSpeech2 network"):
        architecture(canonical_params({"moment1.x": np.zeros(3), "epoch": np.array(2)})[0])
