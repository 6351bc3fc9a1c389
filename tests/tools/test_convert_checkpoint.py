"""deepspeech.pytorch models -> our checkpoint: the same log-probabilities as PyTorch on real speech.

The PyTorch network below has deepspeech.pytorch's architecture and parameter names (its
``deepspeech_pytorch/model.py``, written again here): conv layers with biases, hardtanh(0, 20),
BatchNorm1d before every LSTM layer but the first, summed directions, BatchNorm1d + Linear output,
labels with the blank first. It is saved as V2 ``.pth`` packages and V3 Lightning ``.ckpt`` files
whose hyper-parameters are objects of classes the converter does not import (dataclasses, enums),
as deepspeech.pytorch's OmegaConf configs are.
"""
import dataclasses
import enum
import glob
import inspect
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import src  # noqa: E402,F401
import mindspore as ms  # noqa: E402
from mindspore import Parameter, Tensor  # noqa: E402

from src.common.errors import CheckpointError  # noqa: E402
from src.data.features import audio_features  # noqa: E402
from src.data.labels import DEFAULT_LABELS_PATH, Labels  # noqa: E402
from src.model.checkpoint import load_param_dict  # noqa: E402
from src.model.checkpoint_formats import FC_NORM, as_arrays, deepspeech_pytorch_params, to_network_params  # noqa: E402
from src.model.deepspeech2 import DeepSpeechModel  # noqa: E402
from src.tools.convert_checkpoint import convert, main, read_deepspeech_pytorch  # noqa: E402
from tests.helpers import LIBRI, run_script  # noqa: E402

HIDDEN, LAYERS, FRAMES = 32, 2, 120
THEIR_LABELS = ["_", "'"] + [chr(c) for c in range(ord("A"), ord("Z") + 1)] + [" "]  # deepspeech.pytorch's labels.json
OURS = Labels.load(DEFAULT_LABELS_PATH).symbols
CLIPS = sorted(glob.glob(os.path.join(LIBRI, "test-other", "*", "*", "*.flac")))[:2]
HAS_FC_BATCH_NORM = "fc_batch_norm" in inspect.signature(DeepSpeechModel).parameters
needs_fc_batch_norm = pytest.mark.skipif(not HAS_FC_BATCH_NORM,
                                         reason="DeepSpeechModel has no fc_batch_norm option yet")


@pytest.fixture(scope="module", autouse=True)
def pynative_cpu():
    """Set before any kernel runs (MindSpore refuses set_device after that); each shape runs once."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    ms.set_device("CPU")


class Window(enum.Enum):  # as deepspeech_pytorch.enums.SpectrogramWindow
    hamming = "hamming"


class RNNKind(enum.Enum):  # as deepspeech_pytorch's RNNType: the values are the torch classes
    lstm = torch.nn.LSTM


@dataclasses.dataclass
class SpectCfg:
    sample_rate: int = 16000
    window_size: float = 0.02
    window_stride: float = 0.01
    window: Window = Window.hamming


@dataclasses.dataclass
class BiCfg:
    rnn_type: RNNKind = RNNKind.lstm
    hidden_size: int = HIDDEN
    hidden_layers: int = LAYERS


@dataclasses.dataclass
class UniCfg(BiCfg):
    lookahead_context: int = 20


class Framewise(torch.nn.Module):
    """deepspeech.pytorch's SequenceWise: a module applied to every frame of (T, N, H)."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        t, n = x.shape[:2]
        return self.module(x.reshape(t * n, -1)).reshape(t, n, -1)


class MaskedConvs(torch.nn.Module):
    """deepspeech.pytorch's MaskConv: frames past each length are zeroed after every module."""

    def __init__(self, seq_module):
        super().__init__()
        self.seq_module = seq_module

    def forward(self, x, lengths):
        for module in self.seq_module:
            x = module(x)
            x = x * (torch.arange(x.shape[3])[None, :] < lengths[:, None])[:, None, None, :]
        return x


class BiLayer(torch.nn.Module):
    """deepspeech.pytorch's BatchRNN (bidirectional LSTM, directions summed, optional input BatchNorm)."""

    def __init__(self, input_size, hidden, batch_norm):
        super().__init__()
        self.batch_norm = Framewise(torch.nn.BatchNorm1d(input_size)) if batch_norm else None
        self.rnn = torch.nn.LSTM(input_size, hidden, bidirectional=True, bias=True)

    def forward(self, x, lengths):
        if self.batch_norm is not None:
            x = self.batch_norm(x)
        y, _ = self.rnn(torch.nn.utils.rnn.pack_padded_sequence(x, lengths))
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, total_length=x.shape[0])
        return y.view(y.shape[0], y.shape[1], 2, -1).sum(2)


class TorchDeepSpeech(torch.nn.Module):
    def __init__(self, labels=THEIR_LABELS, hidden=HIDDEN, layers=LAYERS):
        super().__init__()
        nn = torch.nn
        self.conv = MaskedConvs(nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=(41, 11), stride=(2, 2), padding=(20, 5)), nn.BatchNorm2d(32),
            nn.Hardtanh(0, 20), nn.Conv2d(32, 32, kernel_size=(21, 11), stride=(2, 1), padding=(10, 5)),
            nn.BatchNorm2d(32), nn.Hardtanh(0, 20)))
        self.rnns = nn.Sequential(*[BiLayer(32 * 41 if i == 0 else hidden, hidden, batch_norm=i > 0)
                                    for i in range(layers)])
        self.fc = nn.Sequential(Framewise(nn.Sequential(nn.BatchNorm1d(hidden),
                                                        nn.Linear(hidden, len(labels), bias=False))))

    def forward(self, x, lengths):
        """Log-probabilities (T', N, classes) and output lengths."""
        lengths = (lengths - 1) // 2 + 1
        x = self.conv(x, lengths)
        n, c, f, t = x.shape
        x = x.reshape(n, c * f, t).permute(2, 0, 1)
        for layer in self.rnns:
            x = layer(x, lengths)
        return self.fc(x).log_softmax(-1), lengths


@pytest.fixture(scope="module")
def speech():
    specs = [audio_features(path)[0][:, :FRAMES] for path in CLIPS]
    lengths = np.array([FRAMES, FRAMES - 37], np.int32)  # longest first, as pack_padded_sequence wants
    batch = np.zeros((2, 1, specs[0].shape[0], FRAMES), np.float32)
    for i, (spec, length) in enumerate(zip(specs, lengths)):
        batch[i, 0, :, :length] = spec[:, :length]
    return batch, lengths


@pytest.fixture(scope="module")
def pytorch_model():
    """A trained-looking model: random weights, conv biases and batch-norm statistics far from the defaults."""
    torch.manual_seed(3)
    model = TorchDeepSpeech()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.normal_(0, 0.3)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.normal_(1.0, 0.2)
                module.bias.normal_(0, 0.2)
                module.num_batches_tracked.fill_(1000)
            elif isinstance(module, torch.nn.Conv2d):
                module.bias.normal_(0, 0.5)
    return model.eval()


def their_output(model, speech):
    with torch.no_grad():
        log_probs, lengths = model(torch.from_numpy(speech[0]), torch.from_numpy(speech[1]).long())
    return log_probs.numpy(), lengths.numpy()


def save_v2(model, path, **audio_conf):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    torch.save({"version": "0.0.1", "hidden_size": HIDDEN, "hidden_layers": LAYERS, "rnn_type": "lstm",
                "audio_conf": {"sample_rate": 16000, "window_size": 0.02, "window_stride": 0.01, "window": "hamming",
                               "noise_dir": None, **audio_conf},
                "labels": "".join(THEIR_LABELS), "state_dict": model.state_dict(), "bidirectional": True,
                "optim_dict": optimizer.state_dict(), "epoch": 13}, str(path))
    return str(path)


def save_v3(state_dict, path, model_cfg=None):
    torch.save({"epoch": 12, "global_step": 4000, "pytorch-lightning_version": "1.3.8", "state_dict": state_dict,
                "hyper_parameters": {"labels": THEIR_LABELS, "model_cfg": model_cfg or BiCfg(), "precision": 32,
                                     "spect_cfg": SpectCfg()},
                "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1.5e-4}]}]}, str(path))
    return str(path)


def log_softmax(logits):
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def greedy(log_probs, length, labels):
    ids = log_probs[:length].argmax(-1)
    return "".join(labels[i] for j, i in enumerate(ids) if (j == 0 or i != ids[j - 1]) and labels[i] != "_")


def assert_same_as_pytorch(ours, theirs, lengths):
    """ours/theirs: (T', N, classes) log-probabilities, ours in our label order."""
    rows = [THEIR_LABELS.index(c) for c in OURS]
    for n, length in enumerate(lengths):
        assert np.abs(ours[:length, n] - theirs[:length, n][:, rows]).max() <= 1e-4
        assert greedy(ours[:, n], length, OURS) == greedy(theirs[:, n], length, THEIR_LABELS)


def test_the_mapping_folds_conv_biases_and_puts_the_blank_last(pytorch_model):
    state = {k: v.numpy() for k, v in pytorch_model.state_dict().items()}
    params, ignored = deepspeech_pytorch_params(state, THEIR_LABELS, OURS)
    ours = DeepSpeechModel(len(OURS), HIDDEN, LAYERS, "hardtanh", rnn_batch_norm=True)
    expected = {p.name for p in ours.get_parameters()} | {FC_NORM + f for f in ("gamma", "beta", "moving_mean",
                                                                                "moving_variance")}
    assert set(params) == expected
    assert sorted(ignored) == sorted(k for k in state if k.endswith("num_batches_tracked"))
    fc = state["fc.0.module.1.weight"]
    np.testing.assert_array_equal(params["fc.module.weight"][-1], fc[0])  # the blank: first there, last here
    np.testing.assert_array_equal(params["fc.module.weight"][0], fc[1])  # the apostrophe
    np.testing.assert_allclose(params["conv.bn2.moving_mean"],
                               state["conv.seq_module.4.running_mean"] - state["conv.seq_module.3.bias"])
    np.testing.assert_array_equal(params["RNN.norms.0.module.moving_variance"],
                                  state["rnns.1.batch_norm.module.running_var"])


def test_v3_file_gives_pytorchs_log_probabilities_up_to_the_output_layer(pytorch_model, speech, tmp_path):
    """Runs without the fc_batch_norm option: our network up to the LSTMs, the converted output batch
    norm and layer applied in NumPy (the full network is checked by the test below)."""
    model = read_deepspeech_pytorch(save_v3(pytorch_model.state_dict(), tmp_path / "m.ckpt"))
    assert model.version.startswith("V3") and model.spect["window"] == "hamming" and model.bidirectional
    params, _ = deepspeech_pytorch_params(model.state, model.labels, OURS)
    net = DeepSpeechModel(len(OURS), HIDDEN, LAYERS, "hardtanh", rnn_batch_norm=True)
    head = {k: params.pop(k) for k in list(params) if k.startswith(FC_NORM)}
    values, _ = to_network_params(params, {p.name: p.shape for p in net.get_parameters()})
    ms.load_param_into_net(net, {k: Parameter(Tensor(v), name=k) for k, v in values.items()}, strict_load=True)
    net.set_train(False)
    x, lengths = net.conv(Tensor(speech[0]), Tensor(speech[1]))
    n, c, f, t = x.shape
    hidden = net.RNN(x.reshape(n, c * f, t).transpose(2, 0, 1), lengths).asnumpy()
    normed = (hidden - head[FC_NORM + "moving_mean"]) / np.sqrt(head[FC_NORM + "moving_variance"] + 1e-5) \
        * head[FC_NORM + "gamma"] + head[FC_NORM + "beta"]
    ours = log_softmax(normed @ values["fc.module.weight"].T)
    theirs, their_lengths = their_output(pytorch_model, speech)
    np.testing.assert_array_equal(lengths.asnumpy(), their_lengths)
    assert_same_as_pytorch(ours, theirs, their_lengths)


@needs_fc_batch_norm
@pytest.mark.parametrize("version", ["v2", "v3"])
def test_converted_checkpoint_gives_pytorchs_log_probabilities(pytorch_model, speech, tmp_path, version, capsys):
    source = save_v2(pytorch_model, tmp_path / "m.pth") if version == "v2" else \
        save_v3(pytorch_model.state_dict(), tmp_path / "m.ckpt")
    out = str(tmp_path / "converted.ckpt")
    assert main([source, out]) == 0
    assert "python eval.py --pretrain_ckpt" in capsys.readouterr().out
    file_dict = as_arrays(load_param_dict(out))
    assert file_dict["activation"] == "hardtanh" and "deepspeech.pytorch" in file_dict["origin"]
    net = DeepSpeechModel(len(OURS), HIDDEN, LAYERS, "hardtanh", rnn_batch_norm=True, fc_batch_norm=True)
    values, _ = to_network_params(file_dict, {p.name: p.shape for p in net.get_parameters()}, source=out)
    ms.load_param_into_net(net, {k: Parameter(Tensor(v), name=k) for k, v in values.items()}, strict_load=True)
    net.set_train(False)
    ours = log_softmax(net(Tensor(speech[0]), Tensor(speech[1]))[0].asnumpy())
    theirs, their_lengths = their_output(pytorch_model, speech)
    assert_same_as_pytorch(ours, theirs, their_lengths)


def test_other_features_labels_and_unidirectional_models_are_refused(pytorch_model, tmp_path):
    out = str(tmp_path / "out.ckpt")
    with pytest.raises(CheckpointError, match=r"other spectrograms than ours \(sample_rate 8000 \(ours 16000\), "
                                              r"window_stride 0.015 \(ours 0.01\)\)"):
        convert(save_v2(pytorch_model, tmp_path / "8k.pth", sample_rate=8000, window_stride=0.015), out)
    state = pytorch_model.state_dict()
    uni = {k: v for k, v in state.items() if "_reverse" not in k}
    uni["lookahead.0.conv.weight"] = torch.zeros(HIDDEN, 1, 20)
    with pytest.raises(CheckpointError, match="is a unidirectional deepspeech.pytorch model"):
        convert(save_v3(uni, tmp_path / "uni.ckpt", UniCfg()), out)
    with pytest.raises(CheckpointError, match="unidirectional"):  # the file's own config says so
        convert(save_v3(state, tmp_path / "uni_cfg.ckpt", UniCfg()), out)
    (tmp_path / "labels.json").write_text('["A", "B", "_"]')
    with pytest.raises(CheckpointError, match=r"other labels than ours \(only in the model: \"'CDEF"):
        convert(save_v3(state, tmp_path / "m.ckpt"), out, str(tmp_path / "labels.json"))
    assert not os.path.exists(out)


def test_a_truncated_file_stops_with_one_sentence_and_exit_2(pytorch_model, tmp_path):
    data = open(save_v3(pytorch_model.state_dict(), tmp_path / "m.ckpt"), "rb").read()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    proc = run_script("-m", "src.tools.convert_checkpoint", str(tmp_path / "cut.ckpt"), str(tmp_path / "o.ckpt"),
                      check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "cut.ckpt: not a readable PyTorch checkpoint" in proc.stderr


class RunsCode:
    """Unpickling this calls os.system, as a hostile or merely foreign file's classes could run code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_the_file_is_read_without_running_its_code(pytorch_model, tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "m.pth"
    torch.save({"state_dict": pytorch_model.state_dict(), "labels": THEIR_LABELS, "meta": RunsCode(marker)}, str(path))
    model = read_deepspeech_pytorch(str(path))
    assert not marker.exists() and model.labels == THEIR_LABELS and model.version.startswith("V2")
